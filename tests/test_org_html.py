"""The org report's HTML page (reporters/org_html.py), read back with an HTML parser.

Escaping first: every repository-controlled string of tests/orgdata.py's hostile sample
stays text (no element, attribute, handler or link comes from it), only http(s) URLs
become links, the one script and the one style are those the CSP pins by hash, and no
report data reaches the script. Then the page's content: every section, every service
in the catalog, and the edge cases (empty report, unknown levels, one run, incomplete
run, lone surrogates). The real browser is tests/test_org_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from html.parser import HTMLParser

import msgspec
import pytest
from markupsafe import escape
from orgdata import HOSTILE, HOSTILE_URLS, LEVELS, PWNED, sample_report

from opsgrade.engine.org.model import (
    NO_LEVEL,
    BurndownPoint,
    Campaign,
    OrgReport,
    RepoRecord,
    RunInfo,
    ServiceRecord,
    Summary,
)
from opsgrade.reporters.escape import plain
from opsgrade.reporters.org_html import (
    MAX_TEXT,
    _tick_step,
    iter_html,
    line_chart,
    render_html,
    web_url,
)

# Elements that would load something or run something; the page has none of them.
FORBIDDEN = {"img", "iframe", "object", "embed", "base", "form", "link", "audio", "video"}


class Page(HTMLParser):
    """Every element with its attributes, the text of <script> and <style>, and the
    catalog's rows."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.blocks: dict[str, list[str]] = {"script": [], "style": []}
        self.catalog_rows = 0
        self._in: str | None = None
        self._table: str | None = None
        self._section: str | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag in self.blocks:
            self._in = tag
            self.blocks[tag].append("")
        if tag == "table":
            self._table = attributes.get("id")
        if tag == "tbody":
            self._section = "tbody"
        if tag == "tr" and self._table == "catalog-table" and self._section == "tbody":
            self.catalog_rows += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None
        if tag == "tbody":
            self._section = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.blocks[self._in][-1] += data

    def attrs(self, name: str) -> list[str]:
        return [a[name] or "" for _, a in self.elements if name in a]


@pytest.fixture(scope="module")
def hostile() -> OrgReport:
    return sample_report(40, hostile=True)


@pytest.fixture(scope="module")
def hostile_html(hostile: OrgReport) -> str:
    return render_html(hostile)


@pytest.fixture(scope="module")
def page(hostile_html: str) -> Page:
    return Page(hostile_html)


def _sha(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


# -- escaping -----------------------------------------------------------------------------


def test_hostile_strings_create_no_markup(page: Page) -> None:
    tags = [tag for tag, _ in page.elements]
    assert tags.count("script") == 1
    assert tags.count("style") == 1
    assert not FORBIDDEN & set(tags) - {"link"}
    assert [a for t, a in page.elements if t == "link"] == [{"rel": "icon", "href": "data:,"}]
    names = {name for _, attrs in page.elements for name in attrs}
    assert not [n for n in names if n.startswith("on")]
    assert "src" not in names and "srcdoc" not in names and "style" not in names
    # The script is not an external one and carries no data.
    assert all(not a for t, a in page.elements if t == "script")


def test_hostile_strings_show_as_text(hostile_html: str) -> None:
    for text in HOSTILE:
        shown = str(escape(plain(text, MAX_TEXT)))
        assert shown[:60] in hostile_html, text[:40]
    assert f"<script>window.{PWNED}" not in hostile_html
    assert "onerror=window" not in hostile_html.replace("&lt;img src=x onerror=window", "")
    assert "{{7*7}}" in hostile_html and "{% raw %}" in hostile_html  # never evaluated
    # Bidi overrides and control characters are shown as escapes, not applied.
    for ch in "\u202e\u202c\u2066\u2069\x00\x1b":
        assert ch not in hostile_html
    assert r"\x202egnp.exe" in hostile_html
    # Very long strings are cut.
    assert "x" * (MAX_TEXT + 1) not in hostile_html


def test_only_web_urls_become_links(page: Page, hostile_html: str) -> None:
    hrefs = page.attrs("href")
    assert hrefs, "the sample has links"
    for href in hrefs:
        assert href == "data:," or href.startswith("#") or web_url(href) == href, href
    assert "javascript" not in " ".join(hrefs).lower()
    # The rejected ones are still shown, as text marked as not a link.
    assert 'class="nolink" title="not a web link: javascript:window.__pwned=1"' in hostile_html
    assert "runbook: data:text/html,&lt;script&gt;" in hostile_html


@pytest.mark.parametrize(
    "url",
    [
        "https://runbooks.example.com/a",
        "http://grafana.local:3000/d/x?a=1&b=2#top",
        'https://ok.example/"><script>x</script>',  # a web URL: escaped in the attribute
    ],
)
def test_web_url_accepts_http_and_https(url: str) -> None:
    assert web_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        *HOSTILE_URLS[:-1],
        "https://",
        "http://[::1",
        "ftp://x/y",
        "https://a.example/\nx",
        "https://a.example/ x",
        "h" * 3000,
    ],
)
def test_web_url_rejects_everything_else(url: str | None) -> None:
    assert web_url(url) is None


