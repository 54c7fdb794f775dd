"""`--format junit`: JUnit XML for GitLab unit test reports and Jenkins test results.

One `<testsuite>` per service and one `<testcase>` per rule. A failing rule is a
`<failure>` (type = severity), a rule that could not be decided (a broken file) an
`<error>`, and a rule that does not count a `<skipped>` with the reason: not applicable,
waived, or not enforced yet. A passing rule is an empty testcase.

What the consumers read (docs/reporters.md has the sources):
- GitLab shows `classname` as the suite and `name` as the test, reads the *text* of
  `<failure>`/`<error>`/`<skipped>` (not their `message`), and older releases key a
  test on `classname` + `name` alone, dropping duplicates. So `classname` names the
  service as well as the pack, and the element text repeats the message.
- Jenkins' schema (xunit-plugin `junit-10.xsd`) allows `skipped` on `<testsuite>` but
  not on `<testsuites>`, and no `file` on `<testcase>`; the output validates against it.

XML escaping is ElementTree's; characters XML 1.0 cannot hold at all (most C0 controls,
lone surrogates from undecodable file names) are removed first, as are the bidi
overrides that make a review show something else than what is there. Deterministic:
no timestamps or durations beyond a constant `time="0"`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from opsgrade.engine.model import CheckResult, RunResult, ServiceReport, Status
from opsgrade.reporters import RenderOptions

# What XML 1.0's Char production leaves out (C0 controls but tab/LF/CR, surrogates,
# U+FFFE/U+FFFF), plus DEL, C1 controls and bidi overrides. Spelled as the characters to
# remove: the complement, as a negated class, takes ~6 ms to compile.
_NOT_XML = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def xml_text(text: str | None) -> str:
    """Text ElementTree can serialize into well-formed XML 1.0."""
    return _NOT_XML.sub("", text) if text else ""


def _where(result: CheckResult) -> Iterable[str]:
    for loc in result.locations:
        yield f"{loc.path}:{loc.line}" if loc.line else loc.path


def _details(result: CheckResult, run: RunResult) -> str:
    """The element text: what GitLab shows when the test is opened."""
    info = run.rules.get(result.rule)
    lines = [result.message, *_where(result)]
    if result.waiver:
        lines.append(result.waiver)
    if info is not None and info.fix:
        lines.append(f"fix: {info.fix}")
    return xml_text("\n".join(lines)) + "\n"


def _skip_reason(result: CheckResult, run: RunResult) -> str | None:
    """Why a result does not count, or None when it does."""
    if result.status == Status.NOT_APPLICABLE:
        return result.message or "not applicable"  # the engine's "does not apply: ..."
    if result.status == Status.WAIVED:
        return f"waived: {result.waiver or result.message}"
    if not result.counting and result.status in (Status.FAIL, Status.ERROR):
        info = run.rules.get(result.rule)
        since = info.enforce_after.isoformat() if info and info.enforce_after else "later"
        return f"not counted until {since}: {result.message}"
    return None


def _testcase(result: CheckResult, run: RunResult, suite: ET.Element) -> str:
    """Append the result's testcase to `suite`; return its outcome for the counts."""
    info = run.rules.get(result.rule)
    title = info.title if info else result.rule
    pack = info.pack if info and info.pack else result.category
    case = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": xml_text(f"{suite.get('name')}.{pack}"),
            "name": xml_text(f"{result.rule} {title}"),
            "time": "0",
        },
    )
    reason = _skip_reason(result, run)
    if reason is not None:
        skipped = ET.SubElement(case, "skipped", {"message": xml_text(reason)})
        skipped.text = xml_text(reason)
        return "skipped"
    if result.status in (Status.FAIL, Status.ERROR):
        tag = "failure" if result.status == Status.FAIL else "error"
        element = ET.SubElement(
            case, tag, {"message": xml_text(result.message), "type": result.severity.value}
        )
        element.text = _details(result, run)
        return tag
    return "passed"


def _properties(report: ServiceReport, suite: ET.Element, required: str) -> None:
    card, svc = report.scorecard, report.service
    values = {
        "level": card.level or "none",
        "required_level": required,
        "score": f"{card.score:.4f}",
        "owner": svc.owner or "",
        "descriptor": svc.descriptor or "",
    }
    props = ET.SubElement(suite, "properties")
    for name, value in values.items():
        ET.SubElement(props, "property", {"name": name, "value": xml_text(value)})


def _suite(
    report: ServiceReport, run: RunResult, required: str
) -> tuple[ET.Element, dict[str, int]]:
    suite = ET.Element("testsuite", {"name": xml_text(report.service.name)})
    _properties(report, suite, required)
    counts = {"tests": 0, "failure": 0, "error": 0, "skipped": 0, "passed": 0}
    for result in report.results:
        counts[_testcase(result, run, suite)] += 1
        counts["tests"] += 1
    # Attributes after the children are known; ElementTree keeps insertion order.
    suite.set("tests", str(counts["tests"]))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", "0")
    return suite, counts


class JunitReporter:
    def render(self, run: RunResult, options: RenderOptions) -> str:
        required = options.required_level or run.required_level
        root = ET.Element("testsuites", {"name": xml_text(f"opsgrade {run.repository}")})
        totals = {"tests": 0, "failure": 0, "error": 0}
        for report in run.services:
            suite, counts = _suite(report, run, required)
            root.append(suite)
            for key in totals:
                totals[key] += counts[key]
        root.set("tests", str(totals["tests"]))
        root.set("failures", str(totals["failure"]))
        root.set("errors", str(totals["error"]))
        root.set("time", "0")
        ET.indent(root, space="  ")
        body = ET.tostring(root, encoding="unicode")
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'
