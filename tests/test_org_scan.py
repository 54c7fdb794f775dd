"""`opsgrade org scan` over a folder of repositories: the source, sharding, the runner's
failure paths (a failing repository, a hung worker), reuse, progress and bad flags.

The CLI tests run the real command in a subprocess on copies of fixtures/repos/*, with
the real SQLite store and report writer; the fault test (kill and resume) is in
test_org_resume.py.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from orgfolder import FIXTURES, TODAY, commit_all, git, make_org, org_scan, records

from opsgrade.engine.org.local import FolderSource, head_revision
from opsgrade.engine.org.model import RepoRecord
from opsgrade.engine.org.progress import Progress
from opsgrade.engine.org.runner import (
    Events,
    Options,
    Outcome,
    Runner,
    Shard,
    hooks_env,
    load_org_packs,
)
from opsgrade.engine.org.sources import FetchError, RepoRef, SourceExhausted
from opsgrade.engine.org.store import Store
from opsgrade.engine.packs import PackSource, builtin_names

BUILTIN = [PackSource("builtin", name) for name in builtin_names()]


# -- the folder source -------------------------------------------------------------------


def test_folder_source_lists_repositories(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org", ["payments", "monorepo"])
    (org / "empty").mkdir()
    (org / ".cache").mkdir()
    (org / ".cache" / "x").write_text("x")
    (org / "README.md").write_text("not a repository: a file")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f").write_text("x")
    (org / "escape").symlink_to(tmp_path / "elsewhere")
    (org / "alias").symlink_to(org / "payments")
    source = FolderSource(org)
    names = [ref.name for ref in source.list_repos()]
    assert names == ["alias", "monorepo", "payments"]
    assert source.notes == [f"escape: symlink points outside {org.resolve()}; skipped"]
    assert source.label == f"folder:{org.resolve()}"
    with source.checkout(RepoRef("payments")) as path:
        assert path == org.resolve() / "payments"


def test_folder_source_is_a_config_error_when_missing(tmp_path: Path) -> None:
    proc = org_scan(
        str(tmp_path / "nope"), "--db", str(tmp_path / "db"), "--out", str(tmp_path / "o")
    )
    assert proc.returncode == 2
    assert "not a directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_head_revision_matches_git(tmp_path: Path) -> None:
    repo = make_org(tmp_path / "org", ["payments"]) / "payments"
    assert head_revision(repo) is None  # no clone yet
    sha = commit_all(repo)
    assert head_revision(repo) == sha  # loose ref
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert head_revision(repo) == sha  # packed ref
    git(repo, "checkout", "-q", "--detach")
    assert head_revision(repo) == sha  # detached HEAD
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "other", str(worktree))
    assert head_revision(worktree) == sha  # `.git` file -> gitdir, refs in the commondir
    assert FolderSource(tmp_path / "org").resolve(RepoRef("payments")).revision == sha


@pytest.mark.parametrize(
    "head",
    ["", "ref: refs/heads/missing", "ref: ../../etc/passwd", "garbage", "x" * 5000],
)
def test_head_revision_bad_heads_are_none(tmp_path: Path, head: str) -> None:
    (tmp_path / ".git" / "refs" / "heads").mkdir(parents=True)
    (tmp_path / ".git" / "HEAD").write_text(head)
    (tmp_path / ".git" / "packed-refs").write_text("# pack-refs\nzzz refs/heads/missing\n")
    assert head_revision(tmp_path) is None


# -- shards ------------------------------------------------------------------------------


def test_shards_are_a_partition() -> None:
    names = [f"acme/repo-{i}" for i in range(500)]
    for count in (1, 2, 3, 7):
        shards = [Shard(k, count) for k in range(1, count + 1)]
        owners = [[s for s in shards if s.holds(name)] for name in names]
        assert all(len(o) == 1 for o in owners)
        if count > 1:  # every shard gets a fair part
            sizes = [sum(1 for o in owners if o[0] == s) for s in shards]
            assert min(sizes) > len(names) / count / 2


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "2", "-1/3", "1/3/5", ""])
def test_bad_shards(text: str) -> None:
    with pytest.raises(ValueError, match="K"):
        Shard.parse(text)


# -- the command end to end --------------------------------------------------------------


def test_scan_records_every_repository_and_writes_the_report(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org")
    db, out = tmp_path / "db.sqlite", tmp_path / "out"
    proc = org_scan(str(org), "--db", str(db), "--out", str(out), "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    fixtures = sorted(p.name for p in FIXTURES.iterdir())
    got = records(db, 1)
    assert sorted(got) == fixtures
    assert {r.status for r in got.values()} == {"scanned"}
    report = json.loads((out / "report.json").read_bytes())
    assert [r["name"] for r in report["repos"]] == fixtures
    assert report["run"]["source"] == f"folder:{org.resolve()}"
    assert report["run"]["complete"] is True
    assert {"report.json", "report.csv", "index.html"} <= {p.name for p in out.iterdir()}
    assert f"{len(fixtures)} repositories: {len(fixtures)} scanned, 0 reused, 0 failed in" in (
        proc.stderr
    )
    # A descriptor-less repository is one service named after the repository.
    assert [s.name for s in got["no-descriptor"].services] == ["no-descriptor"]
    assert got["payments"].packs_digest == report["run"]["packs_digest"]


def test_report_json_is_deterministic(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org")
    outputs = []
    for n, jobs in enumerate(("1", "2")):
        out = tmp_path / f"out{n}"
        proc = org_scan(
            str(org), "--db", str(tmp_path / f"db{n}"), "--out", str(out), "--jobs", jobs
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(out / "report.json")
    first, second = (json.loads(p.read_bytes()) for p in outputs)
    # Only the run's own timestamps differ between two runs of the same input.
    for report in (first, second):
        report["run"].pop("started_at")
        report["run"].pop("finished_at")
        for point in report["history"]:
            point.pop("date")
    assert first == second
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_failing_repositories_are_recorded_and_the_scan_goes_on(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org", ["payments", "monorepo", "waivers", "formats"])
    bad_config = org / "payments" / ".opsgrade"
    bad_config.mkdir()
    (bad_config / "config.yml").write_text("apiVersion: opsgrade/v1\nkind: Config\nbogus: 1\n")
    db = tmp_path / "db"
    env = {"OPSGRADE_ORG_TEST_HOOKS": hooks_env(fail=["monorepo"])}
    proc = org_scan(str(org), "--db", str(db), "--out", str(tmp_path / "o"), env=env)
    assert proc.returncode == 0, proc.stderr
    got = records(db, 1)
    assert got["payments"].status == "failed"
    assert got["payments"].error is not None
    assert got["payments"].error.startswith(".opsgrade/config.yml:3")
    assert "bogus" in got["payments"].error
    assert got["monorepo"].status == "failed"
    assert got["monorepo"].error == "internal error: RuntimeError: failure injected by a test"
    assert got["waivers"].status == got["formats"].status == "scanned"
    assert "4 repositories: 2 scanned, 0 reused, 2 failed" in proc.stderr


def test_a_hung_worker_is_killed_and_replaced(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org", ["payments", "monorepo", "waivers", "formats"])
    db, log = tmp_path / "db", tmp_path / "scanned.log"
    env = {"OPSGRADE_ORG_TEST_HOOKS": hooks_env(hang=["monorepo"], log=str(log))}
    args = ("--db", str(db), "--out", str(tmp_path / "o"), "--jobs", "1", "--repo-timeout", "2")
    proc = org_scan(str(org), *args, env=env)
    assert proc.returncode == 0, proc.stderr
    got = records(db, 1)
    assert got["monorepo"].status == "failed"
    assert got["monorepo"].error == "timed out after 2 s; the scan was stopped"
    # With one job, the repositories after the hung one ran in the replacement worker.
    assert sorted(n for n, r in got.items() if r.status == "scanned") == [
        "formats",
        "payments",
        "waivers",
    ]
    assert "monorepo" not in log.read_text().split()


def test_unchanged_clones_are_reused(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org", ["payments", "monorepo", "no-descriptor"])
    commit_all(org / "payments")
    commit_all(org / "monorepo")
    db, log = tmp_path / "db", tmp_path / "scanned.log"
    env = {"OPSGRADE_ORG_TEST_HOOKS": hooks_env(log=str(log))}
    base = (str(org), "--db", str(db), "--out", str(tmp_path / "o"))
    assert org_scan(*base, env=env).returncode == 0
    first = records(db, 1)
    log.write_text("")
    (org / "monorepo" / "NEW.md").write_text("changed and committed\n")
    git(org / "monorepo", "add", "-A")
    git(org / "monorepo", "commit", "-q", "-m", "change")
    proc = org_scan(*base, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "3 repositories: 2 scanned, 1 reused, 0 failed" in proc.stderr
    second = records(db, 2)
    assert second["payments"].status == "reused"
    assert second["payments"].services == first["payments"].services
    assert second["monorepo"].status == "scanned"  # a new commit
    assert second["no-descriptor"].status == "scanned"  # no clone: no revision to trust
    assert sorted(log.read_text().split()) == ["monorepo", "no-descriptor"]
    assert "0 reused" in org_scan(*base, "--rescan", env=env).stderr


def test_a_repository_config_neither_picks_packs_nor_renames(tmp_path: Path) -> None:
    """Its config names other packs, a required level and a name: the org's packs are
    used for every repository (levels stay comparable), and the record keeps the folder
    name; the config's excludes still apply."""
    org = make_org(tmp_path / "org", ["repo-config"])
    config = org / "repo-config" / ".opsgrade" / "config.yml"
    config.write_text(config.read_text() + "name: renamed\n")
    db = tmp_path / "db"
    proc = org_scan(str(org), "--db", str(db), "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    (record,) = records(db, 1).values()
    assert record.name == "repo-config" and record.status == "scanned"
    builtin = {r.id for r in load_org_packs(BUILTIN).rules}
    used = {rule for service in record.services for rule in [*service.results, *service.pending]}
    assert used and used <= builtin


BAD_FLAGS = [
    (["--shard", "0/3"], "K must be between 1 and N"),
    (["--shard", "4/3"], "K must be between 1 and N"),
    (["--shard", "two"], "is not K/N"),
    (["--jobs", "0"], "--jobs"),
    (["--jobs", "65"], "--jobs"),
    (["--repo-timeout", "0"], "--repo-timeout"),
    (["--today", "yesterday"], "is not a date"),
    (["--pack", "no-such-pack"], "no-such-pack"),
    (["--github-org", "acme"], "either a FOLDER or --github-org"),
    (["--topic", "python"], "--topic: only with --github-org"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_FLAGS)
def test_bad_flags_exit_2(tmp_path: Path, extra: list[str], message: str) -> None:
    org = make_org(tmp_path / "org", ["payments"])
    proc = org_scan(str(org), "--db", str(tmp_path / "db"), "--out", str(tmp_path / "o"), *extra)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_neither_source_exits_2(tmp_path: Path) -> None:
    proc = org_scan("--db", str(tmp_path / "db"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "either a FOLDER or --github-org" in proc.stderr


@pytest.mark.parametrize("kind", ["folder", "not-sqlite", "foreign-sqlite"])
def test_unusable_database_exits_2(tmp_path: Path, kind: str) -> None:
    org = make_org(tmp_path / "org", ["payments"])
    db = tmp_path / "db"
    if kind == "folder":
        db.mkdir()
    elif kind == "not-sqlite":
        db.write_bytes(b"\x00garbage" * 1000)
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE unrelated (x)")
    proc = org_scan(str(org), "--db", str(db), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    assert str(db) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_unusable_out_folder_fails_before_scanning(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org", ["payments"])
    (tmp_path / "a-file").write_text("x")
    db = tmp_path / "db"
    proc = org_scan(str(org), "--db", str(db), "--out", str(tmp_path / "a-file" / "out"))
    assert proc.returncode == 2, proc.stderr
    assert "cannot create the folder" in proc.stderr and "Traceback" not in proc.stderr
    assert not db.exists()


# -- a source that gives out -------------------------------------------------------------


class _GivesOut(FolderSource):
    """A folder source whose resolve() gives out (rate limit) after `budget` calls."""

    def __init__(self, folder: Path, budget: int) -> None:
        super().__init__(folder)
        self.budget = budget

    def resolve(self, ref: RepoRef) -> RepoRef:
        self.budget -= 1
        if self.budget < 0:
            raise SourceExhausted("rate limit: would wait 3600 s, over the 600 s bound")
        return super().resolve(ref)


class _Recorder(Events):
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.statuses: list[str] = []

    def finished(self, record: RepoRecord) -> None:
        self.statuses.append(record.status)

    def note(self, message: str) -> None:
        self.notes.append(message)


def run_in_process(
    source: FolderSource, db: Path, events: Events | None = None, **options: Any
) -> tuple[Outcome, dict[str, RepoRecord]]:
    """The runner in this process, with the built-in packs: its outcome and records."""
    chosen = Options(today=dt.date(2025, 6, 1), **options)
    with Store(db) as store:
        runner = Runner(source, store, load_org_packs(BUILTIN), BUILTIN, chosen, events or Events())
        outcome = runner.run()
        return outcome, {r.name: r for r in store.records(outcome.run_id)}


class _Flaky(FolderSource):
    """Listing gives out after `listed` repositories; `payments` cannot be fetched and
    resolving `waivers` trips a bug in the source."""

    def __init__(self, folder: Path, listed: int) -> None:
        super().__init__(folder)
        self.listed = listed

    def list_repos(self) -> Iterator[RepoRef]:
        for n, ref in enumerate(super().list_repos()):
            if n == self.listed:
                raise SourceExhausted("API outage: 5 retries over 10 minutes")
            yield ref

    def resolve(self, ref: RepoRef) -> RepoRef:
        if ref.name == "waivers":
            raise KeyError("default_branch")
        return super().resolve(ref)

    @contextmanager
    def checkout(self, ref: RepoRef) -> Iterator[Path]:
        if ref.name == "payments":
            raise FetchError("truncated archive")
        with super().checkout(ref) as path:
            yield path


@pytest.mark.parametrize("fetch_threads", [0, 2])
def test_fetch_failures_are_recorded_and_a_cut_listing_is_scanned_as_far_as_it_got(
    tmp_path: Path, fetch_threads: int
) -> None:
    org = make_org(tmp_path / "org", ["formats", "monorepo", "payments", "waivers", "encodings"])
    events = _Recorder()
    outcome, got = run_in_process(
        _Flaky(org, 4), tmp_path / "db", events, jobs=2, fetch_threads=fetch_threads
    )
    assert not outcome.complete and outcome.stop_reason is not None
    assert "API outage" in outcome.stop_reason
    assert sorted(got) == ["encodings", "formats", "monorepo", "payments"]  # listed first
    assert (got["payments"].status, got["payments"].error) == ("failed", "truncated archive")
    assert got["formats"].status == got["monorepo"].status == got["encodings"].status == "scanned"
    assert events.notes == [
        "listing stopped early (API outage: 5 retries over 10 minutes); scanning the 4 listed"
    ]


def test_a_source_bug_fails_only_its_repository(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org", ["payments", "waivers"])
    outcome, got = run_in_process(_Flaky(org, 99), tmp_path / "db", jobs=1)
    assert outcome.complete
    assert got["waivers"].status == "failed"
    assert got["waivers"].error == "internal error while fetching: KeyError: 'default_branch'"


@pytest.mark.parametrize("fetch_threads", [0, 3])
def test_a_source_that_gives_out_leaves_an_incomplete_resumable_run(
    tmp_path: Path, fetch_threads: int
) -> None:
    org = make_org(tmp_path / "org", ["payments", "monorepo", "waivers", "formats", "encodings"])
    db, events = tmp_path / "db", _Recorder()
    options = {"jobs": 2, "resume": True, "fetch_threads": fetch_threads}
    outcome, got = run_in_process(_GivesOut(org, 2), db, events, **options)
    assert not outcome.complete
    assert outcome.stop_reason is not None and "rate limit" in outcome.stop_reason
    assert len(got) == 2
    assert any("stopping early" in n for n in events.notes)
    with Store(db) as store:
        assert store.run_info(outcome.run_id).complete is False
    again, got = run_in_process(_GivesOut(org, 10), db, **options)
    assert again.run_id == outcome.run_id and again.resumed and again.skipped == 2
    assert again.complete
    assert sorted(got) == sorted(p.name for p in org.iterdir())


def test_fetch_threads_feed_the_workers(tmp_path: Path) -> None:
    """GitHub's way: resolve and check out on threads ahead of the workers; each
    checkout is removed once its repository is recorded."""
    org = make_org(tmp_path / "org", copies=2)
    source = _Counting(org)
    outcome, got = run_in_process(source, tmp_path / "db", jobs=2, fetch_threads=3)
    assert outcome.complete
    assert {n: r.status for n, r in got.items()} == {p.name: "scanned" for p in org.iterdir()}
    assert source.entered == source.exited == len(got)
    assert source.most_held <= 2 + 3


class _Counting(FolderSource):
    """A folder source that counts checkouts held at once, as a temp-folder source would."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.entered = self.exited = self.most_held = 0
        self._lock = threading.Lock()

    @contextmanager
    def checkout(self, ref: RepoRef) -> Iterator[Path]:
        with self._lock:
            self.entered += 1
            self.most_held = max(self.most_held, self.entered - self.exited)
        try:
            with super().checkout(ref) as path:
                yield path
        finally:
            with self._lock:
                self.exited += 1


def test_workers_start_clean_when_threads_are_running(tmp_path: Path) -> None:
    """A source with an HTTP thread pool: workers are not forked from a threaded
    process (a lock held by another thread would never be released in the child), so
    they start from the forkserver and load the packs themselves."""
    org = make_org(tmp_path / "org", ["payments", "monorepo"])
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        _, got = run_in_process(FolderSource(org), tmp_path / "db", jobs=2)
    finally:
        stop.set()
        thread.join()
    assert {n: r.status for n, r in got.items()} == {"monorepo": "scanned", "payments": "scanned"}
    assert got["payments"].services == records_of_fork(org, tmp_path)["payments"].services


def records_of_fork(org: Path, tmp_path: Path) -> dict[str, RepoRecord]:
    db = tmp_path / "fork.db"
    assert org_scan(str(org), "--db", str(db), "--out", str(tmp_path / "o")).returncode == 0
    return records(db, 1)


def test_incomplete_run_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI maps an incomplete run to exit 1 and tells how to finish it."""
    from click.testing import CliRunner

    from opsgrade.engine.org import scan_cli

    org = make_org(tmp_path / "org", ["payments", "monorepo"])
    monkeypatch.setattr(scan_cli, "_source", lambda folder, *_: _GivesOut(folder, 1))
    result = CliRunner().invoke(
        scan_cli.scan,
        [str(org), "--db", str(tmp_path / "db"), "--out", str(tmp_path / "o"), "--jobs", "1"],
        standalone_mode=False,
    )
    assert result.exception is None, result.output
    assert result.return_value == 1
    assert "run the same command with --resume" in result.output
    assert json.loads((tmp_path / "o" / "report.json").read_bytes())["run"]["complete"] is False


# -- progress ----------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_plain_lines_every_tenth_and_interval() -> None:
    stream, clock = io.StringIO(), _Clock()
    progress = Progress(100, stream, interval=5.0, clock=clock)
    for n in range(100):
        clock.now += 0.25
        if n == 3:
            clock.now += 6  # a slow repository: the interval's line comes before 10%
        progress.advance("failed" if n == 50 else "reused" if n < 20 else "scanned")
    summary = progress.finish()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()
    assert lines[0].startswith("4/100 repositories (4%),")
    # 10% came 1.5 s after the interval's line: held back until the gap had passed.
    assert [line.split("/")[0] for line in lines[1:-1]] == ["12", *map(str, range(20, 101, 10))]
    assert "ETA" in lines[1] and "1 failed" in lines[-2]
    assert summary == lines[-1]
    assert summary == "100 repositories: 79 scanned, 20 reused, 1 failed in 31.0 s (3.2 repos/s)"


def test_progress_plain_lines_leave_a_fast_scan_to_its_summary() -> None:
    stream, clock = io.StringIO(), _Clock()
    progress = Progress(13, stream, clock=clock)
    for _ in range(13):
        clock.now += 0.01
        progress.advance("scanned")
    progress.finish()
    assert stream.getvalue().splitlines() == [
        "13 repositories: 13 scanned, 0 reused, 0 failed in 0.1 s (100.0 repos/s)"
    ]


def test_progress_bar_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    stream, clock = _Tty(), _Clock()
    progress = Progress(1000, stream, clock=clock)
    for _ in range(1000):
        clock.now += 0.001  # 1,000 repositories a second: redrawn ten times a second
        progress.advance("scanned")
    progress.message("opsgrade: note: something")
    progress.finish()
    text = stream.getvalue()
    draws = text.count("\r[")
    assert 10 <= draws <= 13
    assert "\x1b[32m" in text  # colour on a terminal
    assert "[\x1b[32m########################\x1b[0m] 1000/1000 repositories (100%)" in text
    assert "\ropsgrade: note: something\n\r[" in text  # the bar cleared, then redrawn
    assert text.endswith(
        "1000 repositories: 1000 scanned, 0 reused, 0 failed in 1.0 s (1000.0 repos/s)\n"
    )


def test_progress_bar_respects_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    stream, clock = _Tty(), _Clock()
    progress = Progress(3, stream, clock=clock)
    for _ in range(3):
        clock.now += 1
        progress.advance("scanned")
    progress.finish()
    assert "\x1b" not in stream.getvalue()
    assert "\r[########################] 3/3 repositories (100%)" in stream.getvalue()


def test_progress_of_a_real_scan_on_a_terminal(tmp_path: Path) -> None:
    """The real command under a pseudo-terminal draws the bar; piped, it writes lines."""
    import pty

    org = make_org(tmp_path / "org", ["payments", "waivers"])
    args = [sys.executable, "-m", "opsgrade.engine", "org", "scan", str(org), "--today", TODAY]
    args += ["--db", str(tmp_path / "db"), "--out", str(tmp_path / "o")]
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env["NO_COLOR"] = "1"
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    text = output.decode()
    assert "\r[" in text and "2/2 repositories (100%)" in text
    assert "2 repositories: 2 scanned, 0 reused, 0 failed" in text


def test_imports_stay_on_their_paths(tmp_path: Path) -> None:
    """`opsgrade scan` loads nothing of the org scan; a folder org scan loads no
    PyGithub (only --github-org needs it)."""
    org = make_org(tmp_path / "org", ["payments"])
    script = (
        "import sys\n"
        "from opsgrade.engine.cli import run\n"
        "code = run(sys.argv[1:])\n"
        "heavy = ('opsgrade.engine.org', 'sqlite3', 'multiprocessing', 'github', 'requests')\n"
        "print(code, sorted({m for m in sys.modules if m.startswith(heavy)}))\n"
    )
    env = {**os.environ, "NO_COLOR": "1"}

    def loaded(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env
        )
        return proc.stdout.strip().splitlines()[-1]

    assert loaded(
        "scan", str(org / "payments"), "--format", "json=" + str(tmp_path / "r.json")
    ) in (
        "0 []",
        "1 []",
    )
    out = str(tmp_path / "o")
    folder_scan = loaded("org", "scan", str(org), "--db", str(tmp_path / "db"), "--out", out)
    assert folder_scan.startswith("0 [")
    assert "'github" not in folder_scan and "'requests" not in folder_scan
    assert "'opsgrade.engine.org.runner'" in folder_scan


def test_shard_reports_merge_into_the_single_process_report(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org")
    single = tmp_path / "all"
    assert (
        org_scan(str(org), "--db", str(tmp_path / "all.db"), "--out", str(single)).returncode == 0
    )
    shard_reports = []
    for k in (1, 2, 3):
        out = tmp_path / f"shard{k}"
        args = ("--db", str(tmp_path / f"s{k}.db"), "--out", str(out), "--shard", f"{k}/3")
        assert org_scan(str(org), *args).returncode == 0
        shard_reports.append(out / "report.json")
    names = [{r["name"] for r in json.loads(path.read_bytes())["repos"]} for path in shard_reports]
    assert all(names) and sum(len(n) for n in names) == len(set().union(*names))
    merged = tmp_path / "merged.json"
    merge = [sys.executable, "-m", "opsgrade.engine", "org", "merge", *map(str, shard_reports)]
    proc = subprocess.run(
        [*merge, "--out", str(merged)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    want = json.loads((single / "report.json").read_bytes())
    got = json.loads(merged.read_bytes())
    for report in (want, got):  # the run (id, times, shard) and what is keyed by its id
        del report["run"], report["history"]
        for campaign in report["campaigns"]:
            del campaign["burndown"]
    assert got == want
