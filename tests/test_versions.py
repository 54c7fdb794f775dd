"""engine/versions.py: each ecosystem's ordering and range syntax, as tables."""

from __future__ import annotations

import pytest

from opsgrade.engine import versions

# (ecosystem, constraint, version, allowed)
ALLOWS = [
    # PEP 440
    ("python", ">=2.31", "2.31.0", True),
    ("python", ">=2.31", "2.30.9", False),
    ("python", ">=2.31,<3", "3.0.0", False),
    ("python", "~=1.4.2", "1.4.9", True),
    ("python", "~=1.4.2", "1.5.0", False),
    ("python", "==1.*", "1.99", True),
    ("python", "!=2.0.1", "2.0.1", False),
    ("python", ">=1.0", "1.1rc1", True),  # pre-releases count for a policy
    ("python", ">=1.0", "1.0.post1", True),
    ("python", "<1.1", "1.0rc1", True),
    ("python", "<1.0", "1.0rc1", False),  # PEP 440: `<V` excludes V's own pre-releases
    # npm
    ("node", "^4.17.21", "4.17.21", True),
    ("node", "^4.17.21", "4.99.0", True),
    ("node", "^4.17.21", "5.0.0", False),
    ("node", "^0.2.3", "0.3.0", False),  # caret on 0.x pins the minor
    ("node", "~1.2.3", "1.2.9", True),
    ("node", "~1.2.3", "1.3.0", False),
    ("node", "1.x", "1.9.9", True),
    ("node", "1.2 - 2.3", "2.3.9", True),
    ("node", "1.2 - 2.3", "2.4.0", False),
    ("node", "<1 || >=2.1", "1.5.0", False),
    ("node", "<1 || >=2.1", "2.1.0", True),
    ("node", ">=4.17.21", "4.17.21-beta.1", False),
    ("node", ">=4.17.21", "4.17.22-beta.1", True),
    ("node", ">=1.0.0", "v1.0.0", True),
    # Go (module versions, npm-style comparators)
    ("go", ">=v0.23.0", "v0.22.0", False),
    ("go", ">=v0.23.0", "v0.23.0", True),
    ("go", ">=0.23.0", "v0.24.0", True),
    ("go", ">=v1.2.0 <v2.0.0", "v1.9.9+incompatible", True),
    ("go", "<v0.0.1", "v0.0.0-20210101000000-abcdef123456", True),  # a pseudo-version
    # Cargo
    ("rust", "1.2", "1.9.0", True),  # bare means caret
    ("rust", "1.2", "2.0.0", False),
    ("rust", "=1.2.3", "1.2.4", False),
    ("rust", ">=1.0, <1.5", "1.4.9", True),
    ("rust", ">=1.0, <1.5", "1.5.0", False),
    ("rust", "~1.2", "1.3.0", False),
    # RubyGems
    ("ruby", "~> 3.2", "3.9.0", True),
    ("ruby", "~> 3.2", "4.0.0", False),
    ("ruby", "~> 3.2.0", "3.3.0", False),
    ("ruby", ">= 7.0.4, < 8", "7.1.3", True),
    ("ruby", ">= 7.0.4, < 8", "7.0.3", False),
    ("ruby", ">= 1.0", "1.0.0.rc1", False),  # a RubyGems pre-release sorts before 1.0
    ("ruby", "= 3.2.2", "3.2.2", True),
    # Maven
    ("java", "[2.17.1,)", "2.17.0", False),
    ("java", "[2.17.1,)", "2.17.1", True),
    ("java", "[1.0,2.0)", "2.0", False),
    ("java", "[1.0,2.0)", "1.9.9", True),
    ("java", "[1.0]", "1.0.0", True),  # Maven: 1.0 and 1.0.0 are equal
    ("java", "(,1.0],[1.2,)", "1.1", False),
    ("java", "[2.0,)", "2.0-rc1", False),  # a qualifier sorts before the release
    ("java", "[2.0,)", "2.0-sp1", True),  # except `sp`
    # NuGet
    ("dotnet", "13.0.1", "13.0.3", True),  # bare means at least
    ("dotnet", "13.0.1", "13.0.0", False),
    ("dotnet", "[1.0,2.0)", "1.5.0.1", True),
    ("dotnet", "[1.0,2.0)", "2.0.0", False),
    ("dotnet", "[6.0.0]", "6.0.0", True),
    ("dotnet", "[6.0.0]", "6.0.1", False),
    ("dotnet", "(,5.0)", "4.9.9.9", True),
]


