"""`opsgrade action`: what the GitHub Action (action.yml) runs, in one process.

It reads the run from the environment GitHub sets (engine/github/event.py), and:

- on `pull_request` / `pull_request_target`: takes the base (the merge commit's first
  parent, else the payload's `base.sha`), fetches it when the checkout is shallow,
  compares it with the work tree at HEAD (`diff_revisions`: the packs, repo config and
  local packs come from the base, so a pull request cannot weaken its own gate), and upserts the
  pull-request comment (engine/github/comment.py);
- on any other event: a plain scan of the work tree.

Either way it writes SARIF (for `github/codeql-action/upload-sarif`), any extra formats,
annotations (`--format github`) on stdout, the comment's Markdown to the job summary, and
the step outputs `passed`, `levels`, `sarif-file` and `comment-url`.

Failure policy: the exit code is the gate's (0 passed, 1 failed, 2 configuration
error). A missing or malformed payload, a missing token, an unreachable API, exhausted
retries or a read-only token (a fork's pull request) each give a `::warning::` or
`::notice::` line and a note in the job summary, and change nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
import msgspec

from opsgrade.engine import gate
from opsgrade.engine.cli import _parse_format, today_option
from opsgrade.engine.errors import ConfigError, OpsgradeError
from opsgrade.engine.github.event import (
    ActionEnv,
    EventError,
    PullRequest,
    append_file,
    load_pull_request,
    output_lines,
    valid_repository,
    workflow_command,
)
from opsgrade.engine.model import RunResult
from opsgrade.engine.output import write_atomic, write_outputs
from opsgrade.reporters import RenderOptions, get_reporter
from opsgrade.reporters.escape import md_inline, md_text

if TYPE_CHECKING:
    from opsgrade.engine.github.comment import WhenPassing

# Bounded GitHub calls: a comment is not worth more than about a minute of a CI job.
API_RETRIES = 3
API_MAX_WAIT_S = 30.0
API_TIMEOUT_S = 15.0
# A URL from the API as it may reach the log and the outputs: nothing a log parser reads.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]{1,2000}")
FORK_NOTE = (
    "a pull request from a fork gets a read-only token in `pull_request` workflows, so the "
    "result is in this job summary and the annotations instead of a comment"
)


class Settings(msgspec.Struct, frozen=True):
    """The Action's inputs, after click has read the options and their variables."""

    path: Path
    packs: tuple[str, ...]
    fail_below: str | None
    fail_on: gate.FailOn
    comment: bool
    when_passing: str
    comment_key: str
    sarif_file: str
    sarif_category: str | None
    formats: tuple[tuple[str, str | None], ...]
    today: dt.date


class Outcome(msgspec.Struct, frozen=True):
    run: RunResult
    verdict: gate.Verdict
    level: str


def _parse_file_formats(
    ctx: click.Context, param: click.Parameter, values: Sequence[str]
) -> list[tuple[str, str | None]]:
    """`--format NAME=FILE` only: stdout carries the annotations."""
    parsed = _parse_format(ctx, param, values)
    for name, target in parsed:
        if target is None:
            raise click.BadParameter(
                f"{name!r}: give a file (NAME=FILE); the log already has the annotations"
            )
    return parsed


def _in_workspace(path: Path, env: ActionEnv) -> Path:
    """The `path` input is relative to the workspace, wherever the step runs."""
    return path if path.is_absolute() or not env.workspace else Path(env.workspace) / path


def _sarif_target(value: str) -> str:
    """The SARIF file; none when the variable is set but empty (the input was cleared):
    click would read an empty variable as unset and use the default."""
    ctx = click.get_current_context()
    from_default = ctx.get_parameter_source("sarif_file") == click.core.ParameterSource.DEFAULT
    if from_default and os.environ.get("OPSGRADE_SARIF_FILE", None) == "":
        return ""
    return value.strip()


def _say(kind: str, message: str) -> None:
    click.echo(workflow_command(kind, message))


# -- the run -------------------------------------------------------------------------------


def _pull_request(env: ActionEnv, notes: list[str]) -> PullRequest | None:
    if not env.is_pull_request:
        return None
    try:
        return load_pull_request(env.event_path)
    except EventError as exc:
        message = f"{exc}; running a plain scan instead of comparing with the base"
        _say("warning", message)
        notes.append(message)
        return None


