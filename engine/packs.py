"""Rule packs: find them, validate them, resolve `extends`, apply overrides, compile checks.

A pack reference is a path (it contains `/` or ends in `.yml`/`.yaml`) or a name: a
built-in pack (`opsgrade/rules/NAME.yml`) or one an installed package registers under
the `opsgrade.packs` entry point group. Paths inside a pack resolve relative to that
pack; paths in the repo config resolve inside the repository (through RepoView, so a
pull request's gate is read from the base revision).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import hashlib
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import msgspec
from msgspec import field
from msgspec.structs import replace

import opsgrade.rules as rules_package
from opsgrade.engine import packcache, packsources, specs
from opsgrade.engine.checks import PACK_REPO_VIEW, Check, Site, compile_check
from opsgrade.engine.config import LoadedConfig
from opsgrade.engine.errors import ConfigError, Located, ParseError
from opsgrade.engine.globs import GlobError, GlobSet
from opsgrade.engine.lockfile import (
    LOCK_NAME,
    UPDATE_HINT,
    Lock,
    LockedPack,
    LockError,
    PackKind,
    read_lock,
)
from opsgrade.engine.model import PackInfo, RuleInfo, Severity
from opsgrade.engine.packsources import GitRef, is_git_ref
from opsgrade.engine.repoview import RepoView, Unreadable
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import YamlDocument, load_document

if TYPE_CHECKING:  # importlib.resources costs 13 ms to import: only entry points need it
    from importlib.resources.abc import Traversable

ENTRY_POINT_GROUP = "opsgrade.packs"
# The built-in packs ship as files of the `opsgrade.rules` package (never zipped: the
# wheel installs them on disk), read without importlib.resources on the scan path.
BUILTIN_DIR = os.path.dirname(rules_package.__file__ or "")
MAX_PACK_SIZE = 1024 * 1024
MAX_PACKS = 100
RESERVED_LEVEL = "none"  # opsgrade.engine.org.model.NO_LEVEL


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
    requested: tuple[str, ...] = ()  # the sources asked for, before `extends`
    locked: tuple[LockedPack, ...] = ()  # every pack loaded, as the lock file records it

    def rule(self, rule_id: str) -> Rule | None:
        rid = self.aliases.get(rule_id, rule_id)
        return next((r for r in self.rules if r.id == rid), None)


# -- sources --------------------------------------------------------------------------


def is_path_ref(ref: str) -> bool:
    return not is_git_ref(ref) and ("/" in ref or ref.endswith((".yml", ".yaml")))


_ATTRIBUTE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


class PackSource(msgspec.Struct, frozen=True):
    """Where a pack's text comes from: kind is builtin, entrypoint, file, repo or git.

    A git source carries its parsed reference and, once resolved, its commit."""

    kind: str
    location: str
    view: RepoView | None = None
    git: GitRef | None = None
    commit: str = ""

    @property
    def label(self) -> str:
        if self.kind == "git" and self.git is not None:
            return self.git.label
        return self.location if self.kind in ("file", "repo") else f"{self.kind}:{self.location}"

    def read(self) -> str:
        return self.fetch()[0]

    def fetch(self) -> tuple[str, str]:
        """The pack's text and the SHA-256 of its bytes (what `sha256sum` prints)."""
        if self.kind == "repo":
            assert self.view is not None
            try:
                text = self.view.read_text(self.location)
            except Unreadable as exc:
                raise ConfigError(
                    f"cannot read pack: {exc.reason}", Located(self.location)
                ) from None
            return text, packcache.digest(text)
        if self.kind == "git":
            assert self.git is not None
            commit = self.commit or packsources.resolve_commit(self.git)
            cached = packsources.read_pack(self.git, commit)
            if self.git.sha256 and cached.sha256 != self.git.sha256:
                raise ConfigError(
                    f"{self.label}: sha256 mismatch: the URL pins {self.git.sha256}, "
                    f"the file at commit {commit} is {cached.sha256}"
                )
            data = cached.data
        elif self.kind == "builtin":
            with open(os.path.join(BUILTIN_DIR, f"{self.location}.yml"), "rb") as fh:
                data = fh.read()
        elif self.kind == "entrypoint":
            data = _read_entry_point(self.location)
        else:
            data = _read_file(self.location)
        return data.decode("utf-8", errors="replace"), hashlib.sha256(data).hexdigest()

    def resolve(self, ref: str) -> PackSource:
        """A reference written inside this pack."""
        if is_git_ref(ref):
            return git_source(ref)
        if not is_path_ref(ref):
            return resolve_name(ref)
        if self.kind == "repo":
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(self.location), ref))
            return repo_source(joined, self.view)
        if self.kind == "file":
            return file_source(str(Path(self.location).parent / ref))
        if self.kind == "git":
            assert self.git is not None
            # The same repository at the same commit: one fetch serves every file of it.
            child = self.git.at(ref)
            return PackSource("git", child.label, git=child, commit=self.commit)
        if self.kind == "entrypoint":
            module, _, rel = self.location.partition(":")
            if _ATTRIBUTE.match(rel):
                target = _entry_point_target(self.location)
                if not isinstance(target, Path):
                    raise ConfigError(f"{self.label}: relative `extends` needs a pack on disk")
                return file_source(str(target.parent / ref))
            return PackSource(
                "entrypoint", f"{module}:{posixpath.join(posixpath.dirname(rel), ref)}"
            )
        return resolve_name(ref.removesuffix(".yml").removesuffix(".yaml").removeprefix("./"))


