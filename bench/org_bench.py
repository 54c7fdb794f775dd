"""Cold-process throughput and memory of `opsgrade org scan` on a folder of repositories.

    python bench/org_bench.py [--runs 3] [--sizes 1000,5000] [--jobs N]

For each size, a folder of generated repositories (bench/gen_org.py, cached under /tmp)
is scanned by a fresh `opsgrade org scan` process into a new database, `--runs` times.
Reported: the median wall time and repositories per second; the CPU time per repository
(parent and workers) and the rate that gives with every core free, since the machine
may be shared (the 1-minute load average is printed beside); and the peak memory of the
whole process tree (the parent plus its scan workers): /proc is polled every 20 ms and
the resident set sizes of the command and all its descendants are summed (pages the
workers share with the parent through fork count once per process, so this overstates
the real footprint), split into the scan (while workers run) and the report (the parent
alone, after the workers stopped). Budget (issue #6): >= 50 repositories/s on 1,000
repositories on a 2-core machine, peak <= 300 MB, and flat from 1,000 to 5,000.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import opsgrade_command
from gen_org import generate

PAGE = os.sysconf("SC_PAGE_SIZE")
POLL_S = 0.02


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The command name may hold spaces and parens: fields start after the last ')'.
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss(root: int) -> tuple[int, int]:
    """Resident bytes of `root` and every process below it, and how many processes."""
    tree = _children()
    total, count, stack = 0, 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(tree.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
                count += 1
        except OSError:
            continue
    return total, count


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Sample(NamedTuple):
    seconds: float
    peak: int  # the whole tree, bytes
    scan_peak: int  # while workers run
    report_peak: int  # the parent alone, building and writing the report
    cpu: float  # seconds, the command and its workers


def run_once(folder: Path, work: Path, jobs: int | None) -> Sample:
    """One cold `org scan` into a fresh database. CPU time: the command and its workers
    (each waits for its children, so their time adds up here)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cmd = [*opsgrade_command(), "org", "scan", str(folder)]
    cmd += ["--db", str(work / "org.db"), "--out", str(work / "report")]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    env = {**os.environ, "NO_COLOR": "1"}
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    scan_peak = report_peak = 0
    while proc.poll() is None:
        rss, processes = tree_rss(proc.pid)
        if processes > 1:
            scan_peak = max(scan_peak, rss)
        else:  # before the workers start (small) or after they stopped (the report)
            report_peak = max(report_peak, rss)
        time.sleep(POLL_S)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        sys.exit(f"org scan failed ({proc.returncode}): {stderr[-800:]}")
    peak = max(scan_peak, report_peak)
    return Sample(elapsed, peak, scan_peak, report_peak, _children_cpu() - cpu)


def bench_size(count: int, runs: int, jobs: int | None, tmp: Path) -> dict[str, float]:
    folder = generate(count)
    run_once(folder, tmp / "warm", jobs)  # the page cache, as on a nightly runner's disk
    samples = [run_once(folder, tmp / f"run{n}", jobs) for n in range(runs)]
    seconds = statistics.median(s.seconds for s in samples)
    cpu = statistics.median(s.cpu for s in samples)
    return {
        "repos": count,
        "median_s": round(seconds, 2),
        "repos_per_s": round(count / seconds, 1),
        "cpu_ms_per_repo": round(cpu * 1000 / count, 2),
        # What the wall time would be with every core free: CPU time spread over them.
        "cpu_bound_repos_per_s": round(count * (os.cpu_count() or 1) / cpu, 1),
        "peak_tree_rss_mb": round(max(s.peak for s in samples) / 2**20, 1),
        "peak_while_scanning_mb": round(max(s.scan_peak for s in samples) / 2**20, 1),
        "peak_while_reporting_mb": round(max(s.report_peak for s in samples) / 2**20, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--jobs", type=int, default=None, help="default: the CLI's (CPU count)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="opsgrade-org-bench-"))
    try:
        results = [
            bench_size(int(size), args.runs, args.jobs, tmp) for size in args.sizes.split(",")
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "results": results,
        "budgets": {"repos_per_s_at_1000": 50, "peak_tree_rss_mb": 300},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
