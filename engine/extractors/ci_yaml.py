"""Small helpers for reading YAML documents as data plus the lines of their keys."""

from __future__ import annotations

from typing import Any

import yaml

Item = dict[str, Any]
# Key text -> (line of the key, value node) for one mapping node.
Lines = dict[str, tuple[int, yaml.Node | None]]


def line_at(node: yaml.Node | None, default: int) -> int:
    return node.start_mark.line + 1 if node is not None else default


def node_lines(node: yaml.Node | None) -> Lines:
    """Key text -> (line of the key, value node) for a mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        k.value: (k.start_mark.line + 1, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)
    }


def key_text(key: object) -> str:
    # YAML 1.1 reads `on` as true; no other boolean key means anything in a workflow.
    if key is True:
        return "on"
    return key if isinstance(key, str) else str(key)


def mapping(value: object) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def items(node: yaml.Node | None) -> list[yaml.Node | None]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []
