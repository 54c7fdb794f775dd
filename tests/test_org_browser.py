"""The org report's HTML page in a real headless Chromium (Debian's, at /usr/bin/chromium).

Opened from disk over file://, as a user opens the report folder: no console or page
errors (a blocked inline script or style would log a CSP error), no request but the
file itself, the hostile strings of tests/orgdata.py never run, the catalog search and
the column sort work, and everything shows with JavaScript off. A full-page screenshot
is saved to $OPSGRADE_TEST_ARTIFACTS (or the test's tmp_path) and its path printed.

.ci/run installs Chromium; without it this test fails, unless OPSGRADE_SKIP_BROWSER=1
says so explicitly. Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from orgdata import CHROMIUM as CHROMIUM_PATH
from orgdata import CHROMIUM_ARGS, PWNED, sample_report

from opsgrade.engine.org.model import OrgReport
from opsgrade.reporters.org_html import CATALOG_LIMIT, render_html

CHROMIUM = Path(CHROMIUM_PATH)
ROWS = "#catalog-table tbody tr"
VISIBLE_ROWS = "#catalog-table tbody tr:not([hidden])"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if os.environ.get("OPSGRADE_SKIP_BROWSER") == "1":
        pytest.skip("OPSGRADE_SKIP_BROWSER=1: the browser test was switched off explicitly")
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: .ci/run installs Debian's chromium "
            "(apt-get install -y --no-install-recommends chromium); "
            "set OPSGRADE_SKIP_BROWSER=1 to skip this test on purpose"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def report() -> OrgReport:
    return sample_report(120, hostile=True)


@pytest.fixture(scope="module")
def page_file(report: OrgReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("org-html") / "index.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


class Watched:
    """A page with everything it logged and requested."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("request", lambda req: self.requests.append(req.url))

    def _console(self, msg: Any) -> None:
        if msg.type in ("error", "warning"):
            self.console.append(f"{msg.type}: {msg.text}")


@pytest.fixture
def opened(browser: Any, page_file: Path) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    watched = Watched(context.new_page())
    watched.page.goto(page_file.as_uri())
    yield watched
    context.close()


def _expected_matches(report: OrgReport, query: str) -> int:
    """What the search must show: every word in the name, repository, owner, language
    or level of the service (as the page prints them, so the same clipping)."""
    from opsgrade.reporters.org_html import NO_LEVEL_LABEL, _text

    words = query.lower().split()
    count = 0
    for repo in report.repos:
        for svc in repo.services:
            fields = (
                _text(svc.name, 120),
                _text(repo.name, 120),
                _text(svc.owner or "", 60),
                _text(svc.language or "", 40),
                _text(svc.level or NO_LEVEL_LABEL, 40),
            )
            text = "\n".join(fields).lower()
            count += all(w in text for w in words)
    return count


def _search(page: Any, query: str, expected: int) -> None:
    page.fill("#catalog-q", query)
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n",
        arg=[VISIBLE_ROWS, expected],
        timeout=5000,
    )


def test_page_loads_clean_and_hostile_strings_stay_text(
    opened: Watched, page_file: Path, report: OrgReport
) -> None:
    page = opened.page
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.classList.contains('js')"), (
        "the page's script did not run (blocked by the CSP?)"
    )
    assert page.evaluate(f"window.{PWNED}") is None
    # The hostile strings did not become elements or attributes.
    assert page.evaluate("document.scripts.length") == 1
    handlers = page.evaluate(
        """() => [...document.querySelectorAll('*')].flatMap(
            el => [...el.attributes].map(a => a.name).filter(n => n.startsWith('on')))"""
    )
    assert handlers == []
    hrefs = page.evaluate("() => [...document.querySelectorAll('[href]')].map(a => a.href)")
    assert all(re.match(r"(https?:|data:,$)|file:.*#", h) for h in hrefs), hrefs
    assert "javascript" not in " ".join(hrefs).lower()
    body = page.inner_text("#catalog-table")
    assert f"<script>window.{PWNED}=1</script>" in body
    assert "{{7*7}}" in body
    hover = page.locator("#catalog-table tbody th", has_text="onmouseover").first
    hover.hover()
    assert page.evaluate(f"window.{PWNED}") is None
    # Nothing but the file itself was requested, and nothing complained.
    assert opened.requests == [page_file.as_uri()]
    assert opened.errors == []
    assert opened.console == []

    artifacts = Path(os.environ.get("OPSGRADE_TEST_ARTIFACTS") or page_file.parent)
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "org-report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_catalog_search_filters_rows(opened: Watched, report: OrgReport) -> None:
    page = opened.page
    total = sum(len(r.services) for r in report.repos)
    assert page.locator(ROWS).count() == total
    assert page.is_visible("#catalog-q")

    for query in ("payments", "python gold", "ACME/LEDGER", "no level", "<script>"):
        expected = _expected_matches(report, query)
        assert 0 < expected < total, query
        _search(page, query, expected)
        status = page.inner_text("#catalog-count")
        assert status == f"{expected:,} of {total:,} services match"
        assert page.is_hidden("#catalog-empty")

    _search(page, "no-such-service-anywhere", 0)
    assert page.is_visible("#catalog-empty")
    _search(page, "", total)
    assert page.inner_text("#catalog-count") == f"{total:,} services"
    assert opened.console == [] and opened.errors == []