def test_csp_pins_the_only_script_and_style(page: Page) -> None:
    csp = next(
        a["content"]
        for t, a in page.elements
        if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert csp is not None
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
    assert directives["base-uri"] == "'none'"
    assert directives["script-src"] == f"'{_sha(page.blocks['script'][0])}'"
    assert directives["style-src"] == f"'{_sha(page.blocks['style'][0])}'"
    assert "unsafe" not in csp


def test_the_script_carries_no_report_data(page: Page) -> None:
    plain_page = Page(render_html(sample_report(5)))
    assert page.blocks["script"] == plain_page.blocks["script"]
    assert PWNED not in page.blocks["script"][0]
    assert "</" not in page.blocks["script"][0] and "</" not in page.blocks["style"][0]


def test_lone_surrogates_and_controls_do_not_break_the_page() -> None:
    report = sample_report(3)
    repo = report.repos[0]
    odd = "caf\udce9-\ud800\x07"
    svc = msgspec.structs.replace(repo.services[0], name=odd, owner=odd)
    bad = msgspec.structs.replace(repo, name=odd, services=(svc, *repo.services[1:]))
    page = render_html(msgspec.structs.replace(report, repos=(bad, *report.repos[1:])))
    page.encode("utf-8")  # would raise on a surrogate
    assert "caf\ufffd-\ufffd\\x07" in page


# -- content ------------------------------------------------------------------------------


def test_every_section_and_every_service_is_on_the_page(hostile: OrgReport, page: Page) -> None:
    ids = set(page.attrs("id"))
    for section in (
        "summary",
        "teams",
        "categories",
        "checks",
        "campaigns",
        "changes",
        "failed",
        "catalog",
    ):
        assert section in ids
    assert page.catalog_rows == sum(len(r.services) for r in hostile.repos)
    # Headers have scopes, and the sorted columns say how they are sorted.
    scopes = [a.get("scope") for t, a in page.elements if t == "th"]
    assert scopes and all(s in ("col", "row") for s in scopes)
    assert page.attrs("aria-sort") == ["descending", "descending", "ascending"]


def test_numbers_and_names_shown(hostile: OrgReport, hostile_html: str) -> None:
    s = hostile.summary
    assert f'<div class="n">{s.repos}</div>' in hostile_html
    assert f'<div class="n">{s.services}</div>' in hostile_html
    assert f"{s.scanned} scanned, {s.reused} reused" in hostile_html
    for campaign in hostile.campaigns:
        assert (
            f"<b>{campaign.done}</b> done · <b>{campaign.remaining}</b> remaining" in hostile_html
        )
        assert hostile_html.count("<polyline") >= 2 * len(hostile.campaigns)
    for failed in (r for r in hostile.repos if r.status == "failed" and r.error):
        assert str(escape(plain(failed.error, MAX_TEXT)[:50])) in hostile_html
    for change in hostile.changes:
        assert str(escape(plain(change.service, 120))) in hostile_html
    for level in (*LEVELS, "no level"):
        assert f'">{level}</span>' in hostile_html
    assert "complete</span>" in hostile_html and "stopped before every repository" not in (
        hostile_html
    )


def test_same_report_same_bytes() -> None:
    assert render_html(sample_report(30, hostile=True)) == render_html(
        sample_report(30, hostile=True)
    )


def test_incomplete_shard_run_says_so() -> None:
    page = render_html(sample_report(10, complete=False, shard="2/4"))
    assert "incomplete</span>" in page
    assert "stopped before every repository was scanned" in page
    assert "<span>shard 2/4</span>" in page


def _empty() -> OrgReport:
    return OrgReport(
        run=RunInfo(id=1, started_at="2026-11-26T02:00:00Z"),
        levels=(),
        categories=(),
        rules={},
        summary=Summary(repos=0, scanned=0, reused=0, failed=0, services=0, levels={}),
        teams=(),
        by_category=(),
        checks=(),
        campaigns=(),
        changes=(),
        history=(),
        repos=(),
    )


def test_an_empty_report_renders() -> None:
    page = render_html(_empty())
    parsed = Page(page)
    assert parsed.catalog_rows == 0
    assert "No campaign rules in the packs." in page
    assert "No level changes" in page
    assert 'id="failed"' not in page
    assert "0 services" in page


def test_unknown_and_many_levels_get_colours() -> None:
    levels = tuple(f"L{i}" for i in range(9))
    svc = ServiceRecord(name="svc", level="platinum", owner="team")
    report = msgspec.structs.replace(
        _empty(),
        levels=levels,
        summary=Summary(
            repos=1, scanned=1, reused=0, failed=0, services=1, levels={"platinum": 1, NO_LEVEL: 0}
        ),
        repos=(RepoRecord(name="r", status="scanned", services=(svc,)),),
    )
    page = render_html(report)
    assert '<span class="lv lv10">platinum</span>' in page  # after L0..L8, none = lv0
    assert Page(page).catalog_rows == 1


def test_a_level_the_aggregates_do_not_know_is_shown_uncoloured() -> None:
    # The summary counts every service's level; a hand-edited report may not.
    svc = ServiceRecord(name="svc", level="mystery\u202e", owner="team")
    report = msgspec.structs.replace(
        _empty(), repos=(RepoRecord(name="r", status="scanned", services=(svc,)),)
    )
    page = render_html(report)
    assert '<span class="lv lv0">mystery\\x202e</span>' in page and "\u202e" not in page
    assert Page(page).catalog_rows == 1


def test_the_page_streams_the_records_once_per_section() -> None:
    report = sample_report(12, hostile=True)
    calls = []

    def repos() -> Iterator[RepoRecord]:
        calls.append(len(calls))
        yield from report.repos

    pieces = iter_html(msgspec.structs.replace(report, repos=()), repos)
    first = next(pieces)
    assert calls == []  # nothing is read before the page reaches the records
    assert first + "".join(pieces) == render_html(report)
    assert len(calls) == 2  # the failed repositories, then the catalog


def test_a_single_run_campaign_draws_points() -> None:
    campaign = Campaign(
        name="only-run",
        rules=("R1",),
        enforce_after=None,
        done=0,
        remaining=0,
        teams=(),
        burndown=(BurndownPoint(run=1, date="2026-11-26", done=0, remaining=0),),
    )
    page = render_html(msgspec.structs.replace(_empty(), campaigns=(campaign,)))
    assert page.count("<circle") == 2
    assert "only-run" in page


@pytest.mark.parametrize(
    ("value", "step"), [(0, 1), (4, 1), (7, 2), (40, 10), (201, 60), (7739, 2000), (10**6, 250000)]
)
def test_axis_steps_are_round_and_cover_the_data(value: int, step: int) -> None:
    assert _tick_step(value) == step
    assert 4 * step >= value


def test_line_chart_geometry_stays_on_the_canvas() -> None:
    dates = [f"2026-{m:02d}-01" for m in range(1, 13)] * 3
    chart = line_chart("t", dates, [("a", "#000", False, list(range(len(dates))))])
    assert chart is not None
    xs = [d.x for d in chart.series[0].dots]
    ys = [d.y for d in chart.series[0].dots]
    assert min(xs) == chart.left and max(xs) == chart.right
    assert min(ys) >= chart.top and max(ys) == chart.bottom
    assert len(chart.x_ticks) <= 9 and chart.x_ticks[-1].anchor == "end"
    assert line_chart("t", [], []) is None


def test_page_size_is_reasonable() -> None:
    # About 0.65 kB per catalog row plus the fixed parts: a 5,000-repository org
    # (~7,700 services) stays near 5 MB (bench/org_html_bench.py measures it).
    report = sample_report(500)
    services = sum(len(r.services) for r in report.repos)
    size = len(render_html(report).encode())
    assert size < 800 * services + 200_000, size


def test_runs_on_the_same_day_get_distinct_labels() -> None:
    report = sample_report(5, runs=3)
    same_day = tuple(msgspec.structs.replace(p, date="2026-11-26") for p in report.history)
    page = render_html(msgspec.structs.replace(report, history=same_day))
    for run in (1, 2, 3):
        assert f'class="ax">#{run} 11-26</text>' in page
    assert 'class="ax">2026-11-19</text>' in render_html(report)


def test_long_web_urls_are_linked_whole() -> None:
    report = sample_report(2)
    repo = report.repos[0]
    url = "https://grafana.example.com/d/abc?" + "&".join(f"var-x{i}=v{i}" for i in range(120))
    assert 1000 < len(url) < 2048
    svc = msgspec.structs.replace(repo.services[0], links={"dashboard": url})
    bad = msgspec.structs.replace(repo, services=(svc,))
    page = render_html(msgspec.structs.replace(report, repos=(bad, *report.repos[1:])))
    assert f'<a href="{escape(url)}">dashboard</a>' in page