@pytest.mark.parametrize(("ecosystem", "constraint", "version", "allowed"), ALLOWS)
def test_constraint_allows(ecosystem: str, constraint: str, version: str, allowed: bool) -> None:
    assert versions.constraint(ecosystem, constraint).allows(version) is allowed


# (ecosystem, older, newer)
ORDER = [
    ("python", "1.0rc1", "1.0"),
    ("python", "1.0", "1.0.post1"),
    ("python", "1.9", "1.10"),
    ("node", "1.0.0-alpha", "1.0.0-alpha.1"),
    ("node", "1.0.0-beta.2", "1.0.0-beta.11"),
    ("node", "1.0.0-rc.1", "1.0.0"),
    ("node", "1.9.0", "1.10.0"),
    ("go", "v0.0.0-20200101000000-abcdef123456", "v0.0.1"),
    ("go", "v1.2.3", "v1.10.0"),
    ("rust", "0.9.9", "0.10.0"),
    ("ruby", "3.2.9", "3.2.10"),
    ("ruby", "1.0.0.pre", "1.0.0"),
    ("ruby", "1.0.a", "1.0"),
    ("java", "1.0-alpha", "1.0-beta"),
    ("java", "1.0-beta", "1.0-milestone"),
    ("java", "1.0-rc", "1.0-SNAPSHOT"),
    ("java", "1.0-SNAPSHOT", "1.0"),
    ("java", "1.0", "1.0-sp"),
    ("java", "1.9", "1.10"),
    ("dotnet", "1.0.0-preview.1", "1.0.0"),
    ("dotnet", "1.2.3", "1.2.3.1"),
    ("dotnet", "1.2.3.9", "1.2.4"),
]


@pytest.mark.parametrize(("ecosystem", "older", "newer"), ORDER)
def test_ordering(ecosystem: str, older: str, newer: str) -> None:
    assert versions.compare(ecosystem, older, newer) == -1
    assert versions.compare(ecosystem, newer, older) == 1
    assert versions.compare(ecosystem, older, older) == 0


@pytest.mark.parametrize(
    ("ecosystem", "a", "b"),
    [("java", "1.0", "1.0.0"), ("java", "1.0-ga", "1.0"), ("node", "1.0.0+build.1", "1.0.0")],
)
def test_equal_spellings(ecosystem: str, a: str, b: str) -> None:
    assert versions.compare(ecosystem, a, b) == 0


# (ecosystem, declared spec, lowest version it admits)
LOWEST = [
    ("python", ">=1.2,<2", "1.2"),
    ("python", "==3.0.3", "3.0.3"),
    ("python", "~=1.4.2", "1.4.2"),
    ("python", "==1.*", "1"),
    ("python", "^1.2", "1.2"),  # Poetry
    ("python", "^1.2 || ^2.0", "1.2"),
    ("python", "<2", None),
    ("node", "^1.2.3", "1.2.3"),
    ("node", "~1.2", "1.2.0"),
    ("node", "1.x", "1.0.0"),
    ("node", ">=0.9 <1 || ^1.2.3", "0.9.0"),
    ("node", "4.17.21", "4.17.21"),
    ("node", "<2", None),
    ("node", "*", None),
    ("go", "v1.2.3", "1.2.3"),
    ("rust", "1.2", "1.2.0"),
    ("rust", ">=1.0, <2", "1.0.0"),
    ("ruby", "~> 7.0, >= 7.0.4", "7.0.4"),
    ("ruby", "= 3.2.2", "3.2.2"),
    ("java", "2.17.1", "2.17.1"),
    ("java", "[1.0,2.0)", "1.0"),
    ("java", "1.+", "1"),
    ("java", "(,2.0)", None),
    ("dotnet", "6.0.1", "6.0.1"),
    ("dotnet", "[1.0,2.0)", "1.0"),
    ("dotnet", "1.*", "1"),
]


@pytest.mark.parametrize(("ecosystem", "spec", "expected"), LOWEST)
def test_lowest(ecosystem: str, spec: str, expected: str | None) -> None:
    assert versions.lowest(ecosystem, spec) == expected


