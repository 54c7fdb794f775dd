"""The org report's HTML page: one self-contained file that opens from disk (docs/org-html.md).

`iter_html(head, repos)` builds a view of the OrgReport (plain data: rows, chart
geometry, colours; nothing escaped yet) and renders `templates/org_report.html.j2` with
it, piece by piece: every section but two is drawn from the report's aggregates, and the
failed repositories and the service catalog stream the records (`repos()`, called once
per section) as the template reaches them, so the page's memory does not grow with the
organization. `render_html(report)` is the whole page as one string. The
page has no external assets: CSS and a little vanilla JS are inline, the charts are SVG
computed here, and a Content-Security-Policy pins the one style and the one script by
their sha256, so nothing injected into the page could run or load anything.

Repository-controlled text (names, owners, links, errors; a third-party pack's titles)
reaches the page only through Jinja2's autoescape, after `_text` has made it one
printable line (control and bidi-override characters shown as escapes, lone surrogates
replaced, length bounded). Links are kept only for absolute http(s) URLs; any other
scheme is shown as text. The script reads what it needs from the DOM, so no data is
ever placed inside a <script> element.

Jinja2 is imported here and nowhere on the scan path; engine/org/report.py imports this
module only when it writes the report folder.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import jinja2
import msgspec
from markupsafe import Markup, escape

from opsgrade.engine import __version__
from opsgrade.engine.org.model import (
    NO_LEVEL,
    Campaign,
    CampaignTeam,
    CheckStat,
    LevelChange,
    OrgReport,
    RepoRecord,
    ServiceRecord,
    Summary,
)
from opsgrade.reporters.escape import plain

TEMPLATE = "org_report.html.j2"
TEMPLATES = Path(__file__).parent / "templates"
# Longest repository-controlled text shown anywhere; tables clip shorter (`clip` filter).
MAX_TEXT = 300
NO_LEVEL_LABEL = "no level"
NO_LEVEL_COLOR = "#c3cad3"
# Warm and light to cool and dark: a higher level is a darker, cooler colour, so the order
# reads without the legend and does not rest on telling red from green.
LEVEL_RAMP = ("#f2b35d", "#e0803e", "#66a6c9", "#2f72b0", "#1d4f86", "#123259", "#0b1f3a")
# With JavaScript, the catalog shows at most this many matching rows until asked for all:
# the browser's table layout costs time per visible row (docs/org-html.md).
CATALOG_LIMIT = 1000
# Link kinds shown first in the catalog, in this order; the others follow by name.
LINK_ORDER = ("runbook", "logs", "dashboard", "docs", "repo")
WEB_SCHEMES = frozenset({"http", "https"})
MAX_URL = 2048
# Whitespace (Unicode's too) and control characters: browsers drop or trim some of them,
# so a URL holding any is not read the way it was checked.
_NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f]")
# The line charts' canvas, in SVG user units.
CHART_W, CHART_H = 640, 220
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 48, 16, 14, 30
MAX_X_LABELS = 8
DONE_COLOR = "#2e8b57"
REMAINING_COLOR = "#c0392b"


# -- the view ---------------------------------------------------------------------------


class Swatch(msgspec.Struct, frozen=True):
    """A level and its colour; `index` is its rank (0 = no level) and its CSS class."""

    key: str
    label: str
    index: int
    color: str


class Segment(msgspec.Struct, frozen=True):
    label: str
    color: str
    count: int
    share: str  # "42%"
    x: float  # in percent of the bar
    width: float


class Mix(msgspec.Struct, frozen=True):
    """A 100% stacked bar: how many services sit at each level."""

    total: int
    segments: tuple[Segment, ...]
    counts: tuple[int, ...]  # per swatch, for the table's number columns
    description: str  # the bar as text, for screen readers


class TeamRow(msgspec.Struct, frozen=True):
    owner: str
    services: int
    score: float
    mix: Mix


class CategoryRow(msgspec.Struct, frozen=True):
    category: str
    mix: Mix


class CheckRow(msgspec.Struct, frozen=True):
    stat: CheckStat
    level: Swatch


class Link(msgspec.Struct, frozen=True):
    kind: str
    url: str
    href: Markup | None  # the URL escaped for href when it is a web URL (`href`), else None


class CatalogRow(msgspec.Struct, frozen=True):
    service: ServiceRecord
    repo: str
    repo_href: Markup | None
    level: Swatch
    links: tuple[Link, ...]


class Dot(msgspec.Struct, frozen=True):
    x: float
    y: float
    label: str


class Series(msgspec.Struct, frozen=True):
    name: str
    color: str
    dashed: bool
    points: str  # SVG polyline points
    dots: tuple[Dot, ...]


class Tick(msgspec.Struct, frozen=True):
    at: float
    label: str
    anchor: str = "end"  # SVG text-anchor


class LineChart(msgspec.Struct, frozen=True):
    title: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: tuple[Series, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]


class CampaignRow(msgspec.Struct, frozen=True):
    owner: str
    done: int
    remaining: int
    progress: float
    remaining_services: tuple[str, ...]


class CampaignView(msgspec.Struct, frozen=True):
    name: str
    rules: tuple[tuple[str, str], ...]  # (id, title)
    enforce_after: str
    done: int
    remaining: int
    progress: float
    teams: tuple[CampaignRow, ...]
    chart: LineChart | None


class ChangeGroup(msgspec.Struct, frozen=True):
    direction: str
    title: str
    changes: tuple[tuple[str, str, Swatch, Swatch], ...]  # repo, service, before, after


class FailedRepo(msgspec.Struct, frozen=True):
    name: str
    href: Markup | None
    error: str


class Header(msgspec.Struct, frozen=True):
    run: int
    source: str
    started_at: str
    finished_at: str
    shard: str
    complete: bool
    packs: tuple[str, ...]


class Shares(msgspec.Struct, frozen=True):
    """The two shares the summary cards show beside the model's Summary counts."""

    top_level: str
    top_share: float  # services at the highest level
    none_share: float  # services below the lowest


