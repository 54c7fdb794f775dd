"""Cold cost of each output format: importing its reporter and rendering, printed as JSON.

    python bench/render_bench.py [--runs 21] [--pack REF ...]

The payments fixture (fixtures/repos/payments/repo) is scanned once, as of 2026-11-26,
and its RunResult saved with msgspec. For every format in `REPORTERS`, fresh
`python -c` processes load that result and then either import the reporter and render
it, or stop there; both series are interleaved, so drift hits them alike. A format's
added time is the median of the first series minus the median of the second. Loading
the saved result instead of scanning keeps each process short (less noise), and makes
the reporter pay for every engine module it imports that a scan would have loaded
already, so the figure errs on the high side. The in-process time of the import and
the render, measured inside the rendering processes, is printed beside it.
Budget (issue #4): at most 30 ms added per format, judged end to end: cold `opsgrade
scan FIXTURE --format FMT` against `--format text`, interleaved (`end_to_end_added_ms`).
The isolated numbers above err high: they pay for modules a scan has already loaded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import msgspec
from common import opsgrade_command

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "repos" / "payments" / "repo"
BUDGET_MS = 30.0

# argv: SAVED_RUN FORMAT (FORMAT empty: load only). Prints the in-process import +
# render time in ms when it renders.
CHILD = """
import sys, time
import msgspec
from opsgrade.engine import gate
from opsgrade.engine.model import RunResult
from opsgrade.reporters import RenderOptions, get_reporter
with open(sys.argv[1], "rb") as fh:
    run = msgspec.msgpack.decode(fh.read(), type=RunResult)
level = gate.required_level(run, None)
options = RenderOptions(required_level=level, verdict=gate.judge(run, level))
if sys.argv[2]:
    start = time.perf_counter()
    text = get_reporter(sys.argv[2]).render(run, options)
    print(round((time.perf_counter() - start) * 1000, 3))
"""


def save_run(packs: list[str], target: Path) -> int:
    """Scan the fixture in-process and save the RunResult; returns its result count."""
    from opsgrade.engine.packs import cli_source
    from opsgrade.engine.scan import ScanRequest, scan

    request = ScanRequest(
        path=FIXTURE, packs=[cli_source(p) for p in packs], today=dt.date(2026, 11, 26)
    )
    run = scan(request)
    target.write_bytes(msgspec.msgpack.encode(run))
    return sum(len(s.results) for s in run.services)


def run_child(saved: Path, fmt: str) -> tuple[float, float | None]:
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(saved), fmt],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        sys.exit(f"render {fmt or '(none)'} failed: {proc.stderr[-500:]}")
    inner = float(proc.stdout) if proc.stdout.strip() else None
    return wall, inner


def measure(saved: Path, fmt: str, runs: int) -> dict[str, float | bool]:
    run_child(saved, fmt)  # warm the page cache and the bytecode cache
    base: list[float] = []
    rendered: list[float] = []
    inner: list[float] = []
    for _ in range(runs):
        base.append(run_child(saved, "")[0])
        wall, took = run_child(saved, fmt)
        rendered.append(wall)
        inner.append(took or 0.0)
    added = statistics.median(rendered) - statistics.median(base)
    return {
        "added_ms": round(added, 1),
        "added_min_ms": round(min(rendered) - min(base), 1),
        "in_process_ms": round(statistics.median(inner), 1),
        "within_budget": added <= BUDGET_MS,
    }


def end_to_end(formats: list[str], packs: list[str], runs: int) -> dict[str, float]:
    """Median wall time each format adds to a cold `opsgrade scan` over `--format text`,
    the budget's own definition: one process per run, the formats interleaved."""
    pack_args = [arg for ref in packs for arg in ("--pack", ref)]
    samples: dict[str, list[float]] = {fmt: [] for fmt in ["text", *formats]}
    env = {**os.environ, "NO_COLOR": "1"}
    for _ in range(runs + 1):
        for fmt in samples:
            cmd = [*opsgrade_command(), "scan", str(FIXTURE), *pack_args, "--format", fmt]
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=env, check=False)
            samples[fmt].append((time.perf_counter() - start) * 1000)
    base = statistics.median(samples["text"][1:])  # the first round warms the caches
    return {fmt: round(statistics.median(s[1:]) - base, 1) for fmt, s in samples.items()}


def main() -> None:
    from opsgrade.reporters import REPORTERS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument(
        "--pack", action="append", default=[], help="scan with these packs (default: all)"
    )
    args = parser.parse_args()
    formats: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="opsgrade-render-bench-") as tmp:
        saved = Path(tmp) / "run.msgpack"
        results = save_run(args.pack, saved)
        for fmt, target in REPORTERS.items():
            if importlib.util.find_spec(target.partition(":")[0]) is None:
                formats[fmt] = "reporter module does not exist yet"
                continue
            formats[fmt] = measure(saved, fmt, args.runs)
    added = end_to_end([f for f in formats if isinstance(formats[f], dict)], args.pack, args.runs)
    for fmt, value in formats.items():
        if isinstance(value, dict):
            value["isolated_within_budget"] = value.pop("within_budget")
            value["end_to_end_added_ms"] = added[fmt]
            value["within_budget"] = added[fmt] <= BUDGET_MS
    report = {
        "python": platform.python_version(),
        "runs": args.runs,
        "fixture": "fixtures/repos/payments/repo",
        "packs": args.pack or "every built-in pack",
        "results_rendered": results,
        "budget_ms": BUDGET_MS,
        "formats": formats,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
