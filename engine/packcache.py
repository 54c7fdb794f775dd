"""Built-in packs, pre-validated: `rules/_compiled.json`, generated from `rules/*.yml`.

Parsing and validating the built-in packs' YAML is a tenth of a cold scan; decoding the
same specs from JSON takes a fraction of a millisecond. The cache holds each pack's
spec, the SHA-256 of the YAML it came from, and the lines of its keys (for `rules
explain` and error locations). A pack whose YAML no longer matches its digest is read
from the YAML, so a stale cache is slower, never wrong; a test keeps it current.

    python -m opsgrade.engine.packcache        # regenerate after editing rules/*.yml
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence

import msgspec
import yaml

from opsgrade.engine import specs

CACHE_NAME = "_compiled.json"
VERSION = 1
LINE_DEPTH = 4


class CachedPack(msgspec.Struct, frozen=True):
    sha256: str
    spec: specs.RulePack
    lines: dict[str, int]


class Cache(msgspec.Struct, frozen=True):
    version: int
    packs: dict[str, CachedPack]


_loaded: dict[str, Cache | None] = {}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def line_key(keys: Sequence[str | int]) -> str:
    return ".".join(str(k) for k in keys)


def lookup(directory: str, name: str, text: str) -> CachedPack | None:
    """The cached spec of built-in pack `name`, if the cache matches `text`."""
    if directory not in _loaded:
        try:
            with open(os.path.join(directory, CACHE_NAME), "rb") as fh:
                cache: Cache | None = msgspec.json.decode(fh.read(), type=Cache)
        except (OSError, msgspec.ValidationError, msgspec.DecodeError):
            cache = None
        _loaded[directory] = cache if cache is not None and cache.version == VERSION else None
    cache = _loaded[directory]
    entry = cache.packs.get(name) if cache is not None else None
    return entry if entry is not None and entry.sha256 == digest(text) else None


def _lines(node: yaml.Node, prefix: tuple[str | int, ...], out: dict[str, int]) -> None:
    if len(prefix) >= LINE_DEPTH:
        return
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            keys = (*prefix, str(key_node.value))
            out[line_key(keys)] = key_node.start_mark.line + 1
            _lines(value, keys, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            keys = (*prefix, index)
            out[line_key(keys)] = value.start_mark.line + 1
            _lines(value, keys, out)


def build(directory: str, names: Sequence[str]) -> bytes:
    from opsgrade.engine.validation import convert
    from opsgrade.engine.yamlio import load_document

    packs: dict[str, CachedPack] = {}
    for name in names:
        with open(os.path.join(directory, f"{name}.yml"), encoding="utf-8") as fh:
            text = fh.read()
        doc = load_document(text, f"builtin:{name}")
        lines: dict[str, int] = {}
        if doc.node is not None:
            _lines(doc.node, (), lines)
        packs[name] = CachedPack(digest(text), convert(doc, doc.data, specs.RulePack), lines)
    encoded = msgspec.json.encode(Cache(VERSION, packs), order="sorted")
    return msgspec.json.format(encoded, indent=1) + b"\n"


def main(argv: Sequence[str] | None = None) -> int:
    from opsgrade.engine.packs import BUILTIN_DIR, builtin_names

    args = list(sys.argv[1:] if argv is None else argv)
    data = build(BUILTIN_DIR, builtin_names())
    path = os.path.join(BUILTIN_DIR, CACHE_NAME)
    if "--check" in args:
        with open(path, "rb") as fh:
            current = fh.read()
        if current != data:
            print(f"{path} is stale; run `python -m opsgrade.engine.packcache`")
            return 1
        return 0
    with open(path, "wb") as fh:
        fh.write(data)
    print(f"wrote: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