class View(msgspec.Struct, frozen=True):
    header: Header
    summary: Summary
    shares: Shares
    swatches: tuple[Swatch, ...]
    overall: Mix
    trend: LineChart | None
    teams: tuple[TeamRow, ...]
    categories: tuple[CategoryRow, ...]
    checks: tuple[CheckRow, ...]
    campaigns: tuple[CampaignView, ...]
    changes: tuple[ChangeGroup, ...]
    # Both stream from the records while the template renders: iterate each once.
    failed: Iterable[FailedRepo]
    catalog: Iterable[CatalogRow]
    version: str


# -- building it ------------------------------------------------------------------------


def _text(value: str | None, limit: int = MAX_TEXT) -> str:
    # Most values are short and printable, which plain() would return unchanged: the
    # test is cheaper than its substitutions (control, bidi and surrogate characters
    # are all non-printable, so they still go through it).
    if value is not None and len(value) <= limit and value.isprintable():
        return value
    return plain(value, limit)


def web_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL a browser will read the same way, else None.

    Browsers drop tabs and newlines inside a URL and trim spaces around it, so
    "java\\tscript:" is javascript:; any whitespace or control character disqualifies.
    """
    if not url or len(url) > MAX_URL or _NOT_IN_URL.search(url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.netloc:
        return None
    return url


def href(url: str | None) -> Markup | None:
    """A link target for the page: a web URL, whole and escaped for the attribute, or
    None. The template prints link targets only from here."""
    checked = web_url(url)
    return None if checked is None else escape(checked)


class Levels:
    """The report's levels and their colours; unknown level names get the next colours."""

    def __init__(self, levels: Sequence[str], seen: Iterable[str]) -> None:
        names = list(levels)
        names += sorted({k for k in seen if k != NO_LEVEL and k not in names})
        ramp = _ramp(len(names))
        self.swatches = (
            Swatch(NO_LEVEL, NO_LEVEL_LABEL, 0, NO_LEVEL_COLOR),
            *(Swatch(name, name, i + 1, ramp[i]) for i, name in enumerate(names)),
        )
        self._by_key = {s.key: s for s in self.swatches}

    def of(self, level: str | None) -> Swatch:
        key = level if level is not None else NO_LEVEL
        # The aggregates count every service's level, so a record's level is known; a
        # hand-edited report.json could still disagree: show the name, uncoloured.
        return self._by_key.get(key) or Swatch(key, key, 0, NO_LEVEL_COLOR)

    def mix(self, counts: Mapping[str, int]) -> Mix:
        total = sum(counts.values())
        segments = []
        x = 0.0
        parts = []
        for s in self.swatches:
            count = counts.get(s.key, 0)
            if not count:
                continue
            width = 100.0 * count / total
            share = f"{count / total:.0%}"
            segments.append(Segment(s.label, s.color, count, share, round(x, 3), round(width, 3)))
            parts.append(f"{s.label}: {count} ({share})")
            x += width
        return Mix(
            total=total,
            segments=tuple(segments),
            counts=tuple(counts.get(s.key, 0) for s in self.swatches),
            description="; ".join(parts) or "no services",
        )


