"""Version ordering and constraints, each ecosystem by its own rules.

Every ecosystem orders versions and spells ranges its own way, and the edge cases
(pre-releases, `~>`, `^0.x`, Maven qualifiers) are where hand-written comparisons go
wrong. So each one is delegated to a maintained, pure-Python library, imported on first
use (a scan that compares no version of an ecosystem never imports its library):

- python, PEP 440 (`>=1.2,<2`, `~=1.4`, `==1.*`): `packaging`, PyPA's reference
  implementation.
- node, npm ranges (`^1.2`, `~1.2.3`, `1.x`, `1.2 - 2`, `||`): `node-semver`
  (`nodesemver`), a port of npm's own node-semver.
- go: module versions are SemVer with a `v`; Go has no range syntax, so rules write
  npm-style comparators (`>=v0.23.0`), evaluated by `node-semver` with pre-releases
  included (pseudo-versions are pre-releases).
- rust, Cargo requirements: npm ranges with commas between comparators and a bare
  `1.2` meaning `^1.2`; translated, then `node-semver`.
- ruby, RubyGems (`~> 3.2`, `>= 3.2.1, < 4`): `univers.gem`, a port of Gem::Version and
  Gem::Requirement.
- java, Maven (`[1.0,2.0)`, `[1.5,)`; ComparableVersion order): `univers.maven`, a port
  of Maven's VersionRange and ComparableVersion.
- dotnet, NuGet (`1.2` meaning at least 1.2, `[1.0,2.0)`; SemVer plus a 4th part):
  `univers.nuget` for the order; the interval syntax is Maven's, read by `univers.maven`.

Only the `univers.gem`, `univers.maven` and `univers.nuget` modules are imported:
`univers.versions` and `univers.version_range` pull in attrs and semantic_version
(70-100 ms), far past the scan budget. Not chosen: `semantic-version`'s NpmSpec (no
release since 2022) and poetry-core (a large package for one syntax; Poetry's `^`/`~`
in declared specs only matter for their lower bound, found by `lowest`).

Runtime versions (Python 3.11, Node 20, Java 17...) are plain dotted numbers whatever
the language, compared as tuples of numbers (`runtime_key`).
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Protocol

ECOSYSTEMS = ("python", "node", "go", "ruby", "java", "rust", "dotnet")


class VersionError(ValueError):
    """A version or a constraint that the ecosystem's syntax does not accept."""


class Constraint(Protocol):
    text: str

    def allows(self, version: str) -> bool:
        """Whether `version` satisfies the constraint; VersionError when it is not a version."""
        ...


def _module(name: str) -> Any:
    # Imported by name: these libraries ship no type information mypy can use.
    return importlib.import_module(name)


# -- python -------------------------------------------------------------------------


class _Pep440:
    def __init__(self, text: str) -> None:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        self.text = text
        try:
            self._spec = SpecifierSet(text, prereleases=True)
        except InvalidSpecifier:
            raise VersionError(
                f"{text!r} is not a PEP 440 specifier (write `>=1.2`, `==1.2.3`, `~=1.4`)"
            ) from None

    def allows(self, version: str) -> bool:
        return self._spec.contains(_pep440(version), prereleases=True)


def _pep440(text: str) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        raise VersionError(f"{text!r} is not a PEP 440 version") from None


# -- node, go, rust: node-semver ------------------------------------------------------

_GO_V = r"(?<![\w.])v(?=\d)"


class _NpmRange:
    def __init__(self, text: str, ecosystem: str) -> None:
        self.text = text
        self.ecosystem = ecosystem
        spelled = _npm_spelling(text, ecosystem)
        semver = _module("nodesemver")
        try:
            self._range = semver.Range(spelled, True)
        except (ValueError, TypeError):
            raise VersionError(f"{text!r} is not a valid {_SYNTAX[ecosystem]} range") from None

    def allows(self, version: str) -> bool:
        semver = _module("nodesemver")
        parsed = _npm_version(version)
        # Pre-releases count: a policy `>=1.2` holds for `1.3.0-rc.1`, and Go's
        # pseudo-versions are pre-releases.
        return bool(semver.satisfies(parsed, self._range, True, include_prerelease=True))


_SYNTAX = {
    "python": "PEP 440",
    "node": "npm semver",
    "go": "Go module (npm-style comparators)",
    "rust": "Cargo",
    "ruby": "RubyGems",
    "java": "Maven",
    "dotnet": "NuGet",
}


def _npm_spelling(text: str, ecosystem: str) -> str:
    if ecosystem == "go":
        return re.sub(_GO_V, "", text)
    if ecosystem == "rust":
        return _cargo_to_npm(text)
    return text


