"""The org report: aggregates built in one streaming pass over a run's records.

`aggregate_report` turns a run's RepoRecords and the digests of earlier runs into an
OrgReport without its `repos`: the summary, levels per team and per category, check pass
rates, campaigns with their burndown, level changes since the previous complete run,
and the history of levels. The aggregates hold counters and a few strings per service,
not records. `build_report` also keeps the records (the report's `repos`), for reports
that live in memory (merged shards, tests).

A stored run is written as a `ReportStream`: the aggregates, and a way to read the
records again from the store. report.json, report.csv and index.html are each written
by streaming the records a second time, so the report's memory does not grow with the
organization. `merge` combines shard reports into the report one process would have
built over the same repositories; `write_report_dir` writes the three files so that a
reader never sees a half-written one. docs/org-report.md is the format's contract.
"""

from __future__ import annotations

import csv
import heapq
import io
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import RuleInfo
from opsgrade.engine.org.model import (
    NO_LEVEL,
    SCHEMA_VERSION,
    UNOWNED,
    BurndownPoint,
    Campaign,
    CampaignTeam,
    CategorySummary,
    CheckStat,
    Direction,
    HistoryPoint,
    LevelChange,
    OrgReport,
    RepoRecord,
    RuleSummary,
    RunDigest,
    RunInfo,
    ServiceRecord,
    Summary,
    TeamSummary,
)

if TYPE_CHECKING:
    from opsgrade.engine.org.store import Store

CAMPAIGN_TAG = "campaign"
_PASSING = ("pass", "waived")
_DIGITS = 4  # rounding of scores and pass rates in the report
# A shard's report.json is about 2.6 KB per repository: far below this for any org, and a
# bound on what a stray or hostile file can make `org merge` read.
MAX_REPORT_BYTES = 2**30

# -- rules -------------------------------------------------------------------------------


def campaign_of(rule: RuleInfo) -> str | None:
    """A `campaign:NAME` tag names the campaign; a bare `campaign` tag or an
    `enforce_after` date makes the rule a campaign of its own, named by its id."""
    for tag in rule.tags:
        name = tag.removeprefix(CAMPAIGN_TAG + ":").strip()
        if tag.startswith(CAMPAIGN_TAG + ":") and name:
            return name
    if CAMPAIGN_TAG in rule.tags or rule.enforce_after is not None:
        return rule.id
    return None


def summarize_rules(rules: Mapping[str, RuleInfo]) -> dict[str, RuleSummary]:
    return {
        rule_id: RuleSummary(
            id=info.id,
            title=info.title,
            level=info.level,
            category=info.category,
            severity=str(info.severity),
            pack=info.pack,
            tags=info.tags,
            enforce_after=info.enforce_after,
            campaign=campaign_of(info),
        )
        for rule_id, info in sorted(rules.items())
    }


# -- the streaming pass ------------------------------------------------------------------


def service_key(repo: str, service: str) -> str:
    return f"{repo}:{service}"


def _level_key(level: str | None) -> str:
    return NO_LEVEL if level is None else level


class _Team:
    __slots__ = ("levels", "scores")

    def __init__(self, levels: dict[str, int]) -> None:
        self.levels = levels
        self.scores: list[float] = []


class _CampaignTeam:
    __slots__ = ("done", "remaining")

    def __init__(self) -> None:
        self.done = 0
        self.remaining: list[str] = []


