"""The org scan's SQLite store: round trips, resume and reuse lookups, the errors a
damaged file gives, and durability of a committed record across a SIGKILL."""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import PackInfo
from opsgrade.engine.org.model import RepoRecord, RuleSummary, ServiceRecord
from opsgrade.engine.org.store import SCHEMA_VERSION, Store

PACKS = (PackInfo(name="readiness", version="1.0.0", origin="builtin"),)
RULES = {
    "OWN1": RuleSummary(
        id="OWN1", title="Owner", level="bronze", category="ownership", severity="error", pack="p"
    ),
    "PY312": RuleSummary(
        id="PY312",
        title="Python 3.12",
        level="silver",
        category="runtime",
        severity="warning",
        pack="p",
        tags=("campaign:py312",),
        enforce_after=dt.date(2027, 3, 1),
        campaign="py312",
    ),
}


def start(store: Store, *, source: str = "folder:/repos", shard: str | None = None) -> int:
    return store.start_run(
        source=source,
        shard=shard,
        packs=PACKS,
        packs_digest="d1",
        levels=("bronze", "silver"),
        categories=("ownership", "runtime"),
        rules=RULES,
        started_at="2026-11-20T01:00:00Z",
    )


def rec(
    name: str, *, revision: str = "r1", status: str = "scanned", level: str = "bronze"
) -> RepoRecord:
    service = ServiceRecord(
        name=name.split("/")[-1],
        owner="team",
        level=level,
        score=0.5,
        results={"OWN1": "pass"},
        pending={"PY312": "fail"},
        links={"runbook": "https://runbooks/x"},
    )
    return RepoRecord(
        name=name,
        status=status,  # type: ignore[arg-type]
        revision=revision,
        packs_digest="d1",
        services=() if status == "failed" else (service,),
        error="timeout" if status == "failed" else None,
    )


def test_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / "sub" / "org.db") as store:
        assert store.latest_run() is None
        run = start(store, shard="2/3")
        for name in ("org/zeta", "org/alpha", "org/mid"):
            store.record(run, rec(name))
        assert [r.name for r in store.records(run)] == ["org/alpha", "org/mid", "org/zeta"]
        assert next(store.records(run)) == rec("org/alpha")
        assert store.recorded(run) == {"org/zeta", "org/alpha", "org/mid"}
        info = store.run_info(run)
        assert (info.id, info.shard, info.packs, info.complete) == (run, "2/3", PACKS, False)
        assert info.finished_at is None
        assert store.run_meta(run) == (("bronze", "silver"), ("ownership", "runtime"), RULES)
        assert store.digests(run) == []
        digest = store.finish_run(run, complete=True, finished_at="2026-11-20T01:05:00Z")
        assert digest.services == 3 and digest.levels["bronze"] == 3
        assert digest.campaigns == {"py312": (0, 3)}
        assert store.latest_run() == run
    with Store(tmp_path / "sub" / "org.db") as store:  # reopened: everything is still there
        assert store.digests(run) == [digest]
        assert store.run_info(run).finished_at == "2026-11-20T01:05:00Z"
        assert store.run_info(run).complete is True
        with pytest.raises(ConfigError, match="no run 99"):
            store.run_info(99)


def test_resumable_run_is_the_latest_unfinished_run_with_the_same_key(tmp_path: Path) -> None:
    with Store(tmp_path / "org.db") as store:
        key = {"source": "folder:/repos", "shard": None, "packs_digest": "d1"}
        assert store.resumable_run(**key) is None
        first = start(store)
        assert store.resumable_run(**key) == first
        assert store.resumable_run(source="folder:/repos", shard="1/2", packs_digest="d1") is None
        assert store.resumable_run(source="folder:/other", shard=None, packs_digest="d1") is None
        assert store.resumable_run(source="folder:/repos", shard=None, packs_digest="d2") is None
        store.finish_run(first, complete=False, finished_at="2026-11-20T02:00:00Z")
        assert store.resumable_run(**key) == first  # stopped early: still to be completed
        store.finish_run(first, complete=True, finished_at="2026-11-20T03:00:00Z")
        assert store.resumable_run(**key) is None
        sharded = start(store, shard="1/2")
        assert (
            store.resumable_run(source="folder:/repos", shard="1/2", packs_digest="d1") == sharded
        )
        assert store.resumable_run(**key) is None


