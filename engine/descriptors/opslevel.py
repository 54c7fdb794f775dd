"""`opslevel.yml`: OpsLevel's config-as-code descriptor, `version: 1`.

Follows https://docs.opslevel.com/docs/opslevel-yml. The service lives in a `service:`
block (newer OpsLevel docs call the same block `component:`; both are read). A file
that only tracks a repository (a `repository:` block) declares no service. Keys this
reader does not use (product, aliases, repositories, properties...) are left in `raw`.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from opsgrade.engine.descriptors import make_tool, parse_tier
from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.model import Service, Tool
from opsgrade.engine.specs import Name, NonEmpty
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import YamlDocument

SUPPORTED_VERSION = 1
BLOCKS = ("service", "component")

# Normalized field -> key in the service block.
FIELD_KEYS = {
    "name": "name",
    "description": "description",
    "owner": "owner",
    "tier": "tier",
    "lifecycle": "lifecycle",
    "language": "language",
    "framework": "framework",
    "system": "system",
    "tags": "tags",
    "tools": "tools",
    "dependencies": "dependencies",
}

# OpsLevel parses YAML 1.1, so an unquoted tag value may arrive as a bool or a number.
TagValue = str | int | float | bool


class _Tag(Struct):
    key: NonEmpty
    value: TagValue | None = None


class _Tool(Struct):
    url: NonEmpty
    name: str | None = None
    category: str | None = None
    environment: str | None = None


class _Dependency(Struct):
    alias: NonEmpty | None = None
    name: NonEmpty | None = None

    def __post_init__(self) -> None:
        if self.alias is None and self.name is None:
            raise ValueError("a dependency needs `alias` or `name`")


class _Service(Struct):
    name: Name
    description: str | None = None
    owner: str | None = None
    tier: str | int | None = None
    lifecycle: str | None = None
    language: str | None = None
    framework: str | None = None
    system: str | None = None
    tags: list[_Tag | NonEmpty] = []
    tools: list[_Tool] = []
    dependencies: list[_Dependency | NonEmpty] = []

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("`name` must not be blank")


def _tag(tag: _Tag | str) -> str:
    if isinstance(tag, str):
        return tag
    if tag.value is None:
        return tag.key
    value = str(tag.value).lower() if isinstance(tag.value, bool) else str(tag.value)
    return f"{tag.key}:{value}"


def _dependency(dep: _Dependency | str) -> str:
    if isinstance(dep, str):
        return dep
    name = dep.alias if dep.alias is not None else dep.name
    assert name is not None  # __post_init__ guarantees one of them
    return name


def _check_version(doc: YamlDocument, data: dict[Any, Any], path: str) -> None:
    where = Located(path, doc.line_of(["version"]), "version")
    if "version" not in data:
        raise ConfigError(f"missing `version`; expected `version: {SUPPORTED_VERSION}`", where)
    version = data["version"]
    if isinstance(version, bool) or version not in (SUPPORTED_VERSION, str(SUPPORTED_VERSION)):
        raise ConfigError(
            f"unsupported opslevel.yml version; only `version: {SUPPORTED_VERSION}` is supported",
            where,
        )


def read(docs: list[YamlDocument], path: str, root: str) -> list[Service]:
    """The service an `opslevel.yml` (version 1) declares; [] for a repository-only file."""
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        line = docs[0].line_of([]) if len(docs) == 1 else 1
        raise ConfigError(
            f"expected one YAML mapping with `version: {SUPPORTED_VERSION}` and a `service` block",
            Located(path, line),
        )
    doc = docs[0]
    data: dict[Any, Any] = doc.data
    _check_version(doc, data, path)
    block = next((b for b in BLOCKS if b in data), None)
    if block is None:
        if "repository" in data:
            return []
        raise ConfigError("missing `service` block", Located(path, doc.line_of([]), "service"))
    spec = convert(doc, data[block], _Service, base=[block])
    tools: list[Tool] = []
    for tool in spec.tools:
        made = make_tool(tool.name, tool.url, tool.category, environment=tool.environment)
        if made is not None:
            tools.append(made)
    source: dict[Any, Any] = data[block]
    return [
        Service(
            name=spec.name,
            root=root,
            descriptor=path,
            descriptor_format="opslevel",
            description=spec.description,
            owner=spec.owner,
            tier=parse_tier(spec.tier),
            lifecycle=spec.lifecycle,
            language=spec.language,
            framework=spec.framework,
            system=spec.system,
            tags=tuple(_tag(t) for t in spec.tags),
            tools=tuple(tools),
            dependencies=tuple(_dependency(d) for d in spec.dependencies),
            field_lines={
                field: doc.line_of([block, key])
                for field, key in FIELD_KEYS.items()
                if key in source
            },
            raw=data,
        )
    ]
