"""`opsgrade org scan`: parses the options, builds the source, runs the runner, writes
the report. Exit 0 when the run completed (failed repositories are recorded, not
fatal), 1 when it stopped early (the source gave out: resume it later), 2 for usage
and configuration errors, 130 when interrupted (the run stays resumable)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import click

from opsgrade.engine.cli import pack_option, today_option
from opsgrade.engine.errors import ConfigError, ExitCode
from opsgrade.engine.org.model import RepoRecord
from opsgrade.engine.org.progress import Progress
from opsgrade.engine.org.runner import Events, Options, Runner, Shard, load_org_packs
from opsgrade.engine.org.sources import RepoSource

MAX_JOBS = 64


def _parse_shard(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Shard | None:
    if value is None:
        return None
    try:
        return Shard.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


class _CliEvents(Events):
    """Progress and notes on stderr."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.progress: Progress | None = None

    def started(self, total: int) -> None:
        self.progress = Progress(total, self.stream)

    def finished(self, record: RepoRecord) -> None:
        if self.progress is not None:
            self.progress.advance(record.status)

    def note(self, message: str) -> None:
        line = f"opsgrade: note: {message}"
        if self.progress is not None:
            self.progress.message(line)
        else:
            self.stream.write(line + "\n")
            self.stream.flush()


_FETCH_THREADS = 4  # GitHubOrgSource's default request concurrency
_GITHUB_ONLY = {
    "include_archived": "--include-archived",
    "include_forks": "--include-forks",
    "topics": "--topic",
    "repo_globs": "--repo-glob",
}


@click.command("scan")
@click.argument(
    "folder", required=False, type=click.Path(file_okay=False, path_type=Path), metavar="[FOLDER]"
)
@click.option("--github-org", metavar="NAME", help="Scan a GitHub organization (GITHUB_TOKEN).")
@click.option("--include-archived", is_flag=True, help="GitHub: also archived repositories.")
@click.option("--include-forks", is_flag=True, help="GitHub: also forks.")
@click.option(
    "--topic", "topics", multiple=True, metavar="T", help="GitHub: only repositories with topic T."
)
@click.option(
    "--repo-glob",
    "repo_globs",
    multiple=True,
    metavar="G",
    help="GitHub: only repositories whose name matches G.",
)
@click.option(
    "--db",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The results database (SQLite), created when missing.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for report.json, report.csv and index.html.",
)
@click.option("--shard", callback=_parse_shard, metavar="K/N", help="Only shard K (1-based) of N.")
@click.option("--resume", is_flag=True, help="Continue the last unfinished run of this scan.")
@click.option("--rescan", is_flag=True, help="Scan unchanged repositories too (no reuse).")
@click.option(
    "--jobs",
    # Each worker holds the packs and parsers (~35 MB); more than a few per core only
    # adds memory and context switches.
    type=click.IntRange(min=1, max=MAX_JOBS),
    metavar="N",
    default=lambda: os.cpu_count() or 1,
    show_default="CPU count",
    help=f"Repositories scanned in parallel (at most {MAX_JOBS}).",
)
@click.option(
    "--repo-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="A repository's scan is stopped and recorded as failed after this long.",
)
@pack_option
@today_option
def scan(
    folder: Path | None,
    github_org: str | None,
    include_archived: bool,
    include_forks: bool,
    topics: tuple[str, ...],
    repo_globs: tuple[str, ...],
    db: Path,
    out: Path,
    shard: Shard | None,
    resume: bool,
    rescan: bool,
    jobs: int,
    repo_timeout: float,
    packs: tuple[str, ...],
    today: dt.date | None,
) -> int:
    """Scan every repository in FOLDER (one sub-folder each) or a GitHub organization,
    record each one in --db as it finishes, and write the report to --out.

    Exit status: 0 the run completed (repositories that failed are recorded in it),
    1 it stopped early (rate limit, API outage: run again with --resume),
    2 usage or configuration error, 130 interrupted (resumable).
    """
    from opsgrade.engine.org.report import stream_from_store, write_report_dir
    from opsgrade.engine.org.store import Store
    from opsgrade.engine.packs import PackSource, builtin_names, cli_source

    ctx = click.get_current_context()
    if (folder is None) == (github_org is None):
        raise click.UsageError("give either a FOLDER or --github-org NAME")
    if folder is not None:
        given = [flag for name, flag in _GITHUB_ONLY.items() if ctx.params[name]]
        if given:
            raise click.UsageError(f"{', '.join(given)}: only with --github-org")
    sources = (
        [cli_source(p) for p in packs]
        if packs
        else [PackSource("builtin", name) for name in builtin_names()]
    )
    packset = load_org_packs(sources)
    try:  # before the scan, not after it: a typo in --out should not cost a whole run
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the folder: {exc.strerror}") from None
    source = _source(folder, github_org, include_archived, include_forks, topics, repo_globs)
    options = Options(
        today=today or dt.date.today(),
        jobs=jobs,
        repo_timeout=repo_timeout,
        shard=shard,
        resume=resume,
        rescan=rescan,
        # GitHub: fetch archives while the workers scan (the source spaces the requests).
        fetch_threads=0 if folder is not None else _FETCH_THREADS,
    )
    events = _CliEvents(sys.stderr)
    with Store(db) as store:
        try:
            outcome = Runner(source, store, packset, sources, options, events).run()
        except KeyboardInterrupt:
            if events.progress is not None:
                events.progress.finish()
            raise
        for note in getattr(source, "notes", ()):
            events.note(note)
        if events.progress is not None:
            events.progress.finish()
        write_report_dir(stream_from_store(store, outcome.run_id), out)
    click.echo(f"report: {out / 'index.html'}", err=True)
    if not outcome.complete:
        click.echo(
            f"opsgrade: the run stopped early ({outcome.stop_reason}); "
            "run the same command with --resume to finish it",
            err=True,
        )
        return int(ExitCode.GATE_FAILED)
    return int(ExitCode.PASSED)


def _source(
    folder: Path | None,
    github_org: str | None,
    include_archived: bool,
    include_forks: bool,
    topics: Sequence[str],
    repo_globs: Sequence[str],
) -> RepoSource:
    if folder is not None:
        from opsgrade.engine.org.local import FolderSource

        return FolderSource(folder)
    assert github_org is not None
    try:
        from opsgrade.engine.github.orgsource import GitHubOrgSource
    except ImportError as exc:
        raise ConfigError(f"the GitHub source is not available: {exc}") from None
    return GitHubOrgSource(
        github_org,
        token=os.environ.get("GITHUB_TOKEN") or None,
        base_url=os.environ.get("GITHUB_API_URL") or None,
        include_archived=include_archived,
        include_forks=include_forks,
        topics=topics,
        name_globs=repo_globs,
    )
