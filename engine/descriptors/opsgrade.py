"""`opsgrade.yml`: our own descriptor, validated strictly against its published schema."""

from __future__ import annotations

from opsgrade.engine.descriptors import make_tool
from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.model import Location, Service, Tool, Waiver
from opsgrade.engine.specs import Descriptor
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import YamlDocument

FIELDS = (
    "name",
    "description",
    "owner",
    "tier",
    "lifecycle",
    "language",
    "framework",
    "system",
    "tags",
    "tools",
    "dependencies",
    "waivers",
)


def read(docs: list[YamlDocument], path: str, root: str) -> list[Service]:
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise ConfigError("expected a mapping with at least `name`", Located(path, 1))
    doc = docs[0]
    spec = convert(doc, doc.data, Descriptor)
    tools: list[Tool] = []
    for tool in spec.tools:
        made = make_tool(tool.name, tool.url, tool.category, environment=tool.environment)
        if made is not None:
            tools.append(made)
    waivers = tuple(
        Waiver(
            rule=w.rule,
            reason=w.reason,
            expires=w.expires,
            approved_by=w.approved_by,
            source=Location(path, doc.line_of(["waivers", i])),
        )
        for i, w in enumerate(spec.waivers)
    )
    return [
        Service(
            name=spec.name,
            root=root,
            descriptor=path,
            descriptor_format="opsgrade",
            description=spec.description,
            owner=spec.owner,
            tier=spec.tier,
            lifecycle=spec.lifecycle,
            language=spec.language,
            framework=spec.framework,
            system=spec.system,
            tags=tuple(spec.tags),
            tools=tuple(tools),
            dependencies=tuple(spec.dependencies),
            waivers=waivers,
            field_lines={f: doc.line_of([f]) for f in FIELDS if f in doc.data},
            raw=doc.data,
        )
    ]
