"""Dependency manifests: the `manifests`, `dependencies`, `runtimes` and `detected` facts.

Files are recognized by name (manifests_*.py hold one parser per format) and each is
parsed once per scan through `EvalContext.parsed`; a format's parser module is
imported only when a file of that format is read. A file the view will not read
(binary, over the size bound) is skipped, and the view notes it; a file that does not
parse makes the facts that read it fail with a `FactError` at its path and line, so
the rules reading them give `error` instead of a wrong answer.

Folders named `vendor`, `testdata`, `fixtures` and `__fixtures__` are not read:
they hold other projects' manifests (vendored code, test inputs), not the service's.

Lockfiles: a manifest is `locked` when a lockfile of its package manager sits in its
folder, or for managers with workspaces (npm, yarn, pnpm, Cargo, uv, Poetry, PDM) in a
parent folder, up to the repository root. A requirements file whose every requirement
is pinned with `==` (what pip-compile, `uv pip compile` and `pip freeze` write) is a
lockfile itself. Maven, Gradle and NuGet projects are not expected to have lockfiles
(`needs_lock: false`); their lockfiles are read when present.
"""

from __future__ import annotations

import datetime as dt
import importlib
import posixpath
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec

from opsgrade.engine import versions
from opsgrade.engine.extractors.manifests_base import Declared, Locked, Parsed, Runtime
from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.model import Location
from opsgrade.engine.repoview import Unreadable


class FileKind(msgspec.Struct, frozen=True):
    ecosystem: str
    kind: str
    lockfile: bool
    parser: str | None  # "module:function" in opsgrade.engine.extractors; None: never read


def _k(ecosystem: str, kind: str, lockfile: bool, parser: str | None) -> FileKind:
    return FileKind(ecosystem, kind, lockfile, parser)


_PY = "manifests_python"
_NODE = "manifests_node"
_JVM = "manifests_jvm"
_NET = "manifests_dotnet"
BY_NAME: dict[str, FileKind] = {
    "pyproject.toml": _k("python", "pyproject", False, f"{_PY}:parse_pyproject"),
    "Pipfile": _k("python", "pipfile", False, f"{_PY}:parse_pipfile"),
    "Pipfile.lock": _k("python", "pipfile-lock", True, f"{_PY}:parse_pipfile_lock"),
    "poetry.lock": _k("python", "poetry-lock", True, f"{_PY}:parse_poetry_lock"),
    "pdm.lock": _k("python", "pdm-lock", True, f"{_PY}:parse_poetry_lock"),
    "uv.lock": _k("python", "uv-lock", True, f"{_PY}:parse_uv_lock"),
    "pylock.toml": _k("python", "pylock", True, f"{_PY}:parse_pylock"),
    "package.json": _k("node", "package-json", False, f"{_NODE}:parse_package_json"),
    "package-lock.json": _k("node", "package-lock", True, f"{_NODE}:parse_package_lock"),
    "npm-shrinkwrap.json": _k("node", "package-lock", True, f"{_NODE}:parse_package_lock"),
    "yarn.lock": _k("node", "yarn-lock", True, f"{_NODE}:parse_yarn_lock"),
    "pnpm-lock.yaml": _k("node", "pnpm-lock", True, f"{_NODE}:parse_pnpm_lock"),
    "bun.lock": _k("node", "bun-lock", True, None),
    "bun.lockb": _k("node", "bun-lock", True, None),
    "go.mod": _k("go", "go-mod", False, "manifests_go:parse_go_mod"),
    "go.sum": _k("go", "go-sum", True, None),
    "Gemfile": _k("ruby", "gemfile", False, "manifests_ruby:parse_gemfile"),
    "gems.rb": _k("ruby", "gemfile", False, "manifests_ruby:parse_gemfile"),
    "Gemfile.lock": _k("ruby", "gemfile-lock", True, "manifests_ruby:parse_gemfile_lock"),
    "gems.locked": _k("ruby", "gemfile-lock", True, "manifests_ruby:parse_gemfile_lock"),
    "pom.xml": _k("java", "pom", False, f"{_JVM}:parse_pom"),
    "build.gradle": _k("java", "gradle", False, f"{_JVM}:parse_gradle"),
    "build.gradle.kts": _k("java", "gradle", False, f"{_JVM}:parse_gradle"),
    "libs.versions.toml": _k("java", "gradle-catalog", False, f"{_JVM}:parse_version_catalog"),
    "gradle.lockfile": _k("java", "gradle-lock", True, f"{_JVM}:parse_gradle_lockfile"),
    "Cargo.toml": _k("rust", "cargo", False, "manifests_rust:parse_cargo_toml"),
    "Cargo.lock": _k("rust", "cargo-lock", True, "manifests_rust:parse_cargo_lock"),
    "Directory.Packages.props": _k("dotnet", "central-packages", False, None),
    "packages.config": _k("dotnet", "packages-config", False, f"{_NET}:parse_packages_config"),
    "packages.lock.json": _k("dotnet", "nuget-lock", True, f"{_NET}:parse_packages_lock"),
}
_PROJECT = _k("dotnet", "project", False, f"{_NET}:parse_project")
_REQUIREMENTS = _k("python", "requirements", False, f"{_PY}:parse_requirements")
_REQUIREMENTS_LOCK = _k("python", "requirements", True, f"{_PY}:parse_requirements")
_PYLOCK = _k("python", "pylock", True, f"{_PY}:parse_pylock")
_CENTRAL = f"{_NET}:parse_central_packages"
_VERSION_FILE = "manifests_runtime:parse_version_file"
_REQUIREMENTS_NAME = r"requirements.*\.(?:txt|in|lock)$|.*requirements\.(?:txt|in)$"
SKIPPED_DIRS = frozenset({"vendor", "testdata", "fixtures", "__fixtures__"})

