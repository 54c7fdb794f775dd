"""`--format junit` and `--format csv`: structure, counts, escaping, injection.

The golden files (tests/test_golden.py) pin the exact output on real scans; these tests
state the properties each format promises, on a run built here that holds every status
and the hostile text a repository or a third-party pack can put into a result.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from opsgrade.engine.model import (
    CheckResult,
    Location,
    PackInfo,
    RuleInfo,
    RunResult,
    Scorecard,
    Service,
    ServiceReport,
    Severity,
    Status,
)
from opsgrade.reporters import REPORTERS, RenderOptions, get_reporter
from opsgrade.reporters.csv_report import COLUMNS

ROOT = Path(__file__).resolve().parent.parent
JUNIT_XSD = ROOT / "tests" / "golden" / "schemas" / "junit-10.xsd"

HOSTILE = "\x1b[31mred\x1b[0m \x00nul \udc80 \u202eevil\u202c <b>&amp;</b> ]]> \"q\" 'a'\nline 2"
# Everything XML 1.0 cannot carry, plus C1 controls and bidi overrides.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def rule(rid: str, level: str, pack: str = "readiness", **extra: object) -> RuleInfo:
    return RuleInfo(
        id=rid,
        title=f"Title of {rid} <&>",
        level=level,
        category="ops",
        severity=Severity.ERROR,
        help="Help.",
        fix=f"Fix {rid}.",
        pack=pack,
        **extra,  # type: ignore[arg-type]
    )


RULES = {
    "DOC001": rule("DOC001", "bronze"),
    "OPS001": rule("OPS001", "silver"),
    "OPS002": rule("OPS002", "silver"),
    "OPS003": rule("OPS003", "gold"),
    "OWN001": rule("OWN001", "bronze"),
    "TEAM001": rule("TEAM001", "silver", pack="team", enforce_after=dt.date(2027, 3, 1)),
}


def result(
    service: str, rid: str, status: Status, message: str, *locs: Location, **extra: object
) -> CheckResult:
    return CheckResult(
        service=service,
        rule=rid,
        status=status,
        severity=Severity.WARNING if rid == "OPS001" else Severity.ERROR,
        level=RULES[rid].level,
        category="ops",
        message=message,
        locations=locs,
        **extra,  # type: ignore[arg-type]
    )


def service_report(name: str, owner: str | None) -> ServiceReport:
    results = (
        result(
            name,
            "DOC001",
            Status.FAIL,
            HOSTILE,
            Location("docs/a\x1b.md", 3, "f" * 32),
            Location("docs/b.md", 0, "e" * 32),
            waiver="waiver expired on 2026-06-30: was due",
        ),
        result(name, "OPS001", Status.ERROR, "descriptor is invalid: tier", Location("s.yml", 6)),
        result(name, "OPS002", Status.NOT_APPLICABLE, "does not apply: tier 3 is not in [1]"),
        result(
            name,
            "OPS003",
            Status.WAIVED,
            "no dashboard",
            Location("s.yml", 1, "d" * 32),
            waiver="-1+1 we page elsewhere",
        ),
        result(name, "OWN001", Status.PASS, "@owner is set"),
        result(name, "TEAM001", Status.FAIL, "\tno slo.yml", Location("s.yml", 1), counting=False),
    )
    card = Scorecard(
        level=None, categories={"ops": None}, score=0.25, blockers=(), next_level="bronze"
    )
    return ServiceReport(Service(name=name, root="", owner=owner), results, card)


def hostile_run(*services: ServiceReport) -> RunResult:
    return RunResult(
        repository="=repo",
        revision=None,
        evaluated_on=dt.date(2026, 11, 26),
        levels=("bronze", "silver", "gold"),
        categories=("ops",),
        packs=(PackInfo("readiness", "1.0.0", "builtin:readiness"),),
        packs_digest="0" * 64,
        rules=RULES,
        services=services,
        notes=(),
        config_errors=(),
        required_level="bronze",
    )


RUN = hostile_run(
    service_report('<svc & "one">', '=HYPERLINK("http://x.example","y")'),
    service_report("+two", None),
)
OPTIONS = RenderOptions(required_level="silver")


def render(fmt: str, run: RunResult = RUN) -> str:
    return get_reporter(fmt).render(run, OPTIONS)


# -- junit ---------------------------------------------------------------------------------


def test_both_formats_are_registered() -> None:
    assert REPORTERS["junit"] == "opsgrade.reporters.junit:JunitReporter"
    assert REPORTERS["csv"] == "opsgrade.reporters.csv_report:CsvReporter"


def test_junit_is_well_formed_xml_without_illegal_characters() -> None:
    text = render("junit")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    assert not NOT_XML.search(text)
    ET.fromstring(text.encode("utf-8"))
    assert render("junit") == text


def test_junit_validates_against_jenkins_schema() -> None:
    xmlschema = pytest.importorskip("xmlschema")
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    schema.validate(render("junit"))
    schema.validate(render("junit", hostile_run()))


def test_junit_counts_match_the_testcases() -> None:
    root = ET.fromstring(render("junit"))
    totals = {"tests": 0, "failures": 0, "errors": 0}
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ['<svc & "one">', "+two"]
    for suite in suites:
        cases = suite.findall("testcase")
        counts = {
            "tests": len(cases),
            "failures": sum(1 for c in cases if c.find("failure") is not None),
            "errors": sum(1 for c in cases if c.find("error") is not None),
            "skipped": sum(1 for c in cases if c.find("skipped") is not None),
        }
        assert counts == {"tests": 6, "failures": 1, "errors": 1, "skipped": 3}
        assert {k: int(suite.get(k, "-1")) for k in counts} == counts
        for key in totals:
            totals[key] += counts[key]
    assert {k: int(root.get(k, "-1")) for k in totals} == totals


def outcome(case: ET.Element) -> tuple[str, str | None]:
    children = [c for c in case if c.tag in ("failure", "error", "skipped")]
    assert len(children) <= 1
    return (children[0].tag, children[0].get("message")) if children else ("passed", None)


def test_junit_maps_each_status() -> None:
    suite = ET.fromstring(render("junit")).findall("testsuite")[0]
    cases = {c.get("name", "").split()[0]: c for c in suite.findall("testcase")}
    clean = NOT_XML.sub("", HOSTILE)
    assert outcome(cases["DOC001"]) == ("failure", clean)
    assert outcome(cases["OPS001"]) == ("error", "descriptor is invalid: tier")
    assert outcome(cases["OPS002"]) == ("skipped", "does not apply: tier 3 is not in [1]")
    assert outcome(cases["OPS003"]) == ("skipped", "waived: -1+1 we page elsewhere")
    assert outcome(cases["OWN001"]) == ("passed", None)
    assert outcome(cases["TEAM001"]) == ("skipped", "not counted until 2027-03-01: \tno slo.yml")
    failure = cases["DOC001"].find("failure")
    assert failure is not None
    assert failure.get("type") == "error"
    assert cases["OPS001"].find("error").get("type") == "warning"  # type: ignore[union-attr]
    # GitLab shows the element text, not the message attribute: it says it all.
    body = failure.text or ""
    assert body.startswith(clean)
    for line in ("docs/a.md:3", "docs/b.md", "waiver expired on 2026-06-30: was due"):
        assert line in body.splitlines()
    assert "fix: Fix DOC001." in body
    skipped = cases["OPS003"].find("skipped")
    assert skipped is not None and skipped.text == "waived: -1+1 we page elsewhere"


def test_junit_names_and_classnames() -> None:
    root = ET.fromstring(render("junit"))
    keys = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
    # GitLab releases that key a test on classname + name alone keep them all.
    assert len(set(keys)) == len(keys) == 12
    first = root.findall("testsuite")[0].findall("testcase")
    assert (first[0].get("classname"), first[0].get("name")) == (
        '<svc & "one">.readiness',
        "DOC001 Title of DOC001 <&>",
    )
    assert first[-1].get("classname") == '<svc & "one">.team'


def test_junit_suite_properties() -> None:
    suite = ET.fromstring(render("junit")).findall("testsuite")[0]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {
        "level": "none",
        "required_level": "silver",
        "score": "0.2500",
        "owner": '=HYPERLINK("http://x.example","y")',
        "descriptor": "",
    }


def test_junit_of_an_empty_run() -> None:
    root = ET.fromstring(render("junit", hostile_run()))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("0", "0", "0")
    assert list(root) == []


# -- csv -----------------------------------------------------------------------------------


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_has_one_row_per_result_in_order() -> None:
    text = render("csv")
    table = rows(text)
    assert tuple(table[0]) == COLUMNS
    body = [dict(zip(COLUMNS, row, strict=True)) for row in table[1:]]
    assert len(body) == 12
    assert [(r["service"], r["rule"]) for r in body[:6]] == [
        ('<svc & "one">', rid)
        for rid in ("DOC001", "OPS001", "OPS002", "OPS003", "OWN001", "TEAM001")
    ]
    first = body[0]
    assert first["status"] == "fail"
    assert (first["path"], first["line"], first["fingerprint"]) == ("docs/a.md", "3", "f" * 32)
    assert first["counting"] == "true"
    assert first["title"] == "Title of DOC001 <&>"
    assert first["waiver"] == "waiver expired on 2026-06-30: was due"
    assert (body[2]["path"], body[2]["line"], body[2]["fingerprint"]) == ("", "", "")
    assert body[5]["counting"] == "false"
    assert render("csv") == text


def test_csv_removes_control_characters_and_keeps_newlines_quoted() -> None:
    text = render("csv")
    assert not NOT_XML.search(text)
    message = rows(text)[1][COLUMNS.index("message")]
    assert message == NOT_XML.sub("", HOSTILE)
    assert "\nline 2" in message
    assert all(line.endswith("\r") for line in text.split("\n")[:-1] if line.count('"') % 2 == 0)
    assert text.endswith("\r\n")


@pytest.mark.parametrize(
    ("column", "row", "expected"),
    [
        ("repository", 1, "'=repo"),
        ("owner", 1, '\'=HYPERLINK("http://x.example","y")'),
        ("service", 7, "'+two"),
        ("owner", 7, ""),
        ("waiver", 4, "'-1+1 we page elsewhere"),
        ("message", 5, "'@owner is set"),
        ("message", 6, "'\tno slo.yml"),
        ("service", 1, '<svc & "one">'),
    ],
)
def test_csv_neutralizes_formulas(column: str, row: int, expected: str) -> None:
    assert rows(render("csv"))[row][COLUMNS.index(column)] == expected


def test_csv_checks_for_formulas_after_removing_control_characters() -> None:
    run = hostile_run(service_report("\x00=cmd|' /C calc'!A0", "\u202e@x"))
    table = rows(render("csv", run))
    assert table[1][COLUMNS.index("service")] == "'=cmd|' /C calc'!A0"
    assert table[1][COLUMNS.index("owner")] == "'@x"


# -- end to end ----------------------------------------------------------------------------

PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: e2e, version: 1.0.0}
levels: [bronze, silver]
categories: [docs]
rules:
  - id: DOC001
    title: Service has a README
    level: bronze
    category: docs
    check: {file: {exists: [README.md]}}
    help: A README.
  - id: DOC002
    title: Service has docs
    level: silver
    category: docs
    check: {file: {exists: ["docs/*.md"]}}
    help: Docs.
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "payments"
    (root / "docs").mkdir(parents=True)
    (root / "opsgrade.yml").write_text("name: payments\nowner: '=cmd'\n", encoding="utf-8")
    (root / "README.md").write_text("# payments\n", encoding="utf-8")
    (tmp_path / "pack.yml").write_text(PACK, encoding="utf-8")
    return root


def python(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=120,
    )


def test_cli_writes_junit_and_csv(repo: Path) -> None:
    target = repo.parent / "report.xml"
    proc = python(
        "-m", "opsgrade.engine", "scan", repo, "--pack", repo.parent / "pack.yml",
        "--format", f"junit={target}", "--format", "csv",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr  # bronze, the default bar: DOC002 does not gate
    root = ET.fromstring(target.read_text("utf-8"))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "payments"
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    table = rows(proc.stdout)  # text mode turned CRLF into LF
    assert tuple(table[0]) == COLUMNS
    assert [(r[1], r[2], r[3], r[5]) for r in table[1:]] == [
        ("payments", "'=cmd", "DOC001", "pass"),
        ("payments", "'=cmd", "DOC002", "fail"),
    ]


LOADED_AT_EXIT = """
import atexit, sys
atexit.register(lambda: print(*sorted(sys.modules), file=sys.stderr))
from opsgrade.engine.cli import main
main(sys.argv[1:])
"""


def test_a_scan_without_them_does_not_import_them(repo: Path) -> None:
    proc = python("-c", LOADED_AT_EXIT, "scan", repo, "--pack", repo.parent / "pack.yml")
    assert proc.returncode in (0, 1), proc.stderr
    loaded = set(proc.stderr.split())
    assert "opsgrade.reporters.text" in loaded
    assert "opsgrade.reporters.junit" not in loaded
    assert "opsgrade.reporters.csv_report" not in loaded
