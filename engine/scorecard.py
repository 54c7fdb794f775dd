"""Levels, score and blockers from one service's results (DESIGN.md, "Level semantics").

- A result counts when its rule applies and its `enforce_after` date has passed.
- `waived` counts as passing; `error` counts as failing.
- Category level: the highest level L such that every counting rule of that category
  with level <= L passes. Overall level: the same over all rules (the minimum of the
  category levels). "No level" (None) is below the first level.
- Score: passing weight / counting weight (1.0 when nothing counts).
- Blockers: the failing counting rules at the level just above the achieved one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from opsgrade.engine.model import CheckResult, RuleInfo, Scorecard, Status


def _counting(results: Sequence[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.counting and r.status != Status.NOT_APPLICABLE]


def achieved_index(results: Sequence[CheckResult], levels: Sequence[str]) -> int:
    """Index of the achieved level in `levels`; -1 for no level."""
    failing = [levels.index(r.level) for r in _counting(results) if not r.passing]
    return (min(failing) if failing else len(levels)) - 1


def score_card(
    results: Sequence[CheckResult],
    levels: Sequence[str],
    categories: Sequence[str],
    rules: Mapping[str, RuleInfo],
) -> Scorecard:
    overall = achieved_index(results, levels)
    per_category = {
        c: _name(achieved_index([r for r in results if r.category == c], levels), levels)
        for c in categories
    }
    counting = _counting(results)
    total = sum(rules[r.rule].weight for r in counting)
    passed = sum(rules[r.rule].weight for r in counting if r.passing)
    next_index = overall + 1
    next_level = levels[next_index] if next_index < len(levels) else None
    blockers = tuple(
        r for r in counting if not r.passing and next_level is not None and r.level == next_level
    )
    return Scorecard(
        level=_name(overall, levels),
        categories=per_category,
        score=round(passed / total, 4) if total else 1.0,
        blockers=blockers,
        next_level=next_level,
    )


def _name(index: int, levels: Sequence[str]) -> str | None:
    return levels[index] if index >= 0 else None


def level_index(level: str | None, levels: Sequence[str]) -> int:
    return levels.index(level) if level is not None else -1
