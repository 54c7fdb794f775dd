"""Agreement with zizmor on the checks both tools make.

The workflows in fixtures/workflows/ (realistic ones, several vulnerable) are put in a
repository's .github/workflows and audited twice: by opsgrade's ci rules (the real
rule queries from rules/ci.yml over the real extractor) and by zizmor, offline. For
each overlapping check (MAPPING, below) both sides are reduced to the same units
(a file, a job, a step...) and must name the same ones, apart from the differences
listed in KNOWN_DIFFERENCES. docs/peers/zizmor.md explains each difference.

zizmor runs with the pedantic persona, so that findings it keeps out of its default
output (write-all on a single-job workflow, docker:// images without a digest) can be
compared; each mapping picks the findings it compares by persona and annotation.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jmespath
import pytest

from opsgrade.engine.extractors.ci_expressions import UNTRUSTED, analyze, is_untrusted
from opsgrade.engine.facts import EvalContext
from opsgrade.engine.packs import PackSource, load_packs
from opsgrade.engine.repoview import open_view
from opsgrade.engine.services import anchor_for, assign_files, discover

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "workflows"
PEER_DOC = ROOT / "docs" / "peers" / "zizmor.md"
ZIZMOR_TIMEOUT = 120
# zizmor's unpinned-uses policy that matches GHA006: tags tolerated for first-party.
FIRST_PARTY_POLICY = """\
rules:
  unpinned-uses:
    config:
      policies:
        "actions/*": ref-pin
        "github/*": ref-pin
        "*": hash-pin