# Lockfile names a manifest kind looks for, and whether parent folders count (workspaces).
_LOCKS: dict[str, tuple[tuple[str, ...], bool]] = {
    "pyproject": (("uv.lock", "poetry.lock", "pdm.lock", "pylock.toml"), True),
    "pipfile": (("Pipfile.lock",), False),
    "package-json": (
        (
            "package-lock.json",
            "npm-shrinkwrap.json",
            "yarn.lock",
            "pnpm-lock.yaml",
            "bun.lock",
            "bun.lockb",
        ),
        True,
    ),
    "go-mod": (("go.sum",), False),
    "gemfile": (("Gemfile.lock", "gems.locked"), False),
    "cargo": (("Cargo.lock",), True),
    "gradle": (("gradle.lockfile",), False),
    "project": (("packages.lock.json",), False),
}
_NEEDS_LOCK = frozenset({"pyproject", "pipfile", "requirements", "package-json", "go-mod"})
_NEEDS_LOCK |= {"gemfile", "cargo"}
_RESOLVED_SOURCES = frozenset({"registry", "git", "url", "alias"})
# When a service has manifests of several ecosystems, the language is that of the
# shallowest one; ties go in this order (package.json is often tooling beside another
# language's project, so it comes last).
LANGUAGE_ORDER = ("go", "rust", "java", "dotnet", "ruby", "python", "node")


def classify(path: str) -> FileKind | None:
    name = posixpath.basename(path)
    found = BY_NAME.get(name)
    if found is not None:
        return found
    if name.endswith((".csproj", ".fsproj", ".vbproj")):
        return _PROJECT
    if name.startswith("pylock.") and name.endswith(".toml"):
        return _PYLOCK
    if "requirements" not in path:  # the cheap test first: classify sees every file
        return None
    folder = posixpath.basename(posixpath.dirname(path))
    if re.match(_REQUIREMENTS_NAME, name) or (folder == "requirements" and name.endswith(".txt")):
        return _REQUIREMENTS_LOCK if name.endswith(".lock") else _REQUIREMENTS
    return None


def _skipped(visible: str) -> bool:
    return any(part in SKIPPED_DIRS for part in visible.split("/")[:-1])


# -- per-scan caches -------------------------------------------------------------------


