"""Service descriptor formats, each read into the one normalized Service model.

One module per format; each exposes `read(docs, path, root) -> list[Service]` and raises
ConfigError located at the file, line and key when the descriptor is invalid.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from typing import Any

from opsgrade.engine.model import Service, Tool
from opsgrade.engine.yamlio import YamlDocument

Reader = Callable[[list[YamlDocument], str, str], list[Service]]

# File name -> format. Several descriptors in one folder: the earliest format wins.
FILE_NAMES: dict[str, str] = {
    "opsgrade.yml": "opsgrade",
    "opsgrade.yaml": "opsgrade",
    "opslevel.yml": "opslevel",
    "opslevel.yaml": "opslevel",
    "catalog-info.yaml": "backstage",
    "catalog-info.yml": "backstage",
    "cortex.yaml": "cortex",
    "cortex.yml": "cortex",
    "service.datadog.yaml": "datadog",
    "service.datadog.yml": "datadog",
}
PRIORITY = ("opsgrade", "opslevel", "backstage", "cortex", "datadog")


def reader(fmt: str) -> Reader:
    # Imported on demand: a repository usually holds one format.
    if fmt == "opsgrade":
        from opsgrade.engine.descriptors import opsgrade as mod
    elif fmt == "opslevel":
        from opsgrade.engine.descriptors import opslevel as mod  # type: ignore[no-redef]
    elif fmt == "backstage":
        from opsgrade.engine.descriptors import backstage as mod  # type: ignore[no-redef]
    elif fmt == "cortex":
        from opsgrade.engine.descriptors import cortex as mod  # type: ignore[no-redef]
    elif fmt == "datadog":
        from opsgrade.engine.descriptors import datadog as mod  # type: ignore[no-redef]
    else:  # pragma: no cover - FILE_NAMES and this list move together
        raise KeyError(fmt)
    return mod.read


def format_of(path: str) -> str | None:
    return FILE_NAMES.get(posixpath.basename(path))


# Link categories, normalized across formats: the words each tool uses -> ours.
TOOL_CATEGORIES: Mapping[str, str] = {
    "runbook": "runbook",
    "runbooks": "runbook",
    "playbook": "runbook",
    "logs": "logs",
    "log": "logs",
    "logging": "logs",
    "dashboard": "dashboard",
    "dashboards": "dashboard",
    "metrics": "metrics",
    "monitoring": "metrics",
    "docs": "docs",
    "doc": "docs",
    "documentation": "docs",
    "wiki": "docs",
    "api_documentation": "docs",
    "repo": "repository",
    "repository": "repository",
    "code": "repository",
    "source": "repository",
    "oncall": "oncall",
    "on-call": "oncall",
    "pagerduty": "oncall",
    "incidents": "oncall",
    "tracing": "tracing",
    "traces": "tracing",
    "apm": "tracing",
    "alerts": "alerts",
    "alerting": "alerts",
    "errors": "errors",
    "error_tracking": "errors",
    "sentry": "errors",
}


def tool_category(*hints: str | None) -> str:
    """The first hint that names a known category, else "other"."""
    for hint in hints:
        if hint:
            key = hint.strip().lower().replace(" ", "_")
            if key in TOOL_CATEGORIES:
                return TOOL_CATEGORIES[key]
    return "other"


def make_tool(name: Any, url: Any, *hints: str | None, environment: Any = None) -> Tool | None:
    if not isinstance(url, str) or not url:
        return None
    label = name if isinstance(name, str) and name else url
    env = environment if isinstance(environment, str) else None
    return Tool(name=label, category=tool_category(*hints, label), url=url, environment=env)


def parse_tier(value: Any) -> int | None:
    """`1`, "1", "tier_1", "tier-1", "Tier 1" -> 1; anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        digits = value.strip().lower().removeprefix("tier").strip(" _-")
        if digits.isdigit():
            return int(digits)
    return None