class _Aggregate:
    """Counters fed one record at a time."""

    def __init__(
        self, levels: Sequence[str], categories: Sequence[str], rules: Mapping[str, RuleSummary]
    ) -> None:
        self.levels = tuple(levels)
        self.categories = tuple(categories)
        self.rules = rules
        self.statuses = {"scanned": 0, "reused": 0, "failed": 0}
        self.level_counts = self.zero()
        self.teams: dict[str, _Team] = {}
        self.by_category = {category: self.zero() for category in categories}
        self.checks = {rule: {"pass": 0, "fail": 0, "waived": 0, "error": 0} for rule in rules}
        campaigns: dict[str, list[str]] = {}
        for rule_id, summary in sorted(rules.items()):
            if summary.campaign is not None:
                campaigns.setdefault(summary.campaign, []).append(rule_id)
        self.campaign_rules = {name: tuple(ids) for name, ids in sorted(campaigns.items())}
        self.campaign_teams: dict[str, dict[str, _CampaignTeam]] = {c: {} for c in campaigns}
        self.service_levels: dict[str, str | None] = {}
        self.keys: dict[str, tuple[str, str]] = {}

    def zero(self) -> dict[str, int]:
        return {level: 0 for level in (NO_LEVEL, *self.levels)}

    def add(self, rec: RepoRecord) -> None:
        self.statuses[rec.status] = self.statuses.get(rec.status, 0) + 1
        for service in rec.services:
            self._add_service(rec.name, service)

    def _add_service(self, repo: str, service: ServiceRecord) -> None:
        level = _level_key(service.level)
        _bump(self.level_counts, level)
        owner = service.owner or UNOWNED
        team = self.teams.get(owner)
        if team is None:
            team = self.teams[owner] = _Team(self.zero())
        _bump(team.levels, level)
        team.scores.append(service.score)
        for category, counts in self.by_category.items():
            if category in service.categories:
                _bump(counts, _level_key(service.categories[category]))
        for results in (service.results, service.pending):
            for rule, status in results.items():
                counters = self.checks.get(rule)
                if counters is not None and status in counters:
                    counters[status] += 1
        key = service_key(repo, service.name)
        self.service_levels[key] = service.level
        self.keys[key] = (repo, service.name)
        for name, rule_ids in self.campaign_rules.items():
            self._add_to_campaign(name, rule_ids, owner, key, service)

    def _add_to_campaign(
        self, name: str, rule_ids: Sequence[str], owner: str, key: str, service: ServiceRecord
    ) -> None:
        statuses = [service.results.get(r) or service.pending.get(r) for r in rule_ids]
        applying = [status for status in statuses if status is not None]
        if not applying:
            return  # no campaign rule applies to this service
        team = self.campaign_teams[name].get(owner)
        if team is None:
            team = self.campaign_teams[name][owner] = _CampaignTeam()
        if all(status in _PASSING for status in applying):
            team.done += 1
        else:
            team.remaining.append(key)

    @property
    def services(self) -> int:
        return sum(self.level_counts.values())

    def campaign_totals(self, name: str) -> tuple[int, int]:
        teams = self.campaign_teams[name].values()
        return sum(t.done for t in teams), sum(len(t.remaining) for t in teams)

    def digest(self, run: RunInfo) -> RunDigest:
        return RunDigest(
            run=run.id,
            date=run.started_at[:10],
            services=self.services,
            levels=self.level_counts,
            campaigns={name: self.campaign_totals(name) for name in self.campaign_rules},
            service_levels=dict(sorted(self.service_levels.items())),
            complete=run.complete,
        )


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, _DIGITS) if whole else 1.0


def digest(
    run: RunInfo, rules: Mapping[str, RuleSummary], records: Iterable[RepoRecord]
) -> RunDigest:
    """What the run leaves for later runs' trends (levels come from the records)."""
    aggregate = _Aggregate((), (), rules)
    for rec in records:
        aggregate.add(rec)
    return aggregate.digest(run)


# -- the report --------------------------------------------------------------------------


def aggregate_report(
    run: RunInfo,
    levels: Sequence[str],
    categories: Sequence[str],
    rules: Mapping[str, RuleSummary],
    records: Iterable[RepoRecord],
    history: Sequence[RunDigest],
) -> OrgReport:
    """The report of `run` over `records` with `repos` left empty: one pass, keeping no
    record. `history` holds earlier finished runs' digests, oldest first; incomplete
    ones are left out of the trends, and "changes" compare with the last complete one
    (none when there is none)."""
    aggregate = _Aggregate(levels, categories, rules)
    for rec in records:
        aggregate.add(rec)
    current = aggregate.digest(run)
    earlier = [d for d in history if d.complete and d.run != run.id]
    return OrgReport(
        run=run,
        levels=tuple(levels),
        categories=tuple(categories),
        rules=dict(sorted(rules.items())),
        summary=Summary(
            repos=sum(aggregate.statuses.values()),
            scanned=aggregate.statuses["scanned"],
            reused=aggregate.statuses["reused"],
            failed=aggregate.statuses["failed"],
            services=aggregate.services,
            levels=aggregate.level_counts,
        ),
        teams=_teams(aggregate),
        by_category=tuple(
            CategorySummary(category=c, levels=counts)
            for c, counts in aggregate.by_category.items()
        ),
        checks=_checks(aggregate),
        campaigns=_campaigns(aggregate, [*earlier, current]),
        changes=_changes(earlier[-1].service_levels if earlier else None, aggregate),
        history=tuple(
            # A stored digest counts only the levels some service had: fill in the zeros.
            HistoryPoint(
                run=d.run, date=d.date, services=d.services, levels={**aggregate.zero(), **d.levels}
            )
            for d in [*earlier, current]
        ),
        repos=(),
    )


