"""Turn parsed YAML into typed specs, with errors that name file, line and key path."""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any, Literal, TypeVar

import msgspec

from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.yamlio import KeyPath, YamlDocument

T = TypeVar("T")

_AT = re.compile(r"^(?P<msg>.*?)(?: - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`)?$", re.S)
_ENUM = re.compile(r"^Invalid enum value (?P<value>.*)$", re.S)
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<name>[^`]*)`")
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
# msgspec writes a mapping's value as `[...]` and a bad mapping key as "`key` in `$path`".
_ANY_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[(\.\.\.)\]")


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


def _hint_names(expected: Any, tp: Any, unknown: str) -> list[str]:
    """The keys to suggest instead of `unknown`: those of the struct it was found in,
    when known (else of any struct in `tp`), never `unknown` itself ("did you mean
    `path`?" for a `path` that some other struct accepts)."""
    local = {
        info.encode_name
        for arm in _arms(expected)
        if isinstance(arm, type) and issubclass(arm, msgspec.Struct)
        for info in msgspec.structs.fields(arm)
    }
    return sorted((local or _field_names(tp)) - {unknown})


def convert(doc: YamlDocument, data: Any, tp: type[T], base: KeyPath = ()) -> T:
    """Validate `data` (found at `base` in `doc`) as `tp`; raise a located ConfigError."""
    try:
        return msgspec.convert(data, tp)
    except msgspec.ValidationError as exc:
        raise _located(doc, exc, tp, base, data) from None


def _arms(tp: Any) -> list[Any]:
    """The members of a union type, with `Annotated` constraints stripped."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _arms(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [arm for arg in typing.get_args(tp) for arm in _arms(arg)]
    return [tp]


def _step(tp: Any, key: str | int | None) -> Any:
    """The type found under `key` (None: a mapping's value) in a value of type `tp`."""
    for arm in _arms(tp):
        origin = typing.get_origin(arm)
        if key is None and origin is dict:
            return typing.get_args(arm)[1]
        if isinstance(key, int) and origin in (list, tuple):
            return typing.get_args(arm)[0]
        if isinstance(key, str) and isinstance(arm, type) and issubclass(arm, msgspec.Struct):
            for info in msgspec.structs.fields(arm):
                if info.encode_name == key:
                    return info.type
    return None


def _first_invalid(candidates: dict[Any, Any], tp: Any) -> Any:
    """The first key whose candidate fails `tp`: msgspec stops at the first error."""
    for key, candidate in candidates.items():
        try:
            msgspec.convert(candidate, tp)
        except msgspec.ValidationError:
            return key
    return None


def _concrete_keys(data: Any, tp: Any, path: str, bad_key: bool) -> tuple[list[str | int], Any]:
    """msgspec's error path with each `[...]` replaced by the mapping key it stands for,
    and the type expected there (None when the path could not be followed)."""
    keys: list[str | int] = []
    for name, index, mapping_value in _ANY_SEGMENT.findall(path):
        key: Any = name or (None if mapping_value else int(index))
        tp = _step(tp, key)
        if key is None:
            if not isinstance(data, dict) or tp is None:
                return keys, None
            key = _first_invalid(data, tp)
            if key is None:
                return keys, None
        keys.append(key)
        try:
            data = data[key]
        except (LookupError, TypeError):
            return keys, None
    if bad_key and isinstance(data, dict):
        key_types = [typing.get_args(a)[0] for a in _arms(tp) if typing.get_origin(a) is dict]
        if key_types:
            culprit = _first_invalid({k: k for k in data}, key_types[0])
            if culprit is not None:
                keys.append(culprit)
    return keys, tp


def _choices(tp: Any) -> list[Any]:
    return [
        v for arm in _arms(tp) if typing.get_origin(arm) is Literal for v in typing.get_args(arm)
    ]


def _located(
    doc: YamlDocument, exc: msgspec.ValidationError, tp: Any, base: KeyPath, data: Any
) -> ConfigError:
    match = _AT.match(str(exc))
    assert match is not None
    message = match.group("msg")
    bad_key = match.group("key") is not None
    found, expected = _concrete_keys(data, tp, match.group("path") or "", bad_key)
    keys = [*base, *found]
    if bad_key:
        message = f"invalid key: {message}"
    enum = _ENUM.match(message)
    choices = _choices(expected)
    if enum and choices:
        message = f"invalid value {enum.group('value')}; expected one of "
        message += ", ".join(repr(c) for c in choices)
        close = difflib.get_close_matches(enum.group("value").strip("'"), map(str, choices), n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
    unknown = _UNKNOWN.match(message)
    if unknown:
        name = unknown.group("name")
        keys.append(name)
        message = f"unknown key `{name}`"
        close = difflib.get_close_matches(name, _hint_names(expected, tp, name), n=1)
        if close:
            message += f"; did you mean `{close[0]}`?"
    message = message.replace("Object missing required field", "missing required key")
    message = message.replace("Expected", "expected")
    return ConfigError(message, Located(doc.path, doc.line_of(keys), format_key_path(keys)))
