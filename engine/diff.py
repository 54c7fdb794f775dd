"""Compare two evaluations of a repository: the "no regressions" gate.

The base is another revision evaluated with the same packs, or a saved JSON result
(`scan --baseline FILE`). Per service: the level change, new failures (a result that
turned from passing to failing, or a failing rule with a location that was not there
before), fixed results, and failures present on both sides (which never block).
Locations are matched by fingerprint (engine/fingerprint.py), not by line number.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from opsgrade.engine.config import CONFIG_DIR, load_config
from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.model import (
    Change,
    CheckResult,
    Comparison,
    Location,
    PackInfo,
    RuleInfo,
    RunResult,
    Scorecard,
    Service,
    ServiceChange,
    ServiceReport,
    Severity,
    Status,
)
from opsgrade.engine.packs import PackSource
from opsgrade.engine.repoview import GitRevisionView, RepoView, Unreadable, open_view
from opsgrade.engine.scan import evaluate_view, select_packs
from opsgrade.engine.scorecard import level_index


def _failing(report: ServiceReport | None) -> dict[str, CheckResult]:
    if report is None:
        return {}
    return {
        r.rule: r for r in report.results if r.counting and r.status in (Status.FAIL, Status.ERROR)
    }


def _key(loc: Location) -> str:
    return loc.fingerprint or f"{loc.path}:{loc.line}"


def _fingerprints(result: CheckResult) -> set[str]:
    return {_key(loc) for loc in result.locations}


def _compare_service(
    name: str,
    base: ServiceReport | None,
    head: ServiceReport | None,
    levels: Sequence[str],
) -> ServiceChange:
    base_level = base.scorecard.level if base else None
    head_level = head.scorecard.level if head else None
    if base is None:
        change: Change = "added"
    elif head is None:
        change = "removed"
    else:
        delta = level_index(head_level, levels) - level_index(base_level, levels)
        change = "up" if delta > 0 else "down" if delta < 0 else "same"
    base_fail, head_fail = _failing(base), _failing(head)
    new: list[CheckResult] = []
    fixed: list[CheckResult] = []
    unchanged: list[CheckResult] = []
    for rule, result in sorted(head_fail.items()):
        before = base_fail.get(rule)
        if before is None:
            new.append(result)
            continue
        if before.status is Status.ERROR and result.status is Status.FAIL:
            # The base could not decide (a `command` check on a git revision, a file that
            # did not parse): nothing turned from pass to fail, so the change is not blamed.
            unchanged.append(result)
            continue
        known = _fingerprints(before)
        fresh = tuple(loc for loc in result.locations if _key(loc) not in known)
        if fresh:
            new.append(replace(result, locations=fresh))
        else:
            unchanged.append(result)
        now = _fingerprints(result)
        gone = tuple(loc for loc in before.locations if _key(loc) not in now)
        if gone:
            fixed.append(replace(before, locations=gone))
    for rule, result in sorted(base_fail.items()):
        if rule not in head_fail and head is not None:
            fixed.append(result)
    return ServiceChange(
        name=name,
        base_level=base_level,
        head_level=head_level,
        change=change,
        new_failures=tuple(new),
        fixed=tuple(fixed),
        unchanged=tuple(unchanged),
    )


def compare(
    base: RunResult, head: RunResult, label: str, config_changed: bool = False
) -> Comparison:
    base_by = {s.service.name: s for s in base.services}
    head_by = {s.service.name: s for s in head.services}
    names = sorted(set(base_by) | set(head_by))
    return Comparison(
        base=label,
        services=tuple(
            _compare_service(n, base_by.get(n), head_by.get(n), head.levels) for n in names
        ),
        config_changed=config_changed,
    )


def _config_texts(view: RepoView) -> dict[str, str]:
    """The repo config and local packs: what decides the gate."""
    texts: dict[str, str] = {}
    for path in view.files():
        if path.startswith(CONFIG_DIR):
            try:
                texts[path] = view.read_text(path)
            except Unreadable as exc:
                texts[path] = f"<unreadable: {exc.reason}>"
    return texts


def diff_revisions(
    path: Path,
    base_rev: str,
    head_rev: str | None,
    packs: Sequence[PackSource],
    today: dt.date,
) -> RunResult:
    """Evaluate base and head with the same packs, chosen by the base revision's config.

    The head is another revision, or the work tree when `head_rev` is None. The repo
    config and local packs are read from the base, so a change cannot weaken the gate
    that judges it; `config_changed` says whether the head edits them.
    """
    base_view = GitRevisionView(path, base_rev)
    try:
        config = load_config(base_view)
        packset = select_packs(packs, base_view, config)
        base_run = evaluate_view(base_view, packset, config, today)
        head_view = open_view(path, head_rev)
        head_run = evaluate_view(head_view, packset, config, today)
        changed = _config_texts(base_view) != _config_texts(head_view)
    finally:
        base_view.close()
    label = base_run.revision or base_rev
    return replace(head_run, comparison=compare(base_run, head_run, label, changed))


# -- baselines: a saved `--format json` result read back ---------------------------------


def _location(item: Mapping[str, Any]) -> Location:
    return Location(
        path=str(item.get("path") or ""),
        line=int(item.get("line") or 0),
        fingerprint=str(item.get("fingerprint") or ""),
    )


def _result(service: str, item: Mapping[str, Any]) -> CheckResult:
    if "locations" in item:
        locations = tuple(_location(loc) for loc in item["locations"])
    elif item.get("path"):
        locations = (_location(item),)
    else:
        locations = ()
    return CheckResult(
        service=service,
        rule=str(item["rule"]),
        status=Status(item["status"]),
        severity=Severity(item["severity"]),
        level=str(item["level"]),
        category=str(item["category"]),
        message=str(item.get("message", "")),
        locations=locations,
        counting=bool(item.get("counting", True)),
        waiver=item.get("waiver"),
    )


def load_baseline(path: str) -> RunResult:
    """A RunResult rebuilt from `opsgrade scan --format json` output."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read baseline: {exc.strerror}", Located(path)) from None
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"baseline is not JSON: {exc}", Located(path)) from None
    try:
        if data.get("schema_version") != 1:
            raise ConfigError("baseline has an unsupported schema_version", Located(path))
        services = []
        for svc in data["services"]:
            name = str(svc["name"])
            results = tuple(_result(name, r) for r in svc["results"])
            card = Scorecard(
                level=svc["level"],
                categories=dict(svc.get("categories", {})),
                score=float(svc.get("score", 1.0)),
                blockers=(),
                next_level=svc.get("next_level"),
            )
            service = Service(name=name, root=str(svc.get("root", "")), owner=svc.get("owner"))
            services.append(ServiceReport(service, results, card))
        rules = {
            rid: RuleInfo(
                id=rid,
                title=str(r["title"]),
                level=str(r["level"]),
                category=str(r["category"]),
                severity=Severity(r["severity"]),
                help="",
                fix="",
                pack=str(r.get("pack", "")),
            )
            for rid, r in data.get("rules", {}).items()
        }
        return RunResult(
            repository=str(data["repository"]),
            revision=data.get("revision"),
            evaluated_on=dt.date.fromisoformat(data["evaluated_on"]),
            levels=tuple(data["levels"]),
            categories=tuple(data.get("categories", ())),
            packs=tuple(
                PackInfo(str(p["name"]), str(p["version"]), str(p["origin"]))
                for p in data.get("packs", ())
            ),
            packs_digest=str(data.get("packs_digest", "")),
            rules=rules,
            services=tuple(services),
            notes=(),
            config_errors=(),
            required_level=str(data.get("required_level", data["levels"][0])),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"baseline is not an opsgrade JSON result: {exc!r}", Located(path)
        ) from None
