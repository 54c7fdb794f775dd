"""Golden files: every output format rendered from a fixed set of inputs.

    python tests/regen_golden.py

rewrites `tests/golden/<input>.<format>` for every format in `REPORTERS` whose module
exists, and deletes golden files of inputs or formats that no longer exist. Run it after
an intended change to a reporter, a pack or the engine, and review the diff of
`tests/golden/` like code: it is what users' CI logs, dashboards and parsers will see.
`tests/test_golden.py` renders the same inputs and compares byte for byte.

Inputs (scanned as of 2026-11-26, with the built-in `readiness` pack unless the repo
config chooses the packs, so a new built-in pack does not churn every golden file):

- four fixture repositories (`fixtures/repos/<case>/repo`, copied to a folder named
  after the case, with the case's `generate:` text files): `hostile-markup` (markup,
  escapes and `@everyone` in repository text), `malformed-descriptor` (error results,
  configuration errors), `repo-config` (a local pack, a not-applicable and a
  not-yet-counting rule, `required_level: silver`) and `waivers` (waived results, an
  expired waiver, notes);
- `diff`: `opsgrade diff --base HEAD~1 --head HEAD` on a two-commit git repository
  built here, judged by its own local pack: service `api` regresses (a passing rule
  fails: silver to bronze), a failing rule gains a location (a new failure) and two
  failures stay; service `worker` fixes one (bronze to silver). Author and committer
  dates are fixed, and the two commit ids are replaced with constants so that no git
  version or object format changes the output.

Rendering mirrors the CLI: colour off, the gate's required level and verdict passed to
the reporter as `opsgrade scan`/`opsgrade diff` pass them.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec
import yaml
from msgspec.structs import replace

from opsgrade.engine import gate
from opsgrade.engine.diff import diff_revisions
from opsgrade.engine.gate import FailOn
from opsgrade.engine.model import RunResult
from opsgrade.engine.packs import cli_source
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.reporters import REPORTERS, RenderOptions, get_reporter

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
REPOS = ROOT / "fixtures" / "repos"
REGEN_COMMAND = "python tests/regen_golden.py"
TODAY = dt.date(2026, 11, 26)

# Fixture case -> `--pack` refs (empty: the repo config's packs).
FIXTURES: dict[str, tuple[str, ...]] = {
    "hostile-markup": ("readiness",),
    "malformed-descriptor": ("readiness",),
    "repo-config": (),
    "waivers": ("readiness",),
}
DIFF = "diff"
INPUTS: tuple[str, ...] = (*FIXTURES, DIFF)

# Stand-ins for the diff repository's commit ids (40 hex digits, like real ones).
BASE_SHA = "1" * 40
HEAD_SHA = "2" * 40


class GoldenInput(msgspec.Struct, frozen=True):
    run: RunResult
    fail_on: FailOn | None = None  # set for a comparison, as `opsgrade diff` sets it


# -- formats ------------------------------------------------------------------------------


def unavailable(fmt: str) -> str | None:
    """Why a registered format cannot be rendered yet, or None when it can.

    Only the reporter module itself being absent counts (it is being written); a module
    that exists but fails to import is a bug and raises.
    """
    module = REPORTERS[fmt].partition(":")[0]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return f"module {module} does not exist yet"
        raise
    return None


def golden_path(name: str, fmt: str) -> Path:
    return GOLDEN / f"{name}.{fmt}"


def render(item: GoldenInput, fmt: str) -> str:
    """What `opsgrade scan|diff --format FMT` prints for this input, colour off."""
    level = gate.required_level(item.run, None)
    verdict = gate.judge(item.run, level, item.fail_on, level_bar=False)
    options = RenderOptions(color=False, required_level=level, verdict=verdict)
    return get_reporter(fmt).render(item.run, options)


# -- fixture inputs -----------------------------------------------------------------------


def _generate(repo: Path, entries: list[dict[str, Any]]) -> None:
    """The `text:` entries of a case's `generate:` (the cases used here need no others)."""
    for entry in entries:
        if set(entry) != {"path", "text"}:
            raise ValueError(f"golden inputs support only text entries: {entry}")
        target = repo / entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(entry["text"].encode("utf-8"))


def scan_fixture(case: str, workdir: Path) -> GoldenInput:
    expected = yaml.safe_load((REPOS / case / "expected.yml").read_text("utf-8"))
    repo = workdir / case  # the repository's name is its folder's name
    shutil.copytree(REPOS / case / "repo", repo, symlinks=True)
    _generate(repo, expected.get("generate", []))
    packs = [cli_source(ref) for ref in FIXTURES[case]]
    return GoldenInput(scan(ScanRequest(path=repo, packs=packs, today=TODAY)))


# -- the diff input -----------------------------------------------------------------------

