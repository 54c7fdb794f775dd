"""Level semantics (DESIGN.md, engine/scorecard.py) and waivers/enforce_after (evaluate.py).

The scorecard tests build CheckResult lists by hand, one test per clause of the
semantics; the evaluate tests run a real scan of a temporary repository.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from opsgrade.engine.model import (
    CheckResult,
    RuleInfo,
    RunResult,
    Scorecard,
    ServiceReport,
    Severity,
    Status,
)
from opsgrade.engine.packs import PackSource
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.engine.scorecard import achieved_index, level_index, score_card

LEVELS = ("bronze", "silver", "gold")
CATEGORIES = ("ownership", "security")

PASS, FAIL, WAIVED, ERROR, NA = (
    Status.PASS,
    Status.FAIL,
    Status.WAIVED,
    Status.ERROR,
    Status.NOT_APPLICABLE,
)


def result(
    rule: str,
    level: str,
    status: Status = PASS,
    category: str = "ownership",
    counting: bool = True,
) -> CheckResult:
    return CheckResult(
        service="svc",
        rule=rule,
        status=status,
        severity=Severity.ERROR,
        level=level,
        category=category,
        message=f"{rule} is {status}",
        counting=counting,
    )


def infos(
    results: Sequence[CheckResult], weights: dict[str, float] | None = None
) -> dict[str, RuleInfo]:
    weights = weights or {}
    return {
        r.rule: RuleInfo(
            id=r.rule,
            title=f"title of {r.rule}",
            level=r.level,
            category=r.category,
            severity=r.severity,
            help="help",
            fix="fix",
            pack="test",
            weight=weights.get(r.rule, 1.0),
        )
        for r in results
    }


def card(
    results: Sequence[CheckResult],
    weights: dict[str, float] | None = None,
    categories: Sequence[str] = CATEGORIES,
) -> Scorecard:
    return score_card(results, LEVELS, categories, infos(results, weights))


# --------------------------------------------------------------------------- levels


def test_no_level_is_below_the_first() -> None:
    results = [result("B1", "bronze", FAIL), result("S1", "silver"), result("G1", "gold")]
    sc = card(results)
    assert sc.level is None
    assert achieved_index(results, LEVELS) == -1
    assert level_index(None, LEVELS) == -1 < level_index("bronze", LEVELS) == 0
    assert sc.next_level == "bronze"


def test_everything_passing_reaches_the_top_level() -> None:
    sc = card([result("B1", "bronze"), result("S1", "silver"), result("G1", "gold")])
    assert sc.level == "gold"
    assert sc.categories == {"ownership": "gold", "security": "gold"}


def test_failing_gold_rule_does_not_lower_bronze_or_silver() -> None:
    results = [
        result("B1", "bronze"),
        result("S1", "silver"),
        result("G1", "gold", FAIL),
        result("G2", "gold"),
    ]
    sc = card(results)
    assert sc.level == "silver"
    assert sc.categories["ownership"] == "silver"


def test_failing_silver_rule_caps_at_bronze_even_when_gold_rules_pass() -> None:
    results = [result("B1", "bronze"), result("S1", "silver", FAIL), result("G1", "gold")]
    assert card(results).level == "bronze"


def test_failing_bronze_rule_means_no_level_even_when_higher_rules_pass() -> None:
    results = [
        result("B1", "bronze", FAIL),
        result("B2", "bronze"),
        result("S1", "silver"),
        result("G1", "gold"),
    ]
    sc = card(results)
    assert sc.level is None
    assert sc.categories["ownership"] is None


def test_category_level_only_looks_at_its_own_rules() -> None:
    results = [
        result("O1", "bronze", category="ownership"),
        result("O2", "silver", category="ownership"),
        result("O3", "gold", category="ownership"),
        result("S1", "bronze", category="security"),
        result("S2", "silver", FAIL, category="security"),
    ]
    sc = card(results)
    assert sc.categories == {"ownership": "gold", "security": "bronze"}


@pytest.mark.parametrize(
    ("ownership", "security", "overall"),
    [
        ("gold", "bronze", "bronze"),
        ("silver", "gold", "silver"),
        ("gold", "gold", "gold"),
        (None, "gold", None),
        ("bronze", None, None),
    ],
)
def test_overall_is_the_minimum_of_the_categories(
    ownership: str | None, security: str | None, overall: str | None
) -> None:
    def rules_for(category: str, achieved: str | None) -> list[CheckResult]:
        bar = level_index(achieved, LEVELS)
        return [
            result(f"{category[:3].upper()}{i}", lvl, PASS if i <= bar else FAIL, category)
            for i, lvl in enumerate(LEVELS)
        ]

    sc = card(rules_for("ownership", ownership) + rules_for("security", security))
    assert sc.categories == {"ownership": ownership, "security": security}
    assert sc.level == overall


def test_levels_match_the_definition_on_random_result_sets() -> None:
    """Brute force: the highest L such that every counting rule with level <= L passes."""
    rng = random.Random(20250101)
    statuses = [PASS, FAIL, WAIVED, ERROR, NA]
    for _ in range(500):
        results = [
            result(
                f"R{i}",
                rng.choice(LEVELS),
                rng.choice(statuses),
                rng.choice(CATEGORIES),
                counting=rng.random() > 0.2,
            )
            for i in range(rng.randint(0, 8))
        ]

        def by_definition(subset: list[CheckResult]) -> str | None:
            best = None
            for i, level in enumerate(LEVELS):
                relevant = [
                    r
                    for r in subset
                    if r.counting and r.status != NA and LEVELS.index(r.level) <= i
                ]
                if all(r.status in (PASS, WAIVED) for r in relevant):
                    best = level
                else:
                    break
            return best

        sc = card(results)
        assert sc.level == by_definition(results)
        for category in CATEGORIES:
            mine = [r for r in results if r.category == category]
            assert sc.categories[category] == by_definition(mine)
        assert level_index(sc.level, LEVELS) == min(
            level_index(sc.categories[c], LEVELS) for c in CATEGORIES
        )


def test_category_with_no_rules_is_vacuously_at_the_top() -> None:
    sc = card([result("O1", "bronze", FAIL, "ownership")], categories=CATEGORIES)
    assert sc.categories == {"ownership": None, "security": "gold"}
    assert sc.level is None


def test_no_results_at_all() -> None:
    sc = card([])
    assert sc.level == "gold"
    assert sc.score == 1.0
    assert sc.blockers == ()
    assert sc.next_level is None


# --------------------------------------------------------------------------- what counts


def test_not_applicable_results_are_ignored() -> None:
    results = [
        result("B1", "bronze", NA),
        result("B2", "bronze"),
        result("S1", "silver", NA),
    ]
    sc = card(results, weights={"B1": 10, "S1": 10})
    assert sc.level == "gold"
    assert sc.score == 1.0
    assert sc.blockers == ()


def test_rules_not_counting_yet_are_ignored() -> None:
    """`counting=False`: enforce_after is still in the future."""
    upcoming = result("B9", "bronze", FAIL, counting=False)
    results = [result("B1", "bronze"), upcoming, result("S1", "silver", FAIL)]
    sc = card(results, weights={"B9": 100})
    assert sc.level == "bronze"
    assert sc.score == 0.5  # B1 passes, S1 fails; B9 is in neither side
    assert upcoming not in sc.blockers
    assert [b.rule for b in sc.blockers] == ["S1"]


def test_waived_counts_as_passing() -> None:
    results = [result("B1", "bronze", WAIVED), result("S1", "silver", WAIVED)]
    sc = card(results)
    assert sc.level == "gold"
    assert sc.score == 1.0
    assert sc.blockers == ()


def test_error_counts_as_failing() -> None:
    results = [result("B1", "bronze"), result("S1", "silver", ERROR), result("G1", "gold")]
    sc = card(results)
    assert sc.level == "bronze"
    assert sc.score == pytest.approx(2 / 3, abs=1e-4)
    assert [b.rule for b in sc.blockers] == ["S1"]
    assert sc.blockers[0].status == ERROR


# --------------------------------------------------------------------------- score


def test_score_is_passing_weight_over_counting_weight() -> None:
    results = [
        result("B1", "bronze"),
        result("B2", "bronze", FAIL),
        result("S1", "silver", WAIVED),
        result("S2", "silver", ERROR),
        result("G1", "gold", NA),
        result("G2", "gold", FAIL, counting=False),
    ]
    weights = {"B1": 3, "B2": 1, "S1": 2, "S2": 4, "G1": 50, "G2": 50}
    # passing: B1 (3) + S1 (2); counting: B1 + B2 + S1 + S2 = 10
    assert card(results, weights).score == 0.5


def test_default_weight_is_one_and_score_is_rounded() -> None:
    results = [result("B1", "bronze"), result("B2", "bronze", FAIL), result("B3", "bronze", FAIL)]
    assert card(results).score == 0.3333


def test_score_is_one_when_nothing_counts() -> None:
    results = [result("B1", "bronze", NA), result("B2", "bronze", FAIL, counting=False)]
    assert card(results).score == 1.0


# --------------------------------------------------------------------------- blockers


def test_blockers_are_the_failing_rules_just_above_the_achieved_level() -> None:
    results = [
        result("B1", "bronze"),
        result("S1", "silver", FAIL),
        result("S2", "silver", ERROR, category="security"),
        result("S3", "silver"),
        result("G1", "gold", FAIL),  # two levels up: not a blocker yet
    ]
    sc = card(results)
    assert sc.level == "bronze"
    assert sc.next_level == "silver"
    assert sorted(b.rule for b in sc.blockers) == ["S1", "S2"]


def test_blockers_for_no_level_are_the_failing_first_level_rules() -> None:
    results = [result("B1", "bronze", FAIL), result("B2", "bronze"), result("S1", "silver", FAIL)]
    sc = card(results)
    assert sc.level is None
    assert sc.next_level == "bronze"
    assert [b.rule for b in sc.blockers] == ["B1"]


def test_no_blockers_at_the_top_level() -> None:
    results = [
        result("B1", "bronze"),
        result("G1", "gold"),
        result("G2", "gold", FAIL, counting=False),
    ]
    sc = card(results)
    assert sc.level == "gold"
    assert sc.next_level is None
    assert sc.blockers == ()


# --------------------------------------------------------------------------- evaluate


PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: waivers, version: 1.0.0}
levels: [bronze, silver, gold]
categories: [docs, ownership]
rules:
  - id: DOC001
    title: README present
    level: bronze
    category: docs
    check: {file: {exists: [README.md]}}
    help: Add a README.
  - id: OWN002
    title: Owner declared
    level: bronze
    category: ownership
    aliases: [OLD-OWNER]
    check: {descriptor: {path: owner, exists: true}}
    help: Set owner.
  - id: DOC002
    title: Runbook present
    level: silver
    category: docs
    check: {file: {exists: [RUNBOOK.md]}}
    help: Add a runbook.
  - id: DOC003
    title: Changelog present
    level: silver
    category: docs
    enforce_after: 2025-06-01
    check: {file: {exists: [CHANGELOG.md]}}
    help: Add a changelog.
  - id: OWN003
    title: Has a name
    level: gold
    category: ownership
    check: {descriptor: {path: name, exists: true}}
    help: Name it.
"""


