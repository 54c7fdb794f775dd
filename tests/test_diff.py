"""`opsgrade diff` and `scan --baseline`: the "no regressions" gate, end to end.

Each test builds a small git repository (real git, in a subprocess) whose repo config
selects a local pack, commits a base and a head, and runs the real CLI. What is
asserted is the exit code and the `comparison` in the JSON output, as CI sees them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

TODAY = "2026-11-26"

PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: difftest, version: 1.0.0}
levels: [bronze, silver, gold]
categories: [ownership, docs, hygiene]
rules:
  - id: OWN001
    title: Service names an owner
    level: bronze
    category: ownership
    check: {descriptor: {path: owner, exists: true}}
    help: Someone is paged.
  - id: OWN002
    title: Service is tier 1 or 2
    level: silver
    category: ownership
    check: {descriptor: {path: tier, one_of: [1, 2]}}
    help: Tier.
  - id: DOC001
    title: Service has a README
    level: silver
    category: docs
    check: {file: {exists: [README.md]}}
    help: A README.
  - id: HYG001
    title: No .env files
    level: silver
    category: hygiene
    check: {file: {absent: ["**/.env"]}}
    help: Secrets stay out of git.
  - id: HYG002
    title: No print calls in the source
    level: gold
    category: hygiene
    check: {file: {exists: ["src/**/*.py"], not_contains: 'print\\('}}
    help: Use logging.
"""

CONFIG = """\
apiVersion: opsgrade/v1
kind: Config
packs: [.opsgrade/packs/team.yml]
required_level: silver
"""

# Base: everything passes but HYG002 (gold) at src/app.py:2, so the service is silver.
BASE_FILES = {
    ".opsgrade/config.yml": CONFIG,
    ".opsgrade/packs/team.yml": PACK,
    "opsgrade.yml": "name: svc\nowner: team-a\ntier: 1\n",
    "README.md": "# svc\n",
    "src/app.py": "def main():\n    print('hi')\n",
}


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.pop("NO_COLOR", None)
    env.pop("FORCE_COLOR", None)
    return env


