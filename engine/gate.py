"""The gate: from a RunResult and the required level to an exit code."""

from __future__ import annotations

from opsgrade.engine.errors import ConfigError, ExitCode
from opsgrade.engine.model import RunResult, ServiceReport
from opsgrade.engine.scorecard import level_index


def required_level(run: RunResult, fail_below: str | None) -> str:
    """`--fail-below`, else the repo config's level, else the lowest level of the packs."""
    level = fail_below or run.required_level
    if level not in run.levels:
        raise ConfigError(f"--fail-below {level!r} is not one of {list(run.levels)}")
    return level


def below(run: RunResult, level: str) -> list[ServiceReport]:
    bar = level_index(level, run.levels)
    return [s for s in run.services if level_index(s.scorecard.level, run.levels) < bar]


def exit_code(run: RunResult, level: str) -> ExitCode:
    if run.config_errors:
        return ExitCode.USAGE
    if below(run, level):
        return ExitCode.GATE_FAILED
    return ExitCode.PASSED
