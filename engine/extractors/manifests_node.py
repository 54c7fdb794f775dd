"""Node manifests: package.json, and the lockfiles package-lock.json / npm-shrinkwrap.json
(v1-v3), yarn.lock (classic v1 and berry) and pnpm-lock.yaml (v5-v9).

yarn.lock is read line by line in both of its formats: classic is not YAML at all, and
berry's is the YAML subset yarn writes, whose entries read the same way (a header of
descriptors, an indented `version`). One linear pass gives versions and lines for a
multi-megabyte lockfile without building a YAML node graph.
"""

from __future__ import annotations

import re
from typing import Any

from opsgrade.engine.extractors.manifests_base import (
    Declared,
    Lines,
    Locked,
    Parsed,
    Runtime,
    error,
    load_json,
    load_yaml,
    table,
    yaml_key_lines,
)

_SECTIONS = (("dependencies", False), ("devDependencies", True), ("optionalDependencies", False))
_GIT_SHORTHAND = re.compile(r"^[\w.-]+/[\w.-]+(?:#.*)?$")


def classify(spec: str) -> tuple[str | None, str]:
    """(version range, source) of a package.json dependency value."""
    text = spec.strip()
    if text.startswith(("file:", "link:", "./", "../", "/", "~/")):
        return None, "path"
    if text.startswith("workspace:"):
        return None, "workspace"
    if text.startswith("catalog:"):
        return None, "managed"  # pnpm catalogs keep the version in the workspace file
    if text.startswith(("git+", "git:", "git://", "github:", "gitlab:", "bitbucket:", "gist:")):
        return None, "git"
    if text.startswith(("http://", "https://")):
        return None, "url"
    if text.startswith("npm:"):
        alias = text[4:]
        at = alias.find("@", 1)
        return (alias[at + 1 :] if at > 0 else None), "alias"
    if _GIT_SHORTHAND.match(text):
        return None, "git"
    return text, "registry"


def parse_package_json(text: str, path: str) -> Parsed:
    data = load_json(text, path)
    if not isinstance(data, dict):
        raise error(path, "expected a JSON object")
    lines = Lines(text)
    declared: list[Declared] = []
    for section, dev in _SECTIONS:
        deps = data.get(section)
        if deps is None:
            continue
        if not isinstance(deps, dict):
            raise error(path, f"`{section}` is not an object", lines.json_key(section))
        start = lines.json_key(section)
        for name, value in deps.items():
            if not isinstance(value, str):
                raise error(
                    path, f"`{section}.{name}` is not a string", lines.json_key(name, start)
                )
            spec, source = classify(value)
            line = lines.json_key(name, start)
            declared.append(Declared(name, spec, line, dev, source))
    runtimes: list[Runtime] = []
    for key, source in (("engines", "engines.node"), ("volta", "volta.node")):
        node = table(data.get(key)).get("node")
        if isinstance(node, str) and node.strip():
            line = lines.json_key("node", lines.json_key(key))
            runtimes.append(Runtime("node", node.strip(), line, source))
    return Parsed(declared=tuple(declared), runtimes=tuple(runtimes))


# -- package-lock.json ------------------------------------------------------------------

_JSON_OBJECT_KEY = re.compile(r'^\s*"((?:[^"\\]|\\.)*)"\s*:\s*\{')


def _key_lines(text: str) -> dict[str, int]:
    """First line of every `"key": {` in the text: one pass, for any number of lookups."""
    found: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), 1):
        match = _JSON_OBJECT_KEY.match(line)
        if match:
            found.setdefault(match.group(1), number)
    return found


def parse_package_lock(text: str, path: str) -> Parsed:
    data = load_json(text, path)
    if not isinstance(data, dict):
        raise error(path, "expected a JSON object")
    lines = _key_lines(text)
    packages = data.get("packages")
    if isinstance(packages, dict):
        return Parsed(locked=tuple(_lock_v2(packages, lines)))
    return Parsed(locked=tuple(_lock_v1(table(data.get("dependencies")), lines)))


def _lock_v2(packages: dict[str, Any], lines: dict[str, int]) -> list[Locked]:
    locked: list[Locked] = []
    for key, value in packages.items():
        item = table(value)
        version = item.get("version")
        if "node_modules/" not in key or item.get("link") or not isinstance(version, str):
            continue
        prefix, _, rest = key.partition("node_modules/")
        nested = "node_modules/" in rest
        name = key.rsplit("node_modules/", 1)[1]
        # A top-level entry (`node_modules/x`, `packages/a/node_modules/x`) is what the
        # project at `prefix` resolves its own dependency `x` to.
        importer = None if nested else prefix.rstrip("/")
        dev = bool(item.get("dev") or item.get("devOptional"))
        locked.append(Locked(name, version, lines.get(key, 1), dev, importer=importer))
    return locked


