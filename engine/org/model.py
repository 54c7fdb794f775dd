"""Records of the org scan: what is stored per repository, and the report built from them.

A repository's scan is reduced to a `RepoRecord` as soon as it finishes (the full
RunResult is never kept), stored in SQLite, and the report is aggregated from those
records. Everything here is plain data: msgspec encodes it to the report's JSON.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal

import msgspec
from msgspec import field

from opsgrade.engine.model import PackInfo

SCHEMA_VERSION = 1
NO_LEVEL = "none"  # the key for "below the lowest level" in level counts
UNOWNED = "(unowned)"  # the team of services that name no owner

RepoStatus = Literal["scanned", "reused", "failed"]
Direction = Literal["up", "down", "added", "removed"]


class ServiceRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One service of one repository, as the catalog and the aggregates need it."""

    name: str
    owner: str | None = None
    tier: int | None = None
    lifecycle: str | None = None
    language: str | None = None
    system: str | None = None
    tags: tuple[str, ...] = ()
    # Link kind (runbook, logs, dashboard, docs, repo, ...) -> URL, from the descriptor's tools.
    links: Mapping[str, str] = field(default_factory=dict)
    level: str | None = None
    categories: Mapping[str, str | None] = field(default_factory=dict)
    score: float = 0.0
    # Rule id -> status (pass, fail, waived, error) for every rule that applies;
    # not_applicable results are left out. Only counting results: a rule whose
    # enforce_after is still ahead is recorded under `pending`.
    results: Mapping[str, str] = field(default_factory=dict)
    pending: Mapping[str, str] = field(default_factory=dict)
    blockers: tuple[str, ...] = ()  # rule ids between this service and its next level


class RepoRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One repository's outcome in one run."""

    name: str  # "org/repo" for GitHub, the folder name for a local folder
    status: RepoStatus
    url: str | None = None
    revision: str | None = None  # the commit scanned, when known
    packs_digest: str = ""
    error: str | None = None  # why a failed repository failed
    services: tuple[ServiceRecord, ...] = ()
    config_errors: int = 0
    notes: int = 0


class RuleSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    level: str
    category: str
    severity: str
    pack: str
    tags: tuple[str, ...] = ()
    enforce_after: dt.date | None = None
    # The campaign a rule belongs to: its `campaign:NAME` tag, or `campaign` alone, or a
    # rule with enforce_after. None for ordinary rules.
    campaign: str | None = None


class RunInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    started_at: str  # ISO 8601 UTC, seconds
    finished_at: str | None = None
    source: str = ""  # "folder:PATH" or "github:ORG"
    shard: str | None = None  # "K/N" when the run covered one shard
    packs: tuple[PackInfo, ...] = ()
    packs_digest: str = ""
    complete: bool = True  # False when the run stopped early (rate limit, interrupt)


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    repos: int
    scanned: int
    reused: int
    failed: int
    services: int
    levels: Mapping[str, int]  # level (or NO_LEVEL) -> services


class TeamSummary(msgspec.Struct, frozen=True, kw_only=True):
    owner: str  # UNOWNED for services without an owner
    services: int
    levels: Mapping[str, int]
    score: float  # mean score of the team's services


class CategorySummary(msgspec.Struct, frozen=True, kw_only=True):
    category: str
    levels: Mapping[str, int]  # the services' level in this category


class CheckStat(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    title: str
    category: str
    level: str
    severity: str
    passed: int
    failed: int
    waived: int
    errors: int
    pass_rate: float  # (passed + waived) / applicable, 0..1; 1.0 when nothing applies


class CampaignTeam(msgspec.Struct, frozen=True, kw_only=True):
    owner: str
    done: int
    remaining: int
    remaining_services: tuple[str, ...]  # "repo:service", sorted


class BurndownPoint(msgspec.Struct, frozen=True, kw_only=True):
    run: int
    date: str  # the run's started_at date, YYYY-MM-DD
    done: int
    remaining: int


class Campaign(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    rules: tuple[str, ...]
    enforce_after: dt.date | None  # the earliest of its rules'
    done: int  # services that pass (or waive) every campaign rule that applies to them
    remaining: int
    teams: tuple[CampaignTeam, ...]
    burndown: tuple[BurndownPoint, ...]  # oldest first, the current run last


class LevelChange(msgspec.Struct, frozen=True, kw_only=True):
    repo: str
    service: str
    before: str | None
    after: str | None
    direction: Direction


class HistoryPoint(msgspec.Struct, frozen=True, kw_only=True):
    run: int
    date: str
    services: int
    levels: Mapping[str, int]


class RunDigest(msgspec.Struct, frozen=True, kw_only=True):
    """What a run leaves for later runs' trends: stored with the run when it finishes."""

    run: int
    date: str
    services: int
    levels: Mapping[str, int]
    campaigns: Mapping[str, tuple[int, int]]  # campaign -> (done, remaining)
    service_levels: Mapping[str, str | None]  # "repo:service" -> level, for "changes"
    # False for a run that stopped early: trends, burndowns and "changes" skip it, since
    # its counts cover only part of the organization.
    complete: bool = True


class OrgReport(msgspec.Struct, frozen=True, kw_only=True):
    schema_version: int = SCHEMA_VERSION
    run: RunInfo
    levels: tuple[str, ...]
    categories: tuple[str, ...]
    rules: Mapping[str, RuleSummary]
    summary: Summary
    teams: tuple[TeamSummary, ...]  # sorted by owner
    by_category: tuple[CategorySummary, ...]  # in pack category order
    checks: tuple[CheckStat, ...]  # most failures first, then rule id
    campaigns: tuple[Campaign, ...]
    changes: tuple[LevelChange, ...]  # since the previous complete run
    history: tuple[HistoryPoint, ...]  # oldest first, the current run last
    repos: tuple[RepoRecord, ...]  # sorted by name