UNBOUNDED = [
    ("python", None, True),
    ("python", "*", True),
    ("python", ">=1", False),
    ("node", "*", True),
    ("node", "", True),
    ("node", "latest", True),
    ("node", "next", True),  # a dist-tag
    ("node", "x", True),
    ("node", ">=0.0.0", True),
    ("node", "^1.2", False),
    ("node", "1.2.3", False),
    ("ruby", None, True),
    ("ruby", ">= 0", True),
    ("ruby", "~> 7.1", False),
    ("java", "LATEST", True),
    ("java", "RELEASE", True),
    ("java", "latest.release", True),
    ("java", "+", True),
    ("java", "1.+", False),
    ("go", "v1.2.3", False),
    ("rust", "*", True),
    ("rust", "1", False),
    ("dotnet", "*", True),
    ("dotnet", "6.0.1", False),
]


@pytest.mark.parametrize(("ecosystem", "spec", "expected"), UNBOUNDED)
def test_is_unbounded(ecosystem: str, spec: str | None, expected: bool) -> None:
    assert versions.is_unbounded(ecosystem, spec) is expected


EXACT = [
    ("python", "==1.2.3", True),
    ("python", "===1.2.3", True),
    ("python", "==1.2.*", False),
    ("python", ">=1.2.3", False),
    ("node", "1.2.3", True),
    ("node", "=1.2.3", True),
    ("node", "^1.2.3", False),
    ("rust", "=1.2.3", True),
    ("rust", "1.2.3", False),  # Cargo: a caret requirement
    ("ruby", "3.2.2", True),
    ("ruby", "~> 3.2", False),
    ("java", "1.2.3", True),  # Maven's soft requirement resolves to it
    ("java", "[1.2.3]", True),
    ("java", "[1.2,2)", False),
    ("java", "1.+", False),
    ("go", "v1.2.3", True),
    ("dotnet", "[6.0.1]", True),
    ("dotnet", "1.*", False),
]


@pytest.mark.parametrize(("ecosystem", "spec", "expected"), EXACT)
def test_is_exact(ecosystem: str, spec: str, expected: bool) -> None:
    assert versions.is_exact(ecosystem, spec) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (">=3.9,<4", (3, 9)),
        ("~=3.9", (3, 9)),
        ("^20.10 || 22", (20, 10)),
        ("~> 3.2", (3, 2)),
        ("18.x", (18,)),
        ("18 - 20", (18,)),
        (">=3.8, !=3.9.0", (3, 8)),
        ("<4", None),
    ],
)
def test_runtime_lowest(spec: str, expected: tuple[int, ...] | None) -> None:
    assert versions.runtime_lowest(spec) == expected


@pytest.mark.parametrize(
    ("ecosystem", "constraint", "message"),
    [
        ("python", "1.2", "not a PEP 440 specifier"),
        ("python", ">=1.2 <2", "not a PEP 440 specifier"),
        ("node", ">=foo", "not a valid npm semver range"),
        ("node", "latest", "not a valid npm semver range"),
        ("go", "v1.2.3.4.5 junk", "not a valid Go module"),
        ("rust", "1.2,,", "empty comparator"),
        ("ruby", "~~> 1", "not a RubyGems requirement"),
        ("java", "1.2", "Maven soft requirement"),
        ("java", "[1.0", "not a valid Maven version range"),
        ("dotnet", "[1.0", "not a valid NuGet version range"),
        ("dotnet", "abc", "not a NuGet version"),
        ("cobol", "1", "unknown ecosystem"),
        ("python", "  ", "empty"),
    ],
)
def test_invalid_constraint(ecosystem: str, constraint: str, message: str) -> None:
    with pytest.raises(versions.VersionError, match=message):
        versions.constraint(ecosystem, constraint)


@pytest.mark.parametrize(
    ("ecosystem", "version"),
    [("python", "not-a-version"), ("node", "abc"), ("ruby", "a.b"), ("dotnet", "x")],
)
def test_a_non_version_is_a_version_error(ecosystem: str, version: str) -> None:
    with pytest.raises(versions.VersionError):
        versions.sort_key(ecosystem, version)


def test_libraries_are_imported_on_first_use() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import opsgrade.engine.versions as v; "
        "v.is_unbounded('node', '*'); v.is_exact('python', '==1'); v.runtime_lowest('>=3.9'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('packaging', 'nodesemver', 'univers', 'semver', 'attr', 'semantic_version')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
