"""Python manifests: requirements files, pyproject.toml (PEP 621, PEP 735, Poetry, uv,
PDM), Pipfile, and the lockfiles Pipfile.lock, poetry.lock, pdm.lock, uv.lock, pylock.toml.

Requirement strings (PEP 508) are split with a regular expression rather than
`packaging.requirements`, whose marker support imports `packaging.tags` and with it
`subprocess` and `sysconfig` (15 ms): extraction needs the name, the specifier text,
the marker text and the URL, and comparisons import `packaging` when they happen.
"""

from __future__ import annotations

import posixpath
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
    load_toml,
    lock_tables,
    strings,
    table,
)

# Patterns are kept as text: `re` compiles and caches each one on first use, so a scan
# that reads only a pyproject.toml does not pay for the requirements-file patterns.
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION_CLAUSE = r"\s*(?:===|==|~=|!=|<=|>=|<|>)\s*[A-Za-z0-9._*+!-]+\s*"
_REQUIREMENT = (
    rf"^\s*(?P<name>{_NAME})\s*(?:\[(?P<extras>[^\]]*)\])?\s*"
    rf"(?:@\s*(?P<url>\S+)\s*|\(?(?P<spec>{_VERSION_CLAUSE}(?:,{_VERSION_CLAUSE})*)\)?)?"
    r"\s*(?:;\s*(?P<marker>.+))?$"
)
MAX_REQUIREMENT = 4096  # characters; the regex runs on stripped text of at most this size
_PINNED = r"^\s*===?\s*[A-Za-z0-9._+!-]+\s*$"
_EGG = r"[#&]egg=(" + _NAME + ")"
_DEV_FILE = (
    r"(?i)(?:^|[-_./])(?:dev|develop|development|test|tests|testing|lint|linting|docs?|typing|ci)"
    r"(?:[-_.]|$)"
)
_DEV_GROUPS = frozenset({"dev", "develop", "development", "test", "tests", "testing", "lint"})
_DEV_GROUPS |= {"linting", "docs", "doc", "typing", "types", "mypy", "ci", "coverage"}


def canonical(name: str) -> str:
    """PEP 503 normalized name: `Foo_Bar.baz` and `foo-bar-baz` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _source_of(url: str) -> str:
    if url.startswith(("git+", "hg+", "svn+", "bzr+")):
        return "git"
    if url.startswith(("http://", "https://", "ftp://")):
        return "url"
    return "path"


def requirement(text: str, path: str, line: int, dev: bool = False) -> Declared:
    """One PEP 508 requirement string; FactError at `line` when it is not one."""
    text = text.strip()
    found = re.match(_REQUIREMENT, text) if len(text) <= MAX_REQUIREMENT else None
    if found is None:
        # The text is not repeated: a malformed line may hold a URL with a token in it.
        raise error(path, "not a valid requirement (PEP 508)", line)
    url = found["url"]
    spec = (found["spec"] or "").replace(" ", "") or None
    return Declared(
        name=canonical(found["name"]),
        spec=spec,
        line=line,
        dev=dev,
        source=_source_of(url) if url else "registry",
        marker=found["marker"],
    )


# -- requirements files -----------------------------------------------------------------

_INCLUDE = r"^(?:-r|--requirement)(?:\s+|=)(\S+)"
_EDITABLE = r"^(?:-e|--editable)(?:\s+|=)(\S+)"
_IGNORED_OPTION = r"^-"
_TRAILING_OPTIONS = r"\s--?[A-Za-z].*$"


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with `\\` continuations joined and comments removed."""
    out: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), 1):
        if not buffer:
            start = number
        stripped = _strip_comment(raw)
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1])
            continue
        buffer.append(stripped)
        joined = " ".join(buffer).strip()
        buffer = []
        if joined:
            out.append((start, joined))
    if buffer and " ".join(buffer).strip():
        out.append((start, " ".join(buffer).strip()))
    return out


def _strip_comment(line: str) -> str:
    """pip's rule: `#` at the start or after whitespace begins a comment (a loop, not a
    regex: `\\s+#` backtracks quadratically on long runs of spaces)."""
    index = line.find("#")
    while index != -1:
        if index == 0 or line[index - 1].isspace():
            return line[:index].rstrip()
        index = line.find("#", index + 1)
    return line


def _include_target(path: str, target: str) -> str | None:
    """A `-r` target relative to the including file, or None when it leaves the repo."""
    if target.startswith(("/", "http://", "https://")) or "$" in target:
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    return None if joined.startswith("../") or joined == ".." else joined


