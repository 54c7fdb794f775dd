"""Render time and upload size of `--format sarif` at GitHub's result limit.

    python bench/sarif_bench.py [--runs 5] [--results 25000] [--rules 50]

Builds a synthetic RunResult with --results failing results over --rules rules (mixed
severities, a tenth waived, a few undecided, realistic messages and paths) and prints
JSON: the median render time over --runs renders, the document's size raw and gzipped,
and how many results it holds. Budgets (issue #4): <= 2 s, <= 10 MB gzipped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import platform
import statistics
import sys
import time

from opsgrade.engine.model import (
    CheckResult,
    Location,
    PackInfo,
    RuleInfo,
    RunResult,
    Scorecard,
    Service,
    ServiceReport,
    Severity,
    Status,
)
from opsgrade.reporters import RenderOptions
from opsgrade.reporters.sarif import MAX_GZIP_BYTES, SarifReporter

BUDGET_SECONDS = 2.0
SEVERITIES = (Severity.ERROR, Severity.WARNING, Severity.NOTE)
CATEGORIES = ("ownership", "operability", "documentation", "security", "reliability")
HELP = (
    "Why it matters: a service without this is harder to operate when it breaks, and the "
    "people paged for it lose time finding out what it is.\n\nHow to fix it: add the "
    "missing piece next to the code, for example:\n\n```yaml\nowner: team-payments\n```\n"
)


def rule_infos(count: int) -> dict[str, RuleInfo]:
    infos: dict[str, RuleInfo] = {}
    for i in range(count):
        rid = f"BENCH{i:03d}"
        infos[rid] = RuleInfo(
            id=rid,
            title=f"Synthetic rule number {i} holds for every service",
            level=("bronze", "silver", "gold")[i % 3],
            category=CATEGORIES[i % len(CATEGORIES)],
            severity=SEVERITIES[i % 3],
            help=HELP,
            fix="Add the missing piece next to the code.",
            pack="bench",
            see_also=("DL3007", "CKV_DOCKER_2", "https://example.com/docs/rule"),
            tags=("security",) if i % 7 == 0 else (),
        )
    return infos


def fingerprint(*parts: object) -> str:
    return hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:32]


def build_run(results: int, rules: int) -> RunResult:
    infos = rule_infos(rules)
    ids = list(infos)
    services = 20
    per_service = results // services
    reports: list[ServiceReport] = []
    made = 0
    for s in range(services):
        name = f"svc-{s:02d}"
        want = per_service if s < services - 1 else results - made
        checks: list[CheckResult] = []
        for r in range(want):
            info = infos[ids[r % rules]]
            path = f"services/{name}/src/module_{r // rules:04d}/handler_{r % 97}.py"
            line = 1 + (r * 7) % 400
            status = Status.FAIL
            if r % 10 == 9:
                status = Status.WAIVED
            elif r % 101 == 100:
                status = Status.ERROR
            checks.append(
                CheckResult(
                    service=name,
                    rule=info.id,
                    status=status,
                    severity=info.severity,
                    level=info.level,
                    category=info.category,
                    message=f"{path} line {line}: `value` is 'x', expected one of ['a', 'b']",
                    locations=(Location(path, line, fingerprint(info.id, name, path, line)),),
                    counting=r % 13 != 0,
                    waiver="tracked in OPS-1234" if status == Status.WAIVED else None,
                )
            )
        made += want
        card = Scorecard(level=None, categories={}, score=0.0, blockers=(), next_level="bronze")
        reports.append(ServiceReport(Service(name, f"services/{name}"), tuple(checks), card))
    return RunResult(
        repository="bench",
        revision="0" * 40,
        evaluated_on=dt.date(2026, 11, 26),
        levels=("bronze", "silver", "gold"),
        categories=CATEGORIES,
        packs=(PackInfo("bench", "1.0.0", "builtin:bench"),),
        packs_digest="0" * 64,
        rules=infos,
        services=tuple(reports),
        notes=(),
        config_errors=(),
        required_level="bronze",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--results", type=int, default=25_000)
    parser.add_argument("--rules", type=int, default=50)
    args = parser.parse_args()
    run = build_run(args.results, args.rules)
    reporter = SarifReporter()
    times: list[float] = []
    text = ""
    for _ in range(args.runs):
        start = time.perf_counter()
        text = reporter.render(run, RenderOptions())
        times.append(time.perf_counter() - start)
    raw = text.encode("utf-8")
    gz = len(gzip.compress(raw, compresslevel=6, mtime=0))
    doc = json.loads(text)
    median = statistics.median(times)
    report = {
        "results_in": args.results,
        "results_out": len(doc["runs"][0]["results"]),
        "rules": len(doc["runs"][0]["tool"]["driver"]["rules"]),
        "runs": args.runs,
        "median_seconds": round(median, 3),
        "min_seconds": round(min(times), 3),
        "raw_bytes": len(raw),
        "gzip_bytes": gz,
        "budget_seconds": BUDGET_SECONDS,
        "budget_gzip_bytes": MAX_GZIP_BYTES,
        "within_budget": median <= BUDGET_SECONDS and gz <= MAX_GZIP_BYTES,
        "python": platform.python_version(),
    }
    print(json.dumps(report, indent=2))
    return 0 if report["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
