"""Cold-process timing of `opsgrade diff` against `opsgrade scan`, printed as JSON.

    python bench/diff_bench.py [--runs 9] [--pack REF ...]

The repository is fixtures/repos/payments/repo committed twice into a temporary git
repository (the head edits the README and the descriptor). Each run is a fresh
`opsgrade` process, as a CI job starts it: `opsgrade diff --base HEAD~1 --head HEAD`
reads and evaluates both revisions from git, `opsgrade scan` the work tree once.
Budget (issue #4): the diff's median at most twice the scan's.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import time_command
from gitutil import git

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "repos" / "payments" / "repo"
BUDGET_RATIO = 2.0


def make_repo(root: Path) -> Path:
    repo = root / "payments"
    shutil.copytree(FIXTURE, repo, symlinks=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    readme = repo / "README.md"
    readme.write_text(readme.read_text("utf-8") + "\n## Changelog\n\n- faster refunds\n", "utf-8")
    descriptor = repo / "opsgrade.yml"
    descriptor.write_text(descriptor.read_text("utf-8").replace("tier: 1", "tier: 2"), "utf-8")
    git(repo, "commit", "-q", "-am", "head")
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--pack", action="append", default=[], help="passed to both commands (default: all)"
    )
    args = parser.parse_args()
    packs = [arg for ref in args.pack for arg in ("--pack", ref)]
    if args.runs < 7:
        parser.error("--runs: at least 7")
    tmp = Path(tempfile.mkdtemp(prefix="opsgrade-diff-bench-"))
    try:
        repo = make_repo(tmp)
        scan = time_command(["scan", str(repo), *packs], args.runs)
        diff = time_command(
            ["diff", str(repo), "--base", "HEAD~1", "--head", "HEAD", *packs], args.runs
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = diff["median_ms"] / scan["median_ms"]
    report = {
        "python": platform.python_version(),
        "runs": args.runs,
        "packs": args.pack or "every built-in pack",
        "scan": scan,
        "diff": diff,
        "ratio": round(ratio, 2),
        "budget_ratio": BUDGET_RATIO,
        "within_budget": ratio <= BUDGET_RATIO,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