def parse_requirements(text: str, path: str) -> Parsed:
    # requirements-dev.txt, dev-requirements.txt, requirements/test.txt: by the file's name.
    dev = bool(re.search(_DEV_FILE, posixpath.basename(path).rsplit(".", 1)[0]))
    declared: list[Declared] = []
    includes: list[str] = []
    for line, content in _logical_lines(text):
        include = re.match(_INCLUDE, content)
        if include:
            target = _include_target(path, include.group(1))
            if target:
                includes.append(target)
            continue
        editable = re.match(_EDITABLE, content)
        if editable:
            url = editable.group(1)
            egg = re.search(_EGG, url)
            if egg:
                declared.append(Declared(canonical(egg.group(1)), None, line, dev, _source_of(url)))
            continue
        if re.match(_IGNORED_OPTION, content):
            continue  # --index-url, -c constraints, --pre...: not dependencies
        requirement_text = re.sub(_TRAILING_OPTIONS, "", content)  # --hash=..., per-line options
        if re.match(r"^(?:[a-z+]+://|\.{0,2}/|file:)", requirement_text):
            egg = re.search(_EGG, requirement_text)
            if egg:
                source = _source_of(requirement_text)
                declared.append(Declared(canonical(egg.group(1)), None, line, dev, source))
            continue
        declared.append(requirement(requirement_text, path, line, dev))
    registry = [d for d in declared if d.source == "registry"]
    pinned = [d for d in registry if d.spec and re.match(_PINNED, d.spec) and "*" not in d.spec]
    locked = tuple(
        Locked(d.name, d.spec.lstrip("="), d.line, d.dev) for d in pinned if d.spec is not None
    )
    return Parsed(
        declared=tuple(declared),
        locked=locked,
        includes=tuple(dict.fromkeys(includes)),
        all_pinned=bool(registry) and len(pinned) == len(registry),
    )


# -- pyproject.toml ------------------------------------------------------------------


def _pep508_list(
    values: Any, path: str, lines: Lines, start: int, dev: bool, out: list[Declared]
) -> None:
    for text in strings(values):
        line = lines.string(text, start)
        out.append(requirement(text, path, line, dev))


def _poetry_spec(value: Any) -> tuple[str | None, str]:
    """(spec, source) of a Poetry dependency value: "^1.2", {version=...}, {git=...}."""
    if isinstance(value, str):
        return value, "registry"
    if isinstance(value, list):  # several constraints, one per marker
        specs = [_poetry_spec(v)[0] for v in value]
        joined = " || ".join(s for s in specs if s)
        return joined or None, "registry"
    item = table(value)
    for key, source in (("git", "git"), ("path", "path"), ("url", "url")):
        if key in item:
            return None, source
    version = item.get("version")
    return (version if isinstance(version, str) else None), "registry"


def _poetry_table(
    deps: Any, path: str, lines: Lines, header: int, dev: bool, out: list[Declared]
) -> Runtime | None:
    python: Runtime | None = None
    for name, value in table(deps).items():
        line = lines.toml_key(name, header) if header else 1
        spec, source = _poetry_spec(value)
        if name.lower() == "python":
            if spec:
                python = Runtime("python", spec, line, "tool.poetry.dependencies.python")
            continue
        out.append(Declared(canonical(name), spec, line, dev, source))
    return python


def parse_pyproject(text: str, path: str) -> Parsed:
    data = load_toml(text, path)
    lines = Lines(text)
    declared: list[Declared] = []
    runtimes: list[Runtime] = []
    project = table(data.get("project"))
    project_line = lines.toml_table("project")
    _pep508_list(project.get("dependencies"), path, lines, project_line, False, declared)
    extras_line = lines.toml_table("project", "optional-dependencies") or project_line
    for group, values in table(project.get("optional-dependencies")).items():
        start = lines.toml_key(group, extras_line) if extras_line else 1
        dev = canonical(group) in _DEV_GROUPS
        _pep508_list(values, path, lines, start, dev, declared)
    requires_python = project.get("requires-python")
    if isinstance(requires_python, str):
        line = lines.toml_key("requires-python", project_line) if project_line else 1
        runtimes.append(Runtime("python", requires_python, line, "requires-python"))
    groups_line = lines.toml_table("dependency-groups")
    for group, values in table(data.get("dependency-groups")).items():
        start = lines.toml_key(group, groups_line) if groups_line else 1
        _pep508_list(values, path, lines, start, True, declared)
    tool = table(data.get("tool"))
    _poetry(table(tool.get("poetry")), path, lines, declared, runtimes)
    uv = table(tool.get("uv"))
    uv_line = lines.toml_table("tool", "uv")
    _pep508_list(uv.get("dev-dependencies"), path, lines, uv_line, True, declared)
    pdm_line = lines.toml_table("tool", "pdm", "dev-dependencies")
    for values in table(table(tool.get("pdm")).get("dev-dependencies")).values():
        _pep508_list(values, path, lines, pdm_line, True, declared)
    declared = _apply_uv_sources(declared, table(uv.get("sources")))
    return Parsed(declared=tuple(declared), runtimes=tuple(runtimes))


