"""Time of the `opsgrade` pre-commit hook, environment installed, printed as JSON.

    python bench/precommit_bench.py [--runs 11]

The payments fixture becomes a temporary git repository whose .pre-commit-config.yaml
uses this repository's committed HEAD. After one run (which installs the hook's
environment), `pre-commit run --all-files` is timed, and so is the same with a no-op
`language: system` hook: the difference is what the opsgrade hook adds to pre-commit's
own start-up. Budget (issue #5): <= 200 ms for the hook. Needs pre-commit (test extra).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "repos" / "payments" / "repo"
NOOP = """repos:
  - repo: local
    hooks:
      - {id: noop, name: noop, entry: "true", language: system, always_run: true,
         pass_filenames: false}
"""


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, check=True)
    return proc.stdout.decode().strip()


def repo_with(config: str, target: Path) -> Path:
    shutil.copytree(FIXTURE, target, symlinks=True)
    (target / ".pre-commit-config.yaml").write_text(config)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "bench")
    return target


def median_run(pre_commit: str, repo: Path, runs: int) -> float:
    cmd = [pre_commit, "run", "--all-files"]
    first = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=False)
    if first.returncode != 0:
        sys.exit(f"pre-commit failed in {repo}:\n{first.stdout}{first.stderr}")
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=repo, capture_output=True, check=False)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    pre_commit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    rev = git(ROOT, "rev-parse", "HEAD")
    hook = f"repos:\n  - repo: {ROOT}\n    rev: {rev}\n    hooks:\n      - id: opsgrade\n"
    with tempfile.TemporaryDirectory(prefix="opsgrade-precommit-bench-") as tmp:
        with_hook = median_run(pre_commit, repo_with(hook, Path(tmp) / "hook"), args.runs)
        noop = median_run(pre_commit, repo_with(NOOP, Path(tmp) / "noop"), args.runs)
    report = {
        "runs": args.runs,
        "pre_commit_with_opsgrade_ms": round(with_hook, 1),
        "pre_commit_with_noop_hook_ms": round(noop, 1),
        "opsgrade_hook_ms": round(with_hook - noop, 1),
        "budget_ms": 200,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
