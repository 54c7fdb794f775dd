"""`--format json`: the versioned machine-readable result (docs/json-format.md).

Deterministic: keys sorted, lists in a defined order, no timestamps beyond the
evaluation date, so the same input gives byte-identical output.
"""

from __future__ import annotations

import json
from typing import Any

from opsgrade.engine import __version__
from opsgrade.engine.model import CheckResult, Comparison, RunResult, ServiceReport
from opsgrade.reporters import RenderOptions

SCHEMA_VERSION = 1


def result_dict(result: CheckResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": result.rule,
        "status": result.status.value,
        "severity": result.severity.value,
        "level": result.level,
        "category": result.category,
        "counting": result.counting,
        "path": result.path,
        "line": result.line or None,
        "message": result.message,
    }
    if result.locations and result.locations[0].fingerprint:
        out["fingerprint"] = result.locations[0].fingerprint
    if len(result.locations) > 1:
        out["locations"] = [
            {"path": loc.path, "line": loc.line or None, "fingerprint": loc.fingerprint}
            for loc in result.locations
        ]
    if result.waiver is not None:
        out["waiver"] = result.waiver
    return out


def service_dict(report: ServiceReport, required: str, levels: tuple[str, ...]) -> dict[str, Any]:
    svc, card = report.service, report.scorecard
    achieved = levels.index(card.level) if card.level else -1
    return {
        "name": svc.name,
        "root": svc.root,
        "descriptor": svc.descriptor,
        "descriptor_format": svc.descriptor_format,
        "owner": svc.owner,
        "tier": svc.tier,
        "lifecycle": svc.lifecycle,
        "language": svc.language,
        "framework": svc.framework,
        "tags": list(svc.tags),
        "tools": [{"name": t.name, "category": t.category, "url": t.url} for t in svc.tools],
        "level": card.level,
        "categories": dict(card.categories),
        "score": card.score,
        "next_level": card.next_level,
        "blockers": [b.rule for b in card.blockers],
        "meets_required": achieved >= levels.index(required),
        "results": [result_dict(r) for r in report.results],
    }


def comparison_dict(comparison: Comparison) -> dict[str, Any]:
    return {
        "base": comparison.base,
        "config_changed": comparison.config_changed,
        "regressed": comparison.regressed,
        "services": [
            {
                "name": s.name,
                "base_level": s.base_level,
                "head_level": s.head_level,
                "change": s.change,
                "new_failures": [result_dict(r) for r in s.new_failures],
                "fixed": [result_dict(r) for r in s.fixed],
                "unchanged": [result_dict(r) for r in s.unchanged],
            }
            for s in comparison.services
        ],
    }


def run_dict(run: RunResult, required: str) -> dict[str, Any]:
    out = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "opsgrade", "version": __version__},
        "repository": run.repository,
        "revision": run.revision,
        "evaluated_on": run.evaluated_on.isoformat(),
        "levels": list(run.levels),
        "categories": list(run.categories),
        "required_level": required,
        "packs": [{"name": p.name, "version": p.version, "origin": p.origin} for p in run.packs],
        "packs_digest": run.packs_digest,
        "rules": {
            rid: {
                "title": r.title,
                "level": r.level,
                "category": r.category,
                "severity": r.severity.value,
                "pack": r.pack,
                "weight": r.weight,
                "enforce_after": r.enforce_after.isoformat() if r.enforce_after else None,
            }
            for rid, r in sorted(run.rules.items())
        },
        "services": [service_dict(s, required, run.levels) for s in run.services],
        "notes": [
            {"path": n.path, "line": n.line or None, "kind": n.kind, "message": n.message}
            for n in run.notes
        ],
        "errors": [
            {"path": n.path, "line": n.line or None, "message": n.message}
            for n in run.config_errors
        ],
    }
    if run.comparison is not None:
        out["comparison"] = comparison_dict(run.comparison)
    return out


class JsonReporter:
    def render(self, run: RunResult, options: RenderOptions) -> str:
        required = options.required_level or run.required_level
        return (
            json.dumps(run_dict(run, required), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
