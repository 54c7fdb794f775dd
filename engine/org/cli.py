"""`opsgrade org`: scan many repositories, merge shards, write the report.

The subcommands load their modules only when run, so `opsgrade scan` never pays for them.
"""

from __future__ import annotations

from opsgrade.engine.lazycli import LazyGroup

org = LazyGroup(
    "org",
    help="Scan every repository of an organization into one report.",
    lazy={
        "scan": "opsgrade.engine.org.scan_cli:scan",
        "merge": "opsgrade.engine.org.report_cli:merge",
        "report": "opsgrade.engine.org.report_cli:report",
    },
)
