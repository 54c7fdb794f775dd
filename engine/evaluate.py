"""Evaluate rules for one service: one CheckResult per rule, with waivers applied."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from msgspec.structs import replace

from opsgrade.engine import specs
from opsgrade.engine.checks import Outcome
from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.globs import GlobSet
from opsgrade.engine.inline import InlineWaivers
from opsgrade.engine.model import CheckResult, Location, Note, Service, Status, Waiver
from opsgrade.engine.packs import Rule, counts_on


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def excluded_by(when: specs.When | None, ctx: EvalContext) -> str | None:
    """Why `when` excludes the service, or None when the rule applies."""
    if when is None:
        return None
    service = ctx.service
    for key in ("tier", "lifecycle", "language", "framework"):
        wanted = getattr(when, key)
        if wanted is None:
            continue
        have = ctx.attribute(key)
        if _lower(have) not in [_lower(w) for w in _as_list(wanted)]:
            return f"{key} {have!r} is not in {_as_list(wanted)}"
    if when.tags is not None:
        wanted_tags = {str(t) for t in _as_list(when.tags)}
        if not wanted_tags & set(service.tags):
            return f"no tag in {sorted(wanted_tags)}"
    if when.name is not None:
        names = [str(n) for n in _as_list(when.name)]
        if not GlobSet(names).match(service.name):
            return f"name does not match {names}"
    return None


def _waivers_by_rule(service: Service, aliases: Mapping[str, str]) -> dict[str, Waiver]:
    found: dict[str, Waiver] = {}
    for waiver in service.waivers:
        found.setdefault(aliases.get(waiver.rule, waiver.rule), waiver)
    return found


def evaluate_service(
    ctx: EvalContext,
    rules: Sequence[Rule],
    today: dt.date,
    aliases: Mapping[str, str],
) -> tuple[list[CheckResult], list[Note]]:
    service = ctx.service
    waivers = _waivers_by_rule(service, aliases)
    notes: list[Note] = []
    results: list[CheckResult] = []
    known = {r.id for r in rules}
    for rule_id, waiver in sorted(waivers.items()):
        if rule_id not in known:
            where = waiver.source or Location(service.descriptor or "", 1)
            notes.append(
                Note(where.path, f"waiver for unknown rule {waiver.rule}", where.line, "waiver")
            )
    inline = InlineWaivers(ctx.view, aliases, today)
    for rule in rules:
        result = _evaluate_rule(ctx, rule, today)
        applicable = waivers.get(rule.id)
        if applicable is not None:
            result, note = _apply_waiver(result, applicable, today)
            if note is not None:
                notes.append(note)
        if result.status == Status.FAIL:
            result = _apply_inline(result, inline)
        results.append(result)
    notes.extend(inline.notes[k] for k in sorted(inline.notes))
    return results, notes


def _apply_inline(result: CheckResult, inline: InlineWaivers) -> CheckResult:
    """Drop the locations an inline waiver covers; all covered means `waived`."""
    kept: list[Location] = []
    reasons: list[str] = []
    for loc in result.locations:
        reason = inline.reason_for(result.rule, loc)
        if reason is None:
            kept.append(loc)
        else:
            reasons.append(reason)
    if not reasons:
        return result
    if kept:
        return replace(result, locations=tuple(kept))
    return replace(result, status=Status.WAIVED, waiver=f"inline: {reasons[0]}")


def _evaluate_rule(ctx: EvalContext, rule: Rule, today: dt.date) -> CheckResult:
    info = rule.info

    def result(status: Status, message: str, locations: tuple[Location, ...] = ()) -> CheckResult:
        return CheckResult(
            service=ctx.service.name,
            rule=info.id,
            status=status,
            severity=info.severity,
            level=info.level,
            category=info.category,
            message=message,
            locations=locations,
            counting=counts_on(info, today),
        )

    if rule.when is not None:
        try:
            ctx.facts.get("service")  # the filter reads the descriptor; undecidable if broken
        except FactError as exc:
            return result(Status.ERROR, exc.message, (exc.location,) if exc.location else ())
    reason = excluded_by(rule.when, ctx)
    if reason is not None:
        return result(Status.NOT_APPLICABLE, f"does not apply: {reason}")
    try:
        outcome: Outcome = rule.check.evaluate(ctx)
    except FactError as exc:
        return result(Status.ERROR, exc.message, (exc.location,) if exc.location else ())
    if outcome.passed:
        return result(Status.PASS, outcome.message)
    return result(Status.FAIL, outcome.message, outcome.locations)


def _apply_waiver(
    result: CheckResult, waiver: Waiver, today: dt.date
) -> tuple[CheckResult, Note | None]:
    where = waiver.source or Location(result.path or "", 1)
    if waiver.expires is not None and waiver.expires < today:
        note = Note(
            where.path,
            f"waiver for {result.rule} expired on {waiver.expires.isoformat()}",
            where.line,
            "waiver",
        )
        if result.status == Status.FAIL:
            expired = f"waiver expired on {waiver.expires.isoformat()}: {waiver.reason}"
            return replace(result, waiver=expired), note
        return result, note
    if result.status != Status.FAIL:
        return result, None
    return replace(result, status=Status.WAIVED, waiver=waiver.reason), None