def _read_file(location: str) -> bytes:
    path = Path(location)
    try:
        if path.stat().st_size > MAX_PACK_SIZE:
            raise ConfigError(f"pack larger than {MAX_PACK_SIZE} bytes", Located(location))
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read pack: {exc.strerror}", Located(location)) from None


def _entry_point_target(value: str) -> Traversable:
    """What an entry point's value names: `module:relative/path.yml`, or `module:attribute`
    whose value is a path (absolute, or relative to the module's package) or a Traversable
    (`importlib.resources.files(...) / "pack.yml"`)."""
    import importlib
    from importlib import resources

    module, sep, rest = value.partition(":")
    where = f"entry point {value!r}"
    if not sep or not rest or not module:
        raise ConfigError(f"{where}: give `module:path/to/pack.yml` or `module:attribute`")
    try:
        if not _ATTRIBUTE.match(rest):
            return resources.files(module) / rest
        obj: object = importlib.import_module(module)
        for name in rest.split("."):
            obj = getattr(obj, name)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot load it: {exc}") from None
    except Exception as exc:  # the package's own import-time code failed
        raise ConfigError(f"{where}: importing it failed: {exc!r}") from None
    if isinstance(obj, str | os.PathLike):
        path = Path(os.fspath(obj))
        return path if path.is_absolute() else resources.files(module) / str(path)
    if callable(getattr(obj, "read_bytes", None)) and callable(getattr(obj, "is_file", None)):
        return cast("Traversable", obj)
    raise ConfigError(f"{where}: is a {type(obj).__name__}, not a path to a pack file")


def _read_entry_point(value: str) -> bytes:
    target = _entry_point_target(value)
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"entry point {value!r}: cannot read the pack: {exc.strerror or exc}"
        ) from None
    if len(data) > MAX_PACK_SIZE:
        raise ConfigError(f"entry point {value!r}: pack larger than {MAX_PACK_SIZE} bytes")
    return data


def repo_source(path: str, view: RepoView | None) -> PackSource:
    clean = posixpath.normpath(path.removeprefix("./"))
    if clean.startswith("../") or clean == ".." or clean.startswith("/"):
        raise ConfigError(f"pack path {path!r} leaves the repository")
    return PackSource("repo", clean, view)


def git_source(ref: str) -> PackSource:
    """A `git+...` reference; its commit is resolved when the pack is loaded."""
    git = packsources.parse_git_ref(ref)
    return PackSource("git", git.label, git=git)


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
    """A `--pack` argument: a git URL, a path on disk or a pack name."""
    if is_git_ref(ref):
        return git_source(ref)
    return file_source(ref) if is_path_ref(ref) else resolve_name(ref)


def config_source(ref: str, view: RepoView) -> PackSource:
    """An entry of the repo config's `packs`: paths are inside the repository."""
    if is_git_ref(ref):
        return git_source(ref)
    return repo_source(ref, view) if is_path_ref(ref) else resolve_name(ref)


# -- loading --------------------------------------------------------------------------


class _Loaded(msgspec.Struct):
    source: PackSource
    spec: specs.RulePack
    doc: YamlDocument
    text: str
    sha256: str


def _identity(source: PackSource) -> tuple[str, str]:
    """Which pack a source is: one file reached by two spellings is one pack."""
    if source.kind == "file":
        return source.kind, os.path.realpath(source.location)
    return source.kind, source.label


