"""A repository's RunResult reduced to the RepoRecord the org scan stores.

The reduction happens in the worker that scanned the repository, so only the small
record crosses back to the parent and no RunResult outlives its scan.
"""

from __future__ import annotations

from opsgrade.engine.model import RunResult, ServiceReport, Status
from opsgrade.engine.org.model import RepoRecord, RepoStatus, ServiceRecord
from opsgrade.engine.org.sources import RepoRef


def record_from_run(run: RunResult, ref: RepoRef, status: RepoStatus = "scanned") -> RepoRecord:
    """The record of `run`, named after `ref` (not the folder or the repo config's name)."""
    services = sorted((_service_record(s) for s in run.services), key=lambda s: s.name)
    return RepoRecord(
        name=ref.name,
        status=status,
        url=ref.url,
        revision=ref.revision or run.revision,
        packs_digest=run.packs_digest,
        services=tuple(services),
        config_errors=len(run.config_errors),
        notes=len(run.notes),
    )


def failed_record(ref: RepoRef, packs_digest: str, reason: str) -> RepoRecord:
    return RepoRecord(
        name=ref.name,
        status="failed",
        url=ref.url,
        revision=ref.revision,
        packs_digest=packs_digest,
        error=reason,
    )


def _service_record(report: ServiceReport) -> ServiceRecord:
    service, card = report.service, report.scorecard
    results: dict[str, str] = {}
    pending: dict[str, str] = {}
    for result in report.results:
        if result.status is Status.NOT_APPLICABLE:
            continue
        (results if result.counting else pending)[result.rule] = str(result.status)
    links: dict[str, str] = {}
    for tool in service.tools:
        # The first link of a kind wins, as the descriptor lists them.
        links.setdefault(tool.category, tool.url)
    return ServiceRecord(
        name=service.name,
        owner=service.owner,
        tier=service.tier,
        lifecycle=service.lifecycle,
        language=service.language,
        system=service.system,
        tags=service.tags,
        links=links,
        level=card.level,
        categories=dict(card.categories),
        score=card.score,
        results=results,
        pending=pending,
        blockers=tuple(sorted({b.rule for b in card.blockers})),
    )
