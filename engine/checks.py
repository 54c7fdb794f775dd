"""Check primitives: a handful of parameterized checks that every rule is built from.

A pack's `check:` is compiled once, at load time (globs, RE2 regexes and JMESPath
expressions are compiled and their errors located in the pack), into a tree of objects
with one method, `evaluate(ctx) -> Outcome`. A check that cannot decide (its input does
not parse) raises FactError and the rule's result is `error`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import re2
from msgspec.structs import replace

from opsgrade.engine import specs
from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.globs import GlobError, GlobSet
from opsgrade.engine.model import Location
from opsgrade.engine.repoview import Unreadable
from opsgrade.engine.validation import format_key_path
from opsgrade.engine.yamlio import KeyPath, YamlDocument

if TYPE_CHECKING:
    import jmespath.parser

# The repository view (a RepoView) a repository's own pack was read from, while such a
# pack is compiled (None for other packs): a `command` check's `{pack_dir}` is that
# view's folder, not a path relative to the current directory.
PACK_REPO_VIEW: ContextVar[Any] = ContextVar("opsgrade_pack_repo_view", default=None)
MAX_PATTERN = 2000
MAX_LOCATIONS = 50
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.max_mem = 8 << 20


class Outcome(msgspec.Struct, frozen=True):
    passed: bool
    message: str
    # For a failure: where the problem is. For a pass: the evidence (what `not` reports).
    locations: tuple[Location, ...] = ()
    # What a `not` around this check says when it turns this pass into a failure.
    negated: str = ""


class Check(Protocol):
    def evaluate(self, ctx: EvalContext) -> Outcome: ...


class Site(msgspec.Struct, frozen=True):
    """Where in a pack a check is written, to locate compile errors."""

    doc: YamlDocument
    keys: tuple[str | int, ...]

    def at(self, *more: str | int) -> Site:
        return Site(self.doc, (*self.keys, *more))

    def error(self, message: str, *more: str | int) -> ConfigError:
        keys: KeyPath = (*self.keys, *more)
        return ConfigError(
            message, Located(self.doc.path, self.doc.line_of(keys), format_key_path(keys))
        )


# What RE2 says of a backreference or lookaround, which Python's re has and RE2 lacks
# by design (linear time): such a pattern gets a hint, not only RE2's parse error.
RE2_UNSUPPORTED = re.compile(r"invalid escape sequence: \\[1-9]|invalid perl operator: \(\?<?[=!]")
RE2_HINT = "RE2 has no backreferences or lookaround; rewrite the pattern without them"


def compile_regex(pattern: str, site: Site) -> Any:
    if len(pattern) > MAX_PATTERN:
        raise site.error(f"regex longer than {MAX_PATTERN} characters")
    try:
        return re2.compile("(?m)" + pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if RE2_UNSUPPORTED.search(detail):
            detail += f" ({RE2_HINT})"
        raise site.error(f"invalid RE2 regex: {detail}") from None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _anchor(ctx: EvalContext) -> tuple[Location, ...]:
    return (ctx.anchor,) if ctx.anchor else ()


# -- file ---------------------------------------------------------------------------


class FileCheck(msgspec.Struct, frozen=True):
    globs: tuple[str, ...]
    matcher: GlobSet
    absent: bool
    contains: Any = None
    not_contains: Any = None

    def evaluate(self, ctx: EvalContext) -> Outcome:
        matched = ctx.files.match(self.matcher)
        spelled = ", ".join(self.globs)
        if self.absent:
            if matched:
                locs = tuple(Location(p, 1, whole_file=True) for p in matched[:MAX_LOCATIONS])
                # Location-free wording: the locations say which files, and a diff may
                # keep only some of them.
                count = f"{len(matched)} files match" if len(matched) > 1 else "matches"
                return Outcome(False, f"{count} {spelled}", locs)
            return Outcome(True, f"no file matches {spelled}")
        if not matched:
            return Outcome(False, f"no file matches {spelled}", _anchor(ctx))
        if self.contains is not None:
            return self._contains(ctx, matched)
        if self.not_contains is not None:
            return self._not_contains(ctx, matched)
        return Outcome(True, f"{matched[0]} matches {spelled}", (Location(matched[0], 1),))

    def _hits(self, ctx: EvalContext, paths: Sequence[str], regex: Any) -> list[Location]:
        hits: list[Location] = []
        for path in paths:
            try:
                text = ctx.view.read_text(path)
            except Unreadable:
                continue  # the view notes why; a file we cannot read holds no match
            found = regex.search(text)
            if found is not None:
                hits.append(Location(path, _line_at(text, found.start())))
        return hits

    def _contains(self, ctx: EvalContext, matched: list[str]) -> Outcome:
        hits = self._hits(ctx, matched, self.contains)
        pattern = _short(self.contains.pattern.removeprefix("(?m)"))
        if hits:
            return Outcome(True, f"{hits[0].path} contains /{pattern}/", tuple(hits[:1]))
        return Outcome(
            False,
            f"{matched[0]} does not contain /{pattern}/",
            (Location(matched[0], 1, whole_file=True),),
        )

    def _not_contains(self, ctx: EvalContext, matched: list[str]) -> Outcome:
        hits = self._hits(ctx, matched, self.not_contains)
        pattern = _short(self.not_contains.pattern.removeprefix("(?m)"))
        if hits:
            # The message names the pattern, never the matched text: it may be a secret.
            return Outcome(False, f"contains /{pattern}/", tuple(hits[:MAX_LOCATIONS]))
        return Outcome(True, f"no file matching {', '.join(self.globs)} contains /{pattern}/")


def _compile_file(spec: specs.FileCheck, site: Site) -> Check:
    globs = spec.exists or spec.absent or []
    for i, pattern in enumerate(globs):
        if pattern.startswith("/") or ".." in pattern.split("/"):
            key = "exists" if spec.exists else "absent"
            raise site.error(
                "globs are relative to the service root; no `/` or `..` prefix", key, i
            )
    try:
        matcher = GlobSet(globs, ignore_case=spec.ignore_case)
    except GlobError as exc:
        raise site.error(f"invalid glob: {exc}") from None
    return FileCheck(
        globs=tuple(globs),
        matcher=matcher,
        absent=spec.absent is not None,
        contains=compile_regex(spec.contains, site.at("contains")) if spec.contains else None,
        not_contains=(
            compile_regex(spec.not_contains, site.at("not_contains")) if spec.not_contains else None
        ),
    )


# -- value assertions (descriptor, facts) ------------------------------------------------


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _truthy(value: Any) -> bool:
    # JMESPath's truthiness: false, null and empty strings, lists and objects are false.
    return value is not False and _present(value)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(_short(value, 40))
    text = repr(value)
    return _short(text, 40)


class Assertion(msgspec.Struct, frozen=True):
    """What a value must be; shared by the `descriptor` and `facts` primitives."""

    exists: bool | None
    equals: Any
    one_of: tuple[Any, ...] | None
    matches: Any

    @classmethod
    def from_spec(cls, spec: specs.DescriptorCheck | specs.FactsCheck, site: Site) -> Assertion:
        return cls(
            exists=spec.exists,
            equals=spec.equals,
            one_of=tuple(spec.one_of) if spec.one_of is not None else None,
            matches=compile_regex(spec.matches, site.at("matches")) if spec.matches else None,
        )

    def judge(self, subject: str, value: Any) -> tuple[bool, str, str]:
        """(holds, what the value is, what it must be) for messages either way round."""
        actual = f"{subject} is {_show(value)}"
        if self.exists is not None:
            state = "set" if _present(value) else "not set"
            return (
                _present(value) == self.exists,
                f"{subject} is {state}",
                ("to be set" if self.exists else "to be unset"),
            )
        if self.equals is not msgspec.UNSET:
            return value == self.equals, actual, f"to be {_show(self.equals)}"
        if self.one_of is not None:
            allowed = ", ".join(_show(v) for v in self.one_of)
            return value in self.one_of, actual, f"to be one of {allowed}"
        if self.matches is not None:
            text = value if isinstance(value, str) else None
            ok = text is not None and self.matches.search(text) is not None
            pattern = _short(self.matches.pattern.removeprefix("(?m)"))
            return ok, actual, f"to match /{pattern}/"
        return _truthy(value), actual, "to be non-empty"

    def outcome(self, subject: str, value: Any, locations: tuple[Location, ...]) -> Outcome:
        ok, actual, wanted = self.judge(subject, value)
        if (
            self.exists is None
            and self.equals is msgspec.UNSET
            and self.one_of is None
            and (self.matches is None)
        ):
            # Truthiness: say what was found (or that nothing was), not the query's value.
            found = _found(value) if _truthy(value) else _nothing(subject, value)
            return Outcome(ok, found, locations, negated=found)
        if self.exists is False and _present(value):
            found = _found(value)  # what should not be there, named by the evidence
            return Outcome(False, found, locations, negated=found)
        if self.exists is not None and _present(value):
            actual = f"{subject} is set: {_found(value)}"
        return Outcome(
            passed=ok,
            message=actual if ok else f"{actual}, expected {wanted}",
            locations=locations,
            negated=f"{actual}, expected not {wanted}",
        )


def _describe_item(item: Any) -> str:
    if isinstance(item, dict):
        fields = [
            f"{key}={_short(str(val), 40)}"
            for key, val in item.items()
            if key not in ("path", "line") and _present(val) and not isinstance(val, dict | list)
        ]
        return ", ".join(fields[:3]) or "an item"
    return _show(item)


def _found(value: Any) -> str:
    """What a query found, readable: `2 found: image=python:3.12-slim; image=node`."""
    if not isinstance(value, list):
        return _describe_item(value) if isinstance(value, dict) else _show(value)
    shown = "; ".join(_describe_item(item) for item in value[:3])
    more = f"; and {len(value) - 3} more" if len(value) > 3 else ""
    return f"{len(value)} found: {shown}{more}"


def _nothing(subject: str, value: Any) -> str:
    if value is False:
        return f"{subject} is false"
    return f"nothing found for {subject}"


def resolve_path(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


class DescriptorCheck(msgspec.Struct, frozen=True):
    path: str
    assertion: Assertion

    def evaluate(self, ctx: EvalContext) -> Outcome:
        value = resolve_path(ctx.facts.get("service"), self.path)
        service = ctx.service
        if service.descriptor is None:
            out = self.assertion.outcome(f"`{self.path}`", value, _anchor(ctx))
            if not out.passed:
                return replace(out, message=f"no service descriptor declares `{self.path}`")
            return out
        top = self.path.split(".", 1)[0]
        line = service.field_lines.get(top)
        # A key that is not there is about the whole descriptor, not about its line 1.
        loc = (Location(service.descriptor, line or 1, whole_file=line is None),)
        return self.assertion.outcome(f"`{self.path}`", value, loc)


def _evidence(value: Any) -> tuple[Location, ...]:
    """Locations named by a query's result: items carrying `path` (and `line`)."""
    items = value if isinstance(value, list) else [value]
    locs: list[Location] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("path"), str):
            line = item.get("line")
            locs.append(Location(item["path"], line if isinstance(line, int) and line > 0 else 1))
        if len(locs) >= MAX_LOCATIONS:
            break
    return tuple(locs)


