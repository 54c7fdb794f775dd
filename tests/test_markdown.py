"""`--format markdown`: the pull-request comment.

Runs come from real scans of the fixture repositories (copied to a temporary folder, as
tests/test_fixture_repos.py does), from two revisions of a temporary git repository
compared with `engine.diff.compare`, and from synthetic runs built from those: hostile
repository text, and thousands of findings. What is asserted is the comment's structure
as GitHub would parse it, never a whole golden text (tests/golden/ has those).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from gitutil import git
from msgspec.structs import replace

from opsgrade.engine import __version__, gate
from opsgrade.engine.diff import compare
from opsgrade.engine.gate import FailOn
from opsgrade.engine.model import CheckResult, Location, Note, RunResult, Status
from opsgrade.engine.packs import cli_source
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.reporters import RenderOptions
from opsgrade.reporters.escape import ZWJ, md_code, md_inline, md_text
from opsgrade.reporters.markdown import (
    BUDGET,
    GITHUB_COMMENT_LIMIT,
    MARKER,
    SHAPES,
    MarkdownReporter,
    build_view,
    compiled_template,
    context,
    environment,
    template_source,
)

ROOT = Path(__file__).resolve().parent.parent
REPOS = ROOT / "fixtures" / "repos"
TODAY = dt.date(2026, 11, 26)
HOSTILE_ENV_PATH = "conf\x1b[31mig/.env"  # what fixtures/repos/hostile-markup generates

# A pack of our own, so that a new rule in the built-in packs changes no level here.
PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: mdtest, version: 1.0.0}
levels: [bronze, silver, gold]
categories: [ownership, operability, documentation]
rules:
  - id: OWN001
    title: Service names an owning team
    level: bronze
    category: ownership
    check: {descriptor: {path: owner, exists: true}}
    fix: "Set `owner:` in the service descriptor."
    help: Someone is paged.
  - id: OPS001
    title: Service links a runbook
    level: silver
    category: operability
    check: {facts: {query: "service.tools[?category=='runbook']"}}
    fix: "Add a tools entry with `category: runbook` and the runbook's URL."
    help: The runbook is one click away.
  - id: OPS005
    title: No environment files with secrets are committed
    level: silver
    category: operability
    check: {file: {absent: ["**/.env"]}}
    fix: Remove the file and rotate what it held.
    help: Secrets stay out of git.
  - id: OPS003
    title: Service links a dashboard
    level: gold
    category: operability
    check: {facts: {query: "service.tools[?category=='dashboard']"}}
    fix: "Add a tools entry with `category: dashboard`."
    help: A dashboard.
  - id: DOC003
    title: Service has documentation beyond the README
    level: gold
    category: documentation
    check: {file: {exists: ["docs/**/*.md"]}}
    fix: Add a docs/ folder.
    help: Docs.
"""