def _evaluate(settings: Settings, pr: PullRequest | None, env: ActionEnv) -> RunResult:
    from opsgrade.engine.packs import cli_source

    sources = [cli_source(p) for p in settings.packs]
    if pr is None:
        from opsgrade.engine.scan import ScanRequest, scan

        return scan(ScanRequest(path=settings.path, packs=sources, today=settings.today))
    from opsgrade.engine.diff import diff_revisions
    from opsgrade.engine.github.checkout import ensure_commit, merge_base_parent
    from opsgrade.engine.github.client import token_from_env

    if not settings.path.is_dir():
        raise ConfigError(f"path: not a directory: {settings.path}")
    base = merge_base_parent(settings.path, pr.head_sha) or pr.base_sha
    ensure_commit(settings.path, base, token=token_from_env(), server_url=env.server_url)
    # The head is the work tree (the checked-out commit): `command` checks need files on
    # disk, and a git revision would turn every one of them into an error.
    return diff_revisions(settings.path, base, None, sources, settings.today)


def _judge(run: RunResult, settings: Settings) -> Outcome:
    level = gate.required_level(run, settings.fail_below)
    fail_on = settings.fail_on if run.comparison is not None else None
    verdict = gate.judge(run, level, fail_on, level_bar=settings.fail_below is not None)
    return Outcome(run, verdict, level)


