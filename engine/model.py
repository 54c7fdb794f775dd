"""Immutable records that flow from evaluation to the reporters.

The engine yields these and never formats them; reporters only render them.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any, Literal

import msgspec
from msgspec import field


class Status(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    WAIVED = "waived"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


class Location(msgspec.Struct, frozen=True, order=True):
    """A repo-relative file and a 1-based line (0 when the whole file is meant)."""

    path: str
    line: int = 0
    fingerprint: str = ""  # set for findings: stable across inserted lines (fingerprint.py)
    # The finding is about the file (or the service), shown at line 1 only because SARIF
    # and annotations need a line: its fingerprint ignores that line's text.
    whole_file: bool = False


class Tool(msgspec.Struct, frozen=True):
    """A link a service declares: runbook, logs, dashboard, docs, repo, on-call..."""

    name: str
    category: str
    url: str
    environment: str | None = None


class Waiver(msgspec.Struct, frozen=True):
    rule: str
    reason: str
    expires: dt.date | None
    approved_by: str | None = None
    source: Location | None = None


class Service(msgspec.Struct, frozen=True):
    """One service, normalized from whichever descriptor format declared it."""

    name: str
    root: str  # repo-relative folder, "" for the repository root
    descriptor: str | None = None  # repo-relative path of the descriptor file
    descriptor_format: str | None = None
    description: str | None = None
    owner: str | None = None
    tier: int | None = None
    lifecycle: str | None = None
    language: str | None = None
    framework: str | None = None
    system: str | None = None
    tags: tuple[str, ...] = ()
    tools: tuple[Tool, ...] = ()
    dependencies: tuple[str, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    # Normalized field name -> line in the descriptor, so findings point at the key.
    field_lines: Mapping[str, int] = field(default_factory=dict)
    # The descriptor document as written, for rules that need a format-specific key.
    raw: Mapping[str, Any] = field(default_factory=dict)

    def as_facts(self) -> dict[str, Any]:
        """The service as plain data, the shape `descriptor` paths and `facts` queries see."""
        return {
            "name": self.name,
            "root": self.root,
            "descriptor": self.descriptor,
            "descriptor_format": self.descriptor_format,
            "description": self.description,
            "owner": self.owner,
            "tier": self.tier,
            "lifecycle": self.lifecycle,
            "language": self.language,
            "framework": self.framework,
            "system": self.system,
            "tags": list(self.tags),
            "tools": [
                {"name": t.name, "category": t.category, "url": t.url, "environment": t.environment}
                for t in self.tools
            ],
            "dependencies": list(self.dependencies),
            "raw": self.raw,
        }


class Note(msgspec.Struct, frozen=True):
    """Something the scan skipped or could not read, that a person should know about."""

    path: str
    message: str
    line: int = 0
    kind: str = "skipped"  # skipped | error | waiver


class CheckResult(msgspec.Struct, frozen=True, order=True):
    """One rule's verdict for one service."""

    service: str
    rule: str
    status: Status
    severity: Severity
    level: str
    category: str
    message: str
    locations: tuple[Location, ...] = ()
    counting: bool = True  # False while `enforce_after` is in the future
    waiver: str | None = None  # the waiver's reason when waived, or the expired waiver's note

    @property
    def path(self) -> str | None:
        return self.locations[0].path if self.locations else None

    @property
    def line(self) -> int:
        return self.locations[0].line if self.locations else 0

    @property
    def passing(self) -> bool:
        return self.status in (Status.PASS, Status.WAIVED)


class Scorecard(msgspec.Struct, frozen=True):
    """Levels for one service. A level index of -1 means "no level"."""

    level: str | None
    categories: Mapping[str, str | None]
    score: float
    blockers: tuple[CheckResult, ...]
    next_level: str | None


class ServiceReport(msgspec.Struct, frozen=True):
    service: Service
    results: tuple[CheckResult, ...]
    scorecard: Scorecard


class RuleInfo(msgspec.Struct, frozen=True):
    """What reporters need to know about a rule (metadata only, no check)."""

    id: str
    title: str
    level: str
    category: str
    severity: Severity
    help: str
    fix: str
    pack: str
    see_also: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    weight: float = 1.0
    enforce_after: dt.date | None = None


class PackInfo(msgspec.Struct, frozen=True):
    name: str
    version: str
    origin: str
    description: str = ""


Change = Literal["added", "removed", "up", "down", "same"]


class ServiceChange(msgspec.Struct, frozen=True):
    name: str
    base_level: str | None
    head_level: str | None
    change: Change
    new_failures: tuple[CheckResult, ...] = ()
    fixed: tuple[CheckResult, ...] = ()
    unchanged: tuple[CheckResult, ...] = ()


class Comparison(msgspec.Struct, frozen=True):
    base: str  # what the head was compared with: a revision or a baseline file
    services: tuple[ServiceChange, ...]
    config_changed: bool = False

    @property
    def regressed(self) -> bool:
        return any(s.change == "down" or s.new_failures for s in self.services)


class RunResult(msgspec.Struct, frozen=True):
    """Everything one scan found; the only input reporters and the gate receive."""

    repository: str
    revision: str | None
    evaluated_on: dt.date
    levels: tuple[str, ...]
    categories: tuple[str, ...]
    packs: tuple[PackInfo, ...]
    packs_digest: str
    rules: Mapping[str, RuleInfo]
    services: tuple[ServiceReport, ...]
    notes: tuple[Note, ...]
    config_errors: tuple[Note, ...]
    required_level: str
    # Set by `opsgrade diff` and `scan --baseline`: how this run compares with a base.
    comparison: Comparison | None = None