def _lock_pins(lock: Lock | None) -> dict[str, str]:
    """Locked git repositories (URL and ref) -> commit."""
    pins: dict[str, str] = {}
    for entry in lock.resolved if lock else ():
        if entry.kind == "git" and entry.commit:
            # The label is ours (GitRef.label): the repository is what precedes `#path=`.
            pins[entry.source.partition("#path=")[0]] = entry.commit
    return pins


class _Resolver:
    """Loads packs depth first through `extends`; with a lock, only the locked packs."""

    def __init__(self, lock: Lock | None = None) -> None:
        self.order: list[_Loaded] = []
        self.done: set[tuple[str, str]] = set()
        self.lock = lock
        self.pins = _lock_pins(lock)

    def _pinned(self, source: PackSource) -> PackSource:
        """A git source at its commit: the locked one, else the one its ref names now."""
        if source.kind != "git" or source.commit or source.git is None:
            return source
        commit = self.pins.get(source.git.repo)
        if commit is None:
            if self.lock is not None:  # never reach the network for a pack the lock lacks
                raise _not_locked(source)
            commit = packsources.resolve_commit(source.git)
            self.pins[source.git.repo] = commit
        return replace(source, commit=commit)

    def _check_lock(self, source: PackSource, sha256: str) -> None:
        if self.lock is None:
            return
        entry = self.lock.entry(source.label)
        if entry is None:
            raise _not_locked(source)
        if entry.sha256 != sha256:
            raise LockError(
                f"pack {entry.name} ({source.label}) changed since {LOCK_NAME}: "
                f"sha256 {sha256} != {entry.sha256}; {UPDATE_HINT}"
            )

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
            source = self._pinned(source)
            text, sha256 = source.fetch()
        except ConfigError as exc:
            if site is None or isinstance(exc, LockError):
                raise
            # A pack that cannot be read is reported where it is named: the `extends` entry.
            label = "" if exc.message.startswith(source.label) else f"{source.label}: "
            raise site.error(f"{label}{exc.message}") from None
        self._check_lock(source, sha256)
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
        self.order.append(_Loaded(source, spec, doc, text, sha256))


def _not_locked(source: PackSource) -> LockError:
    return LockError(f"pack {source.label} is not in {LOCK_NAME}; {UPDATE_HINT}")


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
        # rule id -> its definition and the pack that made it, to tell a diamond's
        # identical second definition (harmless) from a conflicting one.
        self.defined: dict[str, tuple[specs.Rule, str, str]] = {}

    def add_pack(self, loaded: _Loaded) -> None:
        spec, doc = loaded.spec, loaded.doc
        levels = tuple(spec.levels)
        if len(set(levels)) != len(levels):
            raise Site(doc, ("levels",)).error("levels must be unique")
        if RESERVED_LEVEL in levels:
            # The org report counts services with no level under this key.
            raise Site(doc, ("levels",)).error(
                f"{RESERVED_LEVEL!r} means no level in reports; name the level otherwise"
            )
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
        name = loaded.spec.metadata.name
        pack = f"{name} ({loaded.source.label})"
        first = self.defined.get(spec.id)
        if first is not None:
            first_spec, first_name, first_pack = first
            if first_spec == spec and first_name == name:
                return  # one pack reached through two sources (a diamond): the same rule
            how = "by both" if first_spec == spec else "differently by"
            raise site.error(
                f"rule {spec.id} is defined {how} pack {first_pack} and pack {pack}", "id"
            )
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
        from_repo = loaded.source.kind == "repo"
        token = PACK_REPO_VIEW.set(loaded.source.view if from_repo else None)
        try:
            check = compile_check(spec.check, site.at("check"))
        finally:
            PACK_REPO_VIEW.reset(token)
        _check_when(spec.when, site)
        source = Located(site.doc.path, site.doc.line_of(site.keys))
        self.rules[spec.id] = Rule(info, check, spec.when, tuple(spec.aliases), source)
        self.defined[spec.id] = (spec, name, pack)
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
            if rid not in self.rules and any(d.rule == rid for d in self.disabled):
                continue  # disabled already, by this pack reached twice or by another
            if rid not in self.rules:
                site = Site(doc, ("disable", rule_id))
                raise site.error(f"no rule {rule_id} to disable{_suggest(rule_id, self.rules)}")
            del self.rules[rid]
            self.disabled.append(Disabled(rid, reason, by))


