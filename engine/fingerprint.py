"""Stable fingerprints for findings, so a finding keeps its identity when code moves.

A location's fingerprint hashes the rule, the service, the file, the text of the
flagged line (whitespace-collapsed) and the occurrence index among identical lines —
not the line number. Inserting lines above a finding leaves it unchanged; editing the
flagged line itself makes it a new finding. SARIF's `partialFingerprints`, the diff
gate and `--baseline` all use these.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

from msgspec.structs import replace

from opsgrade.engine.model import CheckResult, Location, Status
from opsgrade.engine.repoview import RepoView, Unreadable

FINGERPRINTED = (Status.FAIL, Status.ERROR, Status.WAIVED)


def _line_text(view: RepoView, path: str, line: int, cache: dict[str, list[str]]) -> str:
    if line <= 0:
        return ""
    lines = cache.get(path)
    if lines is None:
        try:
            lines = view.read_text(path).split("\n")
        except Unreadable:
            lines = []
        cache[path] = lines
    return " ".join(lines[line - 1].split()) if line <= len(lines) else ""


def fingerprint(rule: str, service: str, path: str, text: str, occurrence: int) -> str:
    key = f"{rule}\0{service}\0{path}\0{text}\0{occurrence}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def with_fingerprints(results: Sequence[CheckResult], view: RepoView) -> list[CheckResult]:
    """The results with every location of a fail, error or waived result fingerprinted."""
    cache: dict[str, list[str]] = {}
    seen: Counter[tuple[str, str, str, str]] = Counter()
    out: list[CheckResult] = []
    for result in results:
        if result.status not in FINGERPRINTED or not result.locations:
            out.append(result)
            continue
        locations: list[Location] = []
        for loc in result.locations:
            # A whole-file finding is the same finding whatever the file's first line says.
            text = "" if loc.whole_file else _line_text(view, loc.path, loc.line, cache)
            key = (result.rule, result.service, loc.path, text)
            occurrence = seen[key]
            seen[key] += 1
            fp = fingerprint(result.rule, result.service, loc.path, text, occurrence)
            locations.append(replace(loc, fingerprint=fp))
        out.append(replace(result, locations=tuple(locations)))
    return out