def _ramp(n: int) -> tuple[str, ...]:
    """n colours spread over LEVEL_RAMP (the whole ramp repeats beyond its length)."""
    if n <= 1:
        return LEVEL_RAMP[3:4] * n
    if n > len(LEVEL_RAMP):
        return tuple(LEVEL_RAMP[i % len(LEVEL_RAMP)] for i in range(n))
    step = (len(LEVEL_RAMP) - 1) / (n - 1)
    return tuple(LEVEL_RAMP[round(i * step)] for i in range(n))


def _seen_levels(report: OrgReport) -> set[str]:
    seen: set[str] = set(report.summary.levels)
    for team in report.teams:
        seen.update(team.levels)
    for cat in report.by_category:
        seen.update(cat.levels)
    for point in report.history:
        seen.update(point.levels)
    for change in report.changes:
        seen.update(x for x in (change.before, change.after) if x)
    for rule in report.rules.values():
        seen.add(rule.level)
    for stat in report.checks:
        seen.add(stat.level)
    # The services' levels are all among summary.levels' keys: no need to read records.
    return seen


def _header(report: OrgReport) -> Header:
    run = report.run
    return Header(
        run=run.id,
        source=run.source,
        started_at=run.started_at,
        finished_at=run.finished_at or "",
        shard=run.shard or "",
        complete=run.complete,
        packs=tuple(f"{p.name} {p.version}" for p in run.packs),
    )


def _shares(summary: Summary, levels: Levels) -> Shares:
    total = sum(summary.levels.values())
    top = levels.swatches[-1]
    return Shares(
        top_level=top.label,
        top_share=summary.levels.get(top.key, 0) / total if total else 0.0,
        none_share=summary.levels.get(NO_LEVEL, 0) / total if total else 0.0,
    )


def _tick_step(value: int) -> int:
    """A round step (1, 1.5, 2, 2.5, ... 8 times 10^k): four steps reach at least value."""
    raw = value / 4
    if raw <= 1:
        return 1
    base = 10 ** math.floor(math.log10(raw))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        step = m * base
        if step >= raw and step == int(step):
            return int(step)
    return int(10 * base)


