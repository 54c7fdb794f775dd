"""`--format csv`: one row per result, for spreadsheets and ad-hoc analysis.

Columns (a contract; new columns are only ever appended): repository, service, owner,
rule, title, status, severity, level, category, counting, path, line, message,
fingerprint, waiver. `path`, `line` and `fingerprint` are those of the result's first
location; `line` is empty when the whole file is meant.

Cells are repository-controlled text opened by people in spreadsheet programs, so a
cell that a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab
or a carriage return; OWASP "CSV Injection") gets a leading `'`, and control characters
and bidi overrides are removed. RFC 4180 quoting and CRLF line ends (the csv module's
defaults). Deterministic: rows in the run's order (services, then rules).
"""

from __future__ import annotations

import csv
import io
import re

from opsgrade.engine.model import CheckResult, RunResult, ServiceReport
from opsgrade.reporters import RenderOptions

COLUMNS = (
    "repository",
    "service",
    "owner",
    "rule",
    "title",
    "status",
    "severity",
    "level",
    "category",
    "counting",
    "path",
    "line",
    "message",
    "fingerprint",
    "waiver",
)

# C0 controls other than tab/LF/CR, DEL, C1 controls, bidi overrides, lone surrogates.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str | None) -> str:
    """A cell a spreadsheet shows as text: no control characters, never a formula."""
    if not value:
        return ""
    text = _CONTROL.sub("", value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _row(run: RunResult, report: ServiceReport, result: CheckResult) -> list[str]:
    info = run.rules.get(result.rule)
    first = result.locations[0] if result.locations else None
    return [
        cell(run.repository),
        cell(report.service.name),
        cell(report.service.owner),
        cell(result.rule),
        cell(info.title if info else ""),
        result.status.value,
        result.severity.value,
        cell(result.level),
        cell(result.category),
        "true" if result.counting else "false",
        cell(first.path if first else ""),
        str(first.line) if first and first.line else "",
        cell(result.message),
        first.fingerprint if first else "",
        cell(result.waiver),
    ]


class CsvReporter:
    def render(self, run: RunResult, options: RenderOptions) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(COLUMNS)
        for report in run.services:
            for result in report.results:
                writer.writerow(_row(run, report, result))
        return out.getvalue()
