"""The org report's data: exact aggregates on hand-built records, trends across stored
runs, shard merging (equal to one build, over random partitions), the JSON schema,
determinism, CSV injection, atomic writes, and the `org report` / `org merge` commands."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import subprocess
import sys
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec
import pytest
from jsonschema import Draft202012Validator
from test_cli import assert_clean_error, opsgrade

from opsgrade.engine import schemagen
from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import PackInfo, RuleInfo, Severity
from opsgrade.engine.org import report as org_report
from opsgrade.engine.org.model import (
    BurndownPoint,
    CampaignTeam,
    CategorySummary,
    CheckStat,
    LevelChange,
    OrgReport,
    RepoRecord,
    RunInfo,
    ServiceRecord,
    Summary,
    TeamSummary,
)
from opsgrade.engine.org.report import build_report, encode_csv, encode_json, merge
from opsgrade.engine.org.store import Store

LEVELS = ("bronze", "silver", "gold")
CATEGORIES = ("ownership", "security")
PACKS = (PackInfo(name="readiness", version="1.0.0", origin="builtin"),)


def info(
    rule_id: str, level: str, category: str, *tags: str, enforce: str | None = None
) -> RuleInfo:
    return RuleInfo(
        id=rule_id,
        title=f"Title of {rule_id}",
        level=level,
        category=category,
        severity=Severity.ERROR,
        help="",
        fix="",
        pack="readiness",
        tags=tags,
        enforce_after=dt.date.fromisoformat(enforce) if enforce else None,
    )


RULE_INFOS = {
    "OWN1": info("OWN1", "bronze", "ownership"),
    "DOC1": info("DOC1", "bronze", "ownership", "campaign"),
    "OBS1": info("OBS1", "silver", "ownership", enforce="2030-01-01"),
    "SEC1": info("SEC1", "silver", "security", "security", "campaign:py312"),
    "SEC2": info("SEC2", "gold", "security", "campaign:py312", enforce="2027-01-01"),
}
RULES = org_report.summarize_rules(RULE_INFOS)


def svc(
    name: str,
    owner: str | None,
    level: str | None,
    score: float,
    results: dict[str, str],
    pending: dict[str, str] | None = None,
    categories: dict[str, str | None] | None = None,
) -> ServiceRecord:
    return ServiceRecord(
        name=name,
        owner=owner,
        level=level,
        score=score,
        results=results,
        pending=pending or {},
        categories=categories or {c: level for c in CATEGORIES},
    )


def repo(name: str, *services: ServiceRecord, status: str = "scanned") -> RepoRecord:
    return RepoRecord(name=name, status=status, packs_digest="d1", services=services)  # type: ignore[arg-type]


CURRENT = (
    repo(
        "acme/a",
        svc(
            "api",
            "team-x",
            "silver",
            0.8,
            {"OWN1": "pass", "SEC1": "pass", "DOC1": "waived"},
            {"SEC2": "fail"},
            {"ownership": "gold", "security": "silver"},
        ),
        svc(
            "worker",
            "team-x",
            "bronze",
            0.5,
            {"OWN1": "pass", "SEC1": "fail", "DOC1": "pass"},
        ),
    ),
    repo(
        "acme/b",
        svc(
            "b",
            None,
            None,
            0.25,
            {"OWN1": "fail", "SEC1": "error", "DOC1": "fail"},
            {"OBS1": "pass"},
            {"ownership": None, "security": "silver"},
        ),
        status="reused",
    ),
    RepoRecord(name="acme/c", status="failed", error="archive too large"),
)


def run_info(run_id: int = 1, day: int = 22, *, complete: bool = True) -> RunInfo:
    return RunInfo(
        id=run_id,
        started_at=f"2026-11-{day:02d}T01:00:00Z",
        finished_at=f"2026-11-{day:02d}T01:10:00Z",
        source="github:acme",
        packs=PACKS,
        packs_digest="d1",
        complete=complete,
    )


def build(records: Sequence[RepoRecord], run: RunInfo | None = None) -> OrgReport:
    return build_report(run or run_info(), LEVELS, CATEGORIES, RULES, records, ())


# -- rules ------------------------------------------------------------------------------


def test_summarize_rules_finds_campaigns() -> None:
    assert {r: s.campaign for r, s in RULES.items()} == {
        "DOC1": "DOC1",  # a bare `campaign` tag
        "OBS1": "OBS1",  # enforce_after
        "OWN1": None,
        "SEC1": "py312",  # campaign:NAME
        "SEC2": "py312",  # campaign:NAME wins over enforce_after
    }
    assert RULES["SEC1"].severity == "error" and RULES["SEC1"].tags == (
        "security",
        "campaign:py312",
    )
    assert list(RULES) == sorted(RULES)


# -- aggregates --------------------------------------------------------------------------


def test_aggregates_on_hand_built_records() -> None:
    report = build(CURRENT)
    zero = {"none": 0, "bronze": 0, "silver": 0, "gold": 0}
    assert report.summary == Summary(
        repos=3,
        scanned=1,
        reused=1,
        failed=1,
        services=3,
        levels={**zero, "none": 1, "bronze": 1, "silver": 1},
    )
    assert report.teams == (
        TeamSummary(owner="(unowned)", services=1, levels={**zero, "none": 1}, score=0.25),
        TeamSummary(
            owner="team-x", services=2, levels={**zero, "bronze": 1, "silver": 1}, score=0.65
        ),
    )
    assert report.by_category == (
        CategorySummary(category="ownership", levels={**zero, "gold": 1, "bronze": 1, "none": 1}),
        CategorySummary(category="security", levels={**zero, "silver": 2, "bronze": 1}),
    )

    def stat(rule: str, p: int, f: int, w: int, e: int, rate: float) -> CheckStat:
        r = RULES[rule]
        return CheckStat(
            rule=rule,
            title=r.title,
            category=r.category,
            level=r.level,
            severity="error",
            passed=p,
            failed=f,
            waived=w,
            errors=e,
            pass_rate=rate,
        )

    assert report.checks == (
        stat("DOC1", 1, 1, 1, 0, 0.6667),
        stat("OWN1", 2, 1, 0, 0, 0.6667),
        stat("SEC1", 1, 1, 0, 1, 0.3333),
        stat("SEC2", 0, 1, 0, 0, 0.0),  # pending results count in pass rates
        stat("OBS1", 1, 0, 0, 0, 1.0),
    )
    doc, obs, py = report.campaigns
    assert (doc.name, doc.rules, doc.enforce_after, doc.done, doc.remaining) == (
        "DOC1",
        ("DOC1",),
        None,
        2,
        1,
    )
    assert doc.teams == (
        CampaignTeam(owner="(unowned)", done=0, remaining=1, remaining_services=("acme/b:b",)),
        CampaignTeam(owner="team-x", done=2, remaining=0, remaining_services=()),
    )
    assert (obs.name, obs.enforce_after, obs.done, obs.remaining) == (
        "OBS1",
        dt.date(2030, 1, 1),
        1,
        0,
    )
    assert (py.name, py.rules, py.enforce_after, py.done, py.remaining) == (
        "py312",
        ("SEC1", "SEC2"),
        dt.date(2027, 1, 1),
        0,
        3,
    )
    assert py.teams[1].remaining_services == ("acme/a:api", "acme/a:worker")
    assert py.burndown == (BurndownPoint(run=1, date="2026-11-22", done=0, remaining=3),)
    assert report.changes == ()  # no earlier run to compare with
    assert [(h.run, h.services) for h in report.history] == [(1, 3)]
    assert [r.name for r in report.repos] == ["acme/a", "acme/b", "acme/c"]


def _store_run(store: Store, day: int, records: Sequence[RepoRecord], *, complete: bool) -> int:
    run = _start_run(store, day, records)
    store.finish_run(run, complete=complete, finished_at=f"2026-11-{day:02d}T02:00:00Z")
    return run


def _start_run(store: Store, day: int, records: Sequence[RepoRecord]) -> int:
    """A run with `records` recorded, not finished yet."""
    run = store.start_run(
        source="github:acme",
        shard=None,
        packs=PACKS,
        packs_digest="d1",
        levels=LEVELS,
        categories=CATEGORIES,
        rules=RULES,
        started_at=f"2026-11-{day:02d}T01:00:00Z",
    )
    for rec in records:
        store.record(run, rec)
    return run


def test_trends_burndown_and_changes_across_stored_runs(tmp_path: Path) -> None:
    first = (repo("acme/a", svc("api", "team-x", None, 0.0, {"DOC1": "fail", "SEC1": "fail"})),)
    second = (
        repo(
            "acme/a",
            svc("api", "team-x", "bronze", 0.3, {"DOC1": "pass", "SEC1": "fail"}),
            svc("worker", "team-x", "silver", 0.6, {"DOC1": "pass", "SEC1": "pass"}),
        ),
        repo("acme/old", svc("svc", "team-y", "gold", 1.0, {"DOC1": "fail"})),
    )
    # Stopped early: left out of trends, and not the baseline of "changes".
    partial = (repo("acme/a", svc("api", "team-x", "gold", 1.0, {"DOC1": "pass"})),)
    with Store(tmp_path / "org.db") as store:
        _store_run(store, 1, first, complete=True)
        _store_run(store, 8, second, complete=True)
        _store_run(store, 15, partial, complete=False)
        current = _store_run(store, 22, CURRENT, complete=True)
        report = org_report.report_from_store(store, current)
    assert report.run.id == current == 4
    assert [(h.run, h.date, h.services) for h in report.history] == [
        (1, "2026-11-01", 1),
        (2, "2026-11-08", 3),
        (4, "2026-11-22", 3),
    ]
    assert report.history[0].levels == {"none": 1, "bronze": 0, "silver": 0, "gold": 0}
    burndowns = {
        c.name: [(p.run, p.done, p.remaining) for p in c.burndown] for c in report.campaigns
    }
    assert burndowns == {
        "DOC1": [(1, 0, 1), (2, 2, 1), (4, 2, 1)],
        "OBS1": [(1, 0, 0), (2, 0, 0), (4, 1, 0)],
        "py312": [(1, 0, 1), (2, 1, 1), (4, 0, 3)],
    }
    assert report.changes == (
        LevelChange(repo="acme/a", service="api", before="bronze", after="silver", direction="up"),
        LevelChange(
            repo="acme/a", service="worker", before="silver", after="bronze", direction="down"
        ),
        LevelChange(repo="acme/b", service="b", before=None, after=None, direction="added"),
        LevelChange(repo="acme/old", service="svc", before="gold", after=None, direction="removed"),
    )


# -- merge -------------------------------------------------------------------------------

OWNERS = ("team-a", "team-b", "=cmd", None)


def random_records(rng: random.Random, count: int) -> list[RepoRecord]:
    records = []
    for i in range(count):
        status = rng.choice(("scanned", "scanned", "reused", "failed"))
        services = []
        if status != "failed":
            for j in range(rng.randint(0, 3)):
                statuses = {
                    r: rng.choice(("pass", "fail", "waived", "error"))
                    for r in RULES
                    if rng.random() < 0.7
                }
                level = rng.choice((None, *LEVELS))
                services.append(
                    svc(
                        f"svc{j}",
                        rng.choice(OWNERS),
                        level,
                        rng.random(),
                        {r: s for r, s in statuses.items() if RULES[r].enforce_after is None},
                        {r: s for r, s in statuses.items() if RULES[r].enforce_after is not None},
                    )
                )
        records.append(
            RepoRecord(
                name=f"org/repo-{i:03d}",
                status=status,  # type: ignore[arg-type]
                packs_digest="d1",
                services=tuple(services),
                error="boom" if status == "failed" else None,
            )
        )
    return records


def shard_reports(
    records: Sequence[RepoRecord], shards: int, rng: random.Random
) -> list[OrgReport]:
    parts: list[list[RepoRecord]] = [[] for _ in range(shards)]
    for rec in records:
        parts[rng.randrange(shards)].append(rec)
    reports = []
    for k, part in enumerate(parts, start=1):
        run = msgspec.structs.replace(run_info(k), shard=f"{k}/{shards}")
        built = build(part, run)
        # Through the file format, as `org merge` reads them.
        reports.append(msgspec.json.decode(encode_json(built), type=OrgReport))
    return reports


@pytest.mark.parametrize("seed", range(12))
def test_merge_of_shards_equals_the_single_build(seed: int) -> None:
    rng = random.Random(seed)
    records = random_records(rng, rng.randint(0, 40))
    merged = merge(shard_reports(records, rng.randint(1, 5), rng))
    # The single process's report of a run like the merged one (its id appears in the
    # history and burndown points of the current run too).
    single = build(records, msgspec.structs.replace(run_info(), id=0))
    assert merged == single
    assert encode_json(merged) == encode_json(single)


def test_merge_errors_name_the_problem() -> None:
    rng = random.Random(1)
    records = random_records(rng, 10)
    one, two = build(records[:6]), build(records[4:])
    with pytest.raises(ConfigError, match=r"repository org/repo-004 is in a\.json and b\.json"):
        merge([one, two], labels=["a.json", "b.json"])
    other_packs = msgspec.structs.replace(
        two, run=msgspec.structs.replace(two.run, packs_digest="d2")
    )
    with pytest.raises(ConfigError, match="shard 2: scanned with other packs than shard 1"):
        merge([build(records[:4]), other_packs])
    with pytest.raises(ConfigError, match="its rules differ"):
        merge([build(records[:4]), msgspec.structs.replace(build(records[4:]), rules={})])
    with pytest.raises(ConfigError, match="nothing to merge"):
        merge([])


# -- files -------------------------------------------------------------------------------


def test_json_validates_against_the_generated_schema() -> None:
    schema = schemagen.load("org-report.schema.json")
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    rng = random.Random(7)
    for report in (build(CURRENT), build(random_records(rng, 30))):
        document = json.loads(encode_json(report))
        assert list(validator.iter_errors(document)) == []
        assert document["schema_version"] == 1
        assert document["repos"][0]["name"] and "services" in document["repos"][0]
    broken = json.loads(encode_json(build(CURRENT)))
    broken["repos"][0]["surprise"] = 1
    del broken["summary"]["services"]
    assert len(list(validator.iter_errors(broken))) == 2


def test_json_is_deterministic_and_sorted() -> None:
    records = random_records(random.Random(3), 30)
    first = encode_json(build(records))
    shuffled = list(records)
    random.Random(4).shuffle(shuffled)
    assert encode_json(build(shuffled)) == first
    assert first.endswith(b"}\n")
    keys = list(json.loads(first))
    assert keys == sorted(keys)
    assert msgspec.json.decode(first, type=OrgReport) == build(records)  # it reads back


def _formatted_whole(report: OrgReport) -> bytes:
    """The report formatted in one piece, as report.json was before it streamed."""
    return msgspec.json.format(msgspec.json.encode(report, order="sorted"), indent=2) + b"\n"


def test_streamed_json_has_the_bytes_of_the_whole_document() -> None:
    # Text that looks like the splice point must stay inside its string.
    sly = '\n  "repos": [],\n'
    odd = repo(sly, svc('"repos": [', sly, "gold", 0.5, {"OWN1": "pass"}))
    one = build(CURRENT[:1])
    for report in (
        build(()),
        one,
        build(CURRENT),
        build((*CURRENT, odd)),
        build(random_records(random.Random(11), 40)),
        msgspec.structs.replace(one, repos=(msgspec.structs.replace(one.repos[0], services=()),)),
    ):
        data = encode_json(report)
        assert data == _formatted_whole(report)
        assert msgspec.json.decode(data, type=OrgReport) == report


class _Tracked(RepoRecord, frozen=True, kw_only=True, weakref=True):
    """A record whose lifetime a test can watch."""


def test_report_files_from_the_store_stream_the_records(tmp_path: Path) -> None:
    records = random_records(random.Random(5), 60)
    with Store(tmp_path / "org.db") as store:
        run = _store_run(store, 1, records, complete=True)
        whole = org_report.report_from_store(store, run)
        stream = org_report.stream_from_store(store, run)
        assert stream.head.repos == () and stream.head.summary == whole.summary
        org_report.write_report_dir(whole, tmp_path / "whole")

        alive: list[weakref.ref[_Tracked]] = []
        most = 0
        passes = 0

        def tracked() -> Iterator[RepoRecord]:
            nonlocal most, passes
            passes += 1
            for rec in stream.repos():
                most = max(most, sum(ref() is not None for ref in alive))
                item = _Tracked(**msgspec.structs.asdict(rec))
                alive.append(weakref.ref(item))
                yield item

        out = tmp_path / "streamed"
        org_report.write_report_dir(org_report.ReportStream(stream.head, tracked), out)
    # JSON, CSV, the failed repositories and the catalog: each read the records anew,
    # and none held on to them (at most the one before the current).
    assert passes == 4 and len(alive) == 4 * len(records)
    assert most <= 1
    for name in ("report.json", "report.csv", "index.html"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert org_report.load_report(out / "report.json") == whole


def test_a_report_of_a_running_scan_reads_one_state_of_it(tmp_path: Path) -> None:
    with Store(tmp_path / "org.db") as store:
        run = _start_run(store, 22, CURRENT[1:])
        stream = org_report.stream_from_store(store, run)
        store.record(run, CURRENT[0])  # the scan goes on while the report is written
        org_report.write_report_dir(stream, tmp_path / "site")
        assert len(list(store.records(run))) == 3
    written = org_report.load_report(tmp_path / "site" / "report.json")
    assert written.summary.repos == 2 and [r.name for r in written.repos] == ["acme/b", "acme/c"]
    assert not written.run.complete
    csv_text = (tmp_path / "site" / "report.csv").read_text()
    assert (
        "acme/a" not in csv_text and "acme/a" not in (tmp_path / "site" / "index.html").read_text()
    )


def test_csv_rows_and_injection() -> None:
    hostile = repo(
        "acme/=evil",
        ServiceRecord(
            name='=HYPERLINK("http://x")',
            owner="+team",
            tier=1,
            lifecycle="-prod",
            language="@python",
            level="bronze",
            score=0.5,
            results={"OWN1": "fail", "DOC1": "error", "SEC1": "pass"},
            links={"runbook": "=1+1", "dashboard": "https://dash/x", "logs": "\tcmd"},
        ),
    )
    failed = RepoRecord(name="acme/zz", status="failed", error="@SUM(A1)", url="https://g/zz")
    rows = list(csv.reader(io.StringIO(encode_csv(build((hostile, failed))))))
    assert rows[0] == list(org_report.CSV_COLUMNS)
    assert rows[1] == [
        "acme/=evil",
        "scanned",
        '\'=HYPERLINK("http://x")',
        "'+team",
        "1",
        "'-prod",
        "'@python",
        "bronze",
        "0.5000",
        "DOC1 OWN1",
        "'=1+1",
        "https://dash/x",
        "'\tcmd",
        "",
        "",
    ]
    assert rows[2] == ["acme/zz", "failed", *[""] * 11, "https://g/zz", "'@SUM(A1)"]
    assert len(rows) == 3


def test_report_dir_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    old = build(CURRENT)
    org_report.write_report_dir(old, out)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["index.html", "report.csv", "report.json"]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert before["report.json"] == encode_json(old)
    assert (out / "report.json").stat().st_mode & 0o044  # readable by others, not 0600

    new = build(CURRENT[:1], run_info(2))
    import opsgrade.reporters.org_html as org_html

    def broken_render(report: OrgReport, repos: object = None) -> Iterator[str]:
        yield "<!DOCTYPE html>" * 50_000  # more than one batch is written out first
        raise RuntimeError("renderer crashed midway")

    monkeypatch.setattr(org_html, "iter_html", broken_render)
    with pytest.raises(RuntimeError):
        org_report.write_report_dir(new, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    monkeypatch.undo()
    real_fdopen = org_report.os.fdopen
    calls = []

    def failing_fdopen(fd: int, mode: str) -> io.BufferedWriter:
        calls.append(fd)
        if len(calls) == 2:  # the second file: the disk fills up
            org_report.os.close(fd)
            raise OSError(28, "No space left on device", "report.csv")
        return real_fdopen(fd, mode)  # type: ignore[no-any-return]

    monkeypatch.setattr(org_report.os, "fdopen", failing_fdopen)
    with pytest.raises(ConfigError, match="No space left on device"):
        org_report.write_report_dir(new, out)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temp files either

    org_report.write_report_dir(new, out)
    assert (out / "report.json").read_bytes() == encode_json(new)


def test_load_report_errors_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_bytes(encode_json(build(CURRENT)))
    assert org_report.load_report(good) == build(CURRENT)
    cases = {
        "missing.json": None,
        "garbage.json": b"{not json",
        "future.json": encode_json(build(CURRENT)).replace(
            b'"schema_version": 1', b'"schema_version": 2'
        ),
        "partial.json": b'{"schema_version": 1, "repos": []}',
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ConfigError, match=name):
            org_report.load_report(path)


def test_load_report_refuses_an_oversized_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.json"
    path.write_bytes(encode_json(build(CURRENT)))
    monkeypatch.setattr(org_report, "MAX_REPORT_BYTES", 1024)
    with pytest.raises(ConfigError, match=r"huge\.json: over 0 MiB"):
        org_report.load_report(path)


# -- the commands ------------------------------------------------------------------------


def test_org_report_command(tmp_path: Path) -> None:
    db = tmp_path / "org.db"
    with Store(db) as store:
        _store_run(store, 1, CURRENT[:1], complete=True)
        _store_run(store, 8, CURRENT, complete=True)
    out = tmp_path / "site"
    proc = opsgrade("org", "report", "--db", db, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "run 2, 3 repositories (1 scanned, 1 reused, 1 failed), 3 services" in proc.stdout
    latest = org_report.load_report(out / "report.json")
    assert latest.run.id == 2 and len(latest.history) == 2
    assert (out / "report.csv").read_bytes().count(b"\r\n") == 5
    assert "<html" in (out / "index.html").read_text("utf-8").lower()
    proc = opsgrade("org", "report", "--db", db, "--out", out, "--run", "1")
    assert proc.returncode == 0, proc.stderr
    assert org_report.load_report(out / "report.json").run.id == 1

    assert_clean_error(
        opsgrade("org", "report", "--db", db, "--out", out, "--run", "9"), "no run 9"
    )
    assert_clean_error(opsgrade("org", "report", "--db", tmp_path / "no.db", "--out", out), "no.db")
    bad = tmp_path / "bad.db"
    bad.write_text("not sqlite\n" * 20)
    assert_clean_error(opsgrade("org", "report", "--db", bad, "--out", out), str(bad))
    Store(tmp_path / "empty.db").close()
    assert_clean_error(
        opsgrade("org", "report", "--db", tmp_path / "empty.db", "--out", out), "no run yet"
    )


def test_org_merge_command(tmp_path: Path) -> None:
    records = random_records(random.Random(11), 20)
    shards = []
    for k, report in enumerate(shard_reports(records, 3, random.Random(12)), start=1):
        path = tmp_path / f"shard-{k}.json"
        path.write_bytes(encode_json(report))
        shards.append(path)
    out = tmp_path / "merged.json"
    proc = opsgrade("org", "merge", *shards, "--out", out)
    assert proc.returncode == 0, proc.stderr
    merged = org_report.load_report(out)
    single = build(records, msgspec.structs.replace(run_info(), id=0))
    assert merged == single

    # With --db, every merge is a stored run: the second one has trends and changes.
    db, html = tmp_path / "history.db", tmp_path / "site"
    for _ in range(2):
        proc = opsgrade("org", "merge", *shards, "--out", out, "--db", db, "--html", html)
        assert proc.returncode == 0, proc.stderr
    stored = org_report.load_report(out)
    assert stored.run.id == 2 and [h.run for h in stored.history] == [1, 2]
    assert stored.changes == ()  # same services, same levels
    for part in ("summary", "teams", "by_category", "checks", "repos"):
        assert getattr(stored, part) == getattr(single, part), part
    assert [len(c.burndown) for c in stored.campaigns] == [2] * len(single.campaigns)
    assert (html / "report.json").read_bytes() == out.read_bytes()
    assert (html / "index.html").is_file() and (html / "report.csv").is_file()

    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2")
    assert_clean_error(opsgrade("org", "merge", shards[0], garbage, "--out", out), "garbage.json")
    future = tmp_path / "future.json"
    future.write_bytes(
        shards[0].read_bytes().replace(b'"schema_version": 1', b'"schema_version": 9')
    )
    assert_clean_error(opsgrade("org", "merge", future, "--out", out), "future.json")
    assert_clean_error(
        opsgrade("org", "merge", shards[0], shards[0], "--out", out), "shard-1.json (twice)"
    )
    assert_clean_error(opsgrade("org", "merge", tmp_path / "none.json", "--out", out), "none.json")


def test_a_merge_missing_a_shard_is_incomplete_and_says_so(tmp_path: Path) -> None:
    """A failed matrix job must not yield a half-organization report claiming to be whole."""
    records = random_records(random.Random(21), 12)
    reports = shard_reports(records, 3, random.Random(22))
    assert org_report.missing_shards(reports) == []
    assert merge(reports).run.complete
    partial = [reports[0], reports[2]]
    assert org_report.missing_shards(partial) == ["2/3"]
    assert not merge(partial).run.complete
    paths = []
    for k, report in ((1, reports[0]), (3, reports[2])):
        path = tmp_path / f"shard-{k}.json"
        path.write_bytes(encode_json(report))
        paths.append(path)
    out = tmp_path / "merged.json"
    proc = opsgrade("org", "merge", *paths, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "shard(s) 2/3 missing" in proc.stderr and "incomplete" in proc.stderr
    assert not org_report.load_report(out).run.complete

    other_split = msgspec.structs.replace(
        reports[1], run=msgspec.structs.replace(reports[1].run, shard="2/4")
    )
    with pytest.raises(ConfigError, match="different splits"):
        org_report.missing_shards([reports[0], other_split])
    garbled = msgspec.structs.replace(
        reports[1], run=msgspec.structs.replace(reports[1].run, shard="two/3")
    )
    with pytest.raises(ConfigError, match="is not K/N"):
        org_report.missing_shards([reports[0], garbled])


@pytest.mark.parametrize("hostile", [False, True])
def test_aggregates_agree_with_the_independent_sample_computation(hostile: bool) -> None:
    """tests/orgdata.py computes a sample report's aggregates on its own (for the HTML
    tests); both implementations of the documented semantics must agree."""
    from orgdata import sample_report

    sample = sample_report(repos=80, hostile=hostile)
    built = build_report(
        sample.run, sample.levels, sample.categories, sample.rules, sample.repos, ()
    )
    for part in ("summary", "teams", "by_category", "checks", "repos"):
        assert getattr(built, part) == getattr(sample, part), part
    # The sample invents earlier runs; without their digests only the current point agrees.
    assert [msgspec.structs.replace(c, burndown=c.burndown[-1:]) for c in sample.campaigns] == list(
        built.campaigns
    )


def test_merge_without_html_loads_no_template_engine(tmp_path: Path) -> None:
    shard = tmp_path / "shard.json"
    shard.write_bytes(encode_json(build(CURRENT)))
    code = (
        "import sys; from opsgrade.engine.cli import run; "
        f"code = run(['org', 'merge', {str(shard)!r}, '--out', {str(tmp_path / 'm.json')!r}]); "
        "print(code, 'jinja2' in sys.modules, 'opsgrade.reporters.org_html' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.stdout.split()[-3:] == ["0", "False", "False"], proc.stderr