def line_chart(
    title: str, dates: Sequence[str], series: Sequence[tuple[str, str, bool, Sequence[int]]]
) -> LineChart | None:
    """An SVG line chart over runs: one x position per run, y from 0 to a round maximum.

    `series` is (name, colour, dashed, values per run). None when there is nothing to draw.
    """
    if not dates or not series:
        return None
    step = _tick_step(max((v for *_, values in series for v in values), default=0))
    top = 4 * step
    plot_w = CHART_W - MARGIN_L - MARGIN_R
    plot_h = CHART_H - MARGIN_T - MARGIN_B
    n = len(dates)

    def x_at(i: int) -> float:
        return round(MARGIN_L + (plot_w * i / (n - 1) if n > 1 else plot_w / 2), 2)

    def y_at(v: int) -> float:
        return round(MARGIN_T + plot_h * (1 - v / top), 2)

    drawn = []
    for name, color, dashed, values in series:
        dots = tuple(Dot(x_at(i), y_at(v), f"{dates[i]}: {name} {v}") for i, v in enumerate(values))
        points = " ".join(f"{d.x},{d.y}" for d in dots)
        drawn.append(Series(name, color, dashed, points, dots))
    every = max(1, math.ceil(n / MAX_X_LABELS))
    # The last label ends at its point so it stays inside the canvas.
    x_ticks = tuple(
        Tick(x_at(i), dates[i], "end" if i == n - 1 and n > 1 else "middle")
        for i in range(n)
        if (i % every == 0 and n - 1 - i >= every) or i == n - 1
    )
    y_ticks = tuple(Tick(y_at(step * k), f"{step * k:,}") for k in range(5))
    return LineChart(
        title=title,
        width=CHART_W,
        height=CHART_H,
        left=MARGIN_L,
        right=CHART_W - MARGIN_R,
        top=MARGIN_T,
        bottom=CHART_H - MARGIN_B,
        series=tuple(drawn),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
    )


def _run_labels(runs: Sequence[tuple[int, str]]) -> list[str]:
    """x-axis labels for (run id, date) points: the date, or the run and the day of the
    month when several runs share a date (one label per run must stay distinct)."""
    dates = [date for _, date in runs]
    if len(set(dates)) == len(dates):
        return dates
    return [f"#{run} {date[5:]}" for run, date in runs]


def _trend(report: OrgReport, levels: Levels) -> LineChart | None:
    if len(report.history) < 2:
        return None
    dates = _run_labels([(p.run, p.date) for p in report.history])
    series = [
        (s.label, s.color, False, [p.levels.get(s.key, 0) for p in report.history])
        for s in reversed(levels.swatches)
    ]
    return line_chart("Services per level, by run", dates, series)


def _progress(done: int, remaining: int) -> float:
    total = done + remaining
    return done / total if total else 1.0


def _campaign(campaign: Campaign, report: OrgReport) -> CampaignView:
    rules = tuple(
        (rid, report.rules[rid].title if rid in report.rules else "") for rid in campaign.rules
    )
    dates = _run_labels([(p.run, p.date) for p in campaign.burndown])
    chart = line_chart(
        f"Burndown of {campaign.name}",
        dates,
        [
            ("remaining", REMAINING_COLOR, False, [p.remaining for p in campaign.burndown]),
            ("done", DONE_COLOR, True, [p.done for p in campaign.burndown]),
        ],
    )
    return CampaignView(
        name=campaign.name,
        rules=rules,
        enforce_after=campaign.enforce_after.isoformat() if campaign.enforce_after else "",
        done=campaign.done,
        remaining=campaign.remaining,
        progress=_progress(campaign.done, campaign.remaining),
        teams=tuple(_campaign_row(t) for t in _worst_first(campaign.teams)),
        chart=chart,
    )


def _worst_first(teams: Iterable[CampaignTeam]) -> list[CampaignTeam]:
    return sorted(teams, key=lambda t: (-t.remaining, t.owner))


def _campaign_row(team: CampaignTeam) -> CampaignRow:
    return CampaignRow(
        owner=team.owner,
        done=team.done,
        remaining=team.remaining,
        progress=_progress(team.done, team.remaining),
        remaining_services=team.remaining_services,
    )


CHANGE_TITLES = {
    "down": "Levels down",
    "up": "Levels up",
    "added": "New services",
    "removed": "Removed services",
}


