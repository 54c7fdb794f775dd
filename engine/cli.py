"""The `opsgrade` command: parses arguments and calls the engine. One error boundary."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from opsgrade.engine import __version__
from opsgrade.engine.errors import ConfigError, ExitCode, OpsgradeError
from opsgrade.engine.lazycli import LazyGroup
from opsgrade.reporters import REPORTERS

if TYPE_CHECKING:
    from opsgrade.engine.gate import FailOn
    from opsgrade.engine.model import RunResult


def _parse_format(
    _ctx: click.Context, _param: click.Parameter, values: Sequence[str]
) -> list[tuple[str, str | None]]:
    parsed: list[tuple[str, str | None]] = []
    for value in values:
        name, sep, target = value.partition("=")
        if name not in REPORTERS:
            raise click.BadParameter(f"unknown format {name!r}; choose from {', '.join(REPORTERS)}")
        if sep and not target:
            raise click.BadParameter(f"{value!r}: give a file after '='")
        parsed.append((name, target or None))
    stdout_targets = [n for n, t in parsed if t is None]
    if len(stdout_targets) > 1:
        raise click.BadParameter(
            "only one format can go to stdout; give the others a file (NAME=FILE)"
        )
    return parsed


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _use_color(stream: Any) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


pack_option = click.option(
    "--pack",
    "packs",
    multiple=True,
    metavar="REF",
    help="A pack file path, a built-in or installed pack's name, or a git URL"
    " (git+https://HOST/REPO@REF#path=FILE). Repeatable.",
)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    lazy={
        "org": "opsgrade.engine.org.cli:org",
        "action": "opsgrade.engine.github.action:action",
    },
)
@click.version_option(__version__, prog_name="opsgrade")
def cli() -> None:
    """Service-readiness scorecards as code."""


path_argument = click.argument(
    "path", default=".", type=click.Path(file_okay=False, path_type=Path)
)
format_option = click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="FMT[=FILE]",
    callback=_parse_format,
    help=f"Output format ({', '.join(REPORTERS)}), to stdout or FILE. Repeatable."
    " Default: text, or github inside GitHub Actions.",
)
fail_below_option = click.option(
    "--fail-below", metavar="LEVEL", help="Exit 1 when a service is below LEVEL."
)
fail_on_option = click.option(
    "--fail-on",
    type=click.Choice(["regression", "any", "none"]),
    default="regression",
    show_default=True,
    help="With a base: exit 1 on level drops and new failures, on any failure, or never.",
)
today_option = click.option(
    "--today",
    metavar="YYYY-MM-DD",
    callback=_parse_date,
    help="Evaluate as of this date (enforce_after, waiver expiry). Default: today.",
)


def _finish(
    run: RunResult,
    formats: list[tuple[str, str | None]],
    fail_below: str | None,
    fail_on: FailOn | None,
) -> int:
    """Render, write, and turn the run into the gate's exit code."""
    from opsgrade.engine import gate
    from opsgrade.engine.output import write_outputs

    level = gate.required_level(run, fail_below)
    verdict = gate.judge(run, level, fail_on, level_bar=fail_below is not None)
    color = _use_color(sys.stdout)
    write_outputs(run, formats or _default_formats(), level, verdict, color=color)
    return int(verdict.code)


