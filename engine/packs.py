"""Rule packs: find them, validate them, resolve `extends`, apply overrides, compile checks.

A pack reference is a path (it contains `/` or ends in `.yml`/`.yaml`) or a name: a
built-in pack (`opsgrade/rules/NAME.yml`) or one an installed package registers under
the `opsgrade.packs` entry point group. Paths inside a pack resolve relative to that
pack; paths in the repo config resolve inside the repository (through RepoView, so a
pull request's gate is read from the base revision).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import os
import posixpath
from collections.abc import Iterable, Sequence
from pathlib import Path

import msgspec
from msgspec import field
from msgspec.structs import replace

import opsgrade.rules as rules_package
from opsgrade.engine import packcache, specs
from opsgrade.engine.checks import Check, Site, compile_check
from opsgrade.engine.errors import ConfigError, Located, ParseError
from opsgrade.engine.globs import GlobError, GlobSet
from opsgrade.engine.model import PackInfo, RuleInfo, Severity
from opsgrade.engine.repoview import RepoView, Unreadable
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import YamlDocument, load_document

ENTRY_POINT_GROUP = "opsgrade.packs"
# The built-in packs ship as files of the `opsgrade.rules` package (never zipped: the
# wheel installs them on disk), read without importlib.resources on the scan path.
BUILTIN_DIR = os.path.dirname(rules_package.__file__ or "")
MAX_PACK_SIZE = 1024 * 1024
MAX_PACKS = 100


class Rule(msgspec.Struct, frozen=True):
    """A compiled rule: its metadata, where it applies, and its check."""

    info: RuleInfo
    check: Check
    when: specs.When | None
    aliases: tuple[str, ...]
    source: Located

    @property
    def id(self) -> str:
        return self.info.id


class Disabled(msgspec.Struct, frozen=True):
    rule: str
    reason: str
    by: str


class PackSet(msgspec.Struct, frozen=True):
    levels: tuple[str, ...]
    categories: tuple[str, ...]
    rules: tuple[Rule, ...]
    packs: tuple[PackInfo, ...]
    digest: str
    disabled: tuple[Disabled, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule | None:
        rid = self.aliases.get(rule_id, rule_id)
        return next((r for r in self.rules if r.id == rid), None)


# -- sources --------------------------------------------------------------------------


def is_path_ref(ref: str) -> bool:
    return "/" in ref or ref.endswith((".yml", ".yaml"))


class PackSource(msgspec.Struct, frozen=True):
    """Where a pack's text comes from: kind is builtin, entrypoint, file or repo."""

    kind: str
    location: str
    view: RepoView | None = None

    @property
    def label(self) -> str:
        return self.location if self.kind in ("file", "repo") else f"{self.kind}:{self.location}"

    def read(self) -> str:
        if self.kind == "builtin":
            with open(os.path.join(BUILTIN_DIR, f"{self.location}.yml"), encoding="utf-8") as fh:
                return fh.read()
        if self.kind == "entrypoint":
            module, _, rel = self.location.partition(":")
            from importlib import resources

            return (resources.files(module) / rel).read_text("utf-8")
        if self.kind == "repo":
            assert self.view is not None
            try:
                return self.view.read_text(self.location)
            except Unreadable as exc:
                raise ConfigError(
                    f"cannot read pack: {exc.reason}", Located(self.location)
                ) from None
        path = Path(self.location)
        try:
            if path.stat().st_size > MAX_PACK_SIZE:
                raise ConfigError(f"pack larger than {MAX_PACK_SIZE} bytes", Located(self.location))
            return path.read_text("utf-8", errors="replace")
        except OSError as exc:
            raise ConfigError(f"cannot read pack: {exc.strerror}", Located(self.location)) from None

    def resolve(self, ref: str) -> PackSource:
        """A reference written inside this pack."""
        if not is_path_ref(ref):
            return resolve_name(ref)
        if self.kind == "repo":
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(self.location), ref))
            return repo_source(joined, self.view)
        if self.kind == "file":
            return file_source(str(Path(self.location).parent / ref))
        if self.kind == "entrypoint":
            module, _, rel = self.location.partition(":")
            return PackSource(
                "entrypoint", f"{module}:{posixpath.join(posixpath.dirname(rel), ref)}"
            )
        return resolve_name(ref.removesuffix(".yml").removesuffix(".yaml").removeprefix("./"))


def repo_source(path: str, view: RepoView | None) -> PackSource:
    clean = posixpath.normpath(path.removeprefix("./"))
    if clean.startswith("../") or clean == ".." or clean.startswith("/"):
        raise ConfigError(f"pack path {path!r} leaves the repository")
    return PackSource("repo", clean, view)


def builtin_names() -> list[str]:
    names = []
    for name in os.listdir(BUILTIN_DIR):
        if name.endswith(".yml") and not name.endswith(".tests.yml"):
            names.append(name.removesuffix(".yml"))
    return sorted(names)


