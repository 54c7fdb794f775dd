"""The `opsgrade` command: parses arguments and calls the engine. One error boundary."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from opsgrade.engine import __version__
from opsgrade.engine.errors import ConfigError, ExitCode, OpsgradeError
from opsgrade.reporters import REPORTERS


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
    help="A pack file path, or the name of a built-in or installed pack. Repeatable.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="opsgrade")
def cli() -> None:
    """Service-readiness scorecards as code."""


@cli.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path))
@pack_option
@click.option("--rev", metavar="REV", help="Scan a git revision instead of the work tree.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="FMT[=FILE]",
    callback=_parse_format,
    help=f"Output format ({', '.join(REPORTERS)}), to stdout or FILE. Repeatable.",
)
@click.option("--fail-below", metavar="LEVEL", help="Exit 1 when a service is below LEVEL.")
@click.option(
    "--today",
    metavar="YYYY-MM-DD",
    callback=_parse_date,
    help="Evaluate as of this date (enforce_after, waiver expiry). Default: today.",
)
def scan(
    path: Path,
    packs: tuple[str, ...],
    rev: str | None,
    formats: list[tuple[str, str | None]],
    fail_below: str | None,
    today: dt.date | None,
) -> int:
    """Scan the repository at PATH and give every service its level."""
    from opsgrade.engine import gate
    from opsgrade.engine.output import write_outputs
    from opsgrade.engine.packs import cli_source
    from opsgrade.engine.scan import ScanRequest
    from opsgrade.engine.scan import scan as run_scan

    request = ScanRequest(path=path, rev=rev, packs=[cli_source(p) for p in packs], today=today)
    run = run_scan(request)
    level = gate.required_level(run, fail_below)
    write_outputs(run, formats or [("text", None)], level, color=_use_color(sys.stdout))
    return int(gate.exit_code(run, level))


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
def packs_list() -> int:
    """List the built-in and installed packs."""
    from opsgrade.engine.catalog import format_pack_table

    click.echo(format_pack_table(), nl=False)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: maps every failure to one line on stderr and an exit code."""
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
    sys.exit(int(code) if isinstance(code, int) else 0)
