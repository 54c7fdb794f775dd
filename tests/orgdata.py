"""Realistic org-report samples for tests and benchmarks, built from the org model.

`sample_report(repos=N)` returns an OrgReport whose summary, teams, categories, check
stats and current campaign counts are computed here from its repository records,
independently of engine/org/report.py (so a page test does not depend on that code);
earlier runs (history, burndown, changes) are made up to look like a real trend.
`hostile=True` adds repositories whose every controlled string (and a third-party
pack's rule title) is one of HOSTILE or HOSTILE_URLS: attempts to break out of HTML,
attributes, URLs, scripts and templates; a successful one would set `window.__pwned`.
CHROMIUM and CHROMIUM_ARGS are how the browser test and the bench start Chromium.

Deterministic: the same arguments give an equal report.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from msgspec.structs import replace

from opsgrade.engine.model import PackInfo
from opsgrade.engine.org.model import (
    NO_LEVEL,
    UNOWNED,
    BurndownPoint,
    Campaign,
    CampaignTeam,
    CategorySummary,
    CheckStat,
    HistoryPoint,
    LevelChange,
    OrgReport,
    RepoRecord,
    RuleSummary,
    RunInfo,
    ServiceRecord,
    Summary,
    TeamSummary,
)

# How the browser test and bench/org_html_bench.py start Debian's chromium through
# playwright (which must never download a browser of its own).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
LEVELS = ("bronze", "silver", "gold")
CATEGORIES = ("ownership", "reliability", "security", "observability")
# The flag a successful injection would set; the browser test checks it never is.
PWNED = "__pwned"
HOSTILE = (
    f"<script>window.{PWNED}=1</script>",
    f'"onmouseover="window.{PWNED}=1" x="',
    f"'><img src=x onerror=window.{PWNED}=1>",
    f"</script><script>window.{PWNED}=1</script>",
    f"</style><script>window.{PWNED}=1</script>",
    "{{7*7}}{% raw %}${7*7}",
    "\u202egnp.exe\u202c and \u2066isolate\u2069",  # bidi overrides: spoofed text
    "line\u2028separator\u2029and\x00nul\x1b[31m",
    "x" * 3000,
)
HOSTILE_URLS = (
    f"javascript:window.{PWNED}=1",
    f" JaVaScRiPt:window.{PWNED}=1",
    f"java\tscript:window.{PWNED}=1",
    f"data:text/html,<script>window.{PWNED}=1</script>",
    "vbscript:msgbox(1)",
    "//evil.example/protocol-relative",
    f"javascript://example.com/%0Awindow.{PWNED}=1",  # has a host, still a script
    'https://ok.example/"><script>x</script>',
)
TEAMS = (
    "payments",
    "checkout",
    "identity",
    "search",
    "platform",
    "data-eng",
    "mobile-api",
    "growth",
    "billing",
    "notifications",
    "risk",
    "infra",
)
LANGUAGES = ("python", "go", "java", "typescript", "ruby", "kotlin")
LIFECYCLES = ("production", "production", "production", "beta", "deprecated")
WORDS = ("ledger", "cart", "auth", "index", "gateway", "etl", "push", "fraud", "quota", "feed")


def rules() -> dict[str, RuleSummary]:
    """Twenty rules over the four categories and three levels, two campaigns."""
    out: dict[str, RuleSummary] = {}
    prefixes = {"ownership": "OWN", "reliability": "REL", "security": "SEC", "observability": "OBS"}
    for c, category in enumerate(CATEGORIES):
        for n in range(5):
            rid = f"{prefixes[category]}{n + 1:03d}"
            out[rid] = RuleSummary(
                id=rid,
                title=f"{category.title()} check {n + 1}",
                level=LEVELS[min(n // 2, 2)],
                category=category,
                severity=("error", "warning", "note")[(n + c) % 3],
                pack="readiness",
            )
    out["REL004"] = _campaign(out["REL004"], "python-3.12", "Runtime is Python 3.12 or later")
    out["SEC005"] = _campaign(out["SEC005"], "python-3.12", "Base image is not EOL")
    enforce = dt.date(2027, 3, 1)
    out["OBS005"] = replace(
        out["OBS005"], title="Structured logging", enforce_after=enforce, campaign="OBS005"
    )
    return out


def _campaign(rule: RuleSummary, name: str, title: str) -> RuleSummary:
    return replace(rule, title=title, tags=(f"campaign:{name}",), campaign=name)


def _level(statuses: Mapping[str, str], rule_set: Mapping[str, RuleSummary]) -> str | None:
    """The highest level whose rules (and those below) all pass, as DESIGN.md says."""
    reached: str | None = None
    for level in LEVELS:
        upto = LEVELS[: LEVELS.index(level) + 1]
        ok = all(
            s in ("pass", "waived") for rid, s in statuses.items() if rule_set[rid].level in upto
        )
        if not ok:
            break
        reached = level
    return reached


def _service(
    rng: random.Random, repo: str, index: int, rule_set: Mapping[str, RuleSummary]
) -> ServiceRecord:
    quality = rng.random()
    results: dict[str, str] = {}
    pending: dict[str, str] = {}
    for rid, rule in rule_set.items():
        if rng.random() < 0.08:
            continue  # not applicable to this service
        bar = 0.35 + 0.25 * LEVELS.index(rule.level)
        draw = rng.random()
        status = "pass" if quality + 0.3 * draw > bar else "fail"
        if status == "fail" and draw < 0.05:
            status = "waived"
        elif status == "fail" and draw > 0.98:
            status = "error"
        (pending if rule.enforce_after else results)[rid] = status
    level = _level(results, rule_set)
    cats = {
        c: _level({r: s for r, s in results.items() if rule_set[r].category == c}, rule_set)
        for c in CATEGORIES
    }
    counted = [s for s in results.values()]
    score = sum(s in ("pass", "waived") for s in counted) / len(counted) if counted else 0.0
    order = (None, *LEVELS)
    nxt = order[order.index(level) + 1] if level != LEVELS[-1] else None
    blockers = tuple(
        sorted(
            r
            for r, s in results.items()
            if nxt and rule_set[r].level == nxt and s in ("fail", "error")
        )
    )
    team = TEAMS[rng.randrange(len(TEAMS))] if rng.random() > 0.05 else None
    base = repo.rsplit("/", 1)[-1]
    links = {
        "runbook": f"https://runbooks.example.com/{base}",
        "dashboard": f"https://grafana.example.com/d/{base}-{index}",
    }
    if rng.random() < 0.5:
        links["logs"] = f"https://logs.example.com/?q=service%3D{base}"
    return ServiceRecord(
        name=base if index == 0 else f"{base}-{('api', 'worker', 'cron')[index % 3]}",
        owner=team,
        tier=rng.choice((1, 2, 2, 3, 3, None)),
        lifecycle=rng.choice(LIFECYCLES),
        language=rng.choice(LANGUAGES),
        system=base.split("-")[0],
        tags=("tier-1",) if quality > 0.8 else (),
        links=links,
        level=level,
        categories=cats,
        score=round(score, 4),
        results=results,
        pending=pending,
        blockers=blockers,
    )


def _repo(rng: random.Random, i: int, rule_set: Mapping[str, RuleSummary]) -> RepoRecord:
    name = f"acme/{WORDS[i % len(WORDS)]}-{i:05d}"
    roll = rng.random()
    if roll < 0.04:
        return RepoRecord(
            name=name,
            status="failed",
            url=f"https://github.example.com/{name}",
            packs_digest="sha256:feed",
            error=rng.choice(
                (
                    "archive over 200 MiB (max_archive_bytes)",
                    "timed out after 120 s while scanning",
                    "truncated tarball: unexpected end of data",
                )
            ),
        )
    services = tuple(_service(rng, name, k, rule_set) for k in range(rng.choice((1, 1, 1, 2, 3))))
    return RepoRecord(
        name=name,
        status="reused" if roll < 0.45 else "scanned",
        url=f"https://github.example.com/{name}",
        revision=f"{rng.getrandbits(160):040x}",
        packs_digest="sha256:feed",
        services=services,
        config_errors=1 if roll > 0.97 else 0,
    )


def _hostile_repos(rule_set: Mapping[str, RuleSummary]) -> list[RepoRecord]:
    """Repositories whose every controlled string is one of HOSTILE or HOSTILE_URLS."""
    rng = random.Random(666)
    out = []
    for k, text in enumerate(HOSTILE):
        svc = _service(rng, f"evil/{k}", 0, rule_set)
        url = HOSTILE_URLS[k % len(HOSTILE_URLS)]
        svc = replace(
            svc,
            name=text,
            owner=text if k % 2 else svc.owner,
            lifecycle=text,
            language=text,
            system=text,
            tags=(text,),
            links={"runbook": url, "logs": HOSTILE_URLS[-1], text[:40]: url},
        )
        out.append(
            RepoRecord(
                name=f"zz-evil-{k:02d}{text}",
                status="scanned",
                url=HOSTILE_URLS[(k + 1) % len(HOSTILE_URLS)],
                revision=text,
                services=(svc,),
            )
        )
    out.append(
        RepoRecord(
            name=f"zz-evil-failed{HOSTILE[0]}",
            status="failed",
            url=HOSTILE_URLS[0],
            error=" | ".join(HOSTILE[:-1]),
        )
    )
    return out


def _counts(levels: Iterable[str | None]) -> dict[str, int]:
    counts = Counter(level or NO_LEVEL for level in levels)
    return {key: counts.get(key, 0) for key in (NO_LEVEL, *LEVELS)}


def _pairs(records: Sequence[RepoRecord]) -> list[tuple[RepoRecord, ServiceRecord]]:
    return [(r, s) for r in records for s in r.services]


def _summary(records: Sequence[RepoRecord]) -> Summary:
    status = Counter(r.status for r in records)
    pairs = _pairs(records)
    return Summary(
        repos=len(records),
        scanned=status["scanned"],
        reused=status["reused"],
        failed=status["failed"],
        services=len(pairs),
        levels=_counts(s.level for _, s in pairs),
    )


def _teams(records: Sequence[RepoRecord]) -> tuple[TeamSummary, ...]:
    by_team: dict[str, list[ServiceRecord]] = defaultdict(list)
    for _, s in _pairs(records):
        by_team[s.owner or UNOWNED].append(s)
    return tuple(
        TeamSummary(
            owner=owner,
            services=len(svcs),
            levels=_counts(s.level for s in svcs),
            score=round(sum(s.score for s in svcs) / len(svcs), 4),
        )
        for owner, svcs in sorted(by_team.items())
    )


def _checks(
    records: Sequence[RepoRecord], rule_set: Mapping[str, RuleSummary]
) -> tuple[CheckStat, ...]:
    tally: dict[str, Counter[str]] = {rid: Counter() for rid in rule_set}
    for _, s in _pairs(records):
        for rid, status in {**s.results, **s.pending}.items():
            tally[rid][status] += 1
    stats = []
    for rid, c in tally.items():
        rule = rule_set[rid]
        applicable = c["pass"] + c["fail"] + c["waived"] + c["error"]
        stats.append(
            CheckStat(
                rule=rid,
                title=rule.title,
                category=rule.category,
                level=rule.level,
                severity=rule.severity,
                passed=c["pass"],
                failed=c["fail"],
                waived=c["waived"],
                errors=c["error"],
                pass_rate=round((c["pass"] + c["waived"]) / applicable, 4) if applicable else 1.0,
            )
        )
    return tuple(sorted(stats, key=lambda s: (-s.failed, s.rule)))


def _campaigns(
    records: Sequence[RepoRecord], rule_set: Mapping[str, RuleSummary], runs: Sequence[RunInfo]
) -> tuple[Campaign, ...]:
    names = sorted({r.campaign for r in rule_set.values() if r.campaign})
    out = []
    for name in names:
        members = tuple(sorted(rid for rid, r in rule_set.items() if r.campaign == name))
        teams: dict[str, list[tuple[bool, str]]] = defaultdict(list)
        for repo, s in _pairs(records):
            statuses = [st for rid, st in {**s.results, **s.pending}.items() if rid in members]
            if statuses:
                done = all(st in ("pass", "waived") for st in statuses)
                teams[s.owner or UNOWNED].append((done, f"{repo.name}:{s.name}"))
        done_total = sum(d for entries in teams.values() for d, _ in entries)
        remaining_total = sum(not d for entries in teams.values() for d, _ in entries)
        # Earlier runs had fewer services done: the total stays, the split moves.
        step = max(remaining_total // 6, 1)
        shifts = [min((len(runs) - 1 - k) * step, done_total) for k in range(len(runs))]
        burndown = tuple(
            BurndownPoint(
                run=run.id,
                date=run.started_at[:10],
                done=done_total - shift,
                remaining=remaining_total + shift,
            )
            for run, shift in zip(runs, shifts, strict=True)
        )
        enforce = [rule_set[m].enforce_after for m in members if rule_set[m].enforce_after]
        out.append(
            Campaign(
                name=name,
                rules=members,
                enforce_after=min(d for d in enforce if d) if enforce else None,
                done=done_total,
                remaining=remaining_total,
                teams=tuple(
                    CampaignTeam(
                        owner=owner,
                        done=sum(d for d, _ in entries),
                        remaining=sum(not d for d, _ in entries),
                        remaining_services=tuple(sorted(n for d, n in entries if not d)),
                    )
                    for owner, entries in sorted(teams.items())
                ),
                burndown=burndown,
            )
        )
    return tuple(out)


def _changes(records: Sequence[RepoRecord], rng: random.Random) -> tuple[LevelChange, ...]:
    order = (None, *LEVELS)
    out = []
    for repo, s in _pairs(records):
        roll = rng.random()
        if roll < 0.04 and s.level is not None:
            before = order[order.index(s.level) - 1]
            out.append(
                LevelChange(
                    repo=repo.name, service=s.name, before=before, after=s.level, direction="up"
                )
            )
        elif roll < 0.07 and s.level != LEVELS[-1]:
            before = order[order.index(s.level) + 1]
            out.append(
                LevelChange(
                    repo=repo.name, service=s.name, before=before, after=s.level, direction="down"
                )
            )
        elif roll < 0.08:
            out.append(
                LevelChange(
                    repo=repo.name, service=s.name, before=None, after=s.level, direction="added"
                )
            )
    out.append(
        LevelChange(
            repo="acme/retired",
            service="legacy-batch",
            before="bronze",
            after=None,
            direction="removed",
        )
    )
    return tuple(sorted(out, key=lambda c: (c.direction, c.repo, c.service)))


def _history(runs: Sequence[RunInfo], summary: Summary) -> tuple[HistoryPoint, ...]:
    points = []
    steps = len(runs)
    for k, run in enumerate(runs):
        shift = (steps - 1 - k) * max(summary.services // 20, 1)
        levels = dict(summary.levels)
        moved = min(shift, levels.get(LEVELS[-1], 0))
        levels[LEVELS[-1]] = levels.get(LEVELS[-1], 0) - moved
        levels[NO_LEVEL] = levels.get(NO_LEVEL, 0) + moved
        points.append(
            HistoryPoint(
                run=run.id, date=run.started_at[:10], services=summary.services, levels=levels
            )
        )
    return tuple(points)


def sample_report(
    repos: int = 60,
    *,
    seed: int = 7,
    hostile: bool = False,
    runs: int = 5,
    complete: bool = True,
    shard: str | None = None,
) -> OrgReport:
    """An OrgReport over `repos` generated repositories (plus the hostile ones if asked),
    as the run `runs` of a nightly scan."""
    rng = random.Random(seed)
    rule_set = rules()
    if hostile:
        evil = HOSTILE[0]
        rule_set["SEC003"] = replace(
            rule_set["SEC003"], title=f"Third-party pack says {evil}", pack=evil
        )
    records = [_repo(rng, i, rule_set) for i in range(repos)]
    if hostile:
        records += _hostile_repos(rule_set)
    records.sort(key=lambda r: r.name)
    day = dt.date(2026, 11, 26)
    history_runs = [
        RunInfo(
            id=k + 1,
            started_at=f"{day - dt.timedelta(days=7 * (runs - 1 - k))}T02:00:00Z",
            finished_at=f"{day - dt.timedelta(days=7 * (runs - 1 - k))}T02:41:09Z",
        )
        for k in range(runs)
    ]
    run = RunInfo(
        id=runs,
        started_at=f"{day}T02:00:00Z",
        finished_at=None if not complete else f"{day}T02:41:09Z",
        source=f"github:acme{HOSTILE[0] if hostile else ''}",
        shard=shard,
        packs=(PackInfo(name="readiness", version="1.4.0", origin="builtin"),),
        packs_digest="sha256:feed",
        complete=complete,
    )
    summary = _summary(records)
    return OrgReport(
        run=run,
        levels=LEVELS,
        categories=CATEGORIES,
        rules=rule_set,
        summary=summary,
        teams=_teams(records),
        by_category=tuple(
            CategorySummary(
                category=c, levels=_counts(s.categories.get(c) for _, s in _pairs(records))
            )
            for c in CATEGORIES
        ),
        checks=_checks(records, rule_set),
        campaigns=_campaigns(records, rule_set, history_runs),
        changes=_changes(records, rng),
        history=_history(history_runs, summary),
        repos=tuple(records),
    )
