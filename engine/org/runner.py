"""The org scan: list, shard, resolve, reuse or scan every repository, record each one.

The parent process owns the source and the store; worker processes only scan. For
each repository the parent resolves its revision, reuses a stored record when the
revision and the scan key are unchanged, or checks it out and hands the folder to an
idle worker. A worker evaluates it in-process with the one PackSet loaded before the
workers started (inherited through fork), reduces the RunResult to a RepoRecord and
sends only that back; the parent commits it at once. So memory stays flat however
many repositories there are, a killed scan loses nothing it recorded, and a worker
that hangs past the per-repository timeout is killed and replaced without stopping
the scan.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from opsgrade.engine import __version__
from opsgrade.engine.config import LoadedConfig, load_config
from opsgrade.engine.errors import OpsgradeError
from opsgrade.engine.org.model import RepoRecord
from opsgrade.engine.org.records import failed_record, record_from_run
from opsgrade.engine.org.sources import FetchError, RepoRef, RepoSource, SourceExhausted
from opsgrade.engine.org.store import Store
from opsgrade.engine.packs import PackSet, PackSource, load_packs
from opsgrade.engine.repoview import open_view
from opsgrade.engine.scan import evaluate_view

if TYPE_CHECKING:  # Windows has no ForkContext
    from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext

# Internal: makes workers log, slow down, hang or raise for named repositories, so
# tests can kill a scan mid-way and exercise the failure paths. JSON, see _Hooks.
TEST_HOOKS_ENV = "OPSGRADE_ORG_TEST_HOOKS"
_STOP_GRACE_S = 2.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Shard(msgspec.Struct, frozen=True):
    """Shard `index` (1-based) of `count`: the repositories whose name hashes to it."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        index, sep, count = text.partition("/")
        if not (sep and index.isdecimal() and count.isdecimal()):
            raise ValueError(f"{text!r} is not K/N (for example 2/8)")
        shard = cls(int(index), int(count))
        if not 1 <= shard.index <= shard.count:
            raise ValueError(f"{text!r}: K must be between 1 and N")
        return shard

    def holds(self, name: str) -> bool:
        return int(hashlib.sha256(name.encode()).hexdigest(), 16) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


class Options(msgspec.Struct, frozen=True, kw_only=True):
    today: dt.date
    jobs: int = 1
    repo_timeout: float = 120.0
    shard: Shard | None = None
    resume: bool = False
    rescan: bool = False  # scan even when a stored record could be reused
    # Threads resolving and checking out ahead of the workers (0: one at a time, when
    # a worker is idle; right for a folder, where checking out costs nothing).
    fetch_threads: int = 0


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    run_id: int
    complete: bool
    resumed: bool
    skipped: int  # already recorded by the run being resumed
    stop_reason: str | None = None  # why an incomplete run stopped


class Events:
    """What the runner tells the CLI while it works (progress, notes)."""

    def started(self, total: int) -> None:
        """`total` repositories are to be scanned or reused in this invocation."""

    def finished(self, record: RepoRecord) -> None:
        """One repository is recorded."""

    def note(self, message: str) -> None:
        """Something a person should know that does not stop the scan."""


def scan_key(packset: PackSet, today: dt.date) -> str:
    """The cache key of a record: the packs, this opsgrade (extractors change results)
    and which `enforce_after` dates have passed (a rule starting to count changes
    levels without any change to the repository)."""
    enforced = sorted(
        r.id for r in packset.rules if r.info.enforce_after and r.info.enforce_after <= today
    )
    text = f"{packset.digest}\0{__version__}\0{','.join(enforced)}"
    return hashlib.sha256(text.encode()).hexdigest()


def load_org_packs(sources: Sequence[PackSource]) -> PackSet:
    """Every repository is evaluated with these packs, whatever its own config picks,
    so levels are comparable across the organization."""
    return load_packs(list(sources))


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the worker side --------------------------------------------------------------------


class _Hooks(msgspec.Struct, frozen=True):
    log: str | None = None  # append each scanned name to this file
    sleep: float = 0.0  # seconds to wait before each scan
    hang: tuple[str, ...] = ()
    fail: tuple[str, ...] = ()


