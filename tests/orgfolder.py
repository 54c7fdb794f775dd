"""Folders of repositories for the org-scan tests: copies of fixtures/repos/*, turned
into git clones on demand, and the real `opsgrade org scan` command run over them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from gitutil import git

from opsgrade.engine.org.model import RepoRecord
from opsgrade.engine.org.store import Store

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "repos"
TODAY = "2025-06-01"


def make_org(root: Path, names: Sequence[str] | None = None, copies: int = 1) -> Path:
    """A folder of repositories copied from fixtures/repos (`copies` of each)."""
    root.mkdir(parents=True, exist_ok=True)
    for fixture in sorted(FIXTURES.iterdir()):
        if names is not None and fixture.name not in names:
            continue
        for n in range(copies):
            name = fixture.name if n == 0 else f"{fixture.name}-{n}"
            shutil.copytree(fixture / "repo", root / name, symlinks=True)
    return root


def org_scan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "opsgrade.engine", "org", "scan", "--today", TODAY, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )


def records(db: Path, run_id: int) -> dict[str, RepoRecord]:
    with Store(db) as store:
        return {r.name: r for r in store.records(run_id)}


def commit_all(repo: Path) -> str:
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    return git(repo, "rev-parse", "HEAD")
