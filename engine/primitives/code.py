"""The `code` primitive: a tree-sitter query over a service's source files of one language.

```yaml
check:
  code:
    language: python
    query: |
      ((call arguments: (argument_list . (string (string_content) @route)))
       (#match? @route "^/healthz?$"))
    expect: present          # or absent
    paths: ["src/**"]        # optional: narrows the language's files
```

Files are the service's files with the language's usual names (GLOBS), narrowed by
`paths`; vendored and test folders are not skipped (write `paths` to narrow). Each file
is parsed once per scan, whichever rules and services query it.

Bounded: at most MAX_FILES files per check and service, files over MAX_FILE_CHARS are
skipped (both said in the result's message), and tree-sitter keeps at most MATCH_LIMIT
matches in progress. There is no per-file timeout: py-tree-sitter 0.26.1 crashes when a
query is given a progress callback, so time is bounded by the size limits.

Files whose text cannot hold a match are not parsed at all: the strings the query's
`#eq?`, `#any-of?` and `#match?` predicates require are looked for first (one search
for a few literals, far cheaper than parsing), see `LiteralFilter`. On a generated
repository of 1,900 Python files without a health route this is the difference
between parsing every file and parsing none.

A pack's query is compiled against the grammar when the pack loads, and an invalid
one is a ConfigError at its line. Built-in packs are the exception: loading a grammar
and compiling a query costs milliseconds per language, which every scan would pay
whether or not the repository has such files; their queries are compiled on first use
instead, and a test compiles every one of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import yaml

from opsgrade.engine import specs
from opsgrade.engine.checks import MAX_LOCATIONS, Check, Outcome, Site
from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.globs import GlobError, GlobSet
from opsgrade.engine.model import Location
from opsgrade.engine.repoview import Unreadable
from opsgrade.engine.validation import format_key_path

if TYPE_CHECKING:
    import tree_sitter

MAX_FILES = 2000
MAX_FILE_CHARS = 1024 * 1024
MATCH_LIMIT = 1024  # in-progress matches tree-sitter keeps; bounds memory per file
MAX_LITERALS = 64

# Language -> the file names it is read from, relative to the service root.
GLOBS: dict[str, tuple[str, ...]] = {
    "python": ("**/*.py",),
    "go": ("**/*.go",),
    "javascript": ("**/*.js", "**/*.mjs", "**/*.cjs", "**/*.jsx"),
    "typescript": ("**/*.ts", "**/*.mts", "**/*.cts"),
    "tsx": ("**/*.tsx",),
    "ruby": ("**/*.rb",),
    "java": ("**/*.java",),
    "hcl": ("**/*.tf", "**/*.hcl"),
    "bash": ("**/*.sh", "**/*.bash"),
    "dockerfile": ("**/Dockerfile*", "**/*.dockerfile", "**/Containerfile*"),
}

# The predicates py-tree-sitter evaluates. Any other `#name?` is handed to a callback
# we do not install and then holds for every node, so a typo (`#matches?`) would make
# a query match everything: such names are rejected when the query compiles.
KNOWN_PREDICATES = frozenset(
    {
        "eq?",
        "not-eq?",
        "any-eq?",
        "any-not-eq?",
        "match?",
        "not-match?",
        "any-match?",
        "any-not-match?",
        "any-of?",
        "not-any-of?",
        "is?",
        "is-not?",
    }
)

_TOKEN = re.compile(r'\s+|;[^\n]*|"(?:[^"\\]|\\.)*"?|[()\[\]]|[^\s()\[\]";]+', re.S)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0"}
_LOCAL_IGNORECASE = re.compile(r"\(\?[a-zA-Z-]*i")
_POSITION = re.compile(r"at row (\d+)(?:, column (\d+))?")


class QueryProblem(Exception):
    """A query that does not compile; `row`/`column` are 0-based within the query."""

    def __init__(self, message: str, row: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


# -- literal pre-filter ----------------------------------------------------------------


class _Requirement(msgspec.Struct, frozen=True):
    """A text must contain one of `strings` (compared case-folded when `folded`)."""

    strings: frozenset[str]
    folded: bool
    # The strings as one alternation of literals: a single C-level pass over the text,
    # ten times faster than a Python-level `in` per string.
    search: Any

    @classmethod
    def of(cls, strings: frozenset[str], folded: bool) -> _Requirement:
        if folded:
            strings = frozenset(s.casefold() for s in strings)
        # A text holding `/healthz` holds `/health`: the shorter string suffices.
        minimal = frozenset(s for s in strings if not any(t != s and t in s for t in strings))
        search = re.compile("|".join(re.escape(s) for s in sorted(minimal))).search
        return cls(minimal, folded, search)

    def holds(self, text: str, folded_text: list[str]) -> bool:
        if not self.folded:
            return self.search(text) is not None
        if not folded_text:
            folded_text.append(text.casefold())
        return self.search(folded_text[0]) is not None


class LiteralFilter(msgspec.Struct, frozen=True):
    """What a file's text must contain for the query to possibly match in it.

    For each pattern of the query, the strings its predicates require (each
    `#eq?`/`#any-of?`/`#match?` on a capture present in every match gives one
    requirement); a file may match when, for some pattern, every requirement holds.
    A query with a pattern that requires nothing has no filter.
    """

    patterns: tuple[tuple[_Requirement, ...], ...]

    def may_match(self, text: str) -> bool:
        folded: list[str] = []  # the case-folded text, computed at most once
        return any(all(r.holds(text, folded) for r in reqs) for reqs in self.patterns)


# (exact, strings): with exact, the regex matches exactly one of the strings; without,
# every match contains one of them. None: nothing is known.
_Info = tuple[bool, frozenset[str]] | None


def _regex_parser() -> Any:
    import importlib

    # `re._parser` (Python >= 3.11) is what `re` itself compiles with, so the analysis
    # sees exactly the regex tree-sitter's `#match?` runs. It is private: any surprise
    # disables the pre-filter, which only costs time.
    return importlib.import_module("re._parser")


def _close(run: set[str], found: list[frozenset[str]]) -> None:
    if run and min(len(s) for s in run) > 0:
        found.append(frozenset(run))


def _sequence(items: Any, const: Any) -> _Info:
    run: set[str] = {""}
    whole = True  # the sequence so far is one exact run
    found: list[frozenset[str]] = []
    for op, av in items:
        info = _item(op, av, const)
        if info is not None and info[0] and len(run) * len(info[1]) <= MAX_LITERALS:
            run = {a + b for a in run for b in info[1]}
            continue
        whole = False
        _close(run, found)
        run = {""}
        if info is None:
            continue
        if info[0]:
            run = set(info[1])
        elif info[1]:
            found.append(info[1])
    if whole:
        return True, frozenset(run)
    _close(run, found)
    if not found:
        return None
    return False, max(found, key=lambda s: min(len(x) for x in s))


def _item(op: Any, av: Any, const: Any) -> _Info:
    if op is const.LITERAL:
        return True, frozenset({chr(av)})
    if op in (const.AT, const.ASSERT, const.ASSERT_NOT):
        return True, frozenset({""})  # zero-width: consumes nothing
    if op is const.SUBPATTERN:
        return _sequence(av[3], const)
    if op is const.ATOMIC_GROUP:
        return _sequence(av, const)
    if op is const.BRANCH:
        return _branch([_sequence(alt, const) for alt in av[1]])
    if op is const.IN:
        chars = [chr(v) for o, v in av if o is const.LITERAL]
        if len(chars) == len(av) and 0 < len(chars) <= 10:
            return True, frozenset(chars)
        return None
    if op in (const.MAX_REPEAT, const.MIN_REPEAT, const.POSSESSIVE_REPEAT):
        low, high, sub = av
        info = _sequence(sub, const)
        if info is not None and info[0] and low == 0 and high == 1:
            return True, info[1] | {""}  # `z?`: one of the strings, or nothing
        if info is None or low == 0:
            return None
        if low == high == 1:
            return info
        return (False, info[1]) if min(len(s) for s in info[1]) > 0 else None
    return None


def _branch(infos: list[_Info]) -> _Info:
    if any(i is None for i in infos):
        return None
    union = frozenset(s for i in infos if i is not None for s in i[1])
    if len(union) > MAX_LITERALS:
        return None
    if all(i is not None and i[0] for i in infos):
        return True, union
    if min(len(s) for s in union) == 0:
        return None  # an alternative may match the empty string
    return False, union


def regex_requirement(pattern: str) -> _Requirement | None:
    """Strings one of which every text the regex matches contains, or None."""
    try:
        parser = _regex_parser()
        parsed = parser.parse(pattern, 0)
        const = parser  # re._parser re-exports the opcode constants
        info = _sequence(parsed, const)
        # A global (?i), or one scoped to a group: fold the whole search, a superset.
        folded = bool(parsed.state.flags & re.IGNORECASE) or bool(_LOCAL_IGNORECASE.search(pattern))
    except Exception:  # an unexpected shape: no pre-filter, never a wrong one
        return None
    if info is None or not info[1] or min(len(s) for s in info[1]) == 0:
        return None
    return _Requirement.of(info[1], folded)


# -- query source: predicates ------------------------------------------------------------


class _Predicate(msgspec.Struct, frozen=True):
    name: str
    args: tuple[tuple[str, str], ...]  # ("capture", name) | ("string", value)
    offset: int  # in the pattern text


def _unquote(token: str) -> str:
    body = token[1:-1] if len(token) > 1 and token.endswith('"') else token[1:]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.S)


def _predicates(text: str) -> list[_Predicate]:
    """Every `(#name ...)` in a query's text, skipping strings and comments."""
    tokens = [
        (m.group(), m.start())
        for m in _TOKEN.finditer(text)
        if not m.group().isspace() and not m.group().startswith(";")
    ]
    found: list[_Predicate] = []
    for i, (opener, _start) in enumerate(tokens[:-1]):
        name, offset = tokens[i + 1]
        if opener != "(" or not name.startswith("#"):
            continue
        args: list[tuple[str, str]] = []
        for arg, _ in tokens[i + 2 :]:
            if arg in (")", "(", "[", "]"):
                break
            if arg.startswith("@"):
                args.append(("capture", arg[1:]))
            elif arg.startswith('"'):
                args.append(("string", _unquote(arg)))
            else:
                args.append(("word", arg))
        found.append(_Predicate(name[1:], tuple(args), offset))
    return found


