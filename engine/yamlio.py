"""YAML from untrusted sources: libyaml's safe loader with bounds, and lines for key paths.

Each document is composed once into nodes (kept, so a key path maps back to its line)
and then constructed. Before construction the node graph is measured: a document whose
aliases expand past a bound (a "billion laughs" bomb) or refer to themselves is refused
with a located error instead of exhausting memory in whoever walks the data later.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
import yaml

from opsgrade.engine.errors import Located, ParseError

try:
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        # `2027-13-01` has a date's shape but is no date. PyYAML raises a bare ValueError
        # (no position); as text it reaches validation, which names its line and key.
        return loader.construct_scalar(node)


# A subclass, so the timestamp constructor does not change PyYAML's own loaders.
_Loader = type("_Loader", (_Loader,), {})
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)

MAX_EXPANDED_NODES = 1_000_000

KeyPath = Sequence[str | int]


class YamlDocument(msgspec.Struct, frozen=True):
    data: Any
    node: yaml.Node | None
    path: str
    # Instead of nodes: "rules.3.check" -> line, for specs decoded from a cache.
    lines: dict[str, int] | None = None

    def line_of(self, keys: KeyPath) -> int:
        """1-based line of the value at `keys`, or of the deepest key that exists."""
        if self.node is None and self.lines is not None:
            for end in range(len(keys), 0, -1):
                found = self.lines.get(".".join(str(k) for k in keys[:end]))
                if found is not None:
                    return found
            return 1
        return line_of(self.node, keys)


def line_of(node: yaml.Node | None, keys: KeyPath) -> int:
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for key in keys:
        child = _child(node, key)
        if child is None:
            break
        key_node, node = child
        line = (key_node or node).start_mark.line + 1
    return line


def _child(node: yaml.Node, key: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return k, v
    elif (
        isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value)
    ):
        return None, node.value[key]
    return None


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield k
            yield v
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def check_expansion(root: yaml.Node, path: str, limit: int = MAX_EXPANDED_NODES) -> int:
    """Count the nodes `root` expands to without expanding it; refuse bombs and cycles."""
    in_progress = -1
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if leaving:
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > limit:
                raise ParseError(
                    f"YAML expands to more than {limit} nodes (alias bomb?)",
                    Located(path, node.start_mark.line + 1),
                )
            size[key] = total
            continue
        seen = size.get(key)
        if seen == in_progress:
            raise ParseError("YAML alias refers to itself", Located(path, node.start_mark.line + 1))
        if seen is not None:
            continue
        size[key] = in_progress
        stack.append((node, True))
        for child in _children(node):
            if size.get(id(child)) == in_progress:
                raise ParseError(
                    "YAML alias refers to itself", Located(path, child.start_mark.line + 1)
                )
            stack.append((child, False))
    return size[id(root)]


def _error_line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else 0


def _describe(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    parts = [p for p in (context, problem) if p]
    return "invalid YAML: " + ("; ".join(parts) if parts else str(exc).splitlines()[0])


def load_documents(text: str, path: str, trusted: bool = False) -> list[YamlDocument]:
    """Every document in `text`; raises ParseError located at `path` and its line."""
    loader = _Loader(text)
    docs: list[YamlDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            if not trusted:  # only our own shipped files skip the bomb check
                check_expansion(node, path)
            docs.append(YamlDocument(loader.construct_document(node), node, path))
    except yaml.YAMLError as exc:
        raise ParseError(_describe(exc), Located(path, _error_line(exc))) from None
    except RecursionError:
        raise ParseError("YAML nested too deeply", Located(path)) from None
    finally:
        loader.dispose()
    return docs


def load_document(text: str, path: str, trusted: bool = False) -> YamlDocument:
    """Exactly one document (an empty file is one document whose data is None)."""
    docs = load_documents(text, path, trusted)
    if not docs:
        return YamlDocument(None, None, path)
    if len(docs) > 1:
        raise ParseError("expected one YAML document, found several", Located(path, 1))
    return docs[0]
