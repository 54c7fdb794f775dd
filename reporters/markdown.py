"""`--format markdown`: the pull-request comment (docs/pr-comment.md).

The comment is rendered from `templates/pr-comment.md.j2`. This module builds a view of
the run (plain data, nothing escaped yet); the template lays it out and passes every
value through a Markdown filter (`md`, `code`, `inline` from reporters/escape.py). The
environment's `finalize` escapes any value the template prints without one, so
forgetting a filter shows text, it does not inject Markdown.

GitHub refuses a comment over 65,536 characters. The comment is rendered at most a few
times, each time more summarized, until it fits the budget: the collapsed sections
become counts, then lists are capped with "… and N more", then the service table.
Text is never cut after rendering, so no markup is left open.

Jinja2 is imported here and nowhere on the scan path: this module is loaded only when
the markdown format is asked for.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import jinja2.bccache
import msgspec
from markupsafe import Markup

from opsgrade.engine import __version__
from opsgrade.engine.model import (
    CheckResult,
    Location,
    Note,
    RunResult,
    ServiceChange,
    ServiceReport,
    Status,
)
from opsgrade.reporters import RenderOptions
from opsgrade.reporters.escape import md_code, md_inline, md_text

# The first line of every comment: the Action finds its own comment by it and updates
# that one in place. Bump the version only if an old comment must not be reused.
MARKER = "<!-- opsgrade:pr-comment v1 -->"
# GitHub's limit for an issue or pull-request comment body, in characters.
GITHUB_COMMENT_LIMIT = 65_536
# What the comment aims for: room left for what the Action may add around it.
BUDGET = 60_000
TEMPLATE = "pr-comment.md.j2"
TEMPLATES = Path(__file__).parent / "templates"
LOCATIONS_SHOWN = 3

T = TypeVar("T")


class Shape(msgspec.Struct, frozen=True):
    """How much of the run one rendering shows."""

    details: bool  # the collapsed sections in full, or only their counts
    list_cap: int | None  # items per list (None: all)
    table_cap: int | None  # rows in the service table (None: all)


# From everything to the bare minimum; the first that fits the budget is used.
SHAPES = (
    Shape(details=True, list_cap=None, table_cap=None),
    Shape(details=False, list_cap=None, table_cap=None),
    Shape(details=False, list_cap=100, table_cap=None),
    Shape(details=False, list_cap=25, table_cap=None),
    Shape(details=False, list_cap=5, table_cap=300),
    Shape(details=False, list_cap=0, table_cap=100),
    Shape(details=False, list_cap=0, table_cap=20),
)


# -- the view: what the template shows, as plain unescaped data ------------------------


class Item(msgspec.Struct, frozen=True):
    mark: str
    rule: str
    title: str
    service: str
    message: str
    locations: tuple[str, ...] = ()
    more_locations: int = 0
    fix: str = ""
    waiver: str = ""  # an expired waiver's note on a failing result


class NoteItem(msgspec.Struct, frozen=True):
    where: str
    message: str


class Row(msgspec.Struct, frozen=True):
    name: str
    owner: str
    level: str
    change: str
    score: str


class Blockers(msgspec.Struct, frozen=True):
    service: str
    level: str
    next_level: str
    items: tuple[Item, ...]


class Section(msgspec.Struct, frozen=True):
    title: str
    items: tuple[Item, ...] = ()
    notes: tuple[NoteItem, ...] = ()

    @property
    def count(self) -> int:
        return len(self.items) + len(self.notes)


class View(msgspec.Struct, frozen=True):
    heading: str
    reasons: tuple[str, ...]
    repository: str
    revision: str
    base: str
    required: str
    config_changed: bool
    summary: str
    compared: bool
    rows: tuple[Row, ...]
    new: tuple[Item, ...]
    fixed: tuple[Item, ...]
    blockers: tuple[Blockers, ...]
    config_errors: tuple[NoteItem, ...]
    details: tuple[Section, ...]
    packs: tuple[str, ...]
    evaluated_on: str


def _short(revision: str | None) -> str:
    if not revision:
        return ""
    return revision[:12] if len(revision) == 40 else revision


def _where(loc: Location) -> str:
    return f"{loc.path}:{loc.line}" if loc.line else loc.path


def _item(
    result: CheckResult, run: RunResult, mark: str, message: str | None = None, fix: bool = True
) -> Item:
    info = run.rules.get(result.rule)
    wheres = tuple(_where(loc) for loc in result.locations if loc.path)
    return Item(
        mark="⚠️" if result.status == Status.ERROR else mark,
        rule=result.rule,
        title=info.title if info else "",
        service=result.service,
        message=result.message if message is None else message,
        locations=wheres[:LOCATIONS_SHOWN],
        more_locations=max(len(wheres) - LOCATIONS_SHOWN, 0),
        fix=info.fix if fix and info and result.status == Status.FAIL else "",
        waiver=(result.waiver or "") if result.status != Status.WAIVED else "",
    )


def _level_name(level: str | None) -> str:
    return level if level is not None else "no level"


def _change(change: ServiceChange | None) -> str:
    if change is None:
        return ""
    if change.change == "added":
        return "(new)"
    if change.change == "removed":
        return "(removed)"
    if change.change == "same":
        return "="
    arrow = "▲" if change.change == "up" else "▼"
    return f"{_level_name(change.base_level)} → {_level_name(change.head_level)} {arrow}"


def _rows(run: RunResult) -> tuple[Row, ...]:
    changes = {c.name: c for c in run.comparison.services} if run.comparison else {}
    rows = [
        Row(
            name=r.service.name,
            owner=r.service.owner or "—",
            level=_level_name(r.scorecard.level),
            change=_change(changes.get(r.service.name)),
            score=f"{r.scorecard.score:.0%}",
        )
        for r in run.services
    ]
    # A service the change deletes is no longer in the run, only in the comparison.
    rows += [
        Row(c.name, "—", _level_name(c.base_level), _change(c), "—")
        for c in changes.values()
        if c.change == "removed"
    ]
    return tuple(rows)


def _summary(run: RunResult) -> str:
    count = len(run.services)
    parts = [f"{count} service{'s' if count != 1 else ''}"]
    for level in reversed(run.levels):
        reached = sum(1 for r in run.services if r.scorecard.level == level)
        if reached:
            parts.append(f"{reached} {level}")
    none = sum(1 for r in run.services if r.scorecard.level is None)
    if none:
        parts.append(f"{none} with no level")
    return " · ".join(parts)


def _blockers(run: RunResult) -> tuple[Blockers, ...]:
    return tuple(
        Blockers(
            service=r.service.name,
            level=_level_name(r.scorecard.level),
            next_level=r.scorecard.next_level or "",
            # Grouped under their service: the items need not repeat it.
            items=tuple(
                msgspec.structs.replace(_item(b, run, "❌"), service="")
                for b in r.scorecard.blockers
            ),
        )
        for r in run.services
        if r.scorecard.next_level and r.scorecard.blockers
    )


def _results(run: RunResult, keep: Callable[[CheckResult], bool]) -> list[CheckResult]:
    return [res for r in run.services for res in r.results if keep(res)]


def _other_failures(report: ServiceReport) -> list[CheckResult]:
    """Counting failures that do not block the next level (they block a later one)."""
    blockers = set(report.scorecard.blockers)
    return [
        r for r in report.results if r.counting and r.status == Status.FAIL and r not in blockers
    ]


def _details(run: RunResult) -> tuple[Section, ...]:
    sections: list[Section] = []
    if run.comparison is not None:
        unchanged = [res for c in run.comparison.services for res in c.unchanged]
        sections.append(
            Section("Unchanged failures", tuple(_item(r, run, "❌") for r in unchanged))
        )
    else:
        others = [res for r in run.services for res in _other_failures(r)]
        sections.append(Section("Other failures", tuple(_item(r, run, "❌") for r in others)))
    upcoming = _results(run, lambda res: not res.counting and res.status == Status.FAIL)
    waived = _results(run, lambda res: res.status == Status.WAIVED)
    errors = _results(run, lambda res: res.status == Status.ERROR)
    sections += [
        Section("Upcoming (not counted yet)", tuple(_item(r, run, "⏳") for r in upcoming)),
        Section("Waived", tuple(_item(r, run, "💤", r.waiver or "") for r in waived)),
        Section("Errors (the check could not decide)", tuple(_item(r, run, "⚠️") for r in errors)),
        Section("Notes", notes=tuple(_note(n) for n in run.notes)),
    ]
    return tuple(s for s in sections if s.count)


def _note(note: Note) -> NoteItem:
    return NoteItem(
        where=f"{note.path}:{note.line}" if note.line else note.path, message=note.message
    )


def build_view(run: RunResult, options: RenderOptions) -> View:
    verdict = options.verdict
    if verdict is None:
        heading = "opsgrade"
    else:
        heading = "✅ opsgrade: passed" if verdict.passed else "❌ opsgrade: failed"
    comparison = run.comparison
    return View(
        heading=heading,
        reasons=tuple(verdict.reasons) if verdict and not verdict.passed else (),
        repository=run.repository,
        revision=_short(run.revision),
        base=_short(comparison.base) if comparison else "",
        required=options.required_level or "",
        config_changed=bool(comparison and comparison.config_changed),
        summary=_summary(run),
        compared=comparison is not None,
        rows=_rows(run),
        new=tuple(
            _item(r, run, "❌")
            for c in (comparison.services if comparison else ())
            for r in c.new_failures
        ),
        fixed=tuple(
            _item(r, run, "✅", "", fix=False)
            for c in (comparison.services if comparison else ())
            for r in c.fixed
        ),
        blockers=_blockers(run),
        config_errors=tuple(_note(n) for n in run.config_errors),
        details=_details(run),
        packs=tuple(f"{p.name} {p.version}" for p in run.packs),
        evaluated_on=run.evaluated_on.isoformat(),
    )


# -- shaping: the same view, summarized to fit ------------------------------------------


def _cap(items: Sequence[T], cap: int | None) -> tuple[Sequence[T], int]:
    if cap is None or len(items) <= cap:
        return items, 0
    return items[:cap], len(items) - cap


def _capped_blockers(groups: Iterable[Blockers], cap: int | None) -> tuple[list[Blockers], int]:
    """The blocker groups with at most `cap` items in all, and how many were left out."""
    shown: list[Blockers] = []
    hidden = 0
    room = cap
    for group in groups:
        items, left = _cap(group.items, room)
        hidden += left
        if items:
            shown.append(msgspec.structs.replace(group, items=tuple(items)))
        if room is not None:
            room -= len(items)
    return shown, hidden


def context(view: View, shape: Shape) -> dict[str, Any]:
    """What the template receives for one shape of the view."""
    rows, rows_hidden = _cap(view.rows, shape.table_cap)
    new, new_hidden = _cap(view.new, shape.list_cap)
    fixed, fixed_hidden = _cap(view.fixed, shape.list_cap)
    blockers, blockers_hidden = _capped_blockers(view.blockers, shape.list_cap)
    config_errors, config_errors_hidden = _cap(view.config_errors, shape.list_cap)
    details = [
        {
            "title": Markup(s.title),  # noqa: S704 - our own constant titles
            "count": s.count,
            "items": _cap(s.items, shape.list_cap)[0],
            "notes": _cap(s.notes, shape.list_cap)[0],
            "hidden": _cap(s.items, shape.list_cap)[1] + _cap(s.notes, shape.list_cap)[1],
        }
        for s in view.details
    ]
    return {
        "marker": Markup(MARKER),  # noqa: S704 - a constant HTML comment
        "view": view,
        "rows": rows,
        "rows_hidden": rows_hidden,
        "new": new,
        "new_hidden": new_hidden,
        "fixed": fixed,
        "fixed_hidden": fixed_hidden,
        "blockers": blockers,
        "blockers_hidden": blockers_hidden,
        "config_errors": config_errors,
        "config_errors_hidden": config_errors_hidden,
        "details": details if shape.details else [],
        "omitted": [] if shape.details else [(s.count, s.title.lower()) for s in view.details],
        "version": __version__,
    }


# -- Jinja2 -----------------------------------------------------------------------------


def _filter(escape: Callable[..., str]) -> Callable[..., Markup]:
    def apply(value: object, *args: Any) -> Markup:
        return Markup(escape(None if value is None else str(value), *args))  # noqa: S704

    return apply


def _finalize(value: object) -> object:
    # Values the template prints without a filter are escaped as text; a filter's
    # result (Markup) is already Markdown and goes through unchanged.
    if isinstance(value, Markup):
        return value
    return Markup(md_text(None if value is None else str(value)))  # noqa: S704


@functools.cache
def environment() -> jinja2.Environment:
    # autoescape makes every printed value go through escape(finalize(value)): with the
    # finalize above, Markdown escaping is the default and HTML escaping the backstop.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["md"] = _filter(md_text)
    env.filters["code"] = _filter(md_code)
    env.filters["inline"] = _filter(md_inline)
    return env


# -- the template, compiled ahead of time ---------------------------------------------
# Compiling the template costs about 20 ms, as much as importing Jinja2, and a render
# has a 30 ms budget. `_markdown_template.py` is the template as Jinja2 compiles it
# (Environment.compile with defer_init, what Environment.compile_templates writes for
# ModuleLoader); it is used when it was made from the current template by a Jinja2
# whose compiled code is compatible (jinja2.bccache.bc_version, the key of Jinja2's own
# bytecode cache), else the template is compiled here as usual.

COMPILED_MODULE = "_markdown_template"
COMPILED_PATH = Path(__file__).with_name(f"{COMPILED_MODULE}.py")
COMPILED_HEADER = f"""\
# Generated from templates/{TEMPLATE} by `python -m opsgrade.reporters.markdown`: do not
# edit. The template compiled by Jinja2 ahead of time (reporters/markdown.py says why).
# ruff: noqa
# fmt: off
# mypy: ignore-errors
"""


def template_source() -> str:
    return (TEMPLATES / TEMPLATE).read_text("utf-8")


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def compiled_module_text() -> str:
    """The text of `_markdown_template.py` for the current template and Jinja2."""
    source = template_source()
    code = environment().compile(
        source, TEMPLATE, f"templates/{TEMPLATE}", raw=True, defer_init=True
    )
    return (
        f"{COMPILED_HEADER}SOURCE_SHA256 = {_digest(source)!r}\n"
        f"BC_VERSION = {jinja2.bccache.bc_version!r}\n{code}\n"
    )


def compiled_template() -> jinja2.Template | None:
    """The ahead-of-time compiled template, or None when it is missing or stale."""
    try:
        module = importlib.import_module(f"opsgrade.reporters.{COMPILED_MODULE}")
    except ImportError:
        return None
    current = getattr(module, "BC_VERSION", None) == jinja2.bccache.bc_version
    if not current or getattr(module, "SOURCE_SHA256", None) != _digest(template_source()):
        return None
    env = environment()
    # The module's own namespace: its render functions find `environment` there.
    return env.template_class.from_module_dict(env, module.__dict__, env.globals)


@functools.cache
def template() -> jinja2.Template:
    return compiled_template() or environment().get_template(TEMPLATE)


def render_view(view: View) -> str:
    """The comment for `view`: the first shape whose rendering fits the budget."""
    text = ""
    for shape in SHAPES:
        text = template().render(context(view, shape))
        if len(text) <= BUDGET:
            break
    return text


class MarkdownReporter:
    def render(self, run: RunResult, options: RenderOptions) -> str:
        return render_view(build_view(run, options))


if __name__ == "__main__":
    COMPILED_PATH.write_text(compiled_module_text(), encoding="utf-8")
    print(f"wrote {COMPILED_PATH}")