def _column(page: Any, index: int, attr: str | None = None) -> list[str]:
    script = (
        "([sel, i, attr]) => [...document.querySelectorAll(sel)].map(r => "
        "attr ? r.cells[i].getAttribute(attr) : r.cells[i].textContent)"
    )
    values: list[str] = page.evaluate(script, [ROWS, index, attr])
    return values


def test_catalog_sorts_by_column(opened: Watched) -> None:
    page = opened.page
    head = "#catalog-table thead th"

    page.click(f"{head}:nth-child(8) button")  # Score
    scores = [float(v) for v in _column(page, 7, "data-k")]
    assert scores == sorted(scores)
    assert page.get_attribute(f"{head}:nth-child(8)", "aria-sort") == "ascending"
    assert page.get_attribute(f"{head}:nth-child(2)", "aria-sort") is None
    page.click(f"{head}:nth-child(8) button")
    scores = [float(v) for v in _column(page, 7, "data-k")]
    assert scores == sorted(scores, reverse=True)
    assert page.get_attribute(f"{head}:nth-child(8)", "aria-sort") == "descending"

    page.click(f"{head}:nth-child(4) button")  # Tier: numeric, blanks last
    tiers = _column(page, 3)
    numbers = [int(t) for t in tiers if t]
    assert numbers == sorted(numbers)
    assert tiers[len(numbers) :] == [""] * (len(tiers) - len(numbers))
    assert "" in tiers and numbers[0] == 1 and numbers[-1] == 3

    page.click(f"{head}:nth-child(7) button")  # Level: by rank, not by name
    ranks = [int(v) for v in _column(page, 6, "data-k")]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 3

    # Sorting and searching together: the filter still applies to the sorted rows.
    _search(page, "gold", sum(1 for r in ranks if r == 3))
    assert set(_column(page, 6, "data-k")[-5:]) == {"3"}
    assert opened.console == [] and opened.errors == []


def test_everything_shows_without_javascript(
    browser: Any, page_file: Path, report: OrgReport
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        total = sum(len(r.services) for r in report.repos)
        assert page.locator(ROWS).count() == total
        assert page.locator(VISIBLE_ROWS).count() == total
        assert page.is_hidden("#catalog-q")  # the search needs JS: not offered without it
        for section in ("summary", "teams", "categories", "checks", "campaigns", "changes"):
            assert page.is_visible(f"#{section} h2")
        assert page.locator("#campaigns figure.chart > svg").count() == len(report.campaigns)
    finally:
        context.close()


def test_a_large_catalog_shows_the_first_rows_until_asked(browser: Any, tmp_path: Path) -> None:
    report = sample_report(720, seed=3)
    total = sum(len(r.services) for r in report.repos)
    assert total > CATALOG_LIMIT
    path = tmp_path / "index.html"
    path.write_text(render_html(report), encoding="utf-8")
    context = browser.new_context()
    try:
        watched = Watched(context.new_page())
        page = watched.page
        page.goto(path.as_uri())
        assert page.locator(VISIBLE_ROWS).count() == CATALOG_LIMIT
        assert page.inner_text("#catalog-count") == (
            f"{total:,} services, showing the first {CATALOG_LIMIT:,}"
        )
        # The first rows of the new order are the ones shown after a sort.
        page.click("#catalog-table thead th:nth-child(8) button")
        shown = page.evaluate(
            "(sel) => [...document.querySelectorAll(sel)].map(r => Number(r.cells[7].dataset.k))",
            VISIBLE_ROWS,
        )
        scores = sorted(float(v) for v in _column(page, 7, "data-k"))
        assert shown == scores[:CATALOG_LIMIT]
        page.click("#catalog-more")
        page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length === n",
            arg=[VISIBLE_ROWS, total],
            timeout=5000,
        )
        assert page.is_hidden("#catalog-more")
        assert page.inner_text("#catalog-count") == f"{total:,} services"
        assert watched.console == [] and watched.errors == []
    finally:
        context.close()