def _cached(ctx: EvalContext, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    full = ("opsgrade.manifests", *key)
    if full not in ctx.shared:
        ctx.shared[full] = compute()
    return ctx.shared[full]


def _repo_dirs(ctx: EvalContext) -> dict[str, set[str]]:
    """Folder -> file names, for every file of the repository (lockfile lookups)."""

    def build() -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for path in ctx.view.files():
            folder, _, name = path.rpartition("/")
            found.setdefault(folder, set()).add(name)
        return found

    result: dict[str, set[str]] = _cached(ctx, ("dirs",), build)
    return result


def _service_key(ctx: EvalContext) -> tuple[str, str]:
    return (ctx.service.root, ctx.service.name)


def _function(spec: str) -> Callable[[str, str], Parsed]:
    module, _, name = spec.partition(":")
    found: Callable[[str, str], Parsed] = getattr(
        importlib.import_module(f"opsgrade.engine.extractors.{module}"), name
    )
    return found


def parse(ctx: EvalContext, path: str, parser: str) -> Parsed | None:
    """The file's parse, once per scan; None when the view does not read it (noted)."""
    try:
        result: Parsed = ctx.parsed("manifest", path, _function(parser))
    except (Unreadable, FileNotFoundError):
        return None
    except FactError:
        raise
    except RecursionError:
        raise FactError(f"{path}: nested too deeply", Location(path, 1)) from None
    except Exception as exc:  # a parser's blind spot must cost one file, not the scan
        raise FactError(
            f"{path}: could not be read ({type(exc).__name__})", Location(path, 1)
        ) from exc
    return result


# -- the files ----------------------------------------------------------------------------


class Entry(msgspec.Struct, frozen=True):
    path: str  # repo-relative
    kind: FileKind


def entries(ctx: EvalContext) -> list[Entry]:
    """The service's manifest and lockfiles, plus files its requirements include."""
    return list(_cached(ctx, ("entries", *_service_key(ctx)), lambda: _entries(ctx)))


def _entries(ctx: EvalContext) -> tuple[Entry, ...]:
    found: dict[str, Entry] = {}
    for visible, path in sorted(ctx.files.visible.items()):
        kind = classify(visible)
        if kind is not None and not _skipped(visible):
            found[path] = Entry(path, kind)
    queue = [e for e in found.values() if e.kind.kind == "requirements"]
    dirs = _repo_dirs(ctx)
    while queue:  # `-r` includes, followed within the repository, each file once
        entry = queue.pop()
        assert entry.kind.parser is not None
        parsed = parse(ctx, entry.path, entry.kind.parser)
        for include in parsed.includes if parsed else ():
            folder, _, name = include.rpartition("/")
            if include not in found and name in dirs.get(folder, ()):
                found[include] = Entry(include, _REQUIREMENTS)
                queue.append(found[include])
    return tuple(sorted(found.values(), key=lambda e: e.path))


def _parsed(ctx: EvalContext, entry: Entry) -> Parsed | None:
    return parse(ctx, entry.path, entry.kind.parser) if entry.kind.parser else None


def _is_lockfile(ctx: EvalContext, entry: Entry) -> bool:
    if entry.kind.kind == "requirements" and not entry.kind.lockfile:
        parsed = _parsed(ctx, entry)
        return bool(parsed and parsed.all_pinned)
    return entry.kind.lockfile


def _ancestors(folder: str) -> Iterable[str]:
    while True:
        yield folder
        if not folder:
            return
        folder = folder.rpartition("/")[0]


def lock_for(ctx: EvalContext, entry: Entry) -> str | None:
    """The lockfile that pins this manifest's dependencies, or None."""
    folder = posixpath.dirname(entry.path)
    kind = entry.kind.kind
    if kind in ("requirements", "pyproject"):
        pinned = _pinned_requirements(ctx, folder, entry.path)
        if pinned:
            return pinned
    names, upward = _LOCKS.get(kind, ((), False))
    dirs = _repo_dirs(ctx)
    for candidate in _ancestors(folder) if upward else (folder,):
        present = dirs.get(candidate, set())
        for name in names:
            if name in present:
                return f"{candidate}/{name}" if candidate else name
        if kind == "pyproject":
            pylock = sorted(n for n in present if n.startswith("pylock.") and n.endswith(".toml"))
            if pylock:
                return f"{candidate}/{pylock[0]}" if candidate else pylock[0]
    return None


def _pinned_requirements(ctx: EvalContext, folder: str, own: str) -> str | None:
    """A fully pinned requirements file beside `own` (pip-compile's output)."""
    for name in sorted(_repo_dirs(ctx).get(folder, ())):
        path = f"{folder}/{name}" if folder else name
        kind = classify(path)
        if path == own or kind is None or kind.kind != "requirements":
            continue
        if kind.lockfile or _is_lockfile(ctx, Entry(path, kind)):
            return path
    return None


def _resolved(declared: Iterable[Declared]) -> bool:
    return any(d.source in _RESOLVED_SOURCES for d in declared)


def manifests(ctx: EvalContext) -> list[dict[str, Any]]:
    declared_languages = {r["language"] for r in ctx.facts.get("runtimes") or []}
    out: list[dict[str, Any]] = []
    for entry in entries(ctx):
        lockfile = _is_lockfile(ctx, entry)
        needs_lock = declares = False
        lock = None
        if not lockfile:
            parsed = _parsed(ctx, entry)
            # A pyproject.toml or package.json that only configures tools declares nothing.
            declares = parsed is not None and bool(parsed.declared or parsed.runtimes)
            resolved = parsed is not None and _resolved(parsed.declared)
            needs_lock = entry.kind.kind in _NEEDS_LOCK and resolved
            lock = lock_for(ctx, entry)
        out.append(
            {
                "path": entry.path,
                "line": 1,
                "ecosystem": entry.kind.ecosystem,
                "kind": entry.kind.kind,
                "lockfile": lockfile,
                "declares": declares,
                "needs_lock": needs_lock,
                "locked": lockfile or lock is not None,
                "lock": lock,
                "runtime_declared": entry.kind.ecosystem in declared_languages,
            }
        )
    return out


# -- dependencies -------------------------------------------------------------------------


def _lock_index(ctx: EvalContext, lock: str) -> dict[str, list[Locked]] | None:
    kind = classify(lock)
    if kind is None or kind.parser is None:
        return None
    parsed = parse(ctx, lock, kind.parser)
    if parsed is None:
        return None

    def build() -> dict[str, list[Locked]]:
        index: dict[str, list[Locked]] = {}
        for item in parsed.locked:
            index.setdefault(item.name, []).append(item)
        return index

    result: dict[str, list[Locked]] = _cached(ctx, ("lock-index", lock), build)
    return result


def _pick(candidates: list[Locked], declared: Declared, importer: str) -> Locked:
    """The lockfile entry for a declared dependency: its own project's, then the one
    resolving the same spec (yarn), then the root project's, then any."""
    for candidate in candidates:
        if candidate.importer == importer:
            return candidate
    for candidate in candidates:
        if candidate.spec is not None and candidate.spec == declared.spec:
            return candidate
    for candidate in candidates:
        if candidate.importer == "":
            return candidate
    return candidates[0]


def _dependency(
    ecosystem: str, declared: Declared, path: str, locked: str | None, lock: str | None
) -> dict[str, Any]:
    resolved_from_spec = declared.source in ("registry", "alias")
    return {
        "ecosystem": ecosystem,
        "name": declared.name,
        "spec": declared.spec,
        "locked": locked,
        "dev": declared.dev,
        "direct": declared.direct,
        "source": declared.source,
        "pinned": versions.is_exact(ecosystem, declared.spec),
        "unbounded": resolved_from_spec and versions.is_unbounded(ecosystem, declared.spec),
        "path": path,
        "line": declared.line,
        "lockfile": lock,
        "marker": declared.marker,
    }


def dependencies(ctx: EvalContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    # lockfile -> names declared by the manifests it locks (the rest are transitive)
    used_locks: dict[str, set[str]] = {}
    for entry in entries(ctx):
        if entry.kind.lockfile:
            used_locks.setdefault(entry.path, set())
            continue
        parsed = _parsed(ctx, entry)
        if parsed is None or not parsed.declared:
            continue
        declared = _with_central_versions(ctx, entry, parsed.declared)
        # go.mod and pinned requirements files lock their own versions.
        own = {item.name: item.version for item in parsed.locked}
        is_lock = _is_lockfile(ctx, entry)
        lock = entry.path if is_lock else lock_for(ctx, entry)
        index = _lock_index(ctx, lock) if lock and not is_lock else None
        importer = _relative(posixpath.dirname(entry.path), posixpath.dirname(lock or ""))
        names = used_locks.setdefault(lock, set()) if lock else set()
        # A lockfile the view would not read (too large) says nothing either way.
        read = lock if is_lock or index is not None or _unparsed_lock(lock) else None
        for item in declared:
            version = own.get(item.name)
            if version is None and index and item.name in index:
                version = _pick(index[item.name], item, importer).version
            names.add(item.name)
            out.append(_dependency(entry.kind.ecosystem, item, entry.path, version, read))
    out.extend(_transitive(ctx, used_locks))
    out.sort(key=lambda d: (d["path"], d["line"], d["name"]))
    return out


def _unparsed_lock(lock: str | None) -> bool:
    kind = classify(lock) if lock else None
    return kind is not None and kind.parser is None  # go.sum, bun.lockb: present, never read


def _relative(folder: str, base: str) -> str:
    if folder == base:
        return ""
    return posixpath.relpath(folder or ".", base or ".")


def _with_central_versions(
    ctx: EvalContext, entry: Entry, declared: tuple[Declared, ...]
) -> tuple[Declared, ...]:
    """NuGet central package management: versions from the nearest Directory.Packages.props."""
    if entry.kind.kind != "project" or all(d.source != "managed" for d in declared):
        return declared
    dirs = _repo_dirs(ctx)
    for folder in _ancestors(posixpath.dirname(entry.path)):
        if "Directory.Packages.props" in dirs.get(folder, ()):
            props = f"{folder}/Directory.Packages.props" if folder else "Directory.Packages.props"
            parsed = parse(ctx, props, _CENTRAL)
            central: dict[str, tuple[str, int]] = parsed.extra.get("central", {}) if parsed else {}
            from msgspec.structs import replace

            return tuple(
                replace(d, spec=central[d.name][0], source="registry")
                if d.source == "managed" and d.name in central
                else d
                for d in declared
            )
    return declared


def _transitive(ctx: EvalContext, used_locks: dict[str, set[str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for lock, direct in sorted(used_locks.items()):
        kind = classify(lock)
        index = _lock_index(ctx, lock)
        if kind is None or index is None:
            continue
        ecosystem = kind.ecosystem
        for name, items in index.items():
            if name in direct:
                continue
            seen: set[str] = set()
            for item in items:  # each version once (npm nests several of one package)
                if item.version in seen:
                    continue
                seen.add(item.version)
                out.append(
                    {
                        "ecosystem": ecosystem,
                        "name": name,
                        "spec": None,
                        "locked": item.version,
                        "dev": bool(item.dev),
                        "direct": False,
                        "source": "registry",
                        "pinned": True,
                        "unbounded": False,
                        "path": lock,
                        "line": item.line,
                        "lockfile": lock,
                        "marker": None,
                    }
                )
    return out


# -- runtimes ------------------------------------------------------------------------------


def _version_files(ctx: EvalContext) -> list[str]:
    """Version files in the service, and in the folders above its root (tools walk up)."""
    from opsgrade.engine.extractors.manifests_runtime import FILES

    found = [
        path
        for visible, path in ctx.files.visible.items()
        if posixpath.basename(visible) in FILES and not _skipped(visible)
    ]
    dirs = _repo_dirs(ctx)
    root = ctx.service.root
    if root:
        for folder in list(_ancestors(root))[1:]:
            for name in sorted(FILES & dirs.get(folder, set())):
                found.append(f"{folder}/{name}" if folder else name)
    return sorted(set(found))


def runtimes(ctx: EvalContext) -> list[dict[str, Any]]:
    declared: list[tuple[str, Runtime]] = []
    for entry in entries(ctx):
        if entry.kind.lockfile and entry.kind.kind != "gemfile-lock":
            continue  # of the lockfiles, only Gemfile.lock records a runtime (RUBY VERSION)
        parsed = _parsed(ctx, entry)
        if parsed is not None:
            declared.extend((entry.path, r) for r in parsed.runtimes)
    for path in _version_files(ctx):
        parsed = parse(ctx, path, _VERSION_FILE)
        if parsed is not None:
            declared.extend((path, r) for r in parsed.runtimes)
    return [_runtime(path, r, ctx.today) for path, r in declared]


_NODE_LTS = {
    "argon": 4,
    "boron": 6,
    "carbon": 8,
    "dubnium": 10,
    "erbium": 12,
    "fermium": 14,
    "gallium": 16,
    "hydrogen": 18,
    "iron": 20,
    "jod": 22,
    "krypton": 24,
}
_FLOATING = frozenset({"lts/*", "lts", "node", "stable", "latest", "current", "nightly", "beta"})
_OPERATORS = r"[<>=~^!*|,]|\.x\b|\s-\s"
_FX = r"^net(\d)(\d)(\d)?$"
_CORE = r"^net(?:coreapp)?(\d+\.\d+)"


def normalize_runtime(language: str, version: str) -> tuple[str, tuple[int, ...] | None, bool]:
    """(product, lowest version admitted, floating) of a declared runtime version.

    The product is the EOL table's key (`dotnetfx` for .NET Framework targets);
    floating means "whatever is newest" (`lts/*`, `stable`): it has no end of life.
    """
    text = version.strip().lower()
    if text in _FLOATING or text.startswith(("lts/-", "nightly-", "beta-", "stable-")):
        return language, None, True
    product = language
    if language == "node" and text.startswith("lts/"):
        major = _NODE_LTS.get(text[4:])
        return language, ((major,) if major else None), False
    if language == "dotnet":
        fx = re.match(_FX, text)
        if fx:
            return "dotnetfx", tuple(int(p) for p in fx.groups() if p is not None), False
        core = re.match(_CORE, text)
        if core:
            return "dotnet", versions.runtime_key(core.group(1)), False
        if text.startswith("netstandard"):
            return "netstandard", None, False
    if language == "ruby" and re.match(r"^(?:jruby|truffleruby|mruby|rbx)", text):
        return text.split("-", 1)[0], None, False
    text = re.sub(r"^(?:python-|cpython-|pypy|ruby-|go|v|node-|nodejs-)", "", text)
    text = re.sub(r"^[a-z][a-z-]*-(?=\d)", "", text)  # asdf java: temurin-17.0.2+8
    try:
        lowest = versions.runtime_lowest(text) if re.search(_OPERATORS, text) else None
        if lowest is None and not re.search(_OPERATORS, text):
            lowest = versions.runtime_key(text)
    except versions.VersionError:
        return product, None, False
    if language == "java" and lowest and lowest[0] == 1 and len(lowest) > 1:
        lowest = lowest[1:]  # 1.8 is Java 8
    return product, lowest, False


def _runtime(path: str, runtime: Runtime, today: dt.date) -> dict[str, Any]:
    product, lowest, floating = normalize_runtime(runtime.language, runtime.version)
    cycle, eol = end_of_life(product, lowest) if lowest else (None, None)
    return {
        "language": runtime.language,
        "version": runtime.version,
        "source": runtime.source,
        "path": path,
        "line": runtime.line,
        "product": product,
        "min": ".".join(str(p) for p in lowest) if lowest else None,
        "floating": floating,
        "cycle": cycle,
        "eol": eol.isoformat() if eol else None,
        "eol_passed": eol is not None and eol < today,
    }


# -- end of life ----------------------------------------------------------------------------


class _Product(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    source: str
    cycles: dict[str, dt.date]


_EOL: dict[str, dict[tuple[int, ...], tuple[str, dt.date]]] | None = None


def eol_table() -> dict[str, dict[tuple[int, ...], tuple[str, dt.date]]]:
    """rules/data/eol.yml: product -> cycle numbers -> (cycle, end-of-life date)."""
    global _EOL
    if _EOL is None:
        from opsgrade import rules
        from opsgrade.engine.yamlio import load_document

        path = Path(rules.__file__ or "").parent / "data" / "eol.yml"
        doc = load_document(path.read_text("utf-8"), str(path))
        products = msgspec.convert(doc.data, dict[str, _Product])
        _EOL = {
            name: {versions.runtime_key(c): (c, date) for c, date in product.cycles.items()}
            for name, product in products.items()
        }
    return _EOL


def end_of_life(product: str, version: tuple[int, ...]) -> tuple[str | None, dt.date | None]:
    """(cycle, end-of-life date) of a version: the longest listed cycle that is a prefix
    of it; a version older than every listed cycle ends when the oldest one did."""
    cycles = eol_table().get(product)
    if not cycles:
        return None, None
    for size in range(len(version), 0, -1):
        found = cycles.get(version[:size])
        if found is not None:
            return found
    oldest = min(cycles)
    if version < oldest:
        return cycles[oldest]
    return None, None


# -- detected language and framework ------------------------------------------------------

# Package names that identify a framework, per ecosystem, most specific first.
FRAMEWORKS: dict[str, tuple[tuple[str, str], ...]] = {
    "python": (
        ("django", "django"),
        ("fastapi", "fastapi"),
        ("flask", "flask"),
        ("starlette", "starlette"),
        ("aiohttp", "aiohttp"),
        ("tornado", "tornado"),
        ("pyramid", "pyramid"),
    ),
    "node": (
        ("@nestjs/core", "nestjs"),
        ("next", "nextjs"),
        ("nuxt", "nuxt"),
        ("@remix-run/node", "remix"),
        ("express", "express"),
        ("fastify", "fastify"),
        ("koa", "koa"),
        ("@hapi/hapi", "hapi"),
        ("@angular/core", "angular"),
        ("react", "react"),
        ("vue", "vue"),
        ("svelte", "svelte"),
    ),
    "ruby": (("rails", "rails"), ("sinatra", "sinatra"), ("hanami", "hanami")),
    "go": (
        ("github.com/gin-gonic/gin", "gin"),
        ("github.com/labstack/echo/v4", "echo"),
        ("github.com/gofiber/fiber/v2", "fiber"),
        ("github.com/go-chi/chi/v5", "chi"),
        ("github.com/gorilla/mux", "gorilla"),
    ),
    "rust": (("actix-web", "actix"), ("axum", "axum"), ("rocket", "rocket"), ("warp", "warp")),
    "java": (
        ("org.springframework.boot:", "spring-boot"),
        ("io.quarkus:", "quarkus"),
        ("io.micronaut:", "micronaut"),
        ("io.dropwizard:", "dropwizard"),
    ),
}


def detected(ctx: EvalContext) -> dict[str, Any]:
    """The service's languages (by manifest) and framework (by dependency); never fails."""
    ranked: dict[str, tuple[int, int]] = {}
    for visible, _ in ctx.files.visible.items():
        kind = classify(visible)
        if kind is None or kind.lockfile or _skipped(visible):
            continue
        rank = (visible.count("/"), LANGUAGE_ORDER.index(kind.ecosystem))
        ranked[kind.ecosystem] = min(rank, ranked.get(kind.ecosystem, rank))
    languages = sorted(ranked, key=lambda e: ranked[e])
    language = languages[0] if languages else None
    try:
        framework = _framework(ctx, language) if language else None
    except FactError:
        framework = None  # a manifest that does not parse says nothing about the framework
    return {"language": language, "framework": framework, "languages": languages}


def _framework(ctx: EvalContext, language: str) -> str | None:
    names: set[str] = set()
    extras: list[dict[str, Any]] = []
    for entry in entries(ctx):
        if entry.kind.ecosystem != language or entry.kind.lockfile:
            continue
        parsed = _parsed(ctx, entry)
        if parsed is not None:
            names.update(d.name for d in parsed.declared)
            extras.append(parsed.extra)
    if language == "dotnet":
        sdks = {str(e.get("sdk", "")) for e in extras}
        return "aspnetcore" if "Microsoft.NET.Sdk.Web" in sdks else None
    parents = {str(e.get("parent", "")) for e in extras}
    for package, framework in FRAMEWORKS.get(language, ()):
        if package.endswith(":"):
            if any(n.startswith(package) for n in names | parents):
                return framework
        elif package in names:
            return framework
    return None
