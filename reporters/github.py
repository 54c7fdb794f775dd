"""`--format github`: GitHub Actions workflow commands, plus a readable log.

Chosen by the CLI when no `--format` is given and GITHUB_ACTIONS is "true" (like
yamllint's `auto` format). The output is, in order:

1. one annotation per failing location, most severe first:
   `::error file=PATH,line=N,title=RULE title::service: message%0Afix: ...`
   (`::warning` and `::notice` by the rule's severity; a check that could not decide
   is a `::warning`; a rule not counted yet is a `::notice`; waived results are left
   out). GitHub shows at most 10 error, 10 warning and 10 notice annotations per step
   and 50 per job (actions/toolkit docs/problem-matchers.md, "Limitations"), in the
   order they were printed, so within a severity the failures new in this change
   come first;
2. the full text report, in a collapsed `::group::`;
3. a compact summary: one line per service and the verdict.

Repository text reaches the log only as escaped command values or between
`::stop-commands::TOKEN` and `::TOKEN::`, where the runner processes no command: a
service named `::error::...`, or a message holding `##[set-output ...]`, which the
runner's legacy parser finds anywhere in a line, is printed, never run. The token is a
digest of the text it encloses, so that text cannot contain it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import msgspec

from opsgrade.engine.model import CheckResult, RunResult, Severity, Status
from opsgrade.reporters import RenderOptions
from opsgrade.reporters.escape import command_data, command_property, plain
from opsgrade.reporters.text import TextReporter

# Annotation commands by rank: the order they are printed in.
KINDS = ("error", "warning", "notice")
PER_STEP = 10  # annotations of one kind GitHub shows per step
SUMMARY_SERVICES = 50
TITLE_LIMIT = 200
MESSAGE_LIMIT = 1000


class Annotation(msgspec.Struct, frozen=True, order=True):
    rank: int  # index in KINDS
    old: bool  # False for a failure this change introduced: shown first
    later: bool  # False for a blocker to the service's next level: shown next
    service: str
    rule: str
    path: str
    line: int
    title: str
    message: str

    @property
    def kind(self) -> str:
        return KINDS[self.rank]

    def command(self) -> str:
        props = []
        if self.path:
            props.append(f"file={command_property(self.path)}")
            if self.line > 0:
                props.append(f"line={self.line}")
        props.append(f"title={command_property(self.title)}")
        return f"::{self.kind} {','.join(props)}::{command_data(self.message)}"


def _kind(result: CheckResult) -> str:
    if result.status == Status.ERROR:
        return "warning"  # the check could not decide: not a finding
    if not result.counting:
        return "notice"  # reported now, counts from its `enforce_after` date
    return {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(result.severity, "notice")


def _new_locations(run: RunResult) -> set[tuple[str, str, str, int]]:
    if run.comparison is None:
        return set()
    return {
        (r.service, r.rule, loc.path, loc.line)
        for change in run.comparison.services
        for r in change.new_failures
        for loc in r.locations
    }


def collect(run: RunResult) -> list[Annotation]:
    """One annotation per location of every failing or undecided result, sorted."""
    new = _new_locations(run)
    compared = run.comparison is not None
    out: list[Annotation] = []
    for report in run.services:
        blockers = set(report.scorecard.blockers)
        for result in report.results:
            if result.status not in (Status.FAIL, Status.ERROR):
                continue
            info = run.rules.get(result.rule)
            title = plain(f"{result.rule} {info.title}" if info else result.rule, TITLE_LIMIT)
            lines = [f"{plain(result.service, 200)}: {plain(result.message, MESSAGE_LIMIT)}"]
            if result.waiver:
                lines.append(plain(result.waiver, MESSAGE_LIMIT))
            if info and info.fix and result.status == Status.FAIL:
                lines.append(f"fix: {plain(info.fix, MESSAGE_LIMIT)}")
            rank = KINDS.index(_kind(result))
            for loc in result.locations or (None,):
                path, line = (loc.path, loc.line) if loc else ("", 0)
                old = compared and (result.service, result.rule, path, line) not in new
                out.append(
                    Annotation(
                        rank=rank,
                        old=old,
                        later=result not in blockers,
                        service=result.service,
                        rule=result.rule,
                        path=path,
                        line=line,
                        title=title,
                        message="\n".join(lines),
                    )
                )
    return sorted(out)


def _quoted(lines: list[str]) -> Iterator[str]:
    """`lines` printed inert: the runner runs no command until the token comes back."""
    token = hashlib.sha256("\n".join(lines).encode("utf-8", "surrogatepass")).hexdigest()
    yield f"::stop-commands::{token}"
    yield from lines
    yield f"::{token}::"


def _summary(run: RunResult, options: RenderOptions, notes: list[Annotation]) -> list[str]:
    verdict = options.verdict
    if verdict is None:
        outcome = ""
    elif verdict.passed:
        outcome = " — passed"
    else:
        outcome = " — failed: " + "; ".join(plain(r, 300) for r in verdict.reasons)
    count = len(run.services)
    lines = [f"opsgrade: {count} service{'s' if count != 1 else ''}{outcome}"]
    for report in run.services[:SUMMARY_SERVICES]:
        card = report.scorecard
        line = f"  {plain(report.service.name, 100)}  {card.level or 'no level'}  {card.score:.0%}"
        if card.next_level and card.blockers:
            line += f"  {len(card.blockers)} to fix for {card.next_level}"
        lines.append(line)
    if count > SUMMARY_SERVICES:
        lines.append(f"  … and {count - SUMMARY_SERVICES} more services")
    if notes:
        counts = {k: sum(1 for a in notes if a.kind == k) for k in KINDS}
        spelled = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        line = f"{len(notes)} annotation{'s' if len(notes) != 1 else ''} ({spelled})"
        if max(counts.values()) > PER_STEP:
            line += f"; GitHub shows {PER_STEP} of each kind per step: the report above has all"
        lines.append(line)
    return lines


class GithubReporter:
    def render(self, run: RunResult, options: RenderOptions) -> str:
        notes = collect(run)
        out = [a.command() for a in notes]
        report = TextReporter().render(run, options).rstrip("\n").split("\n")
        out.append("::group::opsgrade report")
        out.extend(_quoted(report))
        out.append("::endgroup::")
        out.extend(_quoted(_summary(run, options, notes)))
        return "\n".join(out) + "\n"
