"""The org scan's results store: one SQLite file holding every run and its records.

One scan is one run; each repository's RepoRecord is committed the moment it is
recorded, so a killed scan loses nothing already done and `--resume` repeats nothing
(WAL journal: a commit is in the log before `record` returns, and a SIGKILL of the
process cannot take it back; `synchronous=NORMAL` only risks the last commits on a
power loss, which a resumed scan redoes). A finished run keeps its RunDigest, the
small summary later reports draw trends, burndowns and "changes" from.

Records are stored as msgspec-JSON blobs beside the few columns the queries need, and
decoded one at a time while a report streams over them.

The layout is versioned (`schema_version` table) and migrated forward on open: a later
opsgrade appends a migration to `MIGRATIONS`, never edits an existing one. A file that
is not SQLite, not ours, or from a newer opsgrade is a ConfigError naming the path.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import msgspec

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import PackInfo
from opsgrade.engine.org.model import RepoRecord, RuleSummary, RunDigest, RunInfo
from opsgrade.engine.org.report import digest

# Each migration is a list of statements, applied in one transaction. Append only.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source TEXT NOT NULL,
            shard TEXT,
            packs TEXT NOT NULL,
            packs_digest TEXT NOT NULL,
            levels TEXT NOT NULL,
            categories TEXT NOT NULL,
            rules BLOB NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            complete INTEGER NOT NULL DEFAULT 0,
            digest BLOB,
            service_levels BLOB
        )""",
        """CREATE TABLE records (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            name TEXT NOT NULL,
            status TEXT NOT NULL,
            revision TEXT,
            packs_digest TEXT NOT NULL,
            error TEXT,
            record BLOB NOT NULL,
            UNIQUE (run_id, name)
        )""",
        # reusable(): the latest successful record of a name at a revision and digest.
        """CREATE INDEX records_reuse ON records (name, revision, packs_digest, id)
            WHERE status <> 'failed'""",
        "CREATE INDEX runs_key ON runs (source, packs_digest, id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_BATCH = 256  # rows fetched at a time while streaming records
_MAX_ID = 2**63 - 1  # SQLite's largest row id

_rules_decoder = msgspec.json.Decoder(dict[str, RuleSummary])
_packs_decoder = msgspec.json.Decoder(tuple[PackInfo, ...])
_names_decoder = msgspec.json.Decoder(tuple[str, ...])
_record_decoder = msgspec.json.Decoder(RepoRecord)
_digest_decoder = msgspec.json.Decoder(RunDigest)
_levels_decoder = msgspec.json.Decoder(dict[str, str | None])
_encoder = msgspec.json.Encoder(order="sorted")