class FactsCheck(msgspec.Struct, frozen=True):
    query: str
    expression: jmespath.parser.ParsedResult
    assertion: Assertion
    # The fact keys the query reads, when it reads nothing else (no `@`, no `*` over the
    # document): its result then depends only on those values.
    reads: tuple[str, ...] = ()

    def evaluate(self, ctx: EvalContext) -> Outcome:
        value = self._search(ctx)
        locs = _evidence(value) or _anchor(ctx)
        return self.assertion.outcome(f"`{_short(self.query)}`", value, locs)

    def _search(self, ctx: EvalContext) -> Any:
        """The query's result, shared by services whose facts are the very same objects
        (repository-wide facts such as CI workflows are built once per scan)."""
        import jmespath.exceptions

        inputs = tuple(ctx.facts.get(key) for key in self.reads)
        # Keyed by ids: each entry holds its inputs, so no id is reused while it lives;
        # the compiled check itself lives as long as the scan's packs.
        memo: dict[tuple[int, ...], tuple[tuple[Any, ...], Any]] = ctx.shared.setdefault(
            ("facts:memo", id(self)), {}
        )
        key = tuple(id(value) for value in inputs)
        if self.reads and key in memo:
            return memo[key][1]
        try:
            value = self.expression.search(ctx.facts)
        except jmespath.exceptions.JMESPathError as exc:
            raise FactError(f"query failed: {exc}", ctx.anchor) from None
        if self.reads:
            memo[key] = (inputs, value)
        return value