def scan_repo(
    tmp_path: Path, descriptor: str, today: dt.date, files: Sequence[str] = ("RUNBOOK.md",)
) -> tuple[RunResult, ServiceReport, dict[str, CheckResult]]:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    (repo / "opsgrade.yml").write_text(descriptor, encoding="utf-8")
    for name in files:
        (repo / name).write_text("x\n", encoding="utf-8")
    pack = tmp_path / "pack.yml"
    pack.write_text(PACK, encoding="utf-8")
    run = scan(ScanRequest(repo, packs=[PackSource("file", str(pack))], today=today))
    (report,) = run.services
    return run, report, {r.rule: r for r in report.results}


def test_unexpired_waiver_waives_and_carries_its_reason(tmp_path: Path) -> None:
    descriptor = """\
name: svc
owner: team-a
waivers:
  - rule: DOC001
    reason: README lives in the wiki until the migration
    expires: 2025-12-31
"""
    run, report, by_rule = scan_repo(tmp_path, descriptor, dt.date(2025, 3, 1))
    doc = by_rule["DOC001"]
    assert doc.status == WAIVED
    assert doc.waiver == "README lives in the wiki until the migration"
    assert report.scorecard.level == "gold"
    assert not [n for n in run.notes if n.kind == "waiver"]


def test_waiver_on_its_expiry_date_still_waives(tmp_path: Path) -> None:
    descriptor = """\
name: svc
owner: team-a
waivers:
  - {rule: DOC001, reason: later, expires: 2025-03-01}
"""
    _run, _report, by_rule = scan_repo(tmp_path, descriptor, dt.date(2025, 3, 1))
    assert by_rule["DOC001"].status == WAIVED


