"""`--format github`: workflow commands that GitHub Actions turns into annotations.

The output is read back the way the Actions runner reads a step's log: a port of
`ActionCommand.TryParseV2` (a line starting with `::`, after leading whitespace),
`ActionCommand.TryParse` (the legacy `##[name]`, found anywhere in a line) and the
`stop-commands` handling of actions/runner. So the tests show what the runner would
run, not only what the text looks like.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from msgspec.structs import replace

from opsgrade.engine import gate
from opsgrade.engine.model import Location, RunResult, Severity, Status
from opsgrade.engine.packs import cli_source
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.reporters import RenderOptions
from opsgrade.reporters.escape import command_data, command_property
from opsgrade.reporters.github import KINDS, GithubReporter, collect

ROOT = Path(__file__).resolve().parent.parent
REPOS = ROOT / "fixtures" / "repos"
TODAY = dt.date(2026, 11, 26)

# Commands the runner knows (ActionCommandManager registers these, among others).
REGISTERED = frozenset(
    {
        "error",
        "warning",
        "notice",
        "debug",
        "group",
        "endgroup",
        "stop-commands",
        "add-mask",
        "echo",
        "set-output",
        "save-state",
        "add-matcher",
        "remove-matcher",
    }
)


class Command(msgspec.Struct, frozen=True):
    name: str
    properties: dict[str, str]
    data: str


def _unescape(text: str, pairs: tuple[tuple[str, str], ...]) -> str:
    for escaped, char in pairs:
        text = text.replace(escaped, char)
    return text


# The runner's replacement order (ActionCommand._escapePropertyMappings, _escapeDataMappings).
PROPERTY = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))
DATA = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))


def parse_v2(line: str, registered: set[str]) -> Command | None:
    message = line.lstrip()
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    name, _, props = message[2:end].partition(" ")
    if name not in registered:
        return None
    properties = {}
    for pair in props.strip().split(","):
        key, sep, value = pair.partition("=")
        if sep and key and value:
            properties[key] = _unescape(value, PROPERTY)
    return Command(name, properties, _unescape(message[end + 2 :], DATA))


def parse_v1(line: str, registered: set[str]) -> Command | None:
    start = line.find("##[")
    if start < 0:
        return None
    close = line.find("]", start)
    if close < 0:
        return None
    name = line[start + 3 : close].split(" ")[0]
    return Command(name, {}, line[close + 1 :]) if name in registered else None


def runner(output: str) -> list[Command]:
    """The commands the runner would process in `output`, stop-commands included."""
    registered = set(REGISTERED)
    stop: str | None = None
    processed: list[Command] = []
    for line in output.split("\n"):
        command = parse_v2(line, registered) or parse_v1(line, registered)
        if command is None:
            continue
        if stop is not None:
            if command.name == stop:
                stop = None
            continue
        if command.name == "stop-commands":
            stop = command.data
            registered.add(stop)
            continue
        processed.append(command)
    assert stop is None, "commands left stopped at the end of the output"
    return processed


# -- runs ---------------------------------------------------------------------------------


def scan_case(case: str, tmp_path: Path) -> RunResult:
    repo = tmp_path / case
    shutil.copytree(REPOS / case / "repo", repo, symlinks=True)
    return scan(ScanRequest(path=repo, packs=[cli_source("readiness")], today=TODAY))


def render(run: RunResult) -> str:
    level = gate.required_level(run, None)
    options = RenderOptions(required_level=level, verdict=gate.judge(run, level))
    return GithubReporter().render(run, options)


def annotations_of(output: str) -> list[Command]:
    return [c for c in runner(output) if c.name in KINDS]


def failing_locations(run: RunResult) -> int:
    return sum(
        max(len(r.locations), 1)
        for s in run.services
        for r in s.results
        if r.status in (Status.FAIL, Status.ERROR)
    )


# -- escaping -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("100%", "100%25", "100%25"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("k: v, w", "k: v, w", "k%3A v%2C w"),
        ("%0A literal", "%250A literal", "%250A literal"),
        ("esc \x1b[31m", "esc \\x1b[31m", "esc \\x1b[31m"),
        ("tab\tkept", "tab\tkept", "tab\tkept"),
    ],
)
def test_escaping(raw: str, data: str, prop: str) -> None:
    assert command_data(raw) == data
    assert command_property(raw) == prop
    assert _unescape(command_property(raw), PROPERTY) == raw or "\x1b" in raw


# -- annotations from the fixture repositories --------------------------------------------


def test_one_annotation_per_failing_location(tmp_path: Path) -> None:
    run = scan_case("monorepo", tmp_path)
    output = render(run)
    lines = output.split("\n")
    commands = [line for line in lines if line.startswith(("::error ", "::warning ", "::notice "))]
    assert len(commands) == failing_locations(run) > 0
    assert lines[: len(commands)] == commands, "the annotations come first"
    by_rule = {
        (c.properties["title"].split()[0], c.properties["file"]) for c in annotations_of(output)
    }
    ledger = next(s for s in run.services if s.service.name == "ledger")
    for result in ledger.results:
        if result.status == Status.FAIL:
            assert (result.rule, result.path) in by_rule


def test_annotation_fields(tmp_path: Path) -> None:
    run = scan_case("monorepo", tmp_path)
    ledger = next(s for s in run.services if s.service.name == "ledger")
    blocker = ledger.scorecard.blockers[0]
    info = run.rules[blocker.rule]
    command = next(
        c
        for c in annotations_of(render(run))
        if c.properties["title"].startswith(f"{blocker.rule} ") and c.data.startswith("ledger:")
    )
    assert command.name == "error"
    assert command.properties == {
        "file": blocker.path,
        "line": str(blocker.line),
        "title": f"{blocker.rule} {info.title}",
    }
    assert command.data == f"ledger: {blocker.message}\nfix: {info.fix}"


def test_blockers_come_first(tmp_path: Path) -> None:
    run = scan_case("monorepo", tmp_path)
    found = collect(run)
    blockers = {(s.service.name, b.rule) for s in run.services for b in s.scorecard.blockers}
    flags = [(a.service, a.rule) not in blockers for a in found if a.rank == 0]
    assert flags == sorted(flags), "blockers before the other failures"
    assert found == sorted(found)


def test_waived_results_are_not_annotated(tmp_path: Path) -> None:
    run = scan_case("waivers", tmp_path)
    waived = {r.rule for s in run.services for r in s.results if r.status == Status.WAIVED}
    assert waived
    titles = {c.properties["title"].split()[0] for c in annotations_of(render(run))}
    assert titles and not titles & waived
    # The expired waiver is said in the annotation of the failure it no longer waives.
    assert any("waiver expired" in c.data for c in annotations_of(render(run)))


def test_undecided_checks_are_warnings(tmp_path: Path) -> None:
    run = scan_case("malformed-descriptor", tmp_path)
    errors = [r for s in run.services for r in s.results if r.status == Status.ERROR]
    assert errors
    found = annotations_of(render(run))
    undecided = {(e.rule, e.path, str(e.line)) for e in errors}
    for command in found:
        key = (
            command.properties["title"].split()[0],
            command.properties.get("file"),
            command.properties.get("line"),
        )
        if key in undecided:
            assert command.name == "warning"
            assert "fix:" not in command.data, "no fix for a check that could not decide"


def test_kinds_follow_severity_and_order(tmp_path: Path) -> None:
    run = scan_case("monorepo", tmp_path)
    ledger = next(s for s in run.services if s.service.name == "ledger")
    failing = [r for r in ledger.results if r.status == Status.FAIL]
    assert len(failing) >= 4
    changed = {
        failing[0].rule: replace(failing[0], severity=Severity.NOTE),
        failing[1].rule: replace(failing[1], severity=Severity.WARNING),
        failing[2].rule: replace(failing[2], counting=False),
        failing[3].rule: replace(failing[3], status=Status.ERROR),
    }
    results = tuple(changed.get(r.rule, r) if r in failing else r for r in ledger.results)
    run = replace(
        run, services=tuple(replace(s, results=results) if s is ledger else s for s in run.services)
    )
    kinds = {
        c.properties["title"].split()[0]: c.name
        for c in annotations_of(render(run))
        if c.data.startswith("ledger:")
    }
    assert kinds[failing[0].rule] == "notice"
    assert kinds[failing[1].rule] == "warning"
    assert kinds[failing[2].rule] == "notice", "not counted yet"
    assert kinds[failing[3].rule] == "warning", "could not decide"
    order = [KINDS.index(c.name) for c in annotations_of(render(run))]
    assert order == sorted(order), "errors, then warnings, then notices"


def test_new_failures_come_first_in_a_comparison(tmp_path: Path) -> None:
    from opsgrade.engine.diff import compare

    base = scan_case("monorepo", tmp_path / "base")
    # The head adds a failure at a new location to search: it is the only new one.
    search = next(s for s in base.services if s.service.name == "search")
    extra = replace(
        search.scorecard.blockers[-1], locations=(Location("services/search/new.yml", 7),)
    )
    head_search = replace(
        search, results=tuple(extra if r.rule == extra.rule else r for r in search.results)
    )
    head = replace(base, services=tuple(head_search if s is search else s for s in base.services))
    run = replace(head, comparison=compare(base, head, "base"))
    first = annotations_of(render(run))[0]
    assert first.properties["file"] == "services/search/new.yml"
    assert first.properties["line"] == "7"


def test_locations_without_line_or_file(tmp_path: Path) -> None:
    run = scan_case("monorepo", tmp_path)
    ledger = next(s for s in run.services if s.service.name == "ledger")
    a, b = ledger.scorecard.blockers[:2]
    results = tuple(
        replace(r, locations=(Location(r.path or "", 0),))
        if r.rule == a.rule
        else replace(r, locations=())
        if r.rule == b.rule
        else r
        for r in ledger.results
    )
    run = replace(
        run, services=tuple(replace(s, results=results) if s is ledger else s for s in run.services)
    )
    output = render(run)
    by_title = {
        c.properties["title"].split()[0]: c
        for c in annotations_of(output)
        if c.data.startswith("ledger:")
    }
    assert by_title[a.rule].properties.keys() == {"file", "title"}
    assert by_title[b.rule].properties.keys() == {"title"}


# -- hostile repository text ---------------------------------------------------------------

HOSTILE_PATH = "dir,with:odd%chars/100%0A\r\nfile.yml"


def hostile(run: RunResult) -> RunResult:
    # The service with the most findings, so the hostile text reaches annotations.
    index = max(
        range(len(run.services)),
        key=lambda i: sum(1 for r in run.services[i].results if r.locations),
    )
    report = run.services[index]
    name = "::error file=pwned.txt::injected service"
    message = "##[error]legacy %0A::warning::second line\n::add-mask::secret"
    results = tuple(
        replace(
            r,
            service=name,
            message=message,
            locations=(Location(HOSTILE_PATH, 3),) if r.locations else (),
        )
        for r in report.results
    )
    blockers = tuple(replace(b, service=name) for b in report.scorecard.blockers)
    hostile_report = replace(
        report,
        service=replace(report.service, name=name),
        results=results,
        scorecard=replace(report.scorecard, blockers=blockers),
    )
    services = list(run.services)
    services[index] = hostile_report
    return replace(run, services=tuple(services))


def test_hostile_text_runs_no_command(tmp_path: Path) -> None:
    run = hostile(scan_case("monorepo", tmp_path))
    output = render(run)
    processed = runner(output)
    names = [c.name for c in processed]
    assert names.count("group") == names.count("endgroup") == 1
    assert set(names) <= {*KINDS, "group", "endgroup"}, names
    found = [c for c in processed if c.name in KINDS]
    assert len(found) == failing_locations(run)
    for command in found:
        assert command.properties.get("file") != "pwned.txt"
    mine = [c for c in found if c.data.startswith("::error file=pwned.txt::injected service: ")]
    assert mine, "the hostile service's annotations, its name shown as text"
    for command in mine:
        # The path comes back exactly, `,`, `:`, `%`, CR and LF included: the annotation
        # attaches to the real file.
        assert command.properties["file"] == HOSTILE_PATH
        assert "##[error]legacy %0A::warning::second line ::add-mask::secret" in command.data


def test_one_line_per_annotation(tmp_path: Path) -> None:
    run = hostile(scan_case("monorepo", tmp_path))
    output = render(run)
    lines = output.split("\n")
    # Before the report: the text report may hold a line starting with "::error" (the
    # hostile service's name), printed while commands are stopped.
    lines = lines[: lines.index("::group::opsgrade report")]
    assert len(lines) == failing_locations(run)
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    assert "\r" not in output


def test_deterministic(tmp_path: Path) -> None:
    assert render(scan_case("monorepo", tmp_path / "a")) == render(
        scan_case("monorepo", tmp_path / "b")
    )


def test_summary_counts(tmp_path: Path) -> None:
    run = scan_case("monorepo", tmp_path)
    output = render(run)
    tail = runner_free_tail(output)
    assert tail[0].startswith("opsgrade: 3 services — passed")
    assert any(
        line.startswith("  ledger  bronze  ") and "to fix for silver" in line for line in tail
    )
    count = failing_locations(run)
    assert tail[-1].startswith(f"{count} annotations ({count} error)")
    assert ("GitHub shows 10 of each kind per step" in tail[-1]) == (count > 10)


def runner_free_tail(output: str) -> list[str]:
    """The lines of the last stop-commands block: the compact summary."""
    lines = output.rstrip("\n").split("\n")
    start = max(i for i, line in enumerate(lines) if line.startswith("::stop-commands::"))
    return lines[start + 1 : -1]


# -- the CLI picks the format inside GitHub Actions ------------------------------------------


def cli(repo: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("GITHUB_ACTIONS", "FORCE_COLOR")}
    clean.update(env, NO_COLOR="1", PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "opsgrade.engine",
            "scan",
            str(repo),
            "--pack",
            "readiness",
            "--today",
            TODAY.isoformat(),
            *extra,
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def monorepo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("cli") / "monorepo"
    shutil.copytree(REPOS / "monorepo" / "repo", repo)
    return repo


def test_github_format_inside_actions(monorepo: Path) -> None:
    proc = cli(monorepo, {"GITHUB_ACTIONS": "true"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("::error file=")
    assert "::group::opsgrade report\n" in proc.stdout
    assert annotations_of(proc.stdout)


@pytest.mark.parametrize("value", [None, "false", ""])
def test_text_format_elsewhere(monorepo: Path, value: str | None) -> None:
    proc = cli(monorepo, {} if value is None else {"GITHUB_ACTIONS": value})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("opsgrade · monorepo")
    assert "::" not in proc.stdout


def test_an_explicit_format_wins_inside_actions(monorepo: Path, tmp_path: Path) -> None:
    proc = cli(monorepo, {"GITHUB_ACTIONS": "true"}, "--format", "text")
    assert proc.stdout.startswith("opsgrade · monorepo")
    out = tmp_path / "r.json"
    proc = cli(monorepo, {"GITHUB_ACTIONS": "true"}, "--format", f"json={out}")
    assert proc.stdout == "", "a format to a file only: nothing on stdout"
    assert out.is_file()
