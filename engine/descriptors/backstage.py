"""`catalog-info.yaml`: Backstage catalog entities, `backstage.io/v1alpha1` / `v1beta1`.

Follows https://backstage.io/docs/features/software-catalog/descriptor-format. A file
holds any number of YAML documents, one entity each; every `kind: Component` becomes a
service and the other kinds (System, API, Group, Resource, Location...) are skipped.

Owner: Backstage owner refs are `[kind:][namespace/]name`, and an owner with no kind is
a Group in the `default` namespace. The `group:` kind and the `default/` namespace are
dropped so that `team-a`, `group:team-a` and `group:default/team-a` are one owner
(`group:payments/team-a` -> `payments/team-a`); other kinds (`user:jdoe`) are kept as
written, and so are the entity refs in `spec.dependsOn`. Tier and language come from
the `opsgrade.dev/tier` and `opsgrade.dev/language` annotations, whose values must be
strings, as Backstage requires of every annotation.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct, field

from opsgrade.engine.descriptors import make_tool, parse_tier
from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.model import Service, Tool
from opsgrade.engine.specs import Name, NonEmpty
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import KeyPath, YamlDocument

KIND = "Component"
TIER_ANNOTATION = "opsgrade.dev/tier"
LANGUAGE_ANNOTATION = "opsgrade.dev/language"

# Normalized field -> key path in the entity document.
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "name": ("metadata", "name"),
    "description": ("metadata", "description"),
    "owner": ("spec", "owner"),
    "lifecycle": ("spec", "lifecycle"),
    "tier": ("metadata", "annotations", TIER_ANNOTATION),
    "language": ("metadata", "annotations", LANGUAGE_ANNOTATION),
    "tags": ("metadata", "tags"),
    "tools": ("metadata", "links"),
    "system": ("spec", "system"),
    "dependencies": ("spec", "dependsOn"),
}


class _Link(Struct):
    url: NonEmpty
    title: str | None = None
    icon: str | None = None
    type: str | None = None


class _Metadata(Struct):
    name: Name
    description: str | None = None
    tags: list[NonEmpty] = []
    links: list[_Link] = []
    annotations: dict[str, Any] = {}

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("`name` must not be blank")


class _Spec(Struct):
    type: str | None = None
    lifecycle: str | None = None
    owner: str | None = None
    system: str | None = None
    depends_on: list[NonEmpty] = field(default=[], name="dependsOn")


class _Component(Struct):
    metadata: _Metadata
    spec: _Spec | None = None


def owner_name(ref: str) -> str:
    """`group:default/team-a`, `group:team-a`, `default/team-a` -> `team-a`."""
    name = ref
    if name.lower().startswith("group:"):
        name = name[len("group:") :]
    if ":" not in name and name.startswith("default/"):
        name = name[len("default/") :]
    return name


def _has(data: Any, keys: KeyPath) -> bool:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def _annotation(doc: YamlDocument, annotations: dict[str, Any], key: str) -> str | None:
    if key not in annotations:
        return None
    return convert(doc, annotations[key], str, base=["metadata", "annotations", key])


def _service(doc: YamlDocument, path: str, root: str) -> Service:
    entity = convert(doc, doc.data, _Component)
    meta = entity.metadata
    spec = entity.spec or _Spec()
    tools: list[Tool] = []
    for link in meta.links:
        made = make_tool(link.title, link.url, link.type, link.icon)
        if made is not None:
            tools.append(made)
    return Service(
        name=meta.name,
        root=root,
        descriptor=path,
        descriptor_format="backstage",
        description=meta.description,
        owner=owner_name(spec.owner) if spec.owner is not None else None,
        tier=parse_tier(_annotation(doc, meta.annotations, TIER_ANNOTATION)),
        lifecycle=spec.lifecycle,
        language=_annotation(doc, meta.annotations, LANGUAGE_ANNOTATION),
        system=spec.system,
        tags=tuple(meta.tags),
        tools=tuple(tools),
        dependencies=tuple(spec.depends_on),
        field_lines={
            name: doc.line_of(keys) for name, keys in FIELD_KEYS.items() if _has(doc.data, keys)
        },
        raw=doc.data,
    )


def read(docs: list[YamlDocument], path: str, root: str) -> list[Service]:
    """One service per `kind: Component` document; [] when the file has none."""
    services: list[Service] = []
    for doc in docs:
        if doc.data is None:  # an empty document, e.g. after a trailing `---`
            continue
        if not isinstance(doc.data, dict):
            raise ConfigError(
                "expected each YAML document to be a mapping (one catalog entity)",
                Located(path, doc.line_of([])),
            )
        if doc.data.get("kind") == KIND:
            services.append(_service(doc, path, root))
    return services