def _lock_v1(dependencies: dict[str, Any], lines: dict[str, int]) -> list[Locked]:
    locked: list[Locked] = []
    stack: list[tuple[dict[str, Any], bool]] = [(dependencies, True)]
    while stack:
        deps, top = stack.pop()
        for name, value in deps.items():
            item = table(value)
            version = item.get("version")
            if isinstance(version, str) and not version.startswith(("file:", "link:")):
                dev = bool(item.get("dev"))
                importer = "" if top else None
                locked.append(Locked(name, version, lines.get(name, 1), dev, importer=importer))
            nested = item.get("dependencies")
            if isinstance(nested, dict):
                stack.append((nested, False))
    return locked


# -- yarn.lock ----------------------------------------------------------------------------


def _descriptor(text: str) -> tuple[str, str] | None:
    text = text.strip().strip('"')
    at = text.find("@", 1)
    if at <= 0:
        return None
    return text[:at], text[at + 1 :]


_VERSION_LINE = re.compile(r'^  version:?\s+"?([^"\s]+)"?\s*$')


def parse_yarn_lock(text: str, path: str) -> Parsed:
    locked: list[Locked] = []
    header: list[tuple[str, str]] = []
    header_line = 0
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            if not line.rstrip().endswith(":"):
                raise error(path, "not a yarn lockfile entry", number)
            names = line.rstrip()[:-1]
            header = [d for d in (_descriptor(p) for p in names.split(", ")) if d is not None]
            if any(r.startswith(("workspace:", "link:", "portal:")) for _, r in header):
                header = []  # the project's own workspaces: nothing is resolved from a registry
            header_line = number
            continue
        found = _VERSION_LINE.match(line)
        if found and header:
            version = found.group(1)
            for name, spec in header:
                locked.append(Locked(name, version, header_line, spec=spec.removeprefix("npm:")))
            header = []
    return Parsed(locked=tuple(locked))


# -- pnpm-lock.yaml -----------------------------------------------------------------------

_PEER_SUFFIX = re.compile(r"[(_].*$")


def _pnpm_version(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("version")
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str) or not value[:1].isdigit():
        return None  # link:, file:, a tarball URL
    return _PEER_SUFFIX.sub("", value)


_PNPM_AT = re.compile(r"^/?((?:@[^/@]+/)?[^/@]+)@(\d[^(]*)")  # v6, v9: name@1.2.3(peers)
_PNPM_SLASH = re.compile(r"^/?((?:@[^/@]+/)?[^/@]+)/(\d[^_(]*)")  # v5: /name/1.2.3_peers


def _pnpm_package_key(key: str) -> tuple[str, str] | None:
    found = _PNPM_AT.match(key) or _PNPM_SLASH.match(key)
    return (found.group(1), found.group(2)) if found else None


def parse_pnpm_lock(text: str, path: str) -> Parsed:
    doc = load_yaml(text, path)
    data = doc.data
    if not isinstance(data, dict):
        raise error(path, "expected a YAML mapping")
    locked: list[Locked] = []
    importers = table(data.get("importers"))
    if not importers:  # a single project: its dependencies sit at the top level
        importers = {".": data}
        base: tuple[str, ...] = ()
    else:
        base = ("importers",)
    for importer, spec in importers.items():
        project = table(spec)
        specifiers = table(project.get("specifiers"))
        where = "" if importer == "." else str(importer)
        for section, dev in _SECTIONS:
            keys = (*base, str(importer), section) if base else (section,)
            lines = yaml_key_lines(doc, keys)
            for name, value in table(project.get(section)).items():
                version = _pnpm_version(value)
                if version is None:
                    continue
                specifier = table(value).get("specifier") or specifiers.get(name)
                locked.append(
                    Locked(
                        name,
                        version,
                        lines.get(name, 1),
                        dev,
                        spec=specifier if isinstance(specifier, str) else None,
                        importer=where,
                    )
                )
    lines = yaml_key_lines(doc, ("packages",))
    for key, value in table(data.get("packages")).items():
        parsed = _pnpm_package_key(str(key))
        if parsed is None:
            continue
        flag = table(value).get("dev")
        line = lines.get(str(key), 1)
        locked.append(Locked(parsed[0], parsed[1], line, flag if isinstance(flag, bool) else None))
    return Parsed(locked=tuple(locked))
