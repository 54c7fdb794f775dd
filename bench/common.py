"""What every cold-process bench shares: the command to run and how it is timed."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def opsgrade_command() -> list[str]:
    """The `opsgrade` installed next to this interpreter (as users run it)."""
    script = Path(sys.executable).parent / "opsgrade"
    return [str(script)] if script.exists() else [sys.executable, "-m", "opsgrade.engine"]


def time_command(args: list[str], runs: int) -> dict[str, float]:
    """Median, min and max wall time of `runs` fresh `opsgrade ARGS` processes."""
    cmd = [*opsgrade_command(), *args]
    env = {**os.environ, "NO_COLOR": "1"}
    subprocess.run(cmd, capture_output=True, env=env, check=False)  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
        samples.append((time.perf_counter() - start) * 1000)
        if proc.returncode not in (0, 1):
            sys.exit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return {
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
    }
