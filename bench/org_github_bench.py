"""The org scan's GitHub source against a local GitHub with real limits, printed as JSON.

    python bench/org_github_bench.py [--repos 2000] [--scale 6]

Serves bench/gen_org.py's generated repositories (files up to 64 KiB each) from
tests/ghserver.py's FakeGitHub on 127.0.0.1, enforcing the primary limit (5,000
requests an hour per token) and a secondary limit shaped like GitHub's documented 900
points a minute for REST, time-compressed by --scale: the server allows 900 requests
in any 60/scale seconds, and the client runs at `scale` times its default pace of 600
requests a minute (OPSGRADE_GITHUB_REQUESTS_PER_MINUTE), the same 2/3 of the limit
it keeps against GitHub. Then it runs the real `opsgrade org scan --github-org` twice
on one database: the first run fetches every repository, the second (unchanged) must
make no content request. Each run uses its own token, because the first run alone
takes 4,000 of an hour's 5,000 requests.

Budgets (issue #6): 0 abuse (secondary-limit) answers; 0 content requests on re-scan.
Exits 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from common import opsgrade_command
from gen_org import generate
from ghserver import FakeGitHub

MAX_FILE = 64 * 1024
DEFAULT_PACE = 600  # requests a minute: engine/github/ratelimit.py's default
GITHUB_SECONDARY = 900  # points a minute for REST (docs.github.com, rate limits)


def load_org(gh: FakeGitHub, folder: Path) -> int:
    """Every generated repository as `acme/<folder>`; returns the number of files."""
    files = 0
    for repo in sorted(p for p in folder.iterdir() if p.is_dir()):
        content = {
            p.relative_to(repo).as_posix(): p.read_bytes()
            for p in sorted(repo.rglob("*"))
            if p.is_file() and p.stat().st_size <= MAX_FILE
        }
        gh.add_repo(f"acme/{repo.name}", files=content)
        files += len(content)
    return files


def run_scan(gh: FakeGitHub, token: str, work: Path, out: str, scale: float) -> dict[str, object]:
    """One `opsgrade org scan` process; what it asked of the server and how long it took."""
    before = len(gh.requests)
    abuse_before = gh.abuse_count
    env = {
        **os.environ,
        "GITHUB_API_URL": gh.url,
        "GITHUB_TOKEN": token,
        "OPSGRADE_GITHUB_REQUESTS_PER_MINUTE": str(DEFAULT_PACE * scale),
        "NO_COLOR": "1",
    }
    args = ["org", "scan", "--github-org", "acme", "--db", str(work / "org.db")]
    args += ["--out", str(work / out)]
    start = time.perf_counter()
    proc = subprocess.run(
        [*opsgrade_command(), *args], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    made = gh.requests[before:]
    api = [r for r in made if not r.path.startswith("/_codeload/")]
    lines = proc.stderr.strip().splitlines()
    return {
        "exit": proc.returncode,
        "wall_s": round(wall, 1),
        "api_requests": len(api),
        "tarball_requests": sum(1 for r in api if "/tarball/" in r.path),
        "downloads": len(made) - len(api),
        "abuse_403": gh.abuse_count - abuse_before,
        "limited_answers": sum(1 for r in made if r.status in (403, 429)),
        "summary": [line for line in lines if "repositories:" in line or "GitHub:" in line],
        **({"stderr_tail": lines[-5:]} if proc.returncode else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=2000)
    parser.add_argument("--scale", type=float, default=6.0, help="time compression (1 = real)")
    options = parser.parse_args()
    folder = generate(options.repos)
    with FakeGitHub() as gh, tempfile.TemporaryDirectory(prefix="org-gh-bench-") as tmp:
        files = load_org(gh, folder)
        gh.core_limit, gh.core_window_s = 5000, 3600.0
        gh.secondary = (GITHUB_SECONDARY, 60.0 / options.scale)
        gh.add_token("first", "scanner-1", user_type="User")
        gh.add_token("second", "scanner-2", user_type="User")
        first = run_scan(gh, "first", Path(tmp), "out-1", options.scale)
        second = run_scan(gh, "second", Path(tmp), "out-2", options.scale)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {
        "repos": options.repos,
        "files": files,
        "server_limits": {
            "core": "5000/h per token",
            "secondary": f"{GITHUB_SECONDARY} per {60.0 / options.scale:g}s",
        },
        "client_pace_per_min": DEFAULT_PACE * options.scale,
        "first_run": first,
        "second_run": second,
        "peak_rss_mb_largest_process": round(peak, 1),
    }
    print(json.dumps(result, indent=2))
    content = int(second["tarball_requests"]) + int(second["downloads"])  # type: ignore[call-overload]
    abuse = int(first["abuse_403"]) + int(second["abuse_403"])  # type: ignore[call-overload]
    if abuse or content or first["exit"] != 0 or second["exit"] != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