def _cargo_to_npm(text: str) -> str:
    """Cargo's requirement syntax, spelled as an npm range.

    Comparators are comma-separated and a bare version is a caret requirement
    (https://doc.rust-lang.org/cargo/reference/specifying-dependencies.html).
    """
    parts = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise VersionError(f"{text!r} has an empty comparator")
        parts.append("^" + part if part[0].isdigit() else part)
    return " ".join(parts)


def _npm_version(text: str) -> Any:
    semver = _module("nodesemver")
    clean = text.strip().removeprefix("v")
    try:
        return semver.make_semver(clean, True)
    except (ValueError, TypeError):
        raise VersionError(f"{text!r} is not a semantic version") from None


# -- ruby -----------------------------------------------------------------------------


class _GemRequirement:
    def __init__(self, text: str) -> None:
        gem = _module("univers.gem")
        self.text = text
        parts = [p.strip() for p in text.split(",")]
        try:
            self._req = gem.GemRequirement(*parts)
        except (ValueError, AttributeError):  # univers raises AttributeError subclasses
            raise VersionError(
                f"{text!r} is not a RubyGems requirement (write `~> 3.2`, `>= 1.4, < 2`)"
            ) from None

    def allows(self, version: str) -> bool:
        return bool(self._req.satisfied_by(_gem_version(version)))


def _gem_version(text: str) -> Any:
    gem = _module("univers.gem")
    try:
        return gem.GemVersion(text.strip())
    except (ValueError, AttributeError):
        raise VersionError(f"{text!r} is not a RubyGems version") from None


# -- java (Maven) and dotnet (NuGet) ---------------------------------------------------


def _interval(text: str, ecosystem: str) -> Any:
    maven = _module("univers.maven")
    try:
        found = maven.VersionRange(text.replace(" ", ""))
    except ValueError:
        raise VersionError(f"{text!r} is not a valid {_SYNTAX[ecosystem]} version range") from None
    return found


class _MavenRange:
    def __init__(self, text: str) -> None:
        self.text = text
        self._range = _interval(text, "java")
        if self._range.version is not None:
            raise VersionError(
                f"{text!r} is a Maven soft requirement, which any version satisfies; "
                f"write `[{text},)` for at least {text} or `[{text}]` for exactly it"
            )

    def allows(self, version: str) -> bool:
        maven = _module("univers.maven")
        return maven.Version(version.strip()) in self._range


class _NugetRange:
    """NuGet ranges: a bare version means "at least" (NuGet's own reading)."""

    def __init__(self, text: str) -> None:
        self.text = text
        spec = text.strip()
        if spec and spec[0] not in "[(":
            _nuget_version(spec)
            spec = f"[{spec},)"
        found = _interval(spec, "dotnet")
        # Bounds are re-read with NuGet's order (pre-releases, a 4th revision part).
        self._bounds: list[tuple[Any, bool, Any, bool]] = [
            (
                _nuget_version(str(r.lower_bound)) if r.lower_bound is not None else None,
                bool(r.lower_bound_inclusive),
                _nuget_version(str(r.upper_bound)) if r.upper_bound is not None else None,
                bool(r.upper_bound_inclusive),
            )
            for r in found.restrictions
        ]

    def allows(self, version: str) -> bool:
        v = _nuget_version(version)
        return any(_within(v, *bounds) for bounds in self._bounds)


def _within(v: Any, low: Any, low_in: bool, high: Any, high_in: bool) -> bool:
    if low is not None and (v < low or (v == low and not low_in)):
        return False
    return not (high is not None and (v > high or (v == high and not high_in)))


def _nuget_version(text: str) -> Any:
    nuget = _module("univers.nuget")
    try:
        found = nuget.Version.from_string(text.strip())
    except Exception:  # univers raises its own exception types and semver's ValueError
        found = None
    if found is None:
        raise VersionError(f"{text!r} is not a NuGet version")
    return found


# -- the public face --------------------------------------------------------------------


# Specs and versions longer than this are not handed to the libraries: their regexes
# are not all linear (node-semver's own fix for its ReDoS was this same bound), and no
# real constraint comes close.
MAX_LENGTH = 256


def _bounded(text: str) -> str:
    """Whitespace runs collapsed and length bounded: what the libraries may see."""
    text = " ".join(text.split())
    if len(text) > MAX_LENGTH:
        raise VersionError(f"longer than {MAX_LENGTH} characters")
    return text


