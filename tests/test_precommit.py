"""The hooks in .pre-commit-hooks.yaml, run by the real `pre-commit try-repo`.

pre-commit installs this repository into its own virtual environment from the package
index, exactly as a user's `.pre-commit-config.yaml` would, then runs the hook in a
temporary git repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPOS = ROOT / "fixtures" / "repos"
PRE_COMMIT = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")

pytestmark = pytest.mark.skipif(
    not Path(PRE_COMMIT).exists() or not (ROOT / ".git").exists(),
    reason="needs pre-commit (test extra) and this project as a git repository",
)


def git_repo(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, symlinks=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=target, env=env, check=True)
    return target


def try_repo(repo: Path, hook: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    return subprocess.run(
        [PRE_COMMIT, "try-repo", str(ROOT), hook, "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_healthy_repository_passes(tmp_path: Path) -> None:
    repo = git_repo(REPOS / "payments" / "repo", tmp_path / "payments")
    proc = try_repo(repo, "opsgrade")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "opsgrade" in proc.stdout and "Passed" in proc.stdout


def test_a_repository_below_the_bar_fails_with_its_blockers(tmp_path: Path) -> None:
    repo = git_repo(REPOS / "no-descriptor" / "repo", tmp_path / "no-descriptor")
    proc = try_repo(repo, "opsgrade")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Failed" in proc.stdout
    # The hook prints opsgrade's own report: what blocks the first level, and the fix.
    assert "to reach bronze" in proc.stdout
    assert "OWN001" in proc.stdout and "fix:" in proc.stdout


def test_validate_reports_a_broken_descriptor(tmp_path: Path) -> None:
    repo = git_repo(REPOS / "malformed-descriptor" / "repo", tmp_path / "malformed")
    proc = try_repo(repo, "opsgrade-validate")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ownr: unknown key `ownr`; did you mean `owner`?" in proc.stdout
