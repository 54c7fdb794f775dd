"""Rust: Cargo.toml (every dependency table, `rust-version`) and Cargo.lock."""

from __future__ import annotations

from typing import Any

from opsgrade.engine.extractors.manifests_base import (
    Declared,
    Lines,
    Locked,
    Parsed,
    Runtime,
    load_toml,
    lock_tables,
    table,
)

_TABLES = (("dependencies", False), ("dev-dependencies", True), ("build-dependencies", False))


def _spec(value: Any) -> tuple[str | None, str, str | None]:
    """(spec, source, real package name) of a Cargo dependency value."""
    if isinstance(value, str):
        return value, "registry", None
    item = table(value)
    package = item.get("package") if isinstance(item.get("package"), str) else None
    if item.get("workspace") is True:
        return None, "managed", package
    for key, source in (("git", "git"), ("path", "path")):
        if key in item:
            return None, source, package
    version = item.get("version")
    return (version if isinstance(version, str) else None), "registry", package


def _dependency_tables(data: dict[str, Any]) -> list[tuple[tuple[str, ...], dict[str, Any], bool]]:
    found: list[tuple[tuple[str, ...], dict[str, Any], bool]] = []
    for key, dev in _TABLES:
        found.append(((key,), table(data.get(key)), dev))
    for target, spec in table(data.get("target")).items():
        for key, dev in _TABLES:
            found.append((("target", target, key), table(table(spec).get(key)), dev))
    found.append(
        (
            ("workspace", "dependencies"),
            table(table(data.get("workspace")).get("dependencies")),
            False,
        )
    )
    return found


def parse_cargo_toml(text: str, path: str) -> Parsed:
    data = load_toml(text, path)
    lines = Lines(text)
    declared: list[Declared] = []
    for keys, deps, dev in _dependency_tables(data):
        header = lines.toml_table(*keys)
        for name, value in deps.items():
            spec, source, package = _spec(value)
            # `[dependencies.rand]` tables, else `rand = ...` in `[dependencies]`
            line = lines.toml_table(*keys, name) or (lines.toml_key(name, header) if header else 1)
            declared.append(Declared(package or name, spec, line, dev, source))
    runtimes: list[Runtime] = []
    for keys in (("package",), ("workspace", "package")):
        holder: Any = data
        for key in keys:
            holder = table(holder.get(key))
        version = holder.get("rust-version")
        if isinstance(version, str):
            header = lines.toml_table(*keys)
            line = lines.toml_key("rust-version", header) if header else 1
            runtimes.append(Runtime("rust", version, line, "rust-version"))
            break
    return Parsed(declared=tuple(declared), runtimes=tuple(runtimes))


def parse_cargo_lock(text: str, path: str) -> Parsed:
    locked = [
        Locked(item["name"], item["version"], line)
        for item, line in lock_tables(text, path, "package")
        # A package without `source` is a member of this workspace, not a dependency.
        if item.get("name") and item.get("version") and "source" in item
    ]
    return Parsed(locked=tuple(locked))