def _poetry(
    poetry: dict[str, Any], path: str, lines: Lines, out: list[Declared], runtimes: list[Runtime]
) -> None:
    if not poetry:
        return
    header = lines.toml_table("tool", "poetry", "dependencies")
    python = _poetry_table(poetry.get("dependencies"), path, lines, header, False, out)
    if python:
        runtimes.append(python)
    header = lines.toml_table("tool", "poetry", "dev-dependencies")
    _poetry_table(poetry.get("dev-dependencies"), path, lines, header, True, out)
    for group, spec in table(poetry.get("group")).items():
        header = lines.toml_table("tool", "poetry", "group", group, "dependencies")
        dev = group != "main"
        _poetry_table(table(spec).get("dependencies"), path, lines, header, dev, out)


def _apply_uv_sources(declared: list[Declared], sources: dict[str, Any]) -> list[Declared]:
    if not sources:
        return declared
    kinds: dict[str, str] = {}
    for name, value in sources.items():
        item = table(value)
        if item.get("workspace") is True:
            kinds[canonical(name)] = "workspace"
        elif "git" in item:
            kinds[canonical(name)] = "git"
        elif "path" in item:
            kinds[canonical(name)] = "path"
        elif "url" in item:
            kinds[canonical(name)] = "url"
    from msgspec.structs import replace

    return [replace(d, source=kinds[d.name]) if d.name in kinds else d for d in declared]


# -- Pipfile, Pipfile.lock -------------------------------------------------------------


def parse_pipfile(text: str, path: str) -> Parsed:
    data = load_toml(text, path)
    lines = Lines(text)
    declared: list[Declared] = []
    for section, dev in (("packages", False), ("dev-packages", True)):
        header = lines.toml_table(section)
        for name, value in table(data.get(section)).items():
            spec, source = _pipfile_spec(value)
            line = lines.toml_key(name, header) if header else 1
            declared.append(Declared(canonical(name), spec, line, dev, source))
    runtimes: list[Runtime] = []
    requires = table(data.get("requires"))
    header = lines.toml_table("requires")
    for key in ("python_full_version", "python_version"):
        value = requires.get(key)
        if isinstance(value, str):
            line = lines.toml_key(key, header) if header else 1
            runtimes.append(Runtime("python", value, line, f"Pipfile {key}"))
            break
    return Parsed(declared=tuple(declared), runtimes=tuple(runtimes))


def _pipfile_spec(value: Any) -> tuple[str | None, str]:
    if isinstance(value, str):
        return (None if value.strip() in ("", "*") else value), "registry"
    item = table(value)
    for key, source in (("git", "git"), ("path", "path"), ("file", "url")):
        if key in item:
            return None, source
    version = item.get("version")
    return (version if isinstance(version, str) and version != "*" else None), "registry"


def parse_pipfile_lock(text: str, path: str) -> Parsed:
    data = load_json(text, path)
    if not isinstance(data, dict):
        raise error(path, "expected a JSON object")
    lines = Lines(text)
    locked: list[Locked] = []
    for section, dev in (("default", False), ("develop", True)):
        start = lines.json_key(section)
        for name, value in table(data.get(section)).items():
            version = table(value).get("version")
            if isinstance(version, str):
                line = lines.json_key(name, start)
                locked.append(Locked(canonical(name), version.lstrip("="), line, dev))
    return Parsed(locked=tuple(locked))


# -- lockfiles with [[package]] tables -----------------------------------------------------


def _groups_dev(item: dict[str, str]) -> bool | None:
    """poetry.lock `category = "dev"` (Poetry < 1.5) or `groups = [...]` (Poetry 2, PDM)."""
    category = item.get("category")
    if category is not None:
        return category == "dev"
    groups = item.get("groups")
    if groups is not None:
        return not ({"main", "default"} & set(re.findall(r'"([^"]*)"', groups)))
    return None


def parse_poetry_lock(text: str, path: str) -> Parsed:
    """poetry.lock and pdm.lock: `[[package]]` with name, version and category/groups."""
    locked = [
        Locked(canonical(item["name"]), item["version"], line, _groups_dev(item))
        for item, line in lock_tables(text, path, "package")
        if item.get("name") and item.get("version")
    ]
    return Parsed(locked=tuple(locked))


def parse_uv_lock(text: str, path: str) -> Parsed:
    locked: list[Locked] = []
    for item, line in lock_tables(text, path, "package"):
        source = item.get("source", "")
        if "editable" in source or "virtual" in source:
            continue  # the project itself, or a workspace member
        if item.get("name") and item.get("version"):
            locked.append(Locked(canonical(item["name"]), item["version"], line))
    return Parsed(locked=tuple(locked))


def parse_pylock(text: str, path: str) -> Parsed:
    """PEP 751 `pylock.toml`: `[[packages]]` with name and version."""
    locked = [
        Locked(canonical(item["name"]), item["version"], line)
        for item, line in lock_tables(text, path, "packages")
        if item.get("name") and item.get("version")
    ]
    return Parsed(locked=tuple(locked))