def test_expired_waiver_fails_and_is_noted(tmp_path: Path) -> None:
    descriptor = """\
name: svc
owner: team-a
waivers:
  - rule: DOC001
    reason: README lives in the wiki until the migration
    expires: 2025-01-31
"""
    run, report, by_rule = scan_repo(tmp_path, descriptor, dt.date(2025, 2, 1))
    doc = by_rule["DOC001"]
    assert doc.status == FAIL
    assert doc.waiver is not None
    assert "expired on 2025-01-31" in doc.waiver
    assert report.scorecard.level is None
    assert [b.rule for b in report.scorecard.blockers] == ["DOC001"]
    (note,) = [n for n in run.notes if n.kind == "waiver"]
    assert note.path == "opsgrade.yml"
    assert note.line == 4  # the waiver's entry in the descriptor
    assert "DOC001" in note.message
    assert "expired on 2025-01-31" in note.message


def test_waiver_through_a_rule_alias(tmp_path: Path) -> None:
    descriptor = """\
name: svc
waivers:
  - {rule: OLD-OWNER, reason: team being formed, expires: 2026-01-01}
"""
    run, _report, by_rule = scan_repo(tmp_path, descriptor, dt.date(2025, 3, 1), ("README.md",))
    assert by_rule["OWN002"].status == WAIVED
    assert by_rule["OWN002"].waiver == "team being formed"
    assert not [n for n in run.notes if "unknown rule" in n.message]