def installed_packs() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def resolve_name(name: str) -> PackSource:
    if name in builtin_names():
        return PackSource("builtin", name)
    installed = installed_packs()
    if name in installed:
        return PackSource("entrypoint", installed[name])
    known = builtin_names() + sorted(installed)
    hint = difflib.get_close_matches(name, known, n=1)
    suffix = f"; did you mean {hint[0]!r}?" if hint else f"; known packs: {', '.join(known)}"
    raise ConfigError(f"unknown pack {name!r}{suffix}")


def file_source(path: str) -> PackSource:
    # Normalized, so `a.yml` reached again as `../x/a.yml` is seen as the same pack
    # (a cycle), not as a new one with an ever longer path.
    return PackSource("file", os.path.normpath(path))


def cli_source(ref: str) -> PackSource:
    """A `--pack` argument: a path on disk or a pack name."""
    return file_source(ref) if is_path_ref(ref) else resolve_name(ref)


# -- loading --------------------------------------------------------------------------


class _Loaded(msgspec.Struct):
    source: PackSource
    spec: specs.RulePack
    doc: YamlDocument
    text: str


def _identity(source: PackSource) -> tuple[str, str]:
    """Which pack a source is: one file reached by two spellings is one pack."""
    if source.kind == "file":
        return source.kind, os.path.realpath(source.location)
    return source.kind, source.location


class _Resolver:
    def __init__(self) -> None:
        self.order: list[_Loaded] = []
        self.done: set[tuple[str, str]] = set()

    def visit(
        self, source: PackSource, stack: tuple[tuple[str, str], ...], site: Site | None
    ) -> None:
        key = _identity(source)
        if key in stack:
            chain = " -> ".join(loc for _, loc in (*stack, key))
            msg = f"`extends` forms a cycle: {chain}"
            raise site.error(msg) if site else ConfigError(msg)
        if key in self.done:
            return
        if len(self.done) >= MAX_PACKS or len(stack) >= MAX_PACKS:
            raise ConfigError(f"more than {MAX_PACKS} packs in `extends`", Located(source.label))
        try:
            text = source.read()
        except ConfigError as exc:
            if site is None:
                raise
            # A pack that cannot be read is reported where it is named: the `extends` entry.
            raise site.error(f"{source.label}: {exc.message}") from None
        cached = (
            packcache.lookup(BUILTIN_DIR, source.location, text)
            if (source.kind == "builtin")
            else None
        )
        if cached is not None:
            doc = YamlDocument(None, None, source.label, cached.lines)
            spec = cached.spec
        else:
            spec, doc = _parse_pack(source, text)
        for i, ref in enumerate(spec.extends):
            here = Site(doc, ("extends", i))
            try:
                child = source.resolve(ref)
            except ConfigError as exc:
                raise here.error(exc.message) from None
            self.visit(child, (*stack, key), here)
        self.done.add(key)
        self.order.append(_Loaded(source, spec, doc, text))


def _parse_pack(source: PackSource, text: str) -> tuple[specs.RulePack, YamlDocument]:
    try:
        doc = load_document(text, source.label, trusted=source.kind == "builtin")
    except ParseError as exc:
        raise ConfigError(exc.message, exc.where) from None
    if not isinstance(doc.data, dict):
        raise ConfigError("a rule pack is a YAML mapping", Located(source.label, 1))
    return convert(doc, doc.data, specs.RulePack), doc


def _check_when(when: specs.When | None, site: Site) -> None:
    # `name` globs are compiled at load time, so a bad one is a located pack error and
    # not a crash in the middle of a scan.
    if when is None or when.name is None:
        return
    try:
        GlobSet(when.name if isinstance(when.name, list) else [when.name])
    except GlobError as exc:
        raise site.error(f"invalid glob: {exc}", "when", "name") from None


