"""Cold-process cost of `opsgrade.lock`: `opsgrade scan` with and without a lock file.

    python bench/pack_lock_bench.py [--runs 11]

Three copies of the `payments` fixture, each scanned by fresh `opsgrade` processes:

- `no_lock`: the built-in packs, no lock file (the baseline);
- `lock`: the same packs pinned by `opsgrade.lock` (read, and every pack's digest
  checked);
- `lock_git`: the built-ins plus a git pack (a local bare repository, `git+file://`),
  pinned by the lock and already cached, run with no `git` on PATH: a scan that
  started a git process would fail.

Budget (issue #7): resolving packs from a lock adds <= 20 ms to a scan, and a cached git
pack costs no network and no git process. Prints JSON; exits 1 over budget.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import opsgrade_command, time_command

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "repos" / "payments" / "repo"
BUDGET_MS = 20.0
GIT_PACK = """apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: acme-security, version: 2.1.0}
extends: [readiness]
rules:
  - id: ACME001
    title: Security policy
    level: silver
    category: security
    help: Say how to report a vulnerability.
    check: {file: {exists: [SECURITY.md, .github/SECURITY.md]}}
"""


def _git(cwd: Path, *args: str) -> None:
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run(["git", *ident, *args], cwd=cwd, check=True, capture_output=True)


def _pack_repository(root: Path) -> str:
    work = root / "pack-src"
    work.mkdir()
    (work / "security.yml").write_text(GIT_PACK)
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "pack")
    _git(work, "tag", "v2.1.0")
    _git(root, "clone", "-q", "--bare", str(work), str(root / "packs.git"))
    return f"git+file://{root / 'packs.git'}@v2.1.0#path=security.yml"


def _copy(root: Path, name: str, packs: list[str] | None) -> Path:
    repo = root / name
    shutil.copytree(FIXTURE, repo)
    if packs is not None:
        config = repo / ".opsgrade" / "config.yml"
        config.parent.mkdir(exist_ok=True)
        listed = "".join(f"  - '{p}'\n" for p in packs)
        config.write_text(f"apiVersion: opsgrade/v1\nkind: Config\npacks:\n{listed}")
    return repo


def _update(repo: Path) -> None:
    cmd = [*opsgrade_command(), "packs", "update", str(repo)]
    subprocess.run(cmd, check=True, capture_output=True)


def _interleaved(variants: dict[str, Path], runs: int, env: dict[str, dict[str, str]]) -> dict:
    """time_command's numbers for each variant, its runs interleaved with the others' so
    that a load spike on a shared machine hits every variant alike."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for _ in range(runs):
        for name, repo in variants.items():
            saved = os.environ.copy()
            os.environ.update(env.get(name, {}))
            try:
                samples[name].append(time_command(["scan", str(repo)], 1))
            finally:
                os.environ.clear()
                os.environ.update(saved)
    return {
        name: {
            "median_ms": round(statistics.median(s["median_ms"] for s in got), 1),
            "min_ms": round(min(s["min_ms"] for s in got), 1),
            "max_ms": round(max(s["max_ms"] for s in got), 1),
        }
        for name, got in samples.items()
    }


def _in_process(variants: dict[str, Path], rounds: int = 300) -> dict[str, float]:
    """Median ms of choosing each variant's packs in this process (lock read and every
    digest checked, packs loaded from the warm built-in cache), rounds interleaved: the
    lock's own cost without process start-up noise."""
    from opsgrade.engine.config import load_config
    from opsgrade.engine.packs import select_packs
    from opsgrade.engine.repoview import WorkTreeView

    views = {name: WorkTreeView(repo) for name, repo in variants.items()}
    configs = {name: load_config(view) for name, view in views.items()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, view in views.items():
            start = time.perf_counter()
            select_packs((), view, configs[name])
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: round(statistics.median(got), 2) for name, got in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opsgrade-lock-bench-") as tmp:
        root = Path(tmp)
        os.environ["OPSGRADE_CACHE_DIR"] = str(root / "cache")
        plain = _copy(root, "no_lock", None)
        locked = _copy(root, "lock", None)
        _update(locked)
        builtins = ["ci", "dependencies", "docker", "readiness"]
        with_git = _copy(root, "lock_git", [*builtins, _pack_repository(root)])
        _update(with_git)  # resolves the tag, fills the cache
        empty = root / "no-git-bin"
        empty.mkdir()
        variants = {"no_lock": plain, "lock": locked, "lock_git": with_git}
        # No git on PATH for the cached git pack: a git process would fail the run.
        timings = _interleaved(variants, args.runs, {"lock_git": {"PATH": str(empty)}})
        in_process = _in_process(variants)
    base = timings["no_lock"]["median_ms"]
    added = {name: round(timings[name]["median_ms"] - base, 1) for name in ("lock", "lock_git")}
    report = {
        "runs": args.runs,
        "python": platform.python_version(),
        "timings": timings,
        "added_ms": added,
        "select_packs_in_process_ms": in_process,
        "budget_ms": BUDGET_MS,
    }
    print(json.dumps(report, indent=2))
    return 0 if max(added.values()) <= BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