def _reads(tree: Any) -> tuple[str, ...]:
    """Fact keys named in a JMESPath AST; empty when the query may read anything."""
    from opsgrade.engine.facts import PROVIDERS

    fields: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        # `@` and `*` over an object may mean the whole document; then no sharing.
        if node.get("type") in ("current", "value_projection"):
            return ()
        if node.get("type") == "field":
            fields.add(str(node.get("value")))
        stack.extend(node.get("children", []))
    return tuple(sorted(fields & set(PROVIDERS)))


def _compile_descriptor(spec: specs.DescriptorCheck, site: Site) -> Check:
    return DescriptorCheck(spec.path, Assertion.from_spec(spec, site))


def _compile_facts(spec: specs.FactsCheck, site: Site) -> Check:
    import jmespath
    import jmespath.exceptions

    try:
        expression = jmespath.compile(spec.query)
    except jmespath.exceptions.JMESPathError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise site.error(f"invalid JMESPath query: {first}", "query") from None
    return FactsCheck(
        spec.query, expression, Assertion.from_spec(spec, site), _reads(expression.parsed)
    )


# -- composition --------------------------------------------------------------------


class AllCheck(msgspec.Struct, frozen=True):
    children: tuple[Check, ...]

    def evaluate(self, ctx: EvalContext) -> Outcome:
        evidence: list[Location] = []
        for child in self.children:
            out = child.evaluate(ctx)
            if not out.passed:
                return out
            evidence.extend(out.locations)
        return Outcome(True, "all conditions hold", tuple(evidence[:MAX_LOCATIONS]))