def test_reusable_is_the_latest_successful_record_at_that_revision(tmp_path: Path) -> None:
    with Store(tmp_path / "org.db") as store:
        first = start(store)
        store.record(first, rec("org/a", level="bronze"))
        store.record(first, rec("org/b", status="failed"))
        second = start(store)
        store.record(second, rec("org/a", level="silver", status="reused"))
        found = store.reusable("org/a", "r1", "d1")
        assert found is not None and found.services[0].level == "silver"
        assert store.reusable("org/a", "r2", "d1") is None  # another commit
        assert store.reusable("org/a", "r1", "d2") is None  # other packs
        assert store.reusable("org/b", "r1", "d1") is None  # failed: nothing to reuse


def test_recording_a_name_twice_in_a_run_is_an_error(tmp_path: Path) -> None:
    with Store(tmp_path / "org.db") as store:
        run = start(store)
        store.record(run, rec("org/a"))
        with pytest.raises(ValueError, match="org/a is already recorded in run"):
            store.record(run, rec("org/a", revision="r2"))
        store.record(start(store), rec("org/a"))  # another run: fine
        with pytest.raises(ValueError, match="no run 42"):
            store.record(42, rec("org/x"))


@pytest.mark.parametrize(
    "content",
    [b"this is not a database\n" * 10, b"SQLite format 3\x00" + b"\xff" * 200],
    ids=["text", "bad-header"],
)
def test_a_file_that_is_not_a_store_is_a_config_error_naming_it(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "org.db"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=str(path)):
        Store(path)


def test_foreign_sqlite_file_and_newer_schema_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(ConfigError, match="not an opsgrade results store"):
        Store(foreign)
    newer = tmp_path / "newer.db"
    Store(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(ConfigError, match="newer opsgrade"):
        Store(newer)
    with pytest.raises(ConfigError, match="is a folder"):
        Store(tmp_path)


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "org.db"
    path.touch()
    with Store(path) as store:
        assert store.latest_run() is None
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


WRITER = textwrap.dedent(
    """
    import sys, time
    from opsgrade.engine.org.model import RepoRecord
    from opsgrade.engine.org.store import Store
    store = Store(sys.argv[1])
    run = store.start_run(source="folder:/r", shard=None, packs=(), packs_digest="d",
                          levels=("bronze",), categories=(), rules={},
                          started_at="2026-01-01T00:00:00Z")
    for i in range(10_000):
        store.record(run, RepoRecord(name=f"repo-{i:05d}", status="scanned", packs_digest="d"))
        print(i, flush=True)
        if i >= 40:
            time.sleep(0.01)  # slow enough for the parent to kill it mid-way
    """
)


def test_a_committed_record_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "org.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acknowledged = -1
    for line in proc.stdout:
        acknowledged = int(line)
        if acknowledged >= 50:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    with Store(path) as store:
        run = store.latest_run()
        assert run is not None
        names = store.recorded(run)
        # Every record reported as committed is there (and those committed after it,
        # before the kill landed): a gap-free prefix, nothing half-written.
        assert len(names) >= acknowledged + 1
        assert names == {f"repo-{i:05d}" for i in range(len(names))}
        assert len(list(store.records(run))) == len(names)
        assert store.resumable_run(source="folder:/r", shard=None, packs_digest="d") == run


def test_digests_carry_service_levels_only_for_the_last_complete_run(tmp_path: Path) -> None:
    with Store(tmp_path / "org.db") as store:
        runs = []
        for complete in (True, True, False):
            run = start(store)
            store.record(run, rec("org/a"))
            store.finish_run(run, complete=complete, finished_at="2026-11-20T02:00:00Z")
            runs.append(run)
        unfinished = start(store)
        digests = store.digests(unfinished)
        assert [(d.run, d.complete) for d in digests] == [(1, True), (2, True), (3, False)]
        assert [dict(d.service_levels) for d in digests] == [{}, {"org/a:a": "bronze"}, {}]
        assert [d.services for d in digests] == [1, 1, 1]
        assert store.digests(1)[0].service_levels == {"org/a:a": "bronze"}