def _row_column(text: str, offset: int) -> tuple[int, int]:
    row = text.count("\n", 0, offset)
    return row, offset - (text.rfind("\n", 0, offset) + 1)


def _requirement(pred: _Predicate, always: set[str]) -> _Requirement | None:
    captures = [v for kind, v in pred.args if kind == "capture"]
    strings = [v for kind, v in pred.args if kind == "string"]
    # A predicate on a capture that may be absent (`?`, `*`, an alternative) holds
    # vacuously when it is: only captures present in every match constrain the text.
    if len(captures) != 1 or captures[0] not in always or not strings:
        return None
    if pred.name in ("eq?", "any-eq?", "any-of?"):
        literal = frozenset(strings) if pred.name == "any-of?" else frozenset(strings[:1])
        return _Requirement.of(literal, False) if all(literal) else None
    if pred.name in ("match?", "any-match?"):
        return regex_requirement(strings[0])
    return None


# -- compiled queries ----------------------------------------------------------------------


class CompiledQuery(msgspec.Struct, frozen=True):
    query: tree_sitter.Query
    prefilter: LiteralFilter | None


def _quantifier(query: tree_sitter.Query, pattern: int, capture: int) -> str:
    try:
        return query.capture_quantifier(pattern, capture)
    except SystemError:  # py-tree-sitter raises for "not in this pattern" (quantifier 0)
        return "none"