class Store:
    """The results database at `path` (created with its parent folder when missing).

    Safe to share between the threads of one process (one connection, one lock); one
    process writes at a time (another waits up to 30 s for the write lock).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if self.path.is_dir():
            raise ConfigError(f"{self.path}: is a folder, not a results database")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot create its folder: {exc.strerror}") from exc
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except sqlite3.Error as exc:
            raise self._bad(exc) from exc
        try:
            with self._guard():
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
        except BaseException:
            self._db.close()
            raise

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------

    def start_run(
        self,
        *,
        source: str,
        shard: str | None,
        packs: Sequence[PackInfo],
        packs_digest: str,
        levels: Sequence[str],
        categories: Sequence[str],
        rules: Mapping[str, RuleSummary],
        started_at: str,
    ) -> int:
        with self._guard():
            cursor = self._db.execute(
                "INSERT INTO runs (source, shard, packs, packs_digest, levels, categories,"
                " rules, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    source,
                    shard,
                    _encoder.encode(tuple(packs)).decode(),
                    packs_digest,
                    _encoder.encode(tuple(levels)).decode(),
                    _encoder.encode(tuple(categories)).decode(),
                    _encoder.encode(dict(rules)),
                    started_at,
                ),
            )
            run_id = cursor.lastrowid
        assert run_id is not None  # an INSERT into a rowid table always sets it
        return run_id

    def resumable_run(self, *, source: str, shard: str | None, packs_digest: str) -> int | None:
        """The latest run with this key, when it did not complete (killed before it
        finished, or finished incomplete after a rate-limit stop); None otherwise."""
        with self._guard():
            row = self._db.execute(
                "SELECT id, complete FROM runs WHERE source = ? AND shard IS ?"
                " AND packs_digest = ? ORDER BY id DESC LIMIT 1",
                (source, shard, packs_digest),
            ).fetchone()
        if row is None or row[1]:
            return None
        return int(row[0])

    def finish_run(self, run_id: int, *, complete: bool, finished_at: str) -> RunDigest:
        """Marks the run finished and stores its digest (recomputed when a resumed run
        finishes again)."""
        with self._guard():
            self._row(run_id)
            self._db.execute(
                "UPDATE runs SET finished_at = ?, complete = ? WHERE id = ?",
                (finished_at, int(complete), run_id),
            )
            run = self.run_info(run_id)
            _, _, rules = self.run_meta(run_id)
            result = digest(run, rules, self.records(run_id))
            # The per-service levels, by far the largest part, apart: a long history of
            # digests then loads without them (see `digests`).
            self._db.execute(
                "UPDATE runs SET digest = ?, service_levels = ? WHERE id = ?",
                (
                    _encoder.encode(msgspec.structs.replace(result, service_levels={})),
                    _encoder.encode(result.service_levels),
                    run_id,
                ),
            )
        return result

    def run_info(self, run_id: int) -> RunInfo:
        row = self._row(run_id)
        return RunInfo(
            id=int(row["id"]),
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            source=row["source"],
            shard=row["shard"],
            packs=_packs_decoder.decode(row["packs"]),
            packs_digest=row["packs_digest"],
            complete=bool(row["complete"]),
        )

    def latest_run(self) -> int | None:
        with self._guard():
            row = self._db.execute("SELECT max(id) FROM runs").fetchone()
        return None if row[0] is None else int(row[0])

    def run_meta(
        self, run_id: int
    ) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, RuleSummary]]:
        """The run's levels, categories and rules: what its records were evaluated with."""
        row = self._row(run_id)
        return (
            _names_decoder.decode(row["levels"]),
            _names_decoder.decode(row["categories"]),
            _rules_decoder.decode(row["rules"]),
        )

    def digests(self, up_to_run: int) -> list[RunDigest]:
        """The digests of finished runs up to and including `up_to_run`, oldest first.

        Only the last complete one carries its `service_levels` (what "changes" compare
        with); the others have an empty mapping, so that a year of nightly runs of a large
        org loads in megabytes, not gigabytes.
        """
        with self._guard():
            rows = self._db.execute(
                "SELECT id, digest FROM runs WHERE id <= ? AND digest IS NOT NULL ORDER BY id",
                (up_to_run,),
            ).fetchall()
        found = [_digest_decoder.decode(row[1]) for row in rows]
        complete = [i for i, d in enumerate(found) if d.complete]
        if complete:
            last = found[complete[-1]]
            with self._guard():
                row = self._db.execute(
                    "SELECT service_levels FROM runs WHERE id = ?", (last.run,)
                ).fetchone()
            levels = _levels_decoder.decode(row[0])
            found[complete[-1]] = msgspec.structs.replace(last, service_levels=levels)
        return found

    # -- records -------------------------------------------------------------------------

    def recorded(self, run_id: int) -> set[str]:
        """Names already committed in this run: what a resumed scan skips."""
        with self._guard():
            rows = self._db.execute("SELECT name FROM records WHERE run_id = ?", (run_id,))
            return {row[0] for row in rows}

    def record(self, run_id: int, rec: RepoRecord) -> None:
        """Commits one repository's record now. Recording a name twice in one run is a
        ValueError: it would mean the runner scanned a repository twice."""
        try:
            with self._guard():
                self._db.execute(
                    "INSERT INTO records (run_id, name, status, revision, packs_digest, error,"
                    " record) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        rec.name,
                        rec.status,
                        rec.revision,
                        rec.packs_digest,
                        rec.error,
                        _encoder.encode(rec),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise ValueError(f"{rec.name} is already recorded in run {run_id}") from exc
            raise ValueError(f"no run {run_id} in {self.path}") from exc

    def reusable(self, name: str, revision: str, packs_digest: str) -> RepoRecord | None:
        """The latest successful record of `name` at `revision` scanned with the same
        packs, from any run: the scan copies it instead of fetching the repository."""
        with self._guard():
            row = self._db.execute(
                "SELECT record FROM records WHERE name = ? AND revision = ?"
                " AND packs_digest = ? AND status <> 'failed' ORDER BY id DESC LIMIT 1",
                (name, revision, packs_digest),
            ).fetchone()
        return None if row is None else _record_decoder.decode(row[0])

    def last_record(self, run_id: int) -> int:
        """The row id of the run's latest record (0 when none): `records(up_to=...)`
        then reads the run as it stood, while a scan may still be adding to it."""
        with self._guard():
            row = self._db.execute(
                "SELECT max(id) FROM records WHERE run_id = ?", (run_id,)
            ).fetchone()
        return 0 if row[0] is None else int(row[0])

    def records(self, run_id: int, *, up_to: int | None = None) -> Iterator[RepoRecord]:
        """The run's records sorted by name, decoded one at a time; with `up_to`, only
        those recorded up to that row id (records are only ever added, never changed)."""
        with self._guard():
            cursor = self._db.execute(
                "SELECT record FROM records WHERE run_id = ? AND id <= ? ORDER BY name",
                (run_id, _MAX_ID if up_to is None else up_to),
            )
        while True:
            with self._guard():
                rows = cursor.fetchmany(_BATCH)
            if not rows:
                return
            for row in rows:
                yield _record_decoder.decode(row[0])

    # -- internals -----------------------------------------------------------------------

    def _row(self, run_id: int) -> sqlite3.Row:
        with self._guard():
            cursor = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
            cursor.row_factory = sqlite3.Row
            row: sqlite3.Row | None = cursor.fetchone()
        if row is None:
            raise ConfigError(f"{self.path}: no run {run_id}")
        return row

    def _migrate(self) -> None:
        version = self._version()
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{self.path}: written by a newer opsgrade (store schema {version}, "
                f"this one knows {SCHEMA_VERSION})"
            )
        if version == SCHEMA_VERSION:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self._version()  # another process may have migrated meanwhile
            if version == 0:
                self._db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                self._db.execute("INSERT INTO schema_version VALUES (0)")
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    self._db.execute(statement)
            self._db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _version(self) -> int:
        tables = {
            row[0]
            for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if "schema_version" not in tables:
            if tables - {"sqlite_sequence"}:
                raise ConfigError(f"{self.path}: an SQLite file, but not an opsgrade results store")
            return 0
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        if row is None or not isinstance(row[0], int):
            raise ConfigError(f"{self.path}: an opsgrade results store with no schema version")
        return row[0]

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Holds the connection's lock; a damaged file becomes a ConfigError naming it."""
        with self._lock:
            try:
                yield
            except sqlite3.IntegrityError:
                raise
            except sqlite3.DatabaseError as exc:
                raise self._bad(exc) from exc

    def _bad(self, exc: sqlite3.Error) -> ConfigError:
        return ConfigError(f"{self.path}: not a usable opsgrade results store ({exc})")