def _levels(run: RunResult) -> str:
    levels = {s.service.name: s.scorecard.level for s in run.services}
    return json.dumps(levels, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _write_reports(outcome: Outcome, settings: Settings, env: ActionEnv) -> str:
    """SARIF, extra formats, annotations on stdout, outputs, and the job summary.

    Returns the comment's Markdown."""
    from opsgrade.reporters.sarif import SarifReporter

    options = RenderOptions(required_level=outcome.level, verdict=outcome.verdict)
    if settings.sarif_file:
        sarif = SarifReporter(settings.sarif_category).render(outcome.run, options)
        write_atomic(Path(settings.sarif_file), sarif)
    write_outputs(
        outcome.run, [*settings.formats, ("github", None)], outcome.level, outcome.verdict, False
    )
    markdown = get_reporter("markdown").render(outcome.run, options)
    outputs = {
        "passed": "true" if outcome.verdict.passed else "false",
        "levels": _levels(outcome.run),
        "sarif-file": settings.sarif_file,
    }
    append_file(env.output, output_lines(outputs))
    append_file(env.step_summary, markdown)
    return markdown


def _summary_notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    lines = "\n".join(f"> - {md_inline(n, 600)}" for n in notes)
    return f"\n> [!NOTE]\n> **opsgrade action**\n>\n{lines}\n"


def _comment_body(markdown: str, env: ActionEnv) -> str:
    url = env.run_url()
    return f"{markdown.rstrip()}\n\n<sub>[Workflow run]({url})</sub>\n" if url else markdown


# -- the comment -------------------------------------------------------------------------


def _post_comment(
    outcome: Outcome, settings: Settings, env: ActionEnv, pr: PullRequest, markdown: str
) -> tuple[str | None, list[str]]:
    """Upsert the comment; returns its URL and what to tell the user. Never raises."""
    from opsgrade.engine.github import comment
    from opsgrade.engine.github.client import connect, describe_error, token_from_env

    # PyGithub logs every failed request and retry at INFO to its own stderr handler
    # ("Request POST ... failed with 403"): noise next to the one line that matters below.
    logging.getLogger("github").setLevel(logging.WARNING)
    token = token_from_env()
    if token is None:
        message = "no GitHub token (the `github-token` input is empty): no pull-request comment"
        _say("warning", message)
        return None, [message]
    repository = pr.base_repo if valid_repository(pr.base_repo) else env.repository
    try:
        gh = connect(
            token,
            base_url=env.api_url,
            retries=API_RETRIES,
            max_rate_limit_wait=API_MAX_WAIT_S,
            timeout=API_TIMEOUT_S,
        )
        result = comment.upsert(
            gh.withLazy(True),
            repository,
            pr.number,
            _comment_body(markdown, env),
            passed=outcome.verdict.passed,
            when_passing=_when_passing(settings.when_passing),
            key=settings.comment_key,
        )
    except Exception as exc:  # the API's failure must never change the gate's exit code
        return None, [_comment_failure(exc, pr, describe_error(exc))]
    for problem in result.problems:
        _say("warning", problem)
    url = result.url if result.url and _PLAIN_URL.fullmatch(result.url) else None
    if result.action != "none":
        click.echo(f"opsgrade: pull-request comment {result.action}: {url or ''}".rstrip())
    return url, list(result.problems)


def _when_passing(value: str) -> WhenPassing:
    return "delete" if value == "delete" else "minimize" if value == "minimize" else "update"


def _comment_failure(exc: BaseException, pr: PullRequest, described: str) -> str:
    from github import GithubException

    read_only = (
        isinstance(exc, GithubException)
        and exc.status == 403
        and "not accessible by integration" in described.lower()
    )
    if read_only:
        why = FORK_NOTE if pr.from_fork else "the token cannot write pull-request comments"
        message = f"no pull-request comment: {described}; {why}"
        if not pr.from_fork:
            message += " (give the job `pull-requests: write`)"
        _say("notice", message)
    else:
        message = f"could not update the pull-request comment: {described}"
        _say("warning", message)
    return message


# -- the command -------------------------------------------------------------------------


@click.command("action")
@click.argument(
    "path",
    default=".",
    envvar="OPSGRADE_PATH",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--pack",
    "packs",
    multiple=True,
    metavar="REF",
    envvar="OPSGRADE_PACKS",
    help="As `opsgrade scan --pack`. Repeatable; in the variable, separated by spaces or commas.",
)
@click.option(
    "--fail-below",
    metavar="LEVEL",
    envvar="OPSGRADE_FAIL_BELOW",
    help="Exit 1 when a service is below LEVEL.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["regression", "any", "none"]),
    default="regression",
    envvar="OPSGRADE_FAIL_ON",
    show_default=True,
    help="On a pull request: fail on level drops and new failures, on any failure, or never.",
)
@click.option(
    "--comment/--no-comment",
    default=True,
    envvar="OPSGRADE_COMMENT",
    show_default=True,
    help="On a pull request: create or update the opsgrade comment.",
)
@click.option(
    "--comment-when-passing",
    type=click.Choice(["update", "minimize", "delete"]),
    default="update",
    envvar="OPSGRADE_COMMENT_WHEN_PASSING",
    show_default=True,
    help="What the comment does when the gate passes.",
)
@click.option(
    "--comment-key",
    default="",
    envvar="OPSGRADE_COMMENT_KEY",
    metavar="KEY",
    help="Keeps the comments of several opsgrade jobs on one pull request apart.",
)
@click.option(
    "--sarif-file",
    default="opsgrade.sarif",
    envvar="OPSGRADE_SARIF_FILE",
    show_default=True,
    metavar="FILE",
    help="Where to write SARIF for code scanning ('' for none).",
)
@click.option(
    "--sarif-category",
    envvar="OPSGRADE_SARIF_CATEGORY",
    metavar="CATEGORY",
    help="The SARIF analysis category (automationDetails.id). Default: opsgrade/<repo>/.",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    envvar="OPSGRADE_FORMATS",
    metavar="FMT=FILE",
    callback=_parse_file_formats,
    help="Also write FMT to FILE (json, junit, csv, ...). Repeatable.",
)
@today_option
def action(
    path: Path,
    packs: tuple[str, ...],
    fail_below: str | None,
    fail_on: gate.FailOn,
    comment: bool,
    comment_when_passing: str,
    comment_key: str,
    sarif_file: str,
    sarif_category: str | None,
    formats: list[tuple[str, str | None]],
    today: dt.date | None,
) -> int:
    """Run opsgrade as the GitHub Action does: gate, SARIF, summary, PR comment.

    Reads the workflow run from GITHUB_* variables; every option can also be set through
    its OPSGRADE_* variable (what action.yml does with the Action's inputs).
    """
    env = ActionEnv.from_environ()
    settings = Settings(
        path=_in_workspace(path, env),
        packs=tuple(p.strip() for ref in packs for p in ref.split(",") if p.strip()),
        fail_below=fail_below or None,
        fail_on=fail_on,
        comment=comment,
        when_passing=comment_when_passing,
        comment_key=comment_key,
        sarif_file=_sarif_target(sarif_file),
        sarif_category=sarif_category,
        formats=tuple(formats),
        today=today or dt.date.today(),
    )
    notes: list[str] = []
    pr = _pull_request(env, notes)
    try:
        outcome = _judge(_evaluate(settings, pr, env), settings)
        markdown = _write_reports(outcome, settings, env)
    except OpsgradeError as exc:
        _fail(env, exc)
        raise
    if pr is not None and settings.comment:
        url, problems = _post_comment(outcome, settings, env, pr, markdown)
        notes.extend(problems)
        if url:
            append_file(env.output, output_lines({"comment-url": url}))
    append_file(env.step_summary, _summary_notes(notes))
    sys.stdout.flush()
    return int(outcome.verdict.code)


def _fail(env: ActionEnv, exc: OpsgradeError) -> None:
    """A configuration error still reaches the job summary, the log and the outputs."""
    _say("error", f"opsgrade: {exc}")
    append_file(env.output, output_lines({"passed": "false", "levels": "{}", "sarif-file": ""}))
    append_file(env.step_summary, f"### ❌ opsgrade: error\n\n{md_text(str(exc), 2000)}\n")