def _analyse(query: tree_sitter.Query, source: str) -> LiteralFilter | None:
    """Check every pattern captures a node and uses known predicates; derive the filter."""
    data = source.encode("utf-8")
    names = [query.capture_name(i) for i in range(query.capture_count)]
    patterns: list[tuple[_Requirement, ...]] = []
    for pattern in range(query.pattern_count):
        start = query.start_byte_for_pattern(pattern)
        text = data[start : query.end_byte_for_pattern(pattern)].decode("utf-8", "replace")
        quantifiers = {name: _quantifier(query, pattern, i) for i, name in enumerate(names)}
        if all(q == "none" for q in quantifiers.values()):
            row, column = _row_column(source, len(data[:start].decode("utf-8", "replace")))
            raise QueryProblem(
                "every pattern must capture a node (`@name`), which locates its matches;"
                " a predicate belongs inside its pattern's parentheses",
                row,
                column,
            )
        always = {name for name, q in quantifiers.items() if q in ("", "+")}
        required: list[_Requirement] = []
        for pred in _predicates(text):
            if pred.name.endswith("?") and pred.name not in KNOWN_PREDICATES:
                base = len(data[:start].decode("utf-8", "replace"))
                row, column = _row_column(source, base + pred.offset)
                known = ", ".join(f"#{p}" for p in sorted(KNOWN_PREDICATES))
                raise QueryProblem(f"unknown predicate #{pred.name} (known: {known})", row, column)
            found = _requirement(pred, always)
            if found is not None:
                required.append(found)
        patterns.append(tuple(required))
    if not patterns or not all(patterns):
        return None
    return LiteralFilter(tuple(patterns))