def build_report(
    run: RunInfo,
    levels: Sequence[str],
    categories: Sequence[str],
    rules: Mapping[str, RuleSummary],
    records: Iterable[RepoRecord],
    history: Sequence[RunDigest],
) -> OrgReport:
    """`aggregate_report` keeping the records too, as `repos` sorted by name."""
    repos: list[RepoRecord] = []
    head = aggregate_report(run, levels, categories, rules, _kept(records, repos), history)
    return msgspec.structs.replace(head, repos=tuple(sorted(repos, key=lambda r: r.name)))


def _kept(records: Iterable[RepoRecord], into: list[RepoRecord]) -> Iterator[RepoRecord]:
    for rec in records:
        into.append(rec)
        yield rec


def _teams(aggregate: _Aggregate) -> tuple[TeamSummary, ...]:
    return tuple(
        TeamSummary(
            owner=owner,
            services=len(team.scores),
            levels=team.levels,
            # fsum is exact, so the mean does not depend on the order records came in.
            score=round(math.fsum(team.scores) / len(team.scores), _DIGITS),
        )
        for owner, team in sorted(aggregate.teams.items())
    )


def _checks(aggregate: _Aggregate) -> tuple[CheckStat, ...]:
    stats = []
    for rule_id, counts in aggregate.checks.items():
        info = aggregate.rules[rule_id]
        passing = counts["pass"] + counts["waived"]
        stats.append(
            CheckStat(
                rule=rule_id,
                title=info.title,
                category=info.category,
                level=info.level,
                severity=info.severity,
                passed=counts["pass"],
                failed=counts["fail"],
                waived=counts["waived"],
                errors=counts["error"],
                pass_rate=_ratio(passing, passing + counts["fail"] + counts["error"]),
            )
        )
    return tuple(sorted(stats, key=lambda s: (-s.failed, s.rule)))


def _campaigns(aggregate: _Aggregate, runs: Sequence[RunDigest]) -> tuple[Campaign, ...]:
    campaigns = []
    for name, rule_ids in aggregate.campaign_rules.items():
        dates = [d for r in rule_ids if (d := aggregate.rules[r].enforce_after) is not None]
        done, remaining = aggregate.campaign_totals(name)
        teams = aggregate.campaign_teams[name]
        campaigns.append(
            Campaign(
                name=name,
                rules=rule_ids,
                enforce_after=min(dates) if dates else None,
                done=done,
                remaining=remaining,
                teams=tuple(
                    CampaignTeam(
                        owner=owner,
                        done=team.done,
                        remaining=len(team.remaining),
                        remaining_services=tuple(sorted(team.remaining)),
                    )
                    for owner, team in sorted(teams.items())
                ),
                burndown=tuple(
                    BurndownPoint(
                        run=d.run,
                        date=d.date,
                        done=d.campaigns[name][0],
                        remaining=d.campaigns[name][1],
                    )
                    for d in runs
                    if name in d.campaigns
                ),
            )
        )
    return tuple(campaigns)