def _default_formats() -> list[tuple[str, str | None]]:
    """Without --format: annotations inside GitHub Actions (as yamllint does), else text."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return [("github", None)]
    return [("text", None)]


@cli.command()
@path_argument
@pack_option
@click.option("--rev", metavar="REV", help="Scan a git revision instead of the work tree.")
@format_option
@fail_below_option
@click.option(
    "--baseline",
    metavar="FILE",
    help="Compare with a saved `--format json` result and gate on regressions.",
)
@fail_on_option
@today_option
def scan(
    path: Path,
    packs: tuple[str, ...],
    rev: str | None,
    formats: list[tuple[str, str | None]],
    fail_below: str | None,
    baseline: str | None,
    fail_on: FailOn,
    today: dt.date | None,
) -> int:
    """Scan the repository at PATH and give every service its level."""
    from opsgrade.engine.packs import cli_source
    from opsgrade.engine.scan import ScanRequest
    from opsgrade.engine.scan import scan as run_scan

    request = ScanRequest(path=path, rev=rev, packs=[cli_source(p) for p in packs], today=today)
    run = run_scan(request)
    if baseline is None:
        return _finish(run, formats, fail_below, None)
    from msgspec.structs import replace

    from opsgrade.engine.diff import compare, load_baseline

    comparison = compare(load_baseline(baseline), run, baseline)
    return _finish(replace(run, comparison=comparison), formats, fail_below, fail_on)


@cli.command()
@path_argument
@click.option("--base", required=True, metavar="REV", help="The revision to compare with.")
@click.option("--head", metavar="REV", help="The revision to judge (default: the work tree).")
@pack_option
@format_option
@click.option("--fail-below", metavar="LEVEL", help="Also exit 1 when a service is below LEVEL.")
@fail_on_option
@today_option
def diff(
    path: Path,
    base: str,
    head: str | None,
    packs: tuple[str, ...],
    formats: list[tuple[str, str | None]],
    fail_below: str | None,
    fail_on: FailOn,
    today: dt.date | None,
) -> int:
    """Compare two revisions with the same packs; gate on regressions.

    The packs, the repo config and local packs come from the BASE revision, so a change
    cannot weaken the gate that judges it. Nothing is checked out: both sides are read
    from git (the head may be the work tree).
    """
    from opsgrade.engine.diff import diff_revisions
    from opsgrade.engine.packs import cli_source

    sources = [cli_source(p) for p in packs]
    run = diff_revisions(path, base, head, sources, today or dt.date.today())
    return _finish(run, formats, fail_below, fail_on)


@cli.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path))
@pack_option
def validate(path: Path, packs: tuple[str, ...]) -> int:
    """Validate descriptors, the repo config and local packs under PATH."""
    from opsgrade.engine.validate import validate_repository

    problems, checked = validate_repository(path, packs)
    for problem in problems:
        click.echo(f"{problem}", err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {checked} file(s)", err=True)
        return int(ExitCode.USAGE)
    click.echo(f"{checked} file(s) valid")
    return int(ExitCode.PASSED)


@cli.group()
def rules() -> None:
    """List and explain rules."""


@rules.command("list")
@pack_option
def rules_list(packs: tuple[str, ...]) -> int:
    """List the rules of the selected packs (default: every built-in pack)."""
    from opsgrade.engine.catalog import format_rule_table, load_selected

    click.echo(format_rule_table(load_selected(packs)), nl=False)
    return 0


@rules.command("explain")
@click.argument("rule_id")
@pack_option
def rules_explain(rule_id: str, packs: tuple[str, ...]) -> int:
    """Show a rule's metadata and help."""
    from opsgrade.engine.catalog import explain, load_selected

    click.echo(explain(load_selected(packs), rule_id), nl=False)
    return 0


@cli.group("packs")
def packs_group() -> None:
    """Rule packs."""


@packs_group.command("list")
@path_argument
def packs_list(path: Path) -> int:
    """List the built-in and installed packs, and git packs locked at PATH or cached."""
    from opsgrade.engine.catalog import format_pack_table

    problems: list[ConfigError] = []
    click.echo(format_pack_table(path, problems), nl=False)
    for problem in problems:  # listed anyway; the exit code says something is wrong
        click.echo(f"opsgrade: error: {problem}", err=True)
    return int(ExitCode.USAGE if problems else ExitCode.PASSED)


@packs_group.command("update")
@path_argument
@pack_option
def packs_update(path: Path, packs: tuple[str, ...]) -> int:
    """Resolve the packs a scan of PATH uses (git refs afresh) and write PATH/opsgrade.lock."""
    from opsgrade.engine.catalog import format_lock, update_lock

    written, lock, changed = update_lock(path, packs)
    click.echo(format_lock(lock), nl=False)
    click.echo(f"wrote {written}" if changed else f"{written} is up to date")
    return 0