_QUERIES: dict[tuple[str, str], CompiledQuery | QueryProblem] = {}


def compile_query(language: str, source: str) -> CompiledQuery:
    """The query compiled for `language`, once per process; raises QueryProblem."""
    key = (language, source)
    cached = _QUERIES.get(key)
    if cached is None:
        import tree_sitter

        from opsgrade.engine.treesitter import language as grammar

        try:
            query = tree_sitter.Query(grammar(language), source)
            cached = CompiledQuery(query, _analyse(query, source))
        except tree_sitter.QueryError as exc:
            message = str(exc) or "invalid query"
            found = _POSITION.search(message)
            row = int(found.group(1)) if found else None
            column = int(found.group(2)) if found and found.group(2) else None
            cached = QueryProblem(message, row, column)
        except QueryProblem as exc:
            cached = exc
        _QUERIES[key] = cached
    if isinstance(cached, QueryProblem):
        raise cached
    return cached


# -- locating a query error in the pack ------------------------------------------------


def _value_node(node: yaml.Node | None, keys: Sequence[str | int]) -> yaml.Node | None:
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            node = next(
                (v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key),
                None,
            )
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            node = node.value[key] if 0 <= key < len(node.value) else None
        else:
            return None
    return node


def _pack_error(problem: QueryProblem, site: Site) -> ConfigError:
    """The error at the pack line the query's row is on, when the YAML allows knowing it."""
    keys = (*site.keys, "query")
    line = site.doc.line_of(keys)
    node = _value_node(site.doc.node, keys)
    where = ""
    if problem.row is not None:
        where = f" (query line {problem.row + 1}"
        where += f", column {problem.column + 1})" if problem.column is not None else ")"
        if isinstance(node, yaml.ScalarNode) and node.style == "|":
            line = node.start_mark.line + 2 + problem.row  # a literal block keeps its lines
        elif isinstance(node, yaml.ScalarNode) and problem.row == 0:
            line = node.start_mark.line + 1
    message = f"invalid tree-sitter query{where}: {problem.message}"
    return ConfigError(message, Located(site.doc.path, line, format_key_path(keys)))


# -- the check -----------------------------------------------------------------------------

_parsers: dict[str, tree_sitter.Parser] = {}


def _parse_with(language: str) -> Any:
    def parse(text: str, path: str) -> tree_sitter.Tree:
        found = _parsers.get(language)
        if found is None:
            from opsgrade.engine.treesitter import parser

            found = _parsers[language] = parser(language)
        return found.parse(text.encode("utf-8"))

    return parse


def _first_line(captures: dict[str, list[tree_sitter.Node]]) -> int:
    rows = [node.start_point[0] for nodes in captures.values() for node in nodes]
    return min(rows) + 1 if rows else 1


def _unknown_predicate(predicate: str, args: object, pattern_index: int, captures: object) -> bool:
    # Called only for predicates py-tree-sitter does not know, which compiling rejects;
    # should one slip through, it matches nothing rather than everything.
    return False


class _Search(msgspec.Struct):
    hits: list[Location] = msgspec.field(default_factory=list)
    searched: int = 0
    too_large: int = 0
    over_limit: int = 0

    def remarks(self) -> str:
        parts = []
        if self.too_large:
            parts.append(f"{self.too_large} file(s) over {MAX_FILE_CHARS // 1024} KiB not searched")
        if self.over_limit:
            parts.append(f"only the first {MAX_FILES} files searched")
        return f" ({'; '.join(parts)})" if parts else ""