def _changes(changes: Iterable[LevelChange], levels: Levels) -> tuple[ChangeGroup, ...]:
    groups: dict[str, list[tuple[str, str, Swatch, Swatch]]] = {k: [] for k in CHANGE_TITLES}
    for c in changes:
        row = (c.repo, c.service, levels.of(c.before), levels.of(c.after))
        groups.setdefault(c.direction, []).append(row)
    return tuple(
        ChangeGroup(direction, CHANGE_TITLES.get(direction, direction), tuple(sorted(rows)))
        for direction, rows in groups.items()
    )


def _links(service: ServiceRecord) -> tuple[Link, ...]:
    def order(kind: str) -> tuple[int, str]:
        low = kind.lower()
        return (LINK_ORDER.index(low) if low in LINK_ORDER else len(LINK_ORDER), low)

    return tuple(
        Link(kind, url, href(url))
        for kind, url in sorted(service.links.items(), key=lambda item: order(item[0]))
    )


Repos = Callable[[], Iterable[RepoRecord]]  # the records, sorted by name, read anew per call


def _catalog(repos: Repos, levels: Levels) -> Iterator[CatalogRow]:
    for repo in repos():
        for svc in repo.services:
            yield CatalogRow(svc, repo.name, href(repo.url), levels.of(svc.level), _links(svc))


def _failed(repos: Repos) -> Iterator[FailedRepo]:
    for repo in repos():
        if repo.status == "failed":
            yield FailedRepo(repo.name, href(repo.url), repo.error or "")


def build_view(report: OrgReport, repos: Repos | None = None) -> View:
    """The page's view of `report`; its records come from `repos` when given (the
    report's own `repos` otherwise), read lazily while the template renders."""
    if repos is None:
        repos = functools.partial(iter, report.repos)
    levels = Levels(report.levels, _seen_levels(report))
    teams = sorted(report.teams, key=lambda t: (-t.score, -t.services, t.owner))
    return View(
        header=_header(report),
        summary=report.summary,
        shares=_shares(report.summary, levels),
        swatches=levels.swatches,
        overall=levels.mix(report.summary.levels),
        trend=_trend(report, levels),
        teams=tuple(TeamRow(t.owner, t.services, t.score, levels.mix(t.levels)) for t in teams),
        categories=tuple(CategoryRow(c.category, levels.mix(c.levels)) for c in report.by_category),
        checks=tuple(CheckRow(c, levels.of(c.level)) for c in report.checks),
        campaigns=tuple(_campaign(c, report) for c in report.campaigns),
        changes=_changes(report.changes, levels),
        # Nothing is read until the template reaches these two sections.
        failed=_failed(repos) if report.summary.failed else (),
        catalog=_catalog(repos, levels),
        version=__version__,
    )


# -- Jinja2 -----------------------------------------------------------------------------


def _finalize(value: object) -> object:
    # Every printed string becomes one bounded printable line before autoescape escapes
    # it; the template's own markup (Markup) and numbers pass through.
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return _text(value)


def _clip(value: object, limit: int) -> Markup:
    # Escaped here, so finalize lets it through instead of cleaning it a second time.
    return escape(_text(None if value is None else str(value), limit))


def _csp_hash(block: str) -> str:
    digest = hashlib.sha256(str(block).encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


def _percent(value: float) -> str:
    return f"{value:.0%}"


def _count(value: int) -> str:
    return f"{value:,}"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(clip=_clip, csp_hash=_csp_hash, percent=_percent, thousands=_count)
    return env


def iter_html(report: OrgReport, repos: Repos | None = None) -> Iterator[str]:
    """The report as one self-contained HTML page, in pieces: the records come from
    `repos` (the report's own `repos` when None) and are read as the page reaches them."""
    view = build_view(report, repos)
    template = environment().get_template(TEMPLATE)
    return template.generate(view=view, catalog_limit=CATALOG_LIMIT)


def render_html(report: OrgReport) -> str:
    """The report as one self-contained HTML page."""
    return "".join(iter_html(report))