class Repo:
    """A git repository in a temporary folder, committed with fixed identities."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = clean_env()
        env.update(
            HOME=str(self.root.parent),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_NAME="T",
            GIT_AUTHOR_EMAIL="t@example.com",
            GIT_COMMITTER_NAME="T",
            GIT_COMMITTER_EMAIL="t@example.com",
        )
        return subprocess.run(
            ["git", "-c", "commit.gpgsign=false", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def write(self, files: Mapping[str, str | None]) -> None:
        """Write files; None deletes one."""
        for rel, text in files.items():
            path = self.root / rel
            if text is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def commit(self, files: Mapping[str, str | None], message: str) -> str:
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


def make_repo(tmp_path: Path, head: Mapping[str, str | None], **base: str) -> Repo:
    """A repository with a base commit (BASE_FILES updated with `base`, keys with `/`
    spelled `__`) and a head commit applying `head`."""
    repo = Repo(tmp_path / "svc")
    files = {**BASE_FILES, **{k.replace("__", "/"): v for k, v in base.items()}}
    repo.commit(files, "base")
    repo.commit(head, "head")
    return repo


def opsgrade(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsgrade.engine", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(),
        cwd=cwd,
        check=False,
        timeout=120,
    )


def diff(repo: Repo, *extra: str, base: str = "HEAD~1", head: str | None = "HEAD") -> Any:
    """`opsgrade diff` with JSON output: (exit code, parsed JSON)."""
    args: list[str | Path] = ["diff", repo.root, "--base", base, "--today", TODAY]
    if head is not None:
        args += ["--head", head]
    proc = opsgrade(*args, "--format", "json", *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def change(data: Any) -> dict[str, Any]:
    """The one service's entry of `comparison.services`, rules only."""
    (svc,) = data["comparison"]["services"]
    return {
        "change": svc["change"],
        "levels": (svc["base_level"], svc["head_level"]),
        "new": [r["rule"] for r in svc["new_failures"]],
        "fixed": [r["rule"] for r in svc["fixed"]],
        "unchanged": [r["rule"] for r in svc["unchanged"]],
    }


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("opsgrade: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


# Head changes, by what they do to the base above.
REGRESSION = {"README.md": None}  # DOC001 pass -> fail: silver -> bronze
FIX = {"src/app.py": "def main():\n    return 'hi'\n"}  # HYG002 fixed: silver -> gold
UNRELATED = {"notes.txt": "nothing that any rule reads\n"}  # HYG002 still failing


# -- verdicts ------------------------------------------------------------------------------


def test_a_regression_exits_1(tmp_path: Path) -> None:
    code, data = diff(make_repo(tmp_path, REGRESSION))
    assert code == 1
    assert change(data) == {
        "change": "down",
        "levels": ("silver", "bronze"),
        "new": ["DOC001"],
        "fixed": [],
        "unchanged": ["HYG002"],
    }
    assert data["comparison"]["regressed"] is True


def test_a_fix_only_exits_0(tmp_path: Path) -> None:
    code, data = diff(make_repo(tmp_path, FIX))
    assert code == 0
    assert change(data) == {
        "change": "up",
        "levels": ("silver", "gold"),
        "new": [],
        "fixed": ["HYG002"],
        "unchanged": [],
    }


def test_no_change_exits_0_and_failures_on_both_sides_do_not_block(tmp_path: Path) -> None:
    code, data = diff(make_repo(tmp_path, UNRELATED))
    assert code == 0
    assert change(data)["unchanged"] == ["HYG002"]
    assert change(data)["new"] == []
    assert data["comparison"]["regressed"] is False


def test_a_revision_compared_with_itself_exits_0(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, REGRESSION)
    code, data = diff(repo, base="HEAD", head="HEAD")
    assert code == 0
    assert change(data)["change"] == "same"
    assert change(data)["new"] == []


def test_the_work_tree_is_the_default_head(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, UNRELATED)
    (repo.root / "README.md").unlink()  # uncommitted
    code, data = diff(repo, base="HEAD", head=None)
    assert code == 1
    assert change(data)["new"] == ["DOC001"]


@pytest.mark.parametrize(
    ("head", "fail_on", "code"),
    [
        (UNRELATED, "any", 1),  # HYG002 fails on both sides: a failure all the same
        (FIX, "any", 0),  # nothing fails any more
        (REGRESSION, "none", 0),
        (REGRESSION, "regression", 1),
        (UNRELATED, "regression", 0),
    ],
)
def test_fail_on(tmp_path: Path, head: dict[str, str | None], fail_on: str, code: int) -> None:
    assert diff(make_repo(tmp_path, head), "--fail-on", fail_on)[0] == code


@pytest.mark.parametrize(
    ("head", "extra", "code"),
    [
        (UNRELATED, ("--fail-below", "gold"), 1),  # silver, no regression: the bar fails it
        (UNRELATED, ("--fail-below", "silver"), 0),
        (FIX, ("--fail-below", "gold"), 0),
        (REGRESSION, ("--fail-below", "bronze"), 1),  # the bar holds, the regression fails
        (REGRESSION, ("--fail-below", "bronze", "--fail-on", "none"), 0),
        (UNRELATED, ("--fail-below", "gold", "--fail-on", "none"), 1),
    ],
)
def test_fail_below_adds_the_level_bar(
    tmp_path: Path, head: dict[str, str | None], extra: tuple[str, ...], code: int
) -> None:
    assert diff(make_repo(tmp_path, head), *extra)[0] == code


def test_a_failing_rule_with_a_new_location_is_a_new_failure(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, {"deploy/.env": "B=2\n"}, **{"a__.env": "A=1\n"})
    code, data = diff(repo)
    assert code == 1
    assert change(data) == {
        "change": "same",
        "levels": ("bronze", "bronze"),
        "new": ["HYG001"],
        "fixed": [],
        "unchanged": ["HYG002"],
    }
    (new,) = data["comparison"]["services"][0]["new_failures"]
    assert new["path"] == "deploy/.env"  # only the fresh location, not a/.env
    assert "locations" not in new


# -- fingerprints --------------------------------------------------------------------------


def test_lines_inserted_above_a_finding_do_not_make_it_new(tmp_path: Path) -> None:
    moved = (
        "import logging\n\nLOG = logging.getLogger(__name__)\n\n\ndef main():\n    print('hi')\n"
    )
    code, data = diff(make_repo(tmp_path, {"src/app.py": moved}))
    assert code == 0
    assert change(data)["unchanged"] == ["HYG002"]
    (svc,) = data["services"]
    (hyg,) = [r for r in svc["results"] if r["rule"] == "HYG002"]
    assert (hyg["path"], hyg["line"]) == ("src/app.py", 7)


def test_editing_the_flagged_line_makes_a_new_finding(tmp_path: Path) -> None:
    code, data = diff(make_repo(tmp_path, {"src/app.py": "def main():\n    print('bye')\n"}))
    assert code == 1
    assert change(data)["new"] == ["HYG002"]
    assert change(data)["fixed"] == ["HYG002"]


# -- diff reads, never writes --------------------------------------------------------------


def snapshot(repo: Repo) -> dict[str, Any]:
    """Work tree, index and refs, down to every file's mtime (`.git/` included)."""
    files = sorted(p for p in repo.root.rglob("*") if p.is_file() or p.is_symlink())
    return {
        # --no-optional-locks: a plain `git status` refreshes and rewrites .git/index.
        "status": repo.git("--no-optional-locks", "status", "--porcelain", "-uall"),
        "head": repo.git("rev-parse", "HEAD"),
        "branch": repo.git("symbolic-ref", "HEAD"),
        "stash": repo.git("stash", "list"),
        "mtimes": {str(p.relative_to(repo.root)): p.lstat().st_mtime_ns for p in files},
    }


def test_diff_leaves_work_tree_index_and_head_untouched(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, REGRESSION)
    repo.write({"src/app.py": "def main():\n    return 1\n", "untracked.txt": "x\n"})
    repo.git("add", "src/app.py")  # staged
    repo.write({"opsgrade.yml": "name: svc\nowner: team-b\ntier: 1\n"})  # unstaged
    before = snapshot(repo)
    assert before["status"]
    for head in ("HEAD", None):
        code, _ = diff(repo, head=head)
        assert code == 1
        assert snapshot(repo) == before
    proc = opsgrade("diff", "--base", "HEAD~1", "--today", TODAY, cwd=repo.root)
    assert proc.returncode == 1, proc.stderr
    assert snapshot(repo) == before


# -- the gate is the base's ----------------------------------------------------------------


def test_a_head_that_lowers_required_level_is_judged_by_the_base(tmp_path: Path) -> None:
    lowered = CONFIG.replace("required_level: silver", "required_level: bronze")
    repo = make_repo(tmp_path, {".opsgrade/config.yml": lowered, **REGRESSION})
    code, data = diff(repo)
    assert code == 1
    assert data["required_level"] == "silver"  # the base's, not the head's bronze
    assert data["comparison"]["config_changed"] is True
    assert data["services"][0]["meets_required"] is False
    proc = opsgrade("diff", repo.root, "--base", "HEAD~1", "--head", "HEAD", "--today", TODAY)
    assert proc.returncode == 1
    assert "edits .opsgrade/" in proc.stdout
    assert "judged by the base's config and packs" in proc.stdout


def test_a_head_that_disables_the_rule_it_breaks_is_judged_by_the_base(tmp_path: Path) -> None:
    disabled = CONFIG + "disable:\n  DOC001: we do not need a README\n"
    repo = make_repo(tmp_path, {".opsgrade/config.yml": disabled, **REGRESSION})
    code, data = diff(repo)
    assert code == 1
    assert change(data)["new"] == ["DOC001"]
    assert data["comparison"]["config_changed"] is True


def test_a_head_that_excludes_its_new_finding_is_judged_by_the_base(tmp_path: Path) -> None:
    excluded = CONFIG + 'exclude: ["deploy/**"]\n'
    repo = make_repo(tmp_path, {".opsgrade/config.yml": excluded, "deploy/.env": "A=1\n"})
    code, data = diff(repo)
    assert code == 1
    assert change(data)["new"] == ["HYG001"]


def test_a_head_that_edits_the_local_pack_is_judged_by_the_base(tmp_path: Path) -> None:
    weakened = PACK.replace(
        "check: {file: {exists: [README.md]}}", "check: {file: {exists: ['*']}}"
    )
    assert weakened != PACK
    repo = make_repo(tmp_path, {".opsgrade/packs/team.yml": weakened, **REGRESSION})
    code, data = diff(repo)
    assert code == 1
    assert change(data)["new"] == ["DOC001"]
    assert data["comparison"]["config_changed"] is True


def test_a_head_that_leaves_the_config_alone_says_so(tmp_path: Path) -> None:
    _, data = diff(make_repo(tmp_path, REGRESSION))
    assert data["comparison"]["config_changed"] is False
    proc = opsgrade(
        "diff", tmp_path / "svc", "--base", "HEAD~1", "--head", "HEAD", "--today", TODAY
    )
    assert "edits .opsgrade/" not in proc.stdout


# -- scan --baseline -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [REGRESSION, FIX, UNRELATED, {"deploy/.env": "A=1\n"}],
    ids=["regression", "fix", "unrelated", "new-location"],
)
def test_scan_baseline_gives_the_same_verdict_as_diff(
    tmp_path: Path, head: dict[str, str | None]
) -> None:
    repo = make_repo(tmp_path, head)
    saved = tmp_path / "base.json"
    proc = opsgrade(
        "scan", repo.root, "--rev", "HEAD~1", "--today", TODAY, "--format", f"json={saved}"
    )
    assert proc.returncode in (0, 1), proc.stderr
    proc = opsgrade(
        "scan", repo.root, "--rev", "HEAD", "--today", TODAY, "--baseline", saved,
        "--format", "json",
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    from_baseline = json.loads(proc.stdout)
    code, from_diff = diff(repo)
    assert proc.returncode == code
    assert change(from_baseline) == change(from_diff)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "baseline is not JSON"),
        ("[1, 2]", "not an opsgrade JSON result"),
        ("{}", "unsupported schema_version"),
        ('{"schema_version": 1, "services": [{"name": "svc"}]}', "not an opsgrade JSON result"),
        (
            '{"schema_version": 1, "repository": "r", "evaluated_on": "2026-11-26",'
            ' "levels": ["a"], "services": [{"name": "s", "level": null, "results":'
            ' [{"rule": "X", "status": "bogus", "severity": "error", "level": "a",'
            ' "category": "c"}]}]}',
            "not an opsgrade JSON result",
        ),
        ("\udcff", "baseline is not JSON"),
    ],
    ids=["syntax", "array", "empty", "missing-keys", "bad-status", "not-utf8"],
)
def test_a_malformed_baseline_exits_2_with_one_line(
    tmp_path: Path, content: str, needle: str
) -> None:
    repo = make_repo(tmp_path, UNRELATED)
    saved = tmp_path / "base.json"
    saved.write_bytes(content.encode("utf-8", "surrogateescape"))
    proc = opsgrade("scan", repo.root, "--today", TODAY, "--baseline", saved)
    assert_one_line_error(proc, needle)


def test_a_missing_baseline_exits_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, UNRELATED)
    proc = opsgrade("scan", repo.root, "--baseline", tmp_path / "nope.json")
    assert_one_line_error(proc, "cannot read baseline")


def test_an_unknown_base_revision_exits_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, UNRELATED)
    proc = opsgrade("diff", repo.root, "--base", "no-such-rev", "--today", TODAY)
    assert_one_line_error(proc, "no-such-rev")
    proc = opsgrade("diff", repo.root, "--base", "HEAD", "--head", "nope~3", "--today", TODAY)
    assert_one_line_error(proc, "nope~3")


def test_diff_outside_a_git_repository_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "opsgrade.yml").write_text("name: plain\n", encoding="utf-8")
    proc = opsgrade("diff", folder, "--base", "HEAD", "--today", TODAY)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
