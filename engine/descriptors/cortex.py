"""`cortex.yaml`: the Cortex entity descriptor (OpenAPI 3 with `x-cortex-*` keys in `info`).

Follows https://docs.cortex.io/ingesting-data-into-cortex/entities-overview/entities/yaml.
`info.x-cortex-tag` names the service. Owner: the first `type: group` owner's `name`,
else the first `type: email` owner's `email` (Slack-channel owners are not owners of
record here). `x-cortex-groups` become tags, `x-cortex-link` tools and
`x-cortex-dependency` tags dependencies. Cortex has no tier, lifecycle or language keys
of its own: they are read from `x-cortex-custom-metadata`, which is free-form data in
Cortex (a value there may be a scalar or `{value, description}`), so a value of another
shape is ignored rather than rejected.
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

TAG = "x-cortex-tag"
OWNERS = "x-cortex-owners"
GROUPS = "x-cortex-groups"
LINKS = "x-cortex-link"
DEPENDENCIES = "x-cortex-dependency"
CUSTOM = "x-cortex-custom-metadata"

# Normalized field -> key path in the document.
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "name": ("info", TAG),
    "description": ("info", "description"),
    "owner": ("info", OWNERS),
    "tier": ("info", CUSTOM, "tier"),
    "lifecycle": ("info", CUSTOM, "lifecycle"),
    "language": ("info", CUSTOM, "language"),
    "tags": ("info", GROUPS),
    "tools": ("info", LINKS),
    "dependencies": ("info", DEPENDENCIES),
}


class _Owner(Struct):
    type: str | None = None
    name: str | None = None
    email: str | None = None


class _Link(Struct):
    url: NonEmpty
    name: str | None = None
    type: str | None = None


class _Dependency(Struct):
    tag: NonEmpty


class _Info(Struct):
    tag: Name = field(name=TAG)
    description: str | None = None
    owners: list[_Owner] = field(default=[], name=OWNERS)
    groups: list[NonEmpty] = field(default=[], name=GROUPS)
    links: list[_Link] = field(default=[], name=LINKS)
    dependencies: list[_Dependency] = field(default=[], name=DEPENDENCIES)
    custom: dict[str, Any] = field(default={}, name=CUSTOM)

    def __post_init__(self) -> None:
        if not self.tag.strip():
            raise ValueError(f"`{TAG}` must not be blank")


def _owner(owners: list[_Owner]) -> str | None:
    groups = [o.name for o in owners if (o.type or "").lower() == "group" and o.name]
    emails = [o.email for o in owners if (o.type or "").lower() == "email" and o.email]
    found = groups or emails
    return found[0] if found else None


def _custom(custom: dict[str, Any], key: str) -> Any:
    value = custom.get(key)
    return value.get("value") if isinstance(value, dict) else value


def _custom_str(custom: dict[str, Any], key: str) -> str | None:
    value = _custom(custom, key)
    return value if isinstance(value, str) else None


def _has(data: Any, keys: tuple[str, ...]) -> bool:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def read(docs: list[YamlDocument], path: str, root: str) -> list[Service]:
    """The service a `cortex.yaml` declares in its `info` block."""
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        line = docs[0].line_of([]) if len(docs) == 1 else 1
        raise ConfigError(
            f"expected one YAML mapping with an `info` block holding `{TAG}`",
            Located(path, line),
        )
    doc = docs[0]
    data: dict[Any, Any] = doc.data
    if "info" not in data:
        raise ConfigError(
            f"missing `info` block (with `{TAG}`)", Located(path, doc.line_of([]), "info")
        )
    info = convert(doc, data["info"], _Info, base=["info"])
    tools: list[Tool] = []
    for link in info.links:
        made = make_tool(link.name, link.url, link.type)
        if made is not None:
            tools.append(made)
    return [
        Service(
            name=info.tag,
            root=root,
            descriptor=path,
            descriptor_format="cortex",
            description=info.description,
            owner=_owner(info.owners),
            tier=parse_tier(_custom(info.custom, "tier")),
            lifecycle=_custom_str(info.custom, "lifecycle"),
            language=_custom_str(info.custom, "language"),
            tags=tuple(info.groups),
            tools=tuple(tools),
            dependencies=tuple(d.tag for d in info.dependencies),
            field_lines={
                name: doc.line_of(keys) for name, keys in FIELD_KEYS.items() if _has(data, keys)
            },
            raw=data,
        )
    ]