# The repository chooses its own pack (`.opsgrade/config.yml`), so the diff golden files
# show the comparison and do not move when a built-in pack gains a rule.
SHOP_CONFIG = """\
apiVersion: opsgrade/v1
kind: Config
packs: [.opsgrade/packs/shop.yml]
required_level: silver
"""
SHOP_PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: shop, version: 2.0.0, description: The shop's readiness rules}
levels: [bronze, silver, gold]
categories: [ownership, operability, security, code]
rules:
  - id: OWN001
    title: Service names an owning team
    level: bronze
    category: ownership
    check: {descriptor: {path: owner, exists: true}}
    help: The owner is paged when the service breaks.
    fix: Set `owner:` in opsgrade.yml.
  - id: OWN002
    title: Service declares its tier
    level: silver
    category: ownership
    check: {descriptor: {path: tier, exists: true}}
    help: The tier decides how fast an incident is answered.
    fix: "Set `tier:` in opsgrade.yml."
  - id: OPS001
    title: Service links a runbook
    level: silver
    category: operability
    check: {facts: {query: "service.tools[?category=='runbook']"}}
    help: On-call engineers start from the runbook.
    fix: "Add a tools entry with `category: runbook`."
  - id: OPS002
    title: Service links its logs
    level: silver
    category: operability
    check: {facts: {query: "service.tools[?category=='logs']"}}
    help: Logs are the first thing an incident needs.
    fix: "Add a tools entry with `category: logs`."
  - id: OPS003
    title: Service links a dashboard
    level: gold
    category: operability
    severity: warning
    check: {facts: {query: "service.tools[?category=='dashboard']"}}
    help: A dashboard shows whether the service is healthy.
    fix: "Add a tools entry with `category: dashboard`."
  - id: SEC001
    title: No environment files are committed
    level: silver
    category: security
    check: {file: {absent: ["**/.env"]}}
    help: Environment files hold secrets.
    fix: Remove the file and rotate what it held.
    see_also: [gitleaks]
    tags: [security]
  - id: CODE001
    title: No TODO left in the source
    level: gold
    category: code
    severity: note
    check: {file: {exists: ["**/*.py"], not_contains: "TODO"}}
    help: A TODO is work nobody scheduled.
    fix: Do it, or file an issue and link it.
"""
API_BASE = """\
name: api
description: Public HTTP API of the shop.
owner: team-api
tier: 1
tools:
  - {category: runbook, url: "https://wiki.example.com/api/runbook"}
  - {category: logs, url: "https://logs.example.com/app/api"}
"""
# The logs link is gone: OPS002 (silver) turns from pass to fail, api drops to bronze.
API_HEAD = API_BASE.replace('  - {category: logs, url: "https://logs.example.com/app/api"}\n', "")
API_APP = "def handler(request):\n    # TODO: validate the request\n    return {}\n"
# CODE001 already fails at app.py:2 (unchanged); this TODO is a new location of it.
API_JOBS = "def retry(job):\n    # TODO: back off\n    return job\n"
WORKER_BASE = """\
name: worker
description: Runs the shop's background jobs.
owner: team-api
tools:
  - {category: runbook, url: "https://wiki.example.com/worker/runbook"}
  - {category: logs, url: "https://logs.example.com/app/worker"}
"""
# A tier is declared: OWN002 (silver) is fixed, worker rises from bronze to silver.
WORKER_HEAD = WORKER_BASE.replace("owner: team-api\n", "owner: team-api\ntier: 3\n")


def git_env(home: Path, when: str) -> dict[str, str]:
    """A git environment independent of the machine's config, with fixed identities."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="opsgrade",
        GIT_AUTHOR_EMAIL="golden@example.com",
        GIT_COMMITTER_NAME="opsgrade",
        GIT_COMMITTER_EMAIL="golden@example.com",
        GIT_AUTHOR_DATE=when,
        GIT_COMMITTER_DATE=when,
    )
    return env


def git(repo: Path, *args: str, when: str = "2026-11-20T10:00:00+00:00") -> str:
    proc = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", *args],
        cwd=repo,
        env=git_env(repo.parent, when),
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def _write(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def build_diff_repo(repo: Path) -> Path:
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    _write(
        repo,
        {
            ".opsgrade/config.yml": SHOP_CONFIG,
            ".opsgrade/packs/shop.yml": SHOP_PACK,
            "services/api/opsgrade.yml": API_BASE,
            "services/api/app.py": API_APP,
            "services/worker/opsgrade.yml": WORKER_BASE,
            "services/worker/main.py": "def run(job):\n    return job()\n",
        },
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    head = {
        "services/api/opsgrade.yml": API_HEAD,
        "services/api/jobs.py": API_JOBS,
        "services/worker/opsgrade.yml": WORKER_HEAD,
    }
    _write(repo, head)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "head", when="2026-11-21T10:00:00+00:00")
    return repo


def diff_input(workdir: Path) -> GoldenInput:
    repo = build_diff_repo(workdir / "shop")
    run = diff_revisions(repo, "HEAD~1", "HEAD", [], TODAY)
    assert run.comparison is not None
    comparison = replace(run.comparison, base=BASE_SHA)
    return GoldenInput(replace(run, revision=HEAD_SHA, comparison=comparison), "regression")


def build_inputs(workdir: Path) -> dict[str, GoldenInput]:
    inputs = {case: scan_fixture(case, workdir) for case in FIXTURES}
    inputs[DIFF] = diff_input(workdir)
    return inputs


# -- files --------------------------------------------------------------------------------


def golden_files() -> list[Path]:
    """The golden files on disk (not the folder's .gitattributes or schemas/)."""
    return sorted(p for p in GOLDEN.iterdir() if p.is_file() and not p.name.startswith("."))


def stale(path: Path) -> bool:
    name, _, fmt = path.name.rpartition(".")
    return name not in INPUTS or fmt not in REPORTERS


def main() -> int:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    changed = 0
    with tempfile.TemporaryDirectory(prefix="opsgrade-golden-") as tmp:
        inputs = build_inputs(Path(tmp))
        for fmt in REPORTERS:
            reason = unavailable(fmt)
            if reason is not None:
                print(f"skipped {fmt}: {reason}")
                continue
            for name, item in inputs.items():
                path = golden_path(name, fmt)
                data = render(item, fmt).encode("utf-8")
                if path.exists() and path.read_bytes() == data:
                    continue
                path.write_bytes(data)
                changed += 1
                print(f"wrote {path.relative_to(ROOT)}")
    for path in golden_files():
        if stale(path):
            path.unlink()
            changed += 1
            print(f"deleted {path.relative_to(ROOT)} (no such input or format)")
    print(f"{changed} golden file(s) changed" if changed else "golden files are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