class CodeQueryCheck(msgspec.Struct, frozen=True):
    language: str
    source: str
    expect: str
    matcher: GlobSet
    paths: GlobSet | None
    spelled: str
    origin: str  # the pack and line, for an error found only on first use

    def _compiled(self, ctx: EvalContext) -> CompiledQuery:
        try:
            return compile_query(self.language, self.source)
        except QueryProblem as exc:
            raise FactError(
                f"invalid tree-sitter query at {self.origin}: {exc}", ctx.anchor
            ) from None

    def _files(self, ctx: EvalContext) -> list[str]:
        files = ctx.files.match(self.matcher)
        if self.paths is not None:
            narrowed = set(ctx.files.match(self.paths))
            files = [f for f in files if f in narrowed]
        return files

    def _search(self, ctx: EvalContext, files: list[str], first_only: bool) -> _Search:
        compiled = self._compiled(ctx)
        import tree_sitter

        search = _Search(over_limit=max(0, len(files) - MAX_FILES))
        parse = _parse_with(self.language)
        for path in files[:MAX_FILES]:
            try:
                text = ctx.view.read_text(path)
            except Unreadable:
                continue  # the view notes why
            if len(text) > MAX_FILE_CHARS:
                search.too_large += 1
                continue
            search.searched += 1
            if compiled.prefilter is not None and not compiled.prefilter.may_match(text):
                continue
            tree = ctx.parsed(f"ts:{self.language}", path, parse)
            # No progress callback: py-tree-sitter 0.26.1 crashes (SIGSEGV) when a query
            # is given one. Time stays bounded by the file size and the match limit.
            cursor = tree_sitter.QueryCursor(compiled.query, match_limit=MATCH_LIMIT)
            matches = cursor.matches(tree.root_node, _unknown_predicate)
            for _pattern, captures in matches:
                search.hits.append(Location(path, _first_line(captures)))
                if first_only or len(search.hits) >= MAX_LOCATIONS:
                    return search
        return search

    def evaluate(self, ctx: EvalContext) -> Outcome:
        files = self._files(ctx)
        what = f"{self.language} code query"
        if not files:
            # Short: an `any` over several languages joins every child's message.
            message = f"no {self.language} files"
            if self.expect == "absent":
                return Outcome(True, message, negated=message)
            return Outcome(False, message, _anchor(ctx))
        search = self._search(ctx, files, first_only=self.expect == "present")
        remarks = search.remarks()
        if search.hits:
            first = search.hits[0]
            message = f"{first.path}:{first.line} matches the {what}"
            if self.expect == "present":
                return Outcome(True, message + remarks, (first,), negated=message)
            count = f" ({len(search.hits)} match{'es' if len(search.hits) > 1 else ''})"
            return Outcome(False, message + count + remarks, tuple(search.hits))
        message = f"no match for the {what} in {search.searched} file(s)"
        if self.expect == "present":
            return Outcome(False, message + remarks, _anchor(ctx))
        return Outcome(True, message + remarks, negated=f"the {what} matches nothing")


def _anchor(ctx: EvalContext) -> tuple[Location, ...]:
    return (ctx.anchor,) if ctx.anchor else ()


def _globs(patterns: Sequence[str], site: Site) -> GlobSet:
    for i, pattern in enumerate(patterns):
        if pattern.startswith("/") or ".." in pattern.split("/"):
            raise site.error("globs are relative to the service root; no `/` or `..` prefix", i)
    try:
        return GlobSet(patterns)
    except GlobError as exc:
        raise site.error(f"invalid glob: {exc}") from None


def compile_check(spec: specs.CodeCheck, site: Site) -> Check:
    globs = GLOBS[spec.language]
    if not site.doc.path.startswith("builtin:"):
        try:
            compile_query(spec.language, spec.query)
        except QueryProblem as exc:
            raise _pack_error(exc, site) from None
    origin = Located(site.doc.path, site.doc.line_of((*site.keys, "query")))
    return CodeQueryCheck(
        language=spec.language,
        source=spec.query,
        expect=spec.expect,
        matcher=GlobSet(globs),
        paths=_globs(spec.paths, site.at("paths")) if spec.paths else None,
        spelled=", ".join(globs),
        origin=str(origin),
    )
