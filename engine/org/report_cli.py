"""`opsgrade org report` (a stored run → report files) and `opsgrade org merge` (shard
reports → one report, optionally stored so trends accumulate). docs/org-report.md.

A stored run's files stream its records from the store while they are written, so the
store stays open until they are; merged shard reports are loaded whole."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from opsgrade.engine.errors import ConfigError, ExitCode
from opsgrade.engine.org import report as org_report
from opsgrade.engine.org.model import OrgReport

if TYPE_CHECKING:
    from opsgrade.engine.org.store import Store

_DB = click.Path(path_type=Path, dir_okay=False)
_DIR = click.Path(path_type=Path, file_okay=False)


@click.command("report")
@click.option("--db", "db", type=_DB, required=True, help="The results store of `org scan`.")
@click.option("--out", "out", type=_DIR, required=True, help="Folder for the report files.")
@click.option("--run", "run_id", type=click.IntRange(min=1), help="Run id (default: the latest).")
def report(db: Path, out: Path, run_id: int | None) -> int:
    """Write report.json, report.csv and index.html for a stored run."""
    from opsgrade.engine.org.store import Store

    if not db.is_file():
        raise ConfigError(f"{db}: no such results store")
    with Store(db) as store:
        run_id = run_id if run_id is not None else store.latest_run()
        if run_id is None:
            raise ConfigError(f"{db}: holds no run yet")
        built = org_report.stream_from_store(store, run_id)
        org_report.write_report_dir(built, out)
    _summarize(built.head, out)
    return int(ExitCode.PASSED)


@click.command("merge")
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", type=_DB, required=True, help="The merged report.json to write.")
@click.option("--db", "db", type=_DB, help="Store the merged run here, for trends and burndowns.")
@click.option("--html", "html", type=_DIR, help="Also write the whole report folder here.")
def merge(shards: tuple[Path, ...], out: Path, db: Path | None, html: Path | None) -> int:
    """Combine shard reports (`org scan --shard K/N`) into one report."""
    reports = [org_report.load_report(path) for path in shards]
    merged = org_report.merge(reports, labels=[str(path) for path in shards])
    missing = org_report.missing_shards(reports)
    if missing:
        click.echo(
            f"opsgrade: warning: shard(s) {', '.join(missing)} missing; the merged report "
            "covers part of the organization and is marked incomplete",
            err=True,
        )
    if db is None:
        return _write_merged(org_report.ReportStream.of(merged), out, html)
    from opsgrade.engine.org.store import Store

    with Store(db) as store:
        # Rebuilt from the store, so its trends and changes include the runs stored before.
        run_id = _store_merged(store, merged)
        return _write_merged(org_report.stream_from_store(store, run_id), out, html)


def _write_merged(merged: org_report.ReportStream, out: Path, html: Path | None) -> int:
    org_report.write_json(merged, out)
    if html is not None:
        org_report.write_report_dir(merged, html)
    _summarize(merged.head, out)
    return int(ExitCode.PASSED)


def _store_merged(store: Store, merged: OrgReport) -> int:
    """Records the merged run as one run of the store; its id."""
    run = merged.run
    run_id = store.start_run(
        source=run.source,
        shard=None,
        packs=run.packs,
        packs_digest=run.packs_digest,
        levels=merged.levels,
        categories=merged.categories,
        rules=merged.rules,
        started_at=run.started_at,
    )
    for rec in merged.repos:
        store.record(run_id, rec)
    if run.finished_at is None:  # a shard was cut short: the merge finishes the run
        from opsgrade.engine.org.runner import utc_now

        finished_at = utc_now()
    else:
        finished_at = run.finished_at
    store.finish_run(run_id, complete=run.complete, finished_at=finished_at)
    return run_id


def _summarize(built: OrgReport, where: Path) -> None:
    s = built.summary
    click.echo(
        f"wrote {where}: run {built.run.id}, {s.repos} repositories "
        f"({s.scanned} scanned, {s.reused} reused, {s.failed} failed), {s.services} services"
    )