def constraint(ecosystem: str, text: str) -> Constraint:
    """A constraint in the ecosystem's own syntax; VersionError names what is wrong."""
    text = _bounded(text)
    if not text:
        raise VersionError("empty version constraint")
    if ecosystem == "python":
        return _Pep440(text)
    if ecosystem in ("node", "go", "rust"):
        return _NpmRange(text, ecosystem)
    if ecosystem == "ruby":
        return _GemRequirement(text)
    if ecosystem == "java":
        return _MavenRange(text)
    if ecosystem == "dotnet":
        return _NugetRange(text)
    raise VersionError(f"unknown ecosystem {ecosystem!r}")


def allows(found: Constraint, version: str) -> bool:
    """Whether `version` satisfies `found`; VersionError when it is not a version.

    A library's own exception on an odd version string (they differ in kind: ValueError,
    TypeError, AttributeError subclasses) becomes a VersionError, so a repository's
    text can fail a check but never crash the scan.
    """
    try:
        return found.allows(_bounded(version))
    except VersionError:
        raise
    except Exception as exc:  # the libraries' exception types are not part of their API
        raise VersionError(f"{version!r} is not a version") from exc


def sort_key(ecosystem: str, version: str) -> Any:
    """A key ordering versions of one ecosystem; VersionError for a non-version."""
    if ecosystem == "python":
        return _pep440(version)
    if ecosystem in ("node", "go", "rust"):
        return _SemverKey(_npm_version(version))
    if ecosystem == "ruby":
        return _gem_version(version)
    if ecosystem == "java":
        return _module("univers.maven").Version(version.strip())
    if ecosystem == "dotnet":
        return _nuget_version(version)
    raise VersionError(f"unknown ecosystem {ecosystem!r}")


class _SemverKey:
    """node-semver's SemVer has `compare` but no rich comparisons."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: _SemverKey) -> bool:
        return bool(self.v.compare(other.v) < 0)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SemverKey) and self.v.compare(other.v) == 0

    def __hash__(self) -> int:
        return hash(str(self.v))


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is older than, the same as, or newer than `b`."""
    ka, kb = sort_key(ecosystem, a), sort_key(ecosystem, b)
    return -1 if ka < kb else (1 if kb < ka else 0)


# -- declared specs: their lowest version, and whether they bound anything ------------

# Spellings that let the resolver pick any version (`*`, dist-tags, Gradle's `+`).
_ANY = frozenset(
    {"", "*", "x", "x.x", "x.x.x", "latest", "any", "+", ">=0", ">= 0", ">=0.0", ">=0.0.0"}
)
_MAVEN_ANY = frozenset({"latest", "release", "latest.release", "latest.integration", "+"})
_NPM_TAG = r"^[A-Za-z][A-Za-z0-9._-]*$"
# Patterns as text: `re` compiles (and caches) each on first use, so an ecosystem the
# scan never meets costs nothing at import.
_EXACT = {
    "python": r"^\s*===?\s*[0-9][0-9A-Za-z.+!-]*\s*$",
    "node": r"^\s*=?\s*v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?\s*$",
    "rust": r"^\s*=\s*\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?\s*$",
    "ruby": r"^\s*=?\s*\d[0-9A-Za-z.]*\s*$",
    "java": r"^\s*(?:\[\s*[^,\[\]()]+\s*\]|[0-9][^,\[\]()+]*)\s*$",
    "dotnet": r"^\s*(?:\[\s*[^,\[\]()]+\s*\]|[0-9][^,\[\]()*]*)\s*$",
}


def is_unbounded(ecosystem: str, spec: str | None) -> bool:
    """Whether a declared spec lets any version in (no version, `*`, `latest`, a tag).

    Cheap on purpose (no library import): it runs for every declared dependency.
    """
    if spec is None:
        return True
    text = spec.strip().lower()
    if text in _ANY:
        return True
    if ecosystem == "java":
        return text in _MAVEN_ANY or text.startswith("latest.")
    if ecosystem == "node":
        # A word that is not a version is a dist-tag (`next`, `beta`): whatever it points at.
        return bool(re.match(_NPM_TAG, text)) and not text[0].isdigit() and text != "v"
    if ecosystem == "ruby":
        return text in (">= 0", ">=0", "> 0")
    if ecosystem == "go":
        return False
    return text == "==*"


def is_exact(ecosystem: str, spec: str | None) -> bool:
    """Whether a declared spec names one version (a pin), in the ecosystem's reading."""
    if spec is None:
        return False
    if ecosystem == "go":
        return True  # go.mod lists the selected version of each module
    pattern = _EXACT.get(ecosystem)
    return bool(pattern and re.match(pattern, spec)) and "*" not in spec