@pytest.fixture(scope="session")
def pack(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("pack") / "mdtest.yml"
    path.write_text(PACK, encoding="utf-8")
    return str(path)


# -- runs -----------------------------------------------------------------------------------


def scan_case(case: str, tmp_path: Path, pack: str) -> RunResult:
    repo = tmp_path / case
    shutil.copytree(REPOS / case / "repo", repo, symlinks=True)
    if case == "hostile-markup":
        (repo / HOSTILE_ENV_PATH).parent.mkdir(parents=True)
        (repo / HOSTILE_ENV_PATH).write_text("# dummy\nLOG_LEVEL=debug\n", encoding="utf-8")
    return scan(ScanRequest(path=repo, packs=[cli_source(pack)], today=TODAY))


def render(run: RunResult, fail_on: FailOn | None = None, fail_below: str | None = None) -> str:
    """What `opsgrade scan|diff --format markdown` prints for `run`."""
    level = gate.required_level(run, fail_below)
    verdict = gate.judge(run, level, fail_on, level_bar=fail_below is not None)
    options = RenderOptions(required_level=level, verdict=verdict)
    return MarkdownReporter().render(run, options)


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory, pack: str) -> RunResult:
    """The monorepo fixture at two commits: checkout regresses (its runbook link is
    removed: gold to bronze), search fixes DOC003 and OPS003 (a docs folder and a
    dashboard link: silver to gold), ledger is unchanged."""
    repo = tmp_path_factory.mktemp("cmp") / "monorepo"
    shutil.copytree(REPOS / "monorepo" / "repo", repo)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    descriptor = repo / "services" / "checkout" / "opsgrade.yml"
    text = descriptor.read_text("utf-8")
    runbook = '  - {category: runbook, url: "https://wiki.example.com/checkout/runbook"}\n'
    assert runbook in text
    descriptor.write_text(text.replace(runbook, ""), encoding="utf-8")
    docs = repo / "services" / "search" / "docs" / "index.md"
    docs.parent.mkdir()
    docs.write_text("# Search\n\nHow the index is built.\n", encoding="utf-8")
    catalog = repo / "services" / "search" / "catalog-info.yaml"
    logs = "      icon: logs\n"
    dashboard = (
        "    - {url: https://grafana.example.com/d/search, title: Dashboard, type: dashboard}\n"
    )
    catalog.write_text(catalog.read_text("utf-8").replace(logs, logs + dashboard, 1), "utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "head")
    packs = [cli_source(pack)]
    base = scan(ScanRequest(path=repo, rev="HEAD~1", packs=packs, today=TODAY))
    head = scan(ScanRequest(path=repo, rev="HEAD", packs=packs, today=TODAY))
    return replace(head, comparison=compare(base, head, "1" * 40))


# -- reading the comment back ---------------------------------------------------------------


def outside_code(text: str) -> str:
    """The comment minus its code spans, where GitHub renders HTML and links mentions.

    CommonMark's rule: a run of backticks not escaped by a backslash opens a span that
    the next run of the same length closes; an unmatched run is literal text.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\":
            out.append(text[i : i + 2])
            i += 2
            continue
        if text[i] != "`":
            out.append(text[i])
            i += 1
            continue
        j = i
        while j < len(text) and text[j] == "`":
            j += 1
        fence = text[i:j]
        close = re.compile(f"(?<!`){fence}(?!`)").search(text, j)
        if close:
            i = close.end()
        else:
            out.append(fence)
            i = j
    return "".join(out)


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def cells(row: str) -> int:
    """Cells in a table row, as GFM splits it: at pipes not escaped by a backslash."""
    count, backslashes = 0, 0
    for char in row:
        if char == "|" and backslashes % 2 == 0:
            count += 1
        backslashes = backslashes + 1 if char == "\\" else 0
    return count - 1


def section(text: str, heading: str) -> str:
    """The lines under `#### heading` up to the next heading or collapsed section."""
    start = text.index(f"#### {heading}")
    rest = text[start:].split("\n", 1)[1]
    end = re.search(r"^(####|<details>|---$)", rest, re.M)
    return rest[: end.start()] if end else rest


def details(text: str) -> dict[str, str]:
    """Collapsed sections by their summary title."""
    found = re.findall(r"<details><summary>(.*?) \(\d+\)</summary>\n(.*?)</details>", text, re.S)
    return dict(found)


def assert_well_formed(text: str, columns: int) -> None:
    assert text.startswith(MARKER + "\n")
    assert text.count(MARKER) == 1
    assert len(text) <= BUDGET < GITHUB_COMMENT_LIMIT
    assert text.count("<details>") == text.count("</details>")
    assert text.endswith("</sub>\n"), "the footer is the last line: nothing was cut"
    rows = table_rows(text)
    assert rows, "the service table"
    for row in rows:
        assert cells(row) == columns, row
    # Every `<details>` opens an HTML block: a blank line must follow its summary, or
    # the Markdown in it would be shown as raw text.
    assert text.count("</summary>\n\n") == text.count("<details>")
    assert "\x1b" not in text
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)


# -- the fixture repositories ------------------------------------------------------------------


def test_payments_comment(tmp_path: Path, pack: str) -> None:
    text = render(scan_case("payments", tmp_path, pack))
    assert_well_formed(text, columns=4)
    lines = text.splitlines()
    assert lines[1] == "### ✅ opsgrade: passed"
    assert table_rows(text) == [
        "| Service | Owner | Level | Score |",
        "| --- | --- | --- | ---: |",
        "| payments | team-payments | gold | 100% |",
    ]
    assert "#### To reach the next level" not in text, "gold has no next level"
    assert "New failures" not in text, "no comparison, no new failures"
    assert "<details>" not in text
    assert (
        lines[-1] == f"<sub>opsgrade {__version__} · mdtest 1.0.0 · evaluated on 2026-11-26</sub>"
    )


def test_blockers_with_their_fixes(tmp_path: Path, pack: str) -> None:
    run = scan_case("monorepo", tmp_path, pack)
    text = render(run, fail_below="silver")
    assert_well_formed(text, columns=4)
    assert text.splitlines()[1] == "### ❌ opsgrade: failed"
    assert "- 1 below silver: ledger\n" in text
    blockers = section(text, "To reach the next level")
    assert "**ledger**: bronze → silver" in blockers
    assert "**search**: silver → gold" in blockers
    ledger = next(r for r in run.services if r.service.name == "ledger")
    for result in ledger.scorecard.blockers:
        info = run.rules[result.rule]
        assert (
            f"- ❌ **{result.rule}** {md_inline(info.title)} · `{result.path}:{result.line}`"
            in blockers
        )
        assert f"  Fix: {md_inline(info.fix)}" in blockers
    others = details(text)["Other failures"]
    assert (
        "- ❌ **OPS003** Service links a dashboard · ledger · `services/ledger/opslevel.yml:1`"
        in others
    )
    assert "| ledger | jane.doe@" + ZWJ + "example.com | bronze |" in text


def test_waivers_and_notes_are_collapsed(tmp_path: Path, pack: str) -> None:
    text = render(scan_case("waivers", tmp_path, pack))
    assert_well_formed(text, columns=4)
    folded = details(text)
    assert set(folded) == {"Waived", "Notes"}
    assert "**OPS003**" in folded["Waived"] and "FIN-1234" in folded["Waived"]
    assert "- `opsgrade.yml:23` waiver for unknown rule OPS999" in folded["Notes"]
    # The expired waiver is said where the failure is shown.
    assert "waiver expired on 2026-06-30" in section(text, "To reach the next level")


def test_comparison(compared: RunResult) -> None:
    text = render(compared, fail_on="regression")
    assert_well_formed(text, columns=5)
    lines = text.splitlines()
    assert lines[1] == "### ❌ opsgrade: failed"
    assert "- regressions against the base" in lines
    assert "· compared with `111111111111` ·" in text
    rows = table_rows(text)[2:]
    assert rows == [
        "| checkout | team-checkout | bronze | gold → bronze ▼ | 80% |",
        "| ledger | jane.doe@" + ZWJ + "example.com | bronze | = | 20% |",
        "| search | team-discovery | gold | silver → gold ▲ | 100% |",
    ]
    new = section(text, "New failures (1)")
    assert new.strip().splitlines() == [
        "- ❌ **OPS001** Service links a runbook · checkout · `services/checkout/opsgrade.yml:1`",
        "  nothing found for `service.tools[?category=='runbook']`",
        "  Fix: Add a tools entry with `category: runbook` and the runbook's URL.",
    ]
    fixed = section(text, "Fixed (2)").strip().splitlines()
    assert fixed == [
        "- ✅ **DOC003** Service has documentation beyond the README · search"
        " · `services/search/catalog-info.yaml:1`",
        "- ✅ **OPS003** Service links a dashboard · search"
        " · `services/search/catalog-info.yaml:1`",
    ]
    unchanged = details(text)["Unchanged failures"]
    assert "**OPS005** No environment files with secrets are committed · ledger" in unchanged
    assert "checkout" not in unchanged and "search" not in unchanged


def test_comparison_changes_are_spelled(compared: RunResult) -> None:
    assert compared.comparison is not None
    services = list(compared.comparison.services)
    removed = replace(services[0], name="gone", change="removed", head_level=None)
    added = replace(services[1], change="added", base_level=None)
    up = replace(services[2], change="up", base_level=None, head_level="silver")
    run = replace(compared, comparison=replace(compared.comparison, services=(removed, added, up)))
    rows = table_rows(render(run))
    assert any("| \\(new\\) |" in r for r in rows)
    assert any("| no level → silver ▲ |" in r for r in rows)
    assert "| gone | — | gold | \\(removed\\) | — |" in rows


def test_config_change_is_flagged(compared: RunResult) -> None:
    assert compared.comparison is not None
    run = replace(compared, comparison=replace(compared.comparison, config_changed=True))
    assert "> [!WARNING]\n> This change edits `.opsgrade/`" in render(run)


def test_deterministic(tmp_path: Path, pack: str) -> None:
    first = render(scan_case("monorepo", tmp_path / "a", pack))
    second = render(scan_case("monorepo", tmp_path / "b", pack))
    assert first == second
    assert render(scan_case("monorepo", tmp_path / "c", pack)) == first


# -- hostile repository text ------------------------------------------------------------------

PINGS = re.compile(r"@(?!" + ZWJ + r")[\w-]")
REFERENCES = re.compile(r"#(?!" + ZWJ + r")\d")


def assert_inert(text: str) -> None:
    """Nothing GitHub would render as HTML, a link, an image, or a notification."""
    visible = outside_code(text)
    allowed = r"!-- opsgrade:|/?details>|/?summary>|/?sub>"
    assert not re.search(f"<(?!{allowed})", visible), re.search(
        f".{{20}}<(?!{allowed}).{{20}}", visible
    )
    assert not PINGS.search(visible), PINGS.search(visible)
    assert not REFERENCES.search(visible)
    assert not re.search(r"(?<!\\)\]\(", visible), "a link or an image"


def test_hostile_markup_fixture(tmp_path: Path, pack: str) -> None:
    text = render(scan_case("hostile-markup", tmp_path, pack))
    assert_well_formed(text, columns=4)
    assert_inert(text)
    assert (
        "| &lt;script&gt;alert\\(1\\)&lt;/script&gt; | @" + ZWJ + "everyone | bronze | 40% |"
        in text
    )
    # The ANSI sequence in the generated file name is removed, not shown as text.
    assert "`config/.env:1`" in text


def hostile_run(run: RunResult) -> RunResult:
    """`run` with every kind of repository text an attacker controls made hostile."""
    evil = (
        "@everyone @org/team-a #12 <img src=x onerror=alert(1)> [x](javascript:alert(1))"
        " ![i](https://evil.example/i.png) **bold** $x^2$ &lt;b&gt; a|b|c `code` ``two``"
        " \x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \u202eevil\r\n| x |"
    )
    report = run.services[0]
    results = tuple(
        replace(r, message=f"{evil} {r.message}", waiver=evil if r.waiver else None)
        for r in report.results
    )
    blockers = tuple(replace(b, message=f"{evil} {b.message}") for b in report.scorecard.blockers)
    service = replace(report.service, name=f"svc|{evil}", owner="@acme/platform-team")
    hostile = replace(
        report,
        service=service,
        results=tuple(replace(r, service=service.name) for r in results),
        scorecard=replace(
            report.scorecard,
            blockers=tuple(
                replace(b, service=service.name, locations=(Location(f"`{evil}`.yml", 3),))
                for b in blockers
            ),
        ),
    )
    notes = (Note(path=f"{evil}.yml", message=evil, line=2),)
    return replace(
        run,
        repository=evil,
        services=(hostile, *run.services[1:]),
        notes=notes,
        config_errors=notes,
    )


def test_hostile_text_everywhere(tmp_path: Path, pack: str) -> None:
    run = hostile_run(scan_case("monorepo", tmp_path, pack))
    text = render(run)
    assert_well_formed(text, columns=4)
    assert_inert(text)
    assert "@" + ZWJ + "acme/platform-team" in text
    assert "#### Configuration errors (1)" in text


def test_hostile_text_in_a_comparison(compared: RunResult) -> None:
    run = hostile_run(compared)
    assert run.comparison is not None
    name = run.services[0].service.name
    changes = tuple(
        replace(
            c,
            name=name if i == 0 else c.name,
            new_failures=tuple(
                replace(r, message="@everyone " + r.message) for r in c.new_failures
            ),
        )
        for i, c in enumerate(run.comparison.services)
    )
    text = render(replace(run, comparison=replace(run.comparison, services=changes)))
    assert_well_formed(text, columns=5)
    assert_inert(text)


# -- the escaping filters ------------------------------------------------------------------

ESCAPES = [
    ("plain words", "plain words"),
    ("<b>&amp;</b>", "&lt;b&gt;&amp;amp;&lt;/b&gt;"),
    ("a|b", "a\\|b"),
    ("[x](y) ![i](j)", "\\[x\\]\\(y\\) \\!\\[i\\]\\(j\\)"),
    ("*a* _b_ ~c~ `d` $e$ \\", "\\*a\\* \\_b\\_ \\~c\\~ \\`d\\` \\$e\\$ \\\\"),
    ("@everyone and @org/team", f"@{ZWJ}everyone and @{ZWJ}org/team"),
    ("fixes #12, see a@b.c", f"fixes #{ZWJ}12, see a@{ZWJ}b.c"),
    ("line one\nline two\r\n\tthree", "line one line two three"),
    ("\x1b[1mbold\x1b[0m \x1b]8;;https://x\x07link\x1b]8;;\x07", "bold link"),
    ("\u202eevil\u202c \x00nul", "evil nul"),
    ("bad \udcff name", "bad \ufffd name"),
]


@pytest.mark.parametrize(("raw", "escaped"), ESCAPES, ids=[e[0][:20] for e in ESCAPES])
def test_md_text(raw: str, escaped: str) -> None:
    assert md_text(raw) == escaped


def test_md_text_cuts_before_escaping() -> None:
    cut = md_text("<" * 1000, 10)
    assert cut == "&lt;" * 9 + "…"
    assert len(md_text("x" * 10_000)) == 500


CODES = [
    ("path/to/file.py:12", "`path/to/file.py:12`"),
    ("a`b", "``a`b``"),
    ("`edge`", "`` `edge` ``"),
    ("two``runs", "```two``runs```"),
    ("<script>@everyone", "`<script>@everyone`"),
    ("multi\nline", "`multi line`"),
    ("", ""),
]


@pytest.mark.parametrize(("raw", "code"), CODES, ids=[c[0][:20] or "empty" for c in CODES])
def test_md_code(raw: str, code: str) -> None:
    assert md_code(raw) == code


def test_md_code_in_a_table_escapes_pipes() -> None:
    assert md_code("a|b", table=True) == "`a\\|b`"


def test_md_inline_keeps_code_spans() -> None:
    assert md_inline("Set `tier: 1` for <b>@team</b>") == (
        f"Set `tier: 1` for &lt;b&gt;@{ZWJ}team&lt;/b&gt;"
    )
    assert md_inline("an `unclosed span") == "an \\`unclosed span"


def test_unfiltered_values_are_escaped() -> None:
    # A value printed without a filter goes through `finalize`: escaped, not rendered.
    template = environment().from_string("{{ value }} {{ value|code }}")
    assert template.render(value="<b>@x</b>|") == f"&lt;b&gt;@{ZWJ}x&lt;/b&gt;\\| `<b>@x</b>|`"


# -- the size budget ----------------------------------------------------------------------


def many_findings(run: RunResult, count: int) -> RunResult:
    """`run` with `count` failing results spread over its services, half of them new."""
    reports = []
    per = count // len(run.services)
    rules = sorted(run.rules)
    for report in run.services:
        extra = tuple(
            CheckResult(
                service=report.service.name,
                rule=rules[i % len(rules)],
                status=Status.FAIL,
                severity=run.rules[rules[i % len(rules)]].severity,
                level="gold",
                category="operability",
                message=f"finding {i}: " + "a long message that goes on " * 6,
                locations=(Location(f"src/module_{i}/handler_{i}.py", i + 1),),
            )
            for i in range(per)
        )
        card = replace(report.scorecard, blockers=report.scorecard.blockers + extra[: per // 2])
        reports.append(replace(report, results=report.results + extra, scorecard=card))
    notes = tuple(
        Note(path=f"big/file_{i}.bin", message="skipped: larger than 5 MiB") for i in range(count)
    )
    return replace(run, services=tuple(reports), notes=notes)


def test_three_thousand_findings_fit(compared: RunResult) -> None:
    run = many_findings(compared, 3000)
    assert run.comparison is not None
    changes = tuple(
        replace(
            c,
            new_failures=tuple(
                r for s in run.services if s.service.name == c.name for r in s.results[-1500:]
            ),
        )
        for c in run.comparison.services
    )
    run = replace(run, comparison=replace(run.comparison, services=changes))
    started = time.perf_counter()
    text = render(run, fail_on="regression")
    elapsed = time.perf_counter() - started
    assert_well_formed(text, columns=5)
    assert len(text) < GITHUB_COMMENT_LIMIT
    assert "| checkout | team-checkout |" in text and "| ledger |" in text and "| search |" in text
    assert re.search(r"^- … and \d+ more$", text, re.M)
    assert "Left out to keep this comment within GitHub's size limit:" in text
    assert elapsed < 5, f"rendering took {elapsed:.1f}s"


def test_every_shape_is_well_formed(compared: RunResult) -> None:
    """Each step of the summarizing keeps the markup whole, and each is shorter."""
    run = many_findings(compared, 600)
    level = gate.required_level(run, None)
    view = build_view(run, RenderOptions(required_level=level, verdict=gate.judge(run, level)))
    template = environment().get_template("pr-comment.md.j2")
    lengths = []
    for shape in SHAPES:
        text = template.render(context(view, shape))
        assert text.startswith(MARKER + "\n") and text.endswith("</sub>\n")
        assert text.count("<details>") == text.count("</details>")
        for row in table_rows(text):
            assert cells(row) == 5, row
        lengths.append(len(text))
    assert lengths == sorted(lengths, reverse=True)


def test_many_services_cap_the_table(tmp_path: Path, pack: str) -> None:
    run = scan_case("payments", tmp_path, pack)
    report = run.services[0]
    clones = tuple(
        replace(report, service=replace(report.service, name=f"service-{i:04d}" + "x" * 80))
        for i in range(2000)
    )
    text = render(replace(run, services=clones))
    assert_well_formed(text, columns=4)
    assert re.search(r"^… and \d+ more services\.$", text, re.M)


def test_compiled_template_is_current() -> None:
    from opsgrade.reporters import _markdown_template as compiled

    digest = hashlib.sha256(template_source().encode("utf-8")).hexdigest()
    assert digest == compiled.SOURCE_SHA256, "run `python -m opsgrade.reporters.markdown`"
    assert compiled_template() is not None, "Jinja2's compiled code changed: regenerate it"


def test_compiled_template_renders_like_the_source(compared: RunResult) -> None:
    fast = compiled_template()
    assert fast is not None
    slow = environment().from_string(template_source())
    for run in (compared, hostile_run(compared), many_findings(compared, 600)):
        level = gate.required_level(run, None)
        options = RenderOptions(required_level=level, verdict=gate.judge(run, level))
        view = build_view(run, options)
        for shape in SHAPES:
            assert fast.render(context(view, shape)) == slow.render(context(view, shape))


# -- packaging and import cost ----------------------------------------------------------------


def test_template_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["opsgrade.reporters"]
    shipped = [p for pattern in patterns for p in (ROOT / "reporters").glob(pattern)]
    assert ROOT / "reporters" / "templates" / "pr-comment.md.j2" in shipped


def test_jinja2_is_not_imported_by_a_scan(tmp_path: Path, pack: str) -> None:
    repo = tmp_path / "payments"
    shutil.copytree(REPOS / "payments" / "repo", repo)
    code = f"""
import sys, datetime
from pathlib import Path
from opsgrade.engine.packs import cli_source
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.reporters import RenderOptions, get_reporter
packs = [cli_source({pack!r})]
run = scan(ScanRequest(path=Path({str(repo)!r}), packs=packs, today=datetime.date(2026, 11, 26)))
for fmt in ("text", "json", "github"):
    get_reporter(fmt).render(run, RenderOptions())
assert "jinja2" not in sys.modules, "jinja2 imported without the markdown format"
get_reporter("markdown").render(run, RenderOptions())
assert "jinja2" in sys.modules
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
