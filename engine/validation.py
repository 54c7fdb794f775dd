"""Turn parsed YAML into typed specs, with errors that name file, line and key path."""

from __future__ import annotations

import difflib
import re
from typing import Any, TypeVar

import msgspec
from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.yamlio import KeyPath, YamlDocument

T = TypeVar("T")

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<name>[^`]*)`")
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def parse_key_path(text: str) -> list[str | int]:
    """`.rules[3].check` -> ["rules", 3, "check"]."""
    return [name if name else int(index) for name, index in _SEGMENT.findall(text)]


def format_key_path(keys: KeyPath) -> str:
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _field_names(tp: Any, seen: set[Any] | None = None) -> set[str]:
    """Every key any struct reachable from `tp` accepts, for "did you mean" hints."""
    seen = seen if seen is not None else set()
    names: set[str] = set()
    stack = [tp]
    while stack:
        cur = stack.pop()
        if cur in seen:
            continue
        seen.add(cur)
        if isinstance(cur, type) and issubclass(cur, msgspec.Struct):
            for info in msgspec.structs.fields(cur):
                names.add(info.encode_name)
                stack.append(info.type)
        for arg in getattr(cur, "__args__", ()) or ():
            stack.append(arg)
        origin = getattr(cur, "__origin__", None)
        if origin is not None:
            stack.append(origin)
    return names


def convert(doc: YamlDocument, data: Any, tp: type[T], base: KeyPath = ()) -> T:
    """Validate `data` (found at `base` in `doc`) as `tp`; raise a located ConfigError."""
    try:
        return msgspec.convert(data, tp)
    except msgspec.ValidationError as exc:
        raise _located(doc, exc, tp, base) from None


def _located(
    doc: YamlDocument, exc: msgspec.ValidationError, tp: Any, base: KeyPath
) -> ConfigError:
    match = _AT.match(str(exc))
    assert match is not None
    message = match.group("msg")
    keys = [*base, *parse_key_path(match.group("path") or "")]
    unknown = _UNKNOWN.match(message)
    if unknown:
        name = unknown.group("name")
        keys.append(name)
        message = f"unknown key `{name}`"
        close = difflib.get_close_matches(name, sorted(_field_names(tp)), n=1)
        if close:
            message += f"; did you mean `{close[0]}`?"
    message = message.replace("Object missing required field", "missing required key")
    message = message.replace("Expected", "expected")
    return ConfigError(message, Located(doc.path, doc.line_of(keys), format_key_path(keys)))