def load_packs(
    sources: Sequence[PackSource],
    config: specs.RepoConfig | None = None,
    config_doc: YamlDocument | None = None,
    lock: Lock | None = None,
    sites: Sequence[Site] | None = None,
) -> PackSet:
    """Load `sources` and what they extend; with `lock`, exactly the locked packs.

    `sites` say where each source is named (the repo config's `packs` entries), so that
    a pack that cannot be fetched or read is reported there."""
    resolver = _Resolver(lock)
    for i, source in enumerate(sources):
        resolver.visit(source, (), sites[i] if sites else None)
    _check_requires(resolver.order)
    merger = _Merger()
    # `command` checks may run only for the packs the repo config trusts; the module is
    # imported only for a config that trusts some pack (it is not free on the scan path).
    trust: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if config is not None and config.trusted_packs:
        from opsgrade.engine.primitives.command import trusting

        trust = trusting(config.trusted_packs)
    with trust:
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
        if config.trusted_packs:
            digest.update(repr(sorted(config.trusted_packs)).encode())
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
        requested=tuple(s.label for s in sources),
        locked=tuple(_locked(p) for p in resolver.order),
    )


def _locked(loaded: _Loaded) -> LockedPack:
    meta = loaded.spec.metadata
    source = loaded.source
    kind = cast("PackKind", source.kind)  # PackSource.kind is one of these five
    return LockedPack(source.label, kind, meta.name, meta.version, loaded.sha256, source.commit)


def _check_requires(order: Sequence[_Loaded]) -> None:
    """`requires: {name: specifier}`: PEP 440 constraints on the packs in the set."""
    if not any(p.spec.requires for p in order):
        return  # packaging is imported only when some pack asks for it
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    found = {p.spec.metadata.name: p for p in order}
    for loaded in order:
        me = loaded.spec.metadata.name
        for name, text in loaded.spec.requires.items():
            site = Site(loaded.doc, ("requires", name))
            try:
                wanted = SpecifierSet(text)
            except InvalidSpecifier:
                raise site.error(f"{text!r} is not a PEP 440 version specifier") from None
            other = found.get(name)
            if other is None:
                raise site.error(f"pack {me} requires pack {name}, which it does not extend")
            have = other.spec.metadata.version
            try:
                ok = wanted.contains(Version(have), prereleases=True)
            except InvalidVersion:
                raise site.error(
                    f"pack {me} requires {name} {text}, but {name}'s version {have!r} "
                    f"({other.source.label}) is not a PEP 440 version"
                ) from None
            if not ok:
                raise site.error(
                    f"pack {me} requires {name} {text}, but {name} is {have} ({other.source.label})"
                )


def requested_sources(
    refs: Sequence[PackSource], view: RepoView, config: LoadedConfig | None
) -> list[PackSource]:
    """`--pack` sources, else the repo config's packs, else every built-in pack."""
    if refs:
        return list(refs)
    if config is not None and config.spec.packs:
        sources = []
        for i, ref in enumerate(config.spec.packs):
            try:
                sources.append(config_source(ref, view))
            except ConfigError as exc:
                raise _config_site(config, i).error(exc.message) from None
        return sources
    return [PackSource("builtin", name) for name in builtin_names()]


def select_packs(
    refs: Sequence[PackSource], view: RepoView, config: LoadedConfig | None
) -> PackSet:
    """`--pack` sources, else the repo config's packs, else every built-in pack; pinned
    by the repository's `opsgrade.lock` when it has one (read from the same view)."""
    sources = requested_sources(refs, view, config)
    lock = read_lock(view)
    if lock is not None and lock.packs != [s.label for s in sources]:
        if refs:
            lock = None  # `--pack` chose other packs on purpose: the lock is not for them
        else:
            raise LockError(
                f"{LOCK_NAME} is for packs {lock.packs}, the repo config asks for "
                f"{[s.label for s in sources]}; {UPDATE_HINT}"
            )
    from_config = not refs and config is not None and bool(config.spec.packs)
    return load_packs(
        sources,
        config.spec if config else None,
        config.doc if config else None,
        lock,
        [_config_site(config, i) for i in range(len(sources))] if from_config else None,
    )


def _config_site(config: LoadedConfig | None, index: int) -> Site:
    assert config is not None
    return Site(config.doc, ("packs", index))


def counts_on(rule: RuleInfo, today: dt.date) -> bool:
    return rule.enforce_after is None or today >= rule.enforce_after
