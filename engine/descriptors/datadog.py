"""`service.datadog.yaml`: Datadog service definitions, schema-version v2, v2.1 and v2.2.

Follows https://github.com/DataDog/schema/tree/main/service-catalog (v2, v2.1, v2.2).
v1 is deprecated by Datadog, and v3 (`apiVersion: v3`, `kind:`) is a different entity
model, so both are refused. `dd-service` names the service; `team` is the owner and
`application` the system. `tier` is free text in Datadog ("high", "1", "tier-1"): numeric
forms become a tier and words leave it unset. Tools are `links` plus, for v2 files, the
`repos` and `docs` lists, and an on-call tool for the PagerDuty (v2: a URL; v2.1+:
`service-url`) and Opsgenie integrations. `contacts` and `extensions` stay in `raw`.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct, field

from opsgrade.engine.descriptors import make_tool, parse_tier
from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.model import Service, Tool
from opsgrade.engine.specs import Name, NonEmpty
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import YamlDocument

SCHEMA_VERSIONS = ("v2", "v2.1", "v2.2")
VERSION_KEY = "schema-version"

# Normalized field -> key in the document.
FIELD_KEYS = {
    "name": "dd-service",
    "description": "description",
    "owner": "team",
    "tier": "tier",
    "lifecycle": "lifecycle",
    "language": "languages",
    "system": "application",
    "tags": "tags",
}
TOOL_KEYS = ("links", "repos", "docs", "integrations")


class _Link(Struct):
    url: NonEmpty
    name: str | None = None
    type: str | None = None
    provider: str | None = None


class _OnCall(Struct):
    service_url: str | None = field(default=None, name="service-url")


class _Integrations(Struct):
    pagerduty: _OnCall | str | None = None  # v2 gives the service URL directly
    opsgenie: _OnCall | None = None


class _Definition(Struct):
    dd_service: Name = field(name="dd-service")
    team: str | None = None
    description: str | None = None
    tier: str | int | None = None
    lifecycle: str | None = None
    application: str | None = None
    languages: list[NonEmpty] = []
    tags: list[NonEmpty] = []
    links: list[_Link] = []
    repos: list[_Link] = []
    docs: list[_Link] = []
    integrations: _Integrations | None = None

    def __post_init__(self) -> None:
        if not self.dd_service.strip():
            raise ValueError("`dd-service` must not be blank")


def _check_version(doc: YamlDocument, data: dict[Any, Any], path: str) -> None:
    supported = ", ".join(SCHEMA_VERSIONS)
    where = Located(path, doc.line_of([VERSION_KEY]), VERSION_KEY)
    if VERSION_KEY not in data:
        hint = " (v3 `apiVersion` definitions are not supported)" if "apiVersion" in data else ""
        raise ConfigError(f"missing `{VERSION_KEY}`; expected one of {supported}{hint}", where)
    if data[VERSION_KEY] not in SCHEMA_VERSIONS:
        raise ConfigError(f"unsupported `{VERSION_KEY}`; expected one of {supported}", where)


def _tools(spec: _Definition) -> list[Tool]:
    made: list[Tool | None] = []
    made += [make_tool(link.name, link.url, link.type) for link in spec.links]
    made += [make_tool(link.name, link.url, "repository") for link in spec.repos]
    made += [make_tool(link.name, link.url, "docs") for link in spec.docs]
    integrations = spec.integrations or _Integrations()
    pagerduty = integrations.pagerduty
    url = pagerduty if isinstance(pagerduty, str) or pagerduty is None else pagerduty.service_url
    made.append(make_tool("PagerDuty", url, "oncall"))
    if integrations.opsgenie is not None:
        made.append(make_tool("Opsgenie", integrations.opsgenie.service_url, "oncall"))
    return [tool for tool in made if tool is not None]


def read(docs: list[YamlDocument], path: str, root: str) -> list[Service]:
    """The service a `service.datadog.yaml` (schema-version v2, v2.1 or v2.2) declares."""
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        line = docs[0].line_of([]) if len(docs) == 1 else 1
        raise ConfigError(
            f"expected one YAML mapping with `{VERSION_KEY}` and `dd-service`",
            Located(path, line),
        )
    doc = docs[0]
    data: dict[Any, Any] = doc.data
    _check_version(doc, data, path)
    spec = convert(doc, data, _Definition)
    field_lines = {f: doc.line_of([key]) for f, key in FIELD_KEYS.items() if key in data}
    tools = _tools(spec)
    tool_key = next((key for key in TOOL_KEYS if key in data), None)
    if tools and tool_key is not None:
        field_lines["tools"] = doc.line_of([tool_key])
    return [
        Service(
            name=spec.dd_service,
            root=root,
            descriptor=path,
            descriptor_format="datadog",
            description=spec.description,
            owner=spec.team,
            tier=parse_tier(spec.tier),
            lifecycle=spec.lifecycle,
            language=spec.languages[0] if spec.languages else None,
            system=spec.application,
            tags=tuple(spec.tags),
            tools=tuple(tools),
            field_lines=field_lines,
            raw=data,
        )
    ]