class AnyCheck(msgspec.Struct, frozen=True):
    children: tuple[Check, ...]

    def evaluate(self, ctx: EvalContext) -> Outcome:
        failures: list[Outcome] = []
        error: FactError | None = None
        for child in self.children:
            try:
                out = child.evaluate(ctx)
            except FactError as exc:
                error = error or exc
                continue
            if out.passed:
                return out
            failures.append(out)
        if error is not None:
            raise error
        locs = tuple(dict.fromkeys(loc for out in failures for loc in out.locations))
        return Outcome(False, "; ".join(o.message for o in failures), locs[:MAX_LOCATIONS])


class NotCheck(msgspec.Struct, frozen=True):
    child: Check

    def evaluate(self, ctx: EvalContext) -> Outcome:
        out = self.child.evaluate(ctx)
        if out.passed:
            return Outcome(False, out.negated or out.message, out.locations or _anchor(ctx))
        return Outcome(True, out.message, negated=out.message)


Compiler = Callable[[Any, Site], Check]


def _compile_all(children: list[specs.Check], site: Site) -> Check:
    return AllCheck(tuple(compile_check(c, site.at(i)) for i, c in enumerate(children)))


def _compile_any(children: list[specs.Check], site: Site) -> Check:
    return AnyCheck(tuple(compile_check(c, site.at(i)) for i, c in enumerate(children)))


def _compile_not(child: specs.Check, site: Site) -> Check:
    return NotCheck(compile_check(child, site))


# Primitive name (the key under `check:`) -> compiler, or "module:function" for one
# imported on first use (so tree-sitter loads only for packs with code checks).
COMPILERS: dict[str, Compiler | str] = {
    "file": _compile_file,
    "descriptor": _compile_descriptor,
    "facts": _compile_facts,
    "dependency": "opsgrade.engine.primitives.dependency:compile_check",
    "runtime": "opsgrade.engine.primitives.runtime:compile_check",
    "code": "opsgrade.engine.primitives.code:compile_check",
    "command": "opsgrade.engine.primitives.command:compile_check",
    "all": _compile_all,
    "any": _compile_any,
    "not_": _compile_not,
}


def _compiler(kind: str) -> Compiler:
    entry = COMPILERS[kind]
    if isinstance(entry, str):
        import importlib

        module, _, name = entry.partition(":")
        entry = COMPILERS[kind] = getattr(importlib.import_module(module), name)
    return entry


def compile_check(spec: specs.Check, site: Site) -> Check:
    kind = spec.kind()
    return _compiler(kind)(getattr(spec, kind), site.at(kind.rstrip("_")))