def _changes(
    before: Mapping[str, str | None] | None, aggregate: _Aggregate
) -> tuple[LevelChange, ...]:
    if before is None:
        return ()
    rank = {level: i for i, level in enumerate(aggregate.levels)}
    after = aggregate.service_levels
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        direction: Direction
        if key not in before:
            direction = "added"
        elif key not in after:
            direction = "removed"
        elif old == new:
            continue
        else:
            up = rank.get(new or "", -1) > rank.get(old or "", -1)
            direction = "up" if up else "down"
        # A removed service's repository is not in this run: its key splits at the first
        # colon (repository names hold none; folder names rarely do).
        repo, service = aggregate.keys.get(key) or _split_key(key)
        changes.append(
            LevelChange(repo=repo, service=service, before=old, after=new, direction=direction)
        )
    return tuple(sorted(changes, key=lambda c: (c.repo, c.service)))


def _split_key(key: str) -> tuple[str, str]:
    repo, _, service = key.partition(":")
    return repo, service


@dataclass(frozen=True)
class ReportStream:
    """A report whose repositories are read again for each file written: `head` holds
    every aggregate (its `repos` is empty), `repos()` yields the records sorted by name."""

    head: OrgReport
    repos: Callable[[], Iterable[RepoRecord]]

    @classmethod
    def of(cls, report: OrgReport) -> ReportStream:
        """A report held in memory, as a stream."""
        return cls(msgspec.structs.replace(report, repos=()), lambda: report.repos)


def stream_from_store(store: Store, run_id: int) -> ReportStream:
    """The report of a stored run, with the trends of the runs before it: aggregated in
    one pass over the run's records, which each file then streams from the store again
    (the store must stay open until the files are written). Every pass reads the
    records as they stood at the start, so a scan still adding to the run (`org report`
    of a running scan) cannot make a file disagree with the aggregates."""
    levels, categories, rules = store.run_meta(run_id)
    history = store.digests(run_id - 1)  # ids only grow: these are the runs before it
    run = store.run_info(run_id)
    last = store.last_record(run_id)

    def repos() -> Iterator[RepoRecord]:
        return store.records(run_id, up_to=last)

    head = aggregate_report(run, levels, categories, rules, repos(), history)
    return ReportStream(head, repos)


def report_from_store(store: Store, run_id: int) -> OrgReport:
    """The report of a stored run with every record in memory (`stream_from_store`
    writes the same files without holding them)."""
    stream = stream_from_store(store, run_id)
    return msgspec.structs.replace(stream.head, repos=tuple(stream.repos()))


# -- merging shards ----------------------------------------------------------------------


def merge(
    reports: Sequence[OrgReport],
    *,
    history: Sequence[RunDigest] = (),
    labels: Sequence[str] | None = None,
) -> OrgReport:
    """One report over the shards' repositories, equal (but for `run`) to the report a
    single process would have built. The shards' own trends are not combined (a shard's
    history covers only its shard): `history` gives the earlier runs, from the store
    `org merge --db` keeps. `labels` name the shards in errors (their files)."""
    if not reports:
        raise ConfigError("nothing to merge: give at least one shard report")
    names = list(labels) if labels is not None else [f"shard {i + 1}" for i in range(len(reports))]
    first = reports[0]
    for name, other in zip(names[1:], reports[1:], strict=True):
        _check_same_packs(names[0], first, name, other)
    repos = _union(reports, names)
    return build_report(
        _merged_run(reports), first.levels, first.categories, first.rules, repos, history
    )


def missing_shards(reports: Sequence[OrgReport]) -> list[str]:
    """The shards `K/N` of a sharded scan that `reports` leave out (a matrix job that
    failed): a merge without them covers part of the organization only."""
    shards = [r.run.shard for r in reports]
    if not shards or any(shard is None for shard in shards):
        return []  # a whole-organization report among them: nothing to check against
    parsed: list[tuple[int, int]] = []
    for shard in shards:
        k, _, n = (shard or "").partition("/")
        if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
            raise ConfigError(f"run.shard {shard!r} is not K/N")
        parsed.append((int(k), int(n)))
    totals = {total for _, total in parsed}
    if len(totals) != 1:
        raise ConfigError(
            f"shards of different splits cannot be merged: {', '.join(map(str, shards))}"
        )
    total = totals.pop()
    present = {k for k, _ in parsed}
    return [f"{k}/{total}" for k in range(1, total + 1) if k not in present]


