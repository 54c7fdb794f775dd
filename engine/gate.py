"""The gate: from a RunResult to a verdict and its exit code (DESIGN.md, exit codes).

Without a base, a run fails when a service is below the required level. With a base
(`diff`, `scan --baseline`), `--fail-on` decides: `regression` fails on level drops and
new failures only, `any` on any counting failure, `none` never; `--fail-below` adds the
level bar. Invalid descriptors make the exit code 2 whatever else holds.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from opsgrade.engine.errors import ConfigError, ExitCode
from opsgrade.engine.model import RunResult, ServiceReport, Status
from opsgrade.engine.scorecard import level_index

FailOn = Literal["regression", "any", "none"]


class Verdict(msgspec.Struct, frozen=True):
    code: ExitCode
    reasons: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.code == ExitCode.PASSED


def required_level(run: RunResult, fail_below: str | None) -> str:
    """`--fail-below`, else the repo config's level, else the lowest level of the packs."""
    level = fail_below or run.required_level
    if level not in run.levels:
        raise ConfigError(f"--fail-below {level!r} is not one of {list(run.levels)}")
    return level


def below(run: RunResult, level: str) -> list[ServiceReport]:
    bar = level_index(level, run.levels)
    return [s for s in run.services if level_index(s.scorecard.level, run.levels) < bar]


def _failing(report: ServiceReport) -> bool:
    return any(r.counting and r.status in (Status.FAIL, Status.ERROR) for r in report.results)


def judge(
    run: RunResult, level: str, fail_on: FailOn | None = None, level_bar: bool = True
) -> Verdict:
    """The verdict on `run`. `fail_on` applies when the run has a comparison; the level
    bar applies without one, and with one only when `level_bar` (`--fail-below` given)."""
    reasons: list[str] = []
    compared = run.comparison is not None and fail_on is not None
    if not compared or level_bar:
        low = below(run, level)
        if low:
            names = ", ".join(s.service.name for s in low[:5])
            reasons.append(f"{len(low)} below {level}: {names}")
    if compared and run.comparison is not None:
        if fail_on == "regression" and run.comparison.regressed:
            reasons.append("regressions against the base")
        if fail_on == "any" and any(_failing(s) for s in run.services):
            reasons.append("failing checks")
    if run.config_errors:
        return Verdict(
            ExitCode.USAGE, (f"{len(run.config_errors)} invalid descriptor(s)", *reasons)
        )
    return Verdict(ExitCode.GATE_FAILED if reasons else ExitCode.PASSED, tuple(reasons))