def _suggest(rule_id: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(rule_id, sorted(known), n=1)
    return f"; did you mean {close[0]}?" if close else ""


class _Merger:
    def __init__(self) -> None:
        self.levels: tuple[str, ...] | None = None
        self.levels_from = ""
        self.categories: dict[str, None] = {}
        self.rules: dict[str, Rule] = {}
        self.aliases: dict[str, str] = {}
        self.disabled: list[Disabled] = []

    def add_pack(self, loaded: _Loaded) -> None:
        spec, doc = loaded.spec, loaded.doc
        levels = tuple(spec.levels)
        if len(set(levels)) != len(levels):
            raise Site(doc, ("levels",)).error("levels must be unique")
        if self.levels is None:
            self.levels, self.levels_from = levels, loaded.source.label
        elif levels != self.levels:
            raise Site(doc, ("levels",)).error(
                f"levels {list(levels)} differ from {list(self.levels)} in {self.levels_from}"
            )
        for category in spec.categories:
            self.categories.setdefault(category, None)
        for i, rule_spec in enumerate(spec.rules):
            self._add_rule(loaded, rule_spec, Site(doc, ("rules", i)))
        self.apply(spec.overrides, spec.disable, doc, loaded.source.label)

    def _add_rule(self, loaded: _Loaded, spec: specs.Rule, site: Site) -> None:
        assert self.levels is not None
        for taken in (spec.id, *spec.aliases):
            if taken in self.rules or taken in self.aliases:
                owner = self.rules.get(self.aliases.get(taken, taken))
                where = f" at {owner.source}" if owner else ""
                raise site.error(f"rule id {taken} is already defined{where}", "id")
        if spec.level not in self.levels:
            raise site.error(f"level {spec.level!r} is not one of {list(self.levels)}", "level")
        declared = loaded.spec.categories
        if declared and spec.category not in declared:
            hint = difflib.get_close_matches(spec.category, declared, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise site.error(f"category {spec.category!r} is not declared{extra}", "category")
        self.categories.setdefault(spec.category, None)
        info = RuleInfo(
            id=spec.id,
            title=spec.title,
            level=spec.level,
            category=spec.category,
            severity=Severity(spec.severity),
            help=spec.help.strip(),
            fix=(spec.fix or spec.help.strip().splitlines()[0]).strip(),
            pack=loaded.spec.metadata.name,
            see_also=tuple(spec.see_also),
            tags=tuple(spec.tags),
            weight=spec.weight,
            enforce_after=spec.enforce_after,
        )
        check = compile_check(spec.check, site.at("check"))
        _check_when(spec.when, site)
        source = Located(site.doc.path, site.doc.line_of(site.keys))
        self.rules[spec.id] = Rule(info, check, spec.when, tuple(spec.aliases), source)
        for alias in spec.aliases:
            self.aliases[alias] = spec.id

    def apply(
        self,
        overrides: dict[str, specs.Override],
        disable: dict[str, str],
        doc: YamlDocument,
        by: str,
    ) -> None:
        assert self.levels is not None
        for rule_id, override in overrides.items():
            rid = self.aliases.get(rule_id, rule_id)
            site = Site(doc, ("overrides", rule_id))
            rule = self.rules.get(rid)
            if rule is None:
                raise site.error(f"no rule {rule_id} to override{_suggest(rule_id, self.rules)}")
            _check_when(override.when, site)
            if override.level is not None and override.level not in self.levels:
                raise site.error(
                    f"level {override.level!r} is not one of {list(self.levels)}", "level"
                )
            info = replace(
                rule.info,
                level=override.level or rule.info.level,
                severity=Severity(override.severity) if override.severity else rule.info.severity,
                weight=override.weight if override.weight is not None else rule.info.weight,
                enforce_after=override.enforce_after or rule.info.enforce_after,
            )
            self.rules[rid] = replace(rule, info=info, when=override.when or rule.when)
        for rule_id, reason in disable.items():
            rid = self.aliases.get(rule_id, rule_id)
            if rid not in self.rules:
                site = Site(doc, ("disable", rule_id))
                raise site.error(f"no rule {rule_id} to disable{_suggest(rule_id, self.rules)}")
            del self.rules[rid]
            self.disabled.append(Disabled(rid, reason, by))


def load_packs(
    sources: Sequence[PackSource],
    config: specs.RepoConfig | None = None,
    config_doc: YamlDocument | None = None,
) -> PackSet:
    resolver = _Resolver()
    for source in sources:
        resolver.visit(source, (), None)
    merger = _Merger()
    for loaded in resolver.order:
        merger.add_pack(loaded)
    if merger.levels is None:
        raise ConfigError("no rule pack selected")
    digest = hashlib.sha256()
    for loaded in resolver.order:
        digest.update(f"{loaded.source.label}\0{loaded.text}\0".encode())
    if config is not None and config_doc is not None:
        merger.apply(config.overrides, config.disable, config_doc, config_doc.path)
        digest.update(
            repr((sorted(config.overrides.items()), sorted(config.disable.items()))).encode()
        )
    rules = tuple(sorted(merger.rules.values(), key=lambda r: r.id))
    packs = tuple(
        PackInfo(
            p.spec.metadata.name,
            p.spec.metadata.version,
            p.source.label,
            p.spec.metadata.description,
        )
        for p in resolver.order
    )
    return PackSet(
        levels=merger.levels,
        categories=tuple(merger.categories),
        rules=rules,
        packs=packs,
        digest=digest.hexdigest(),
        disabled=tuple(merger.disabled),
        aliases=dict(merger.aliases),
    )


def counts_on(rule: RuleInfo, today: dt.date) -> bool:
    return rule.enforce_after is None or today >= rule.enforce_after