def _merged_run(reports: Sequence[OrgReport]) -> RunInfo:
    """The merged run: from the first shard's start to the last one's end; complete
    only when every shard is complete and none is missing; id 0 until a store gives it
    one."""
    runs = [r.run for r in reports]
    finished = [r.finished_at for r in runs]
    sources = sorted({r.source for r in runs})
    return RunInfo(
        id=0,
        started_at=min(r.started_at for r in runs),
        finished_at=None if None in finished else max(f for f in finished if f is not None),
        source=sources[0] if len(sources) == 1 else " ".join(sources),
        shard=None,
        packs=runs[0].packs,
        packs_digest=runs[0].packs_digest,
        complete=all(r.complete for r in runs) and not missing_shards(reports),
    )


def _check_same_packs(first_name: str, first: OrgReport, name: str, other: OrgReport) -> None:
    if other.run.packs_digest != first.run.packs_digest:
        raise ConfigError(
            f"{name}: scanned with other packs than {first_name} (packs digest "
            f"{other.run.packs_digest[:12]} vs {first.run.packs_digest[:12]}); "
            "every shard must use the same --pack options"
        )
    for part in ("levels", "categories", "rules"):
        if getattr(other, part) != getattr(first, part):
            raise ConfigError(f"{name}: its {part} differ from {first_name}'s")


def _union(reports: Sequence[OrgReport], names: Sequence[str]) -> Iterator[RepoRecord]:
    """Every shard's repositories in name order; a name in two shards is an error."""
    tagged = [_tagged(index, report.repos) for index, report in enumerate(reports)]
    previous: tuple[str, int] | None = None
    for name, index, rec in heapq.merge(*tagged, key=lambda t: t[0]):
        if previous is not None and previous[0] == name:
            where = f"{names[previous[1]]} and {names[index]}"
            if names[previous[1]] == names[index]:
                where = f"{names[index]} (twice)"
            raise ConfigError(f"repository {name} is in {where}: shards must not overlap")
        previous = (name, index)
        yield rec


def _tagged(index: int, repos: Sequence[RepoRecord]) -> Iterator[tuple[str, int, RepoRecord]]:
    for rec in sorted(repos, key=lambda r: r.name):
        yield rec.name, index, rec


# -- files -------------------------------------------------------------------------------

CSV_COLUMNS = (
    "repo",
    "repo_status",
    "service",
    "owner",
    "tier",
    "lifecycle",
    "language",
    "level",
    "score",
    "failing_rules",
    "runbook",
    "dashboard",
    "logs",
    "repo_url",
    "error",
)


_record_encoder = msgspec.json.Encoder(order="sorted")
# Where the report's `repos` array sits in the formatted JSON of a report without
# repositories: the only key at two spaces of indentation named "repos" (a string in
# JSON holds no raw newline, so no value can contain this).
_EMPTY_REPOS = b'\n  "repos": [],\n'
_ITEM = b"\n    "  # a `repos` item starts on a new line, at depth two


def _format(data: bytes) -> bytes:
    return msgspec.json.format(data, indent=2)


def encode_json(report: OrgReport) -> bytes:
    """Deterministic: sorted keys, two-space indentation, a final newline."""
    return b"".join(iter_json(ReportStream.of(report)))


def iter_json(report: ReportStream) -> Iterator[bytes]:
    """report.json in pieces, a record at a time: the same bytes as formatting the whole
    report (sorted keys, two-space indentation, a final newline), which a test checks.
    The report without repositories is formatted, and the `repos` array, each record
    formatted alone and indented to its depth, is spliced in at its sorted-key place."""
    head = _format(_record_encoder.encode(msgspec.structs.replace(report.head, repos=())))
    before, slot, after = head.partition(_EMPTY_REPOS)
    if not slot:  # cannot happen while OrgReport has a `repos` field
        raise AssertionError("no repos slot in the formatted report")
    yield before + b'\n  "repos": ['
    separator = _ITEM
    for rec in report.repos():
        yield separator + _format(_record_encoder.encode(rec)).replace(b"\n", _ITEM)
        separator = b"," + _ITEM
    # msgspec keeps an empty array on its key's line, and closes others on a line of their own.
    closing = b"]" if separator == _ITEM else b"\n  ]"
    yield closing + b",\n" + after + b"\n"


def encode_csv(report: OrgReport) -> str:
    """One row per service; a repository without services (a failed one) is one row."""
    return b"".join(iter_csv(report.repos)).decode("utf-8")