class _Task(msgspec.Struct, frozen=True, array_like=True):
    ref: RepoRef
    path: str


_task_encoder = msgspec.msgpack.Encoder()
_task_decoder = msgspec.msgpack.Decoder(_Task)
_result_decoder = msgspec.msgpack.Decoder(RepoRecord)

# Set in the parent before workers fork, so they inherit the packs instead of loading them.
_inherited: tuple[PackSet, str] | None = None
# The parent's ends of the workers' pipes. A forked worker closes its copies at once:
# held open there, they would keep a worker from seeing the parent die (no EOF).
_parent_ends: list[Connection] = []


def scan_folder(path: Path, ref: RepoRef, packset: PackSet, key: str, today: dt.date) -> RepoRecord:
    """One repository, evaluated with the org's packs; its config still excludes files,
    waives and names, but neither picks packs nor sets a bar (no gate here)."""
    view = open_view(path)
    config = load_config(view)
    if config is not None and config.spec.required_level is not None:
        spec = msgspec.structs.replace(config.spec, required_level=None)
        config = LoadedConfig(spec, config.doc)
    short_name = ref.name.rsplit("/", 1)[-1]  # a descriptor-less service: "repo", not "org/repo"
    run = evaluate_view(view, packset, config, today, name=short_name)
    return msgspec.structs.replace(record_from_run(run, ref), packs_digest=key)


def _scan_safely(
    task: _Task, packset: PackSet, key: str, today: dt.date, hooks: _Hooks
) -> RepoRecord:
    ref = task.ref
    try:
        if hooks.sleep:
            time.sleep(hooks.sleep)
        if ref.name in hooks.hang:
            while True:
                time.sleep(60)
        if ref.name in hooks.fail:
            raise RuntimeError("failure injected by a test")
        record = scan_folder(Path(task.path), ref, packset, key, today)
    except OpsgradeError as exc:  # a bad repo config, an unreadable descriptor...
        record = failed_record(ref, key, str(exc))
    except Exception as exc:  # a bug on this repository's content: record it, go on
        record = failed_record(ref, key, f"internal error: {type(exc).__name__}: {exc}")
    if hooks.log:
        with open(hooks.log, "a", encoding="utf-8") as fh:
            fh.write(ref.name + "\n")
    return record


def _worker_main(
    conn: Connection, parent: int, sources: Sequence[PackSource], today: dt.date
) -> None:
    # Ctrl-C reaches the whole process group: the parent alone decides what it means.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for end in _parent_ends:
        end.close()
    _die_with_parent(parent)
    if _inherited is not None:
        packset, key = _inherited
    else:  # started without fork (threads were running): load the packs once, here
        packset = load_org_packs(sources)
        key = scan_key(packset, today)
    try:
        hooks = msgspec.json.decode(os.environ.get(TEST_HOOKS_ENV) or "{}", type=_Hooks)
    except msgspec.DecodeError:
        hooks = _Hooks()
    encoder = msgspec.msgpack.Encoder()
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):  # the parent is gone (killed): nothing to report to
            return
        if not data:
            return
        record = _scan_safely(_task_decoder.decode(data), packset, key, today, hooks)
        try:
            conn.send_bytes(encoder.encode(record))
        except OSError:
            return