def test_waiver_for_an_unknown_rule_is_noted(tmp_path: Path) -> None:
    descriptor = """\
name: svc
owner: team-a
waivers:
  - {rule: NOPE001, reason: typo, expires: 2026-01-01}
"""
    run, _report, _by_rule = scan_repo(tmp_path, descriptor, dt.date(2025, 3, 1), ("README.md",))
    (note,) = [n for n in run.notes if n.kind == "waiver"]
    assert "unknown rule NOPE001" in note.message
    assert (note.path, note.line) == ("opsgrade.yml", 4)


def test_waiver_on_a_passing_rule_leaves_it_passing(tmp_path: Path) -> None:
    descriptor = """\
name: svc
owner: team-a
waivers:
  - {rule: DOC001, reason: just in case, expires: 2026-01-01}
"""
    _run, _report, by_rule = scan_repo(
        tmp_path, descriptor, dt.date(2025, 3, 1), ("README.md", "RUNBOOK.md")
    )
    assert by_rule["DOC001"].status == PASS
    assert by_rule["DOC001"].waiver is None


@pytest.mark.parametrize(
    ("today", "counting", "level"),
    [
        (dt.date(2025, 5, 31), False, "gold"),
        (dt.date(2025, 6, 1), True, "bronze"),  # on the date it counts
        (dt.date(2025, 6, 2), True, "bronze"),
    ],
)
def test_enforce_after_counts_from_its_date(
    tmp_path: Path, today: dt.date, counting: bool, level: str
) -> None:
    descriptor = "name: svc\nowner: team-a\n"
    _run, report, by_rule = scan_repo(tmp_path, descriptor, today, ("README.md", "RUNBOOK.md"))
    changelog = by_rule["DOC003"]
    assert changelog.status == FAIL  # reported either way
    assert changelog.counting is counting
    assert report.scorecard.level == level
    assert (changelog in report.scorecard.blockers) is counting
    assert report.scorecard.score == (1.0 if not counting else 0.8)
