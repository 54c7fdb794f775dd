"""Inline waivers: `# opsgrade: ignore[RULE-ID] reason until=YYYY-MM-DD`.

Written in the comment lines directly above a flagged line (a Dockerfile instruction, a
workflow step or key), a waiver covers that one place for the named rules, never the
whole file. A waiver without a reason, or past its `until` date, waives nothing and is
reported as a note.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import msgspec

from opsgrade.engine.model import Location, Note
from opsgrade.engine.repoview import RepoView, Unreadable

_MARK = re.compile(r"#\s*opsgrade:\s*ignore\[(?P<rules>[^\]]*)\](?P<rest>[^\n]*)$", re.IGNORECASE)
_UNTIL = re.compile(r"\buntil=(?P<date>\S+)")
MAX_COMMENT_LINES = 20


class InlineWaiver(msgspec.Struct, frozen=True):
    rules: tuple[str, ...]
    reason: str
    until: dt.date | None
    line: int
    problem: str = ""  # why it does not waive (no reason, bad date)


def _parse(text: str, line: int) -> InlineWaiver | None:
    found = _MARK.search(text)
    if found is None:
        return None
    rules = tuple(r.strip().upper() for r in found.group("rules").split(",") if r.strip())
    rest = found.group("rest")
    until: dt.date | None = None
    problem = ""
    match = _UNTIL.search(rest)
    if match is not None:
        rest = rest[: match.start()] + rest[match.end() :]
        try:
            until = dt.date.fromisoformat(match.group("date"))
        except ValueError:
            problem = f"until={match.group('date')} is not a date (YYYY-MM-DD)"
    reason = rest.strip(" \t-:—")
    if not reason and not problem:
        problem = "inline waiver without a reason"
    if not rules:
        problem = "inline waiver names no rule"
    return InlineWaiver(rules, reason, until, line, problem)


def waivers_above(lines: list[str], line: int) -> list[InlineWaiver]:
    """The waivers in the run of comment lines directly above 1-based `line`."""
    found: list[InlineWaiver] = []
    index = line - 2
    while index >= 0 and line - 2 - index < MAX_COMMENT_LINES:
        stripped = lines[index].strip()
        if not stripped.startswith("#"):
            break
        waiver = _parse(stripped, index + 1)
        if waiver is not None:
            found.append(waiver)
        index -= 1
    return found


class InlineWaivers:
    """Looks up inline waivers for findings, reading each file once."""

    def __init__(self, view: RepoView, aliases: Mapping[str, str], today: dt.date) -> None:
        self._view = view
        self._aliases = aliases
        self._today = today
        self._lines: dict[str, list[str]] = {}
        self.notes: dict[tuple[str, int, str], Note] = {}

    def _file(self, path: str) -> list[str]:
        if path not in self._lines:
            try:
                self._lines[path] = self._view.read_text(path).split("\n")
            except Unreadable:
                self._lines[path] = []
        return self._lines[path]

    def reason_for(self, rule: str, loc: Location) -> str | None:
        """The reason an inline waiver gives for `rule` at `loc`, if one holds."""
        if loc.line < 2:
            return None
        for waiver in waivers_above(self._file(loc.path), loc.line):
            if rule not in (self._aliases.get(r, r) for r in waiver.rules):
                continue
            problem = waiver.problem
            if not problem and waiver.until is not None and waiver.until < self._today:
                problem = f"inline waiver for {rule} expired on {waiver.until.isoformat()}"
            if problem:
                key = (loc.path, waiver.line, rule)
                self.notes[key] = Note(loc.path, problem, waiver.line, "waiver")
                continue
            return waiver.reason
        return None
