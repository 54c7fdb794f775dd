"""Cold-process timing of `opsgrade action` on a pull request, printed as JSON.

    python bench/action_bench.py [--runs 5]

The Action's step in the simulated environment of tests/test_action.py: the payments
fixture pushed to a local bare remote as a base commit and a pull-request branch; each
run gets a fresh shallow `file://` clone of the branch (so the base is really fetched), a
`pull_request` payload, and the local GitHub API (tests/ghserver.py) for the comment
(created by the first run, updated in place after). Timed next to `opsgrade diff` (the
same comparison, nothing else) and `opsgrade scan` on the same clone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]
from common import opsgrade_command  # noqa: E402
from ghserver import FakeGitHub  # noqa: E402
from gitutil import git  # noqa: E402

FIXTURE = ROOT / "fixtures" / "repos" / "payments" / "repo"


def make_origin(root: Path) -> tuple[Path, dict[str, Any]]:
    """A bare remote with `main` and a `pr` branch; the pull_request payload for it."""
    work, bare = root / "author", root / "origin.git"
    shutil.copytree(FIXTURE, work, symlinks=True)
    git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "base")
    base = git(work, "rev-parse", "HEAD")
    git(work, "remote", "add", "origin", bare.as_uri())
    git(work, "push", "-q", "origin", "main")
    git(work, "checkout", "-q", "-b", "pr")
    readme = work / "README.md"
    readme.write_text(readme.read_text("utf-8") + "\n## Changelog\n\n- faster refunds\n", "utf-8")
    git(work, "commit", "-q", "-am", "pr")
    head = git(work, "rev-parse", "HEAD")
    git(work, "push", "-q", "origin", "pr")
    repo = {"full_name": "acme/payments"}
    pull = {"number": 1, "base": {"sha": base, "repo": repo}, "head": {"sha": head, "repo": repo}}
    return bare, {"number": 1, "pull_request": pull}


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tool = opsgrade_command()
    samples: dict[str, list[float]] = {"action": [], "diff": [], "scan": []}
    with tempfile.TemporaryDirectory() as tmp, FakeGitHub() as gh:
        root = Path(tmp)
        bare, payload = make_origin(root)
        base_sha = payload["pull_request"]["base"]["sha"]
        event = root / "event.json"
        event.write_text(json.dumps(payload))
        gh.add_token("ghs_bench")
        gh.add_repo("acme/payments")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GIT_"))}
        base["NO_COLOR"] = "1"
        env = {
            **base,
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": "acme/payments",
            "GITHUB_OUTPUT": str(root / "output"),
            "GITHUB_STEP_SUMMARY": str(root / "summary"),
            "GITHUB_API_URL": gh.url,
            "GITHUB_TOKEN": "ghs_bench",
            "GITHUB_RUN_ID": "1",
        }
        for run in range(args.runs + 1):  # the first warms the page cache
            ws = root / f"ws{run}"
            ws.mkdir()
            git(ws, "clone", "-q", "--depth=1", "--branch", "pr", bare.as_uri(), "payments")
            clone = ws / "payments"
            timings = {
                "action": timed([*tool, "action"], clone, env),
                # after the action fetched the base commit
                "diff": timed([*tool, "diff", "--base", base_sha, "--head", "HEAD"], clone, base),
                "scan": timed([*tool, "scan"], clone, base),
            }
            if run:
                for name, ms in timings.items():
                    samples[name].append(ms)
        comments = len(gh.comments("acme/payments", 1))
    medians = {name: round(statistics.median(v), 1) for name, v in samples.items()}
    print(
        json.dumps(
            {
                "runs": args.runs,
                "median_ms": medians,
                "samples_ms": {name: [round(x) for x in v] for name, v in samples.items()},
                "action_over_scan": round(medians["action"] / medians["scan"], 2),
                "comments_on_the_pull_request": comments,
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
