"""The fault test: kill the real `opsgrade org scan` mid-way (SIGKILL, then Ctrl-C),
resume it, and check every repository is recorded exactly once and nothing already
recorded was scanned again.

The workers slow down per repository (a test hook) so the scan is still running when
the test, polling the database, sees some but not all repositories recorded. Each
invocation's workers append the names they scan to their own log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orgfolder import TODAY, make_org, records

from opsgrade.engine.errors import ExitCode
from opsgrade.engine.org.runner import hooks_env
from opsgrade.engine.org.store import Store

COPIES = 2  # of each fixture: 26 repositories


def start_scan(org: Path, db: Path, log: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["OPSGRADE_ORG_TEST_HOOKS"] = hooks_env(log=str(log), sleep=0.1)
    args = ["org", "scan", str(org), "--db", str(db), "--out", str(db.parent / "out")]
    return subprocess.Popen(
        [sys.executable, "-m", "opsgrade.engine", *args, "--jobs", "2", "--today", TODAY, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_until_some_recorded(db: Path, proc: subprocess.Popen[str], at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the scan ended before it could be interrupted"
        if db.exists():
            with Store(db) as store:
                if len(store.recorded(1)) >= at_least:
                    return
        time.sleep(0.02)
    raise AssertionError("nothing was recorded within 60 s")


def scanned(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def check_resume(tmp_path: Path, stop: signal.Signals) -> subprocess.CompletedProcess[str]:
    org = make_org(tmp_path / "org", copies=COPIES)
    names = sorted(p.name for p in org.iterdir())
    db = tmp_path / "db.sqlite"
    first = start_scan(org, db, tmp_path / "first.log")
    wait_until_some_recorded(db, first, at_least=5)
    first.send_signal(stop)
    first.communicate(timeout=60)
    with Store(db) as store:
        before = store.recorded(1)
        assert store.run_info(1).finished_at is None  # left unfinished: resumable
    assert 5 <= len(before) < len(names)

    second_log = tmp_path / "second.log"
    second = start_scan(org, db, second_log, "--resume")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert f"opsgrade: note: resuming run 1: {len(before)} already recorded" in err
    got = records(db, 1)  # the same run, continued; one record per name (store.record)
    assert sorted(got) == names
    assert not before & set(scanned(second_log)), "a recorded repository was scanned again"
    assert sorted(scanned(second_log)) == sorted(set(names) - before)
    with Store(db) as store:
        assert store.latest_run() == 1
        assert store.run_info(1).complete
    return subprocess.CompletedProcess(second.args, second.returncode, out, err)


def test_sigkill_mid_scan_then_resume(tmp_path: Path) -> None:
    check_resume(tmp_path, signal.SIGKILL)


def test_ctrl_c_exits_130_and_stays_resumable(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org", ["payments", "monorepo", "waivers"], copies=5)
    db = tmp_path / "db.sqlite"
    proc = start_scan(org, db, tmp_path / "first.log")
    wait_until_some_recorded(db, proc, at_least=1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "interrupted" in err and "Traceback" not in err
    with Store(db) as store:
        done = store.recorded(1)
        assert 1 <= len(done) < 15
    resumed = start_scan(org, db, tmp_path / "second.log", "--resume")
    _, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    assert not done & set(scanned(tmp_path / "second.log"))
    assert len(records(db, 1)) == 15