"""


def _zizmor() -> str | None:
    beside = Path(sys.executable).parent / "zizmor"
    return shutil.which("zizmor") or (str(beside) if beside.exists() else None)


ZIZMOR = _zizmor()
needs_zizmor = pytest.mark.skipif(ZIZMOR is None, reason="zizmor is not installed")

Unit = tuple[Any, ...]


class Finding(NamedTuple):
    """One zizmor finding, reduced to what the mappings look at."""

    ident: str
    file: str
    route: tuple[str | int, ...]
    persona: str
    annotation: str
    fragment: str


# -- running both tools ------------------------------------------------------------------


def run_zizmor(repo: Path, config: Path | None = None) -> list[Finding]:
    assert ZIZMOR is not None
    argv = [ZIZMOR, "--offline", "--format", "json", "--persona", "pedantic"]
    argv += ["--config", str(config)] if config else ["--no-config"]
    proc = subprocess.run(
        [*argv, "."], cwd=repo, capture_output=True, text=True, timeout=ZIZMOR_TIMEOUT
    )
    # 0: nothing found; 10-14: findings by highest severity; anything else: it failed.
    assert proc.returncode == 0 or 10 <= proc.returncode <= 14, proc.stderr
    assert "failed to parse" not in proc.stderr, proc.stderr
    return [_finding(raw) for raw in json.loads(proc.stdout)]


def _finding(raw: dict[str, Any]) -> Finding:
    primary = next(loc for loc in raw["locations"] if loc["symbolic"]["kind"] == "Primary")
    symbolic = primary["symbolic"]
    route = tuple(next(iter(part.values())) for part in symbolic["route"]["route"])
    kind = symbolic["feature_kind"]
    # The flagged text: {"Raw": text} or, for a pattern, {"Regex": escaped text}.
    spelled = next(iter(kind["Subfeature"]["fragment"].values())) if isinstance(kind, dict) else ""
    fragment = re.sub(r"\\(.)", r"\1", spelled)
    return Finding(
        ident=raw["ident"],
        file=Path(symbolic["key"]["Local"]["verbatim_path"]).name,
        route=route,
        persona=raw["determinations"]["persona"],
        annotation=symbolic["annotation"],
        fragment=fragment,
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("agreement") / "repo"
    (root / ".github" / "workflows").mkdir(parents=True)
    for path in sorted(FIXTURES.glob("*.yml")):
        shutil.copy(path, root / ".github" / "workflows" / path.name)
    return root


@pytest.fixture(scope="module")
def zizmor_default(repo: Path) -> list[Finding]:
    return run_zizmor(repo)


@pytest.fixture(scope="module")
def zizmor_first_party(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    config = tmp_path_factory.mktemp("zizmor") / "zizmor.yml"
    config.write_text(FIRST_PARTY_POLICY)
    return run_zizmor(repo, config)


@pytest.fixture(scope="module")
def opsgrade_items(repo: Path) -> dict[str, list[dict[str, Any]]]:
    """Rule id -> the items its query selects (what its failure points at)."""
    view = open_view(repo, None)
    found = discover(view, "repo")
    (service,) = found.services
    files = assign_files(found.services, view.files())[service.root]
    ctx = EvalContext(service, files, view, anchor_for(service, files))
    packset = load_packs([PackSource("builtin", "ci")])
    items: dict[str, list[dict[str, Any]]] = {}
    for rule in packset.rules:
        query = getattr(rule.check, "query", None)
        if query is not None and rule.id.startswith("GHA"):
            items[rule.id] = jmespath.search(query, ctx.facts) or []
    return items


# -- the mapping, as data -----------------------------------------------------------------


def _name(item: dict[str, Any]) -> str:
    return Path(item["path"]).name


def _step_route(route: tuple[str | int, ...]) -> tuple[Any, Any]:
    """(job, step index) from a route such as jobs/<job>/steps/<i>/..., None when absent."""
    job = route[1] if len(route) > 1 and route[0] == "jobs" else None
    step = route[3] if len(route) > 3 and route[2] == "steps" else None
    return job, step


def _context(finding: Finding) -> str:
    read, _ = analyze(finding.fragment or finding.annotation.split(" ")[0])
    return read[0] if read else ""


class Mapping(NamedTuple):
    audit: str
    rule: str
    zizmor_run: str  # which fixture: "default" or "first_party"
    selects: Callable[[Finding], bool]  # the zizmor findings this mapping compares
    zizmor_unit: Callable[[Finding], Unit]
    opsgrade_unit: Callable[[dict[str, Any]], Unit | None]  # None: outside the comparison


def _ti_selects(f: Finding) -> bool:
    return f.ident == "template-injection" and f.persona != "Pedantic" and is_untrusted(_context(f))


def _permissions_unit(f: Finding) -> Unit:
    job, _ = _step_route(f.route)
    return (f.file, job or "<workflow>")


def _permissions_selects(f: Finding) -> bool:
    if f.ident != "excessive-permissions":
        return False
    if f.annotation == "uses write-all permissions":
        return True
    # Missing permissions: opsgrade reports each job that gets the default token.
    job, _ = _step_route(f.route)
    return f.annotation.startswith("default permissions used") and job is not None


def _unpinned_selects(f: Finding) -> bool:
    # A docker:// step without a digest is zizmor's (pedantic) unpinned-images.
    uses_step = f.ident == "unpinned-images" and f.route[-1:] == ("uses",)
    return f.ident == "unpinned-uses" or uses_step


MAPPING = [
    Mapping(
        "template-injection",
        "GHA001",
        "default",
        _ti_selects,
        lambda f: (f.file, *_step_route(f.route)),
        lambda i: (_name(i), i["job"], i["index"]),
    ),
    Mapping(
        "dangerous-triggers",
        "GHA002",
        "default",
        lambda f: f.ident == "dangerous-triggers",
        lambda f: (f.file,),
        lambda i: (_name(i),),
    ),
    Mapping(
        "insecure-commands",
        "GHA003",
        "default",
        lambda f: f.ident == "insecure-commands",
        lambda f: (f.file, *_step_route(f.route)),
        lambda i: (_name(i), i["job"], i["step"]),
    ),
    Mapping(
        "hardcoded-container-credentials",
        "GHA004",
        "default",
        lambda f: f.ident == "hardcoded-container-credentials",
        lambda f: (f.file, f.route[1], ".".join(str(p) for p in f.route[2:-1])),
        lambda i: (
            (_name(i), i["job"], i["where"].removesuffix(".credentials"))
            if i["where"].endswith(".credentials")
            else None  # env and with credentials: zizmor 1.32 has no audit for them
        ),
    ),
    Mapping(
        "excessive-permissions",
        "GHA005",
        "default",
        _permissions_selects,
        _permissions_unit,
        lambda i: (
            (_name(i), "<workflow>")
            if i["inherited"] and i["kind"] == "write-all"
            else (_name(i), i["job"])
        ),
    ),
    Mapping(
        "unpinned-uses",
        "GHA006",
        "first_party",
        _unpinned_selects,
        lambda f: (f.file, *_step_route(f.route)),
        lambda i: (_name(i), i["job"], i["step"]),
    ),
    Mapping(
        "unpinned-uses",
        "GHA007",
        "default",
        _unpinned_selects,
        lambda f: (f.file, *_step_route(f.route)),
        lambda i: (_name(i), i["job"], i["step"]),
    ),
    Mapping(
        "artipacked",
        "GHA008",
        "default",
        lambda f: f.ident == "artipacked",
        lambda f: (f.file, *_step_route(f.route)),
        lambda i: (_name(i), i["job"], i["index"]),
    ),
]

# (rule, unit) -> why only one tool reports it (docs/peers/zizmor.md, "Differences").
KNOWN_DIFFERENCES: dict[tuple[str, Unit], str] = {
    ("GHA002", ("chatops.yml",)): "zizmor flags the issue_comment trigger by itself; "
    "opsgrade only when the workflow also checks out pull request code",
    ("GHA002", ("issue-triage.yml",)): "same: issue_comment without a checkout",
}


@needs_zizmor
@pytest.mark.parametrize("mapping", MAPPING, ids=[f"{m.rule}-{m.audit}" for m in MAPPING])
def test_same_findings_as_zizmor(
    mapping: Mapping,
    opsgrade_items: dict[str, list[dict[str, Any]]],
    zizmor_default: list[Finding],
    zizmor_first_party: list[Finding],
) -> None:
    findings = zizmor_default if mapping.zizmor_run == "default" else zizmor_first_party
    theirs = {mapping.zizmor_unit(f) for f in findings if mapping.selects(f)}
    ours = {u for i in opsgrade_items[mapping.rule] if (u := mapping.opsgrade_unit(i)) is not None}
    known = {unit for (rule, unit) in KNOWN_DIFFERENCES if rule == mapping.rule}
    assert theirs, f"the fixtures give zizmor no {mapping.audit} finding to compare"
    assert ours - theirs - known == set(), f"{mapping.rule}: only opsgrade reports these"
    assert theirs - ours - known == set(), f"{mapping.rule}: only zizmor reports these"
    stale = known - (ours ^ theirs)
    assert not stale, f"KNOWN_DIFFERENCES lists units both tools agree on: {stale}"


@needs_zizmor
def test_zizmor_flags_every_untrusted_context(tmp_path: Path) -> None:
    """Each context GHA001 treats as attacker-controlled is one zizmor flags too."""
    steps = "".join(
        f'      - run: echo "${{{{ {context.replace(".*", "[0]")} }}}}"\n' for context in UNTRUSTED
    )
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "probe.yml").write_text(
        "on: push\npermissions: {}\njobs:\n  probe:\n    runs-on: ubuntu-latest\n"
        "    steps:\n" + steps
    )
    flagged = {
        _step_route(f.route)[1]
        for f in run_zizmor(tmp_path)
        if f.ident == "template-injection" and f.persona != "Pedantic"
    }
    missing = [context for i, context in enumerate(UNTRUSTED) if i not in flagged]
    assert not missing, f"zizmor does not flag {missing}"


def test_peer_doc_names_every_mapping() -> None:
    text = PEER_DOC.read_text("utf-8")
    for mapping in MAPPING:
        assert f"`{mapping.audit}`" in text and mapping.rule in text, mapping