@packs_group.command("test")
@click.argument("ref", metavar="PATH")
def packs_test(ref: str) -> int:
    """Run the cases of a pack file, a folder of packs, or a named pack (NAME.tests.yml
    beside each pack); show failing cases with a diff of expected and actual results."""
    from opsgrade.engine import packtest

    sources = packtest.sources_for(ref)
    suites = [packtest.load_pack_tests(source) for source in sources]  # all valid, first
    failed = 0
    for tests in suites:
        outcomes = packtest.run_pack_tests(tests)
        failed += sum(1 for o in outcomes if not o.passed)
        for line in packtest.failure_report(outcomes):
            click.echo(line)
        prefix = f"{tests.pack.label}: " if len(suites) > 1 else ""
        click.echo(prefix + packtest.summarize(outcomes))
    return int(ExitCode.GATE_FAILED if failed else ExitCode.PASSED)


@packs_group.command("docs")
@click.argument("ref", metavar="PATH")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one page per pack and index.md into DIR (default: the pages to stdout).",
)
def packs_docs(ref: str, out: Path | None) -> int:
    """Render Markdown docs for every rule of a pack file, a folder of packs, or a named pack."""
    from opsgrade.engine import docgen, packtest

    index, docs = docgen.render_docs(packtest.sources_for(ref), "opsgrade packs docs")
    if out is None:
        click.echo("\n".join(doc.page for doc in docs), nl=False)
        return int(ExitCode.PASSED)
    files = {out / docgen.INDEX_NAME: index} | {out / f"{d.name}.md": d.page for d in docs}
    try:
        docgen.write_files(files)
    except OSError as exc:
        raise ConfigError(f"cannot write to {out}: {exc.strerror}") from None
    click.echo(f"{len(docs)} pack page(s) and {docgen.INDEX_NAME} in {out}")
    return int(ExitCode.PASSED)


@packs_group.command("lint")
@click.argument("ref", metavar="PATH")
def packs_lint(ref: str) -> int:
    """Check a pack file, a folder of packs, or a named pack; list every problem (exit 2)."""
    from opsgrade.engine import packlint, packtest

    results = packlint.lint(packtest.sources_for(ref))
    problems = [p for r in results for p in r.problems]
    for problem in problems:
        click.echo(str(problem), err=True)
    rules = sum(r.rules for r in results)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {len(results)} pack(s)", err=True)
        return int(ExitCode.USAGE)
    click.echo(f"{len(results)} pack(s), {rules} rule(s): no problems")
    return int(ExitCode.PASSED)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point for callers in Python: exits through SystemExit."""
    sys.exit(run(argv))


def entry() -> None:
    """The `opsgrade` command: `run`, then leave without interpreter teardown.

    Everything the command writes is flushed and closed by then (reports are written
    with `with` blocks, stdout and stderr are flushed here), so the seconds' worth of
    module and object teardown Python would do is pure cost: 13 ms on a typical scan,
    20 ms once Jinja2 is loaded for the PR comment.
    """
    code = run(None)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to flush to
            stream.flush()
    os._exit(code)


def run(argv: Sequence[str] | None = None) -> int:
    """Maps every failure to one line on stderr and an exit code."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        code = ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        code = ExitCode.INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        code = ExitCode.USAGE
    except ConfigError as exc:
        click.echo(f"opsgrade: error: {exc}", err=True)
        code = exc.exit_code
    except OpsgradeError as exc:
        click.echo(f"opsgrade: error: {exc}", err=True)
        code = exc.exit_code
    except BrokenPipeError:
        code = ExitCode.PASSED
    except Exception:
        import traceback

        traceback.print_exc()
        click.echo("opsgrade: internal error; please report it with the traceback above", err=True)
        code = ExitCode.INTERNAL
    return int(code) if isinstance(code, int) else 0