def _die_with_parent(parent: int) -> None:
    """On Linux, have the kernel kill this worker when the parent dies (even by SIGKILL),
    so a worker stuck in a hung scan does not outlive a killed `org scan`."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


# -- the parent side --------------------------------------------------------------------


class _Worker:
    def __init__(self, sources: Sequence[PackSource], today: dt.date) -> None:
        # fork shares the loaded packs for free; with other threads alive (a source's
        # HTTP pool) a forked child could inherit a held lock, so start a clean one
        # (forkserver; spawn where neither exists, as on Windows).
        methods = multiprocessing.get_all_start_methods()
        forking = "fork" in methods and threading.active_count() == 1
        ctx: ForkContext | ForkServerContext | SpawnContext
        if forking:
            ctx = multiprocessing.get_context("fork")
        elif "forkserver" in methods:
            ctx = multiprocessing.get_context("forkserver")
        else:
            ctx = multiprocessing.get_context("spawn")
        parent = os.getpid() if forking else 0  # a forkserver child's parent is the server
        if forking:
            # The parent's objects (the packs above all) move out of the collector's
            # reach: a worker's collections would otherwise touch every inherited
            # object and copy its memory page by page (copy-on-write).
            gc.freeze()
        self.conn, child = ctx.Pipe()
        self.proc: BaseProcess = ctx.Process(
            target=_worker_main, args=(child, parent, tuple(sources), today), daemon=True
        )
        _parent_ends.append(self.conn)
        self.proc.start()
        child.close()  # else the parent's copy would hide the worker's death (no EOF)
        self.ref: RepoRef | None = None
        self.deadline = 0.0
        self.checkout: contextlib.ExitStack | None = None

    def give(
        self, ref: RepoRef, path: Path, checkout: contextlib.ExitStack, timeout: float
    ) -> None:
        self.conn.send_bytes(_task_encoder.encode(_Task(ref, str(path))))
        self.ref, self.checkout = ref, checkout
        self.deadline = time.monotonic() + timeout

    def release(self) -> None:
        """The repository is done: the worker is idle, its checkout removed."""
        if self.checkout is not None:
            self.checkout.close()
        self.ref, self.checkout = None, None

    def stop(self, *, kill: bool) -> None:
        if not kill:
            with contextlib.suppress(OSError):
                self.conn.send_bytes(b"")
            self.proc.join(_STOP_GRACE_S)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        _parent_ends.remove(self.conn)
        self.conn.close()
        if self.checkout is not None:
            self.checkout.close()
            self.checkout = None


class _Ready(NamedTuple):
    ref: RepoRef
    path: Path
    checkout: contextlib.ExitStack  # closing it removes a checkout made for the scan


class _Stopped(NamedTuple):
    reason: str


_Prepared = RepoRecord | _Ready | _Stopped


class _Fetcher:
    """Resolves and checks out repositories on threads, ahead of the workers, for a
    source that waits on the network (GitHub: the scheduler in the source bounds and
    spaces the requests). A finished fetch writes a byte to `wakeup`, which the
    parent waits on together with the workers' pipes."""

    def __init__(self, prepare: Callable[[RepoRef], _Prepared], threads: int) -> None:
        self._prepare = prepare
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="opsgrade-fetch")
        self._lock = threading.Lock()
        self._finished: list[Future[_Prepared]] = []
        self._pending: set[Future[_Prepared]] = set()
        self.wakeup, self._wake_w = os.pipe()
        os.set_blocking(self.wakeup, False)
        os.set_blocking(self._wake_w, False)

    @property
    def held(self) -> int:
        """Fetches running or done but not yet taken."""
        return len(self._pending)

    def submit(self, ref: RepoRef) -> None:
        future = self._pool.submit(self._prepare, ref)
        self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[_Prepared]) -> None:
        with self._lock:
            self._finished.append(future)
        with contextlib.suppress(BlockingIOError, OSError):  # full: a wakeup is pending
            os.write(self._wake_w, b"\0")

    def take(self) -> list[_Prepared]:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.wakeup, 4096):
                pass
        with self._lock:
            finished, self._finished = self._finished, []
        self._pending.difference_update(finished)
        return [f.result() for f in finished if not f.cancelled()]

    def close(self) -> None:
        """Stops fetching; removes the checkouts no worker will scan."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        for prepared in self.take():
            if isinstance(prepared, _Ready):
                prepared.checkout.close()
        os.close(self.wakeup)
        os.close(self._wake_w)


class Runner:
    """One invocation of `opsgrade org scan` over `source` into `store`."""

    def __init__(
        self,
        source: RepoSource,
        store: Store,
        packset: PackSet,
        pack_sources: Sequence[PackSource],
        options: Options,
        events: Events,
    ) -> None:
        self.source = source
        self.store = store
        self.packset = packset
        self.pack_sources = tuple(pack_sources)
        self.options = options
        self.events = events
        self.key = scan_key(packset, options.today)
        self._workers: list[_Worker] = []
        self._stop_reason: str | None = None
        self._listing_cut: str | None = None

    def run(self) -> Outcome:
        from opsgrade.engine.org.report import summarize_rules

        shard = str(self.options.shard) if self.options.shard else None
        run_id = None
        if self.options.resume:
            run_id = self.store.resumable_run(
                source=self.source.label, shard=shard, packs_digest=self.key
            )
            if run_id is None:
                self.events.note("no unfinished run with these packs to resume; starting anew")
        resumed = run_id is not None
        if run_id is None:
            run_id = self.store.start_run(
                source=self.source.label,
                shard=shard,
                packs=self.packset.packs,
                packs_digest=self.key,
                levels=self.packset.levels,
                categories=self.packset.categories,
                rules=summarize_rules({r.id: r.info for r in self.packset.rules}),
                started_at=utc_now(),
            )
        done = self.store.recorded(run_id) if resumed else set()
        if resumed:
            self.events.note(f"resuming run {run_id}: {len(done)} already recorded")
        todo = [ref for ref in self._listed() if ref.name not in done]
        self.events.started(len(todo))
        self._scan_all(run_id, todo)
        if self._stop_reason is None:
            self._stop_reason = self._listing_cut
        complete = self._stop_reason is None
        self.store.finish_run(run_id, complete=complete, finished_at=utc_now())
        return Outcome(
            run_id=run_id,
            complete=complete,
            resumed=resumed,
            skipped=len(done),
            stop_reason=self._stop_reason,
        )

    def _listed(self) -> list[RepoRef]:
        """The source's repositories in this shard, each name once. A listing cut short
        (SourceExhausted) is scanned as far as it got; the run is then incomplete."""
        shard = self.options.shard
        refs: dict[str, RepoRef] = {}
        try:
            for ref in self.source.list_repos():
                if (shard is None or shard.holds(ref.name)) and ref.name not in refs:
                    refs[ref.name] = ref
        except SourceExhausted as exc:
            # Not a stop yet: the repositories listed so far are still scanned.
            self._listing_cut = str(exc)
            self.events.note(f"listing stopped early ({exc}); scanning the {len(refs)} listed")
        return [refs[name] for name in sorted(refs)]

    def _stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
            self.events.note(f"stopping early: {reason}")

    def _record(self, run_id: int, record: RepoRecord) -> None:
        self.store.record(run_id, record)
        self.events.finished(record)

    def _scan_all(self, run_id: int, refs: Sequence[RepoRef]) -> None:
        global _inherited
        todo = deque(refs)
        ready: deque[_Ready] = deque()  # checked out, waiting for an idle worker
        threads = self.options.fetch_threads
        fetcher = _Fetcher(self._prepare, threads) if threads else None
        ahead = max(self.options.jobs, 1) + threads  # checkouts held at most
        _inherited = (self.packset, self.key)
        try:
            while True:
                if fetcher is not None:
                    held = fetcher.held + len(ready) + sum(w.ref is not None for w in self._workers)
                    while todo and self._stop_reason is None and held < ahead:
                        fetcher.submit(todo.popleft())
                        held += 1
                    for prepared in fetcher.take():
                        self._handle(run_id, prepared, ready)
                self._dispatch(run_id, todo if fetcher is None else None, ready)
                busy = [w for w in self._workers if w.ref is not None]
                fetching = fetcher.held if fetcher is not None else 0
                if not busy and not ready and not fetching:
                    if not todo or self._stop_reason is not None:
                        return
                    continue
                self._wait(run_id, busy, fetcher)
        finally:
            _inherited = None
            for worker in self._workers:
                worker.stop(kill=worker.ref is not None)
            self._workers = []
            if fetcher is not None:
                fetcher.close()
            for item in ready:
                item.checkout.close()

    def _handle(self, run_id: int, prepared: _Prepared, ready: deque[_Ready]) -> None:
        if isinstance(prepared, _Ready):
            ready.append(prepared)
        elif isinstance(prepared, _Stopped):
            self._stop(prepared.reason)
        else:
            self._record(run_id, prepared)

    def _dispatch(self, run_id: int, inline: deque[RepoRef] | None, ready: deque[_Ready]) -> None:
        """Give every idle worker a checked-out repository. Without fetch threads the
        next repository is prepared here, only once a worker is idle to take it."""
        while True:
            worker = self._idle_worker()
            if worker is None:
                return
            if not ready:
                if not inline or self._stop_reason is not None:
                    return
                self._handle(run_id, self._prepare(inline.popleft()), ready)
                continue
            item = ready.popleft()
            try:
                worker.give(item.ref, item.path, item.checkout, self.options.repo_timeout)
            except OSError:  # the worker died while idle: replace it, retry the repository
                self._replace(worker)
                ready.appendleft(item)

    def _idle_worker(self) -> _Worker | None:
        for worker in self._workers:
            if worker.ref is None:
                return worker
        if len(self._workers) < max(self.options.jobs, 1):
            worker = _Worker(self.pack_sources, self.options.today)
            self._workers.append(worker)
            return worker
        return None

    def _prepare(self, ref: RepoRef) -> _Prepared:
        """A record needing no scan (reused, or failed to fetch), the checked-out folder
        to scan, or the reason the source gave out (the repository stays unrecorded).
        Runs on the fetch threads: it only reads the source and the store."""
        try:
            ref = self.source.resolve(ref)
            if ref.revision and not self.options.rescan:
                stored = self.store.reusable(ref.name, ref.revision, self.key)
                if stored is not None:
                    return msgspec.structs.replace(stored, status="reused", url=ref.url)
            checkout = contextlib.ExitStack()
            try:
                path = checkout.enter_context(self.source.checkout(ref))
            except BaseException:
                checkout.close()
                raise
            return _Ready(ref, path, checkout)
        except FetchError as exc:
            return failed_record(ref, self.key, str(exc))
        except SourceExhausted as exc:
            return _Stopped(str(exc))
        except Exception as exc:  # a source's bug on this repository: record it, go on
            reason = f"internal error while fetching: {type(exc).__name__}: {exc}"
            return failed_record(ref, self.key, reason)

    def _wait(self, run_id: int, busy: Sequence[_Worker], fetcher: _Fetcher | None) -> None:
        """Waits for a result, a worker's deadline or a finished fetch; records results."""
        timeout = None
        if busy:
            timeout = max(min(w.deadline for w in busy) - time.monotonic(), 0.0)
        waitables: list[Any] = [w.conn for w in busy] + [w.proc.sentinel for w in busy]
        if fetcher is not None:
            waitables.append(fetcher.wakeup)
        ready = set(wait(waitables, timeout))
        now = time.monotonic()
        for worker in busy:
            if worker.conn in ready or worker.proc.sentinel in ready:
                self._receive(run_id, worker)
            elif now >= worker.deadline:
                ref = worker.ref
                assert ref is not None
                self._replace(worker)  # kills it first, then drops its checkout
                reason = f"timed out after {self.options.repo_timeout:g} s; the scan was stopped"
                self._record(run_id, failed_record(ref, self.key, reason))

    def _receive(self, run_id: int, worker: _Worker) -> None:
        try:
            if not worker.conn.poll():
                raise EOFError
            record = _result_decoder.decode(worker.conn.recv_bytes())
        except (EOFError, OSError):
            worker.proc.join(_STOP_GRACE_S)
            code = worker.proc.exitcode
            ref = worker.ref
            assert ref is not None
            self._replace(worker)
            how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
            reason = f"the scanning process died ({how})"
            self._record(run_id, failed_record(ref, self.key, reason))
            return
        worker.release()
        self._record(run_id, record)

    def _replace(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        self._workers[self._workers.index(worker)] = _Worker(self.pack_sources, self.options.today)


def hooks_env(
    *,
    log: str | None = None,
    sleep: float = 0.0,
    hang: Iterable[str] = (),
    fail: Iterable[str] = (),
) -> str:
    """The TEST_HOOKS_ENV value for tests."""
    return json.dumps({"log": log, "sleep": sleep, "hang": list(hang), "fail": list(fail)})