_COMPARATOR = r"(?P<op>===|==|~=|>=|<=|!=|~>|\^|~|>|<|=)?\s*v?(?P<version>\d[0-9A-Za-z.+\-*]*)"
_LOWER_OPS = frozenset({"===", "==", "~=", ">=", "~>", "^", "~", ">", "=", None})


def lowest(ecosystem: str, spec: str | None) -> str | None:
    """The lowest version a declared spec admits, or None (no lower bound, unreadable).

    `^1.2`, `~=1.2`, `>=1.2`, `~> 1.2` and `1.2.*` give 1.2; alternatives (`||`) give the
    lowest of their lower bounds; an exclusive bound (`>1.2`) gives the bound itself, so a
    comparison with it errs on the strict side.
    """
    if spec is None:
        return None
    try:
        return _lowest(ecosystem, _bounded(spec))
    except Exception:  # unreadable, whatever the library raised: no known lower bound
        return None


def _lowest(ecosystem: str, spec: str | None) -> str | None:
    if spec is None or is_unbounded(ecosystem, spec):
        return None
    if ecosystem in ("node", "go", "rust"):
        return _npm_lowest(spec, ecosystem)
    if ecosystem in ("java", "dotnet"):
        return _interval_lowest(spec, ecosystem)
    # python (PEP 440 or Poetry's `^`/`~`) and ruby: the comparators' own text.
    candidates: list[str] = []
    for alternative in re.split(r"\|\|?", spec):
        lows = [
            m["version"].removesuffix(".*")
            for m in re.finditer(_COMPARATOR, alternative)
            if m["op"] in _LOWER_OPS
        ]
        if not lows:
            return None  # an alternative without a lower bound admits anything below
        candidates.append(max(lows, key=lambda v: _loose_key(ecosystem, v)))
    return min(candidates, key=lambda v: _loose_key(ecosystem, v)) if candidates else None


def _loose_key(ecosystem: str, version: str) -> Any:
    try:
        return (1, sort_key(ecosystem, version))
    except VersionError:
        return (0, runtime_key(version))


def _npm_lowest(spec: str, ecosystem: str) -> str | None:
    """npm's minVersion: per `||` set, the highest lower bound; then the lowest of those."""
    try:
        found = _NpmRange(spec.strip(), ecosystem)._range
    except VersionError:
        return None
    best: Any = None
    for comparators in found.set:
        low: Any = None
        for comp in comparators:
            version = comp.semver
            # An exact version has the operator ""; `*` has a sentinel with no `compare`.
            if comp.operator not in (">=", ">", "") or not hasattr(version, "compare"):
                continue
            if low is None or version.compare(low) > 0:
                low = version
        if low is None:
            return None
        if best is None or low.compare(best) < 0:
            best = low
    return None if best is None else str(best)


def _interval_lowest(spec: str, ecosystem: str) -> str | None:
    text = spec.strip()
    if text and text[0] not in "[(":
        # A bare version: Maven's soft requirement or NuGet's minimum; a Gradle prefix
        # (`1.+`) starts at its prefix.
        return text.removesuffix(".+").removesuffix("+").removesuffix(".*") or None
    try:
        found = _interval(text, ecosystem)
    except VersionError:
        return None
    first = found.restrictions[0] if found.restrictions else None
    return None if first is None or first.lower_bound is None else str(first.lower_bound)


_RUNTIME = r"\d+(?:\.\d+)*"


def runtime_key(version: str) -> tuple[int, ...]:
    """A dotted runtime version as a tuple of numbers: `3.11.4` -> (3, 11, 4)."""
    found = re.search(_RUNTIME, version[:MAX_LENGTH])
    parts = found.group().split(".") if found else []
    if not parts or any(len(p) > 9 for p in parts):  # no version has a 10-digit part
        raise VersionError(f"{version[:40]!r} is not a version number")
    return tuple(int(p) for p in parts)


def runtime_lowest(spec: str) -> tuple[int, ...] | None:
    """The lowest runtime version a spec admits, as numbers, or None when it has none.

    Any ecosystem's spelling: `>=3.9,<4` and `~=3.9` give (3, 9), `^20.10 || 22` gives
    (20, 10), `~> 3.2` gives (3, 2), `18.x` gives (18,), `18 - 20` gives (18,).
    """
    lows: list[tuple[int, ...]] = []
    try:
        spec = _bounded(spec)
    except VersionError:
        return None
    for alternative in re.split(r"\|\|?", spec):
        alternative = alternative.split(" - ", 1)[0]
        bounds = [
            runtime_key(m["version"])
            for m in re.finditer(_COMPARATOR, alternative)
            if m["op"] in _LOWER_OPS
        ]
        if not bounds:
            return None
        lows.append(max(bounds))
    return min(lows) if lows else None