def iter_csv(repos: Iterable[RepoRecord]) -> Iterator[bytes]:
    """report.csv in pieces, a repository's rows at a time (UTF-8, CRLF rows)."""
    from opsgrade.reporters.csv_report import cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for rec in repos:
        repo = [cell(rec.name), rec.status]
        tail = [cell(rec.url), cell(rec.error)]
        if not rec.services:
            writer.writerow([*repo, *[""] * (len(CSV_COLUMNS) - 4), *tail])
        for s in rec.services:
            failing = sorted(r for r, status in s.results.items() if status in ("fail", "error"))
            writer.writerow(
                [
                    *repo,
                    cell(s.name),
                    cell(s.owner),
                    "" if s.tier is None else str(s.tier),
                    cell(s.lifecycle),
                    cell(s.language),
                    cell(s.level),
                    f"{s.score:.{_DIGITS}f}",
                    cell(" ".join(failing)),
                    *(cell(s.links.get(kind)) for kind in ("runbook", "dashboard", "logs")),
                    *tail,
                ]
            )
        yield out.getvalue().encode("utf-8")
        out.seek(0)
        out.truncate()
    yield out.getvalue().encode("utf-8")  # the header, when there was no repository


def load_report(path: str | Path) -> OrgReport:
    """A report.json written by this version; anything else is a ConfigError naming it."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise ConfigError(f"{path}: over {MAX_REPORT_BYTES >> 20} MiB, not an org report")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the report: {exc.strerror}") from None
    try:
        version = msgspec.json.decode(data, type=_Versioned).schema_version
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"{path}: not an opsgrade org report ({exc})") from None
    if version != SCHEMA_VERSION:
        raise ConfigError(
            f"{path}: org report schema_version {version}; this opsgrade reads {SCHEMA_VERSION}"
        )
    try:
        return msgspec.json.decode(data, type=OrgReport)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"{path}: not a valid org report ({exc})") from None


class _Versioned(msgspec.Struct):
    schema_version: int


Chunks = Callable[[], Iterable[bytes]]  # produces a file's bytes, piece by piece


def write_json(report: OrgReport | ReportStream, path: Path) -> None:
    stream = report if isinstance(report, ReportStream) else ReportStream.of(report)
    write_streams({path: lambda: iter_json(stream)})


def write_report_dir(report: OrgReport | ReportStream, out_dir: Path) -> None:
    """report.json, report.csv and index.html in `out_dir`, each replaced atomically;
    all three are written beside their targets before any is replaced, so a failure
    leaves the previous report whole. Each streams the repositories anew."""
    from opsgrade.reporters import org_html

    stream = report if isinstance(report, ReportStream) else ReportStream.of(report)
    write_streams(
        {
            out_dir / "report.json": lambda: iter_json(stream),
            out_dir / "report.csv": lambda: iter_csv(stream.repos()),
            out_dir / "index.html": lambda: _utf8(org_html.iter_html(stream.head, stream.repos)),
        }
    )


def _utf8(pieces: Iterable[str]) -> Iterator[bytes]:
    """Encodes a renderer's many small pieces in batches of about 64 KiB."""
    batch: list[str] = []
    size = 0
    for piece in pieces:
        batch.append(piece)
        size += len(piece)
        if size >= 1 << 16:
            yield "".join(batch).encode("utf-8")
            batch.clear()
            size = 0
    yield "".join(batch).encode("utf-8")


def write_streams(files: Mapping[Path, Chunks]) -> None:
    """Stages every file beside its target (same file system) from its chunks, fsyncs
    them, then renames each over its target: a reader sees the old file or the new one,
    and an error while producing any file (a renderer, the store) replaces none."""
    staged: dict[Path, str] = {}
    try:
        for target, chunks in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            staged[target] = tmp
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide a published report
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks():
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
        for target, tmp in staged.items():
            os.replace(tmp, target)
        for folder in {target.parent for target in staged}:
            _fsync_dir(folder)
    except OSError as exc:
        raise ConfigError(f"cannot write {exc.filename or 'the report'}: {exc.strerror}") from None
    finally:
        for tmp in staged.values():
            Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
