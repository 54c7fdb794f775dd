"""What every manifest parser returns, and the helpers they share.

A parser turns one file's text into a `Parsed`: the dependencies it declares, the
versions it locks and the runtimes it names, each with the line it is written on. A
file that is not valid in its format raises `FactError` located at the file and, when
the parser knows it, the line. Parsers are plain functions `(text, path) -> Parsed`,
run once per file per scan through `EvalContext.parsed`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec

from opsgrade.engine.facts import FactError
from opsgrade.engine.model import Location

# XML elements nested deeper than this are refused: no manifest comes close. (Parsed
# JSON, TOML and YAML are only read at fixed paths, never walked recursively; their
# parsers' own recursion limits are caught where they are called.)
MAX_DEPTH = 64


class Declared(msgspec.Struct, frozen=True):
    """A dependency as a manifest declares it."""

    name: str
    spec: str | None  # the version constraint as written; None when none is given
    line: int
    dev: bool = False
    # registry | git | path | url | workspace | alias | managed (the version comes from
    # a parent, BOM, platform or central file)
    source: str = "registry"
    direct: bool = True
    marker: str | None = None


class Locked(msgspec.Struct, frozen=True):
    """A version a lockfile resolved."""

    name: str
    version: str
    line: int
    dev: bool | None = None  # None when the lockfile does not say
    # For lockfiles that record which spec a version answers (yarn, pnpm importers).
    spec: str | None = None
    # The project (folder relative to the lockfile) whose direct dependency this is,
    # for lockfiles that record it (pnpm importers, npm's workspace entries); None for
    # the lockfile's shared package list.
    importer: str | None = None


class Runtime(msgspec.Struct, frozen=True):
    """A language runtime version a file declares."""

    language: str
    version: str  # as written: `3.11.4`, `>=3.9`, `lts/hydrogen`, `net8.0`
    line: int
    source: str  # what declares it: `.python-version`, `requires-python`, `go directive`


class Parsed(msgspec.Struct, frozen=True):
    declared: tuple[Declared, ...] = ()
    locked: tuple[Locked, ...] = ()
    runtimes: tuple[Runtime, ...] = ()
    # Other repo files this one pulls in (`-r base.txt`), repo-relative.
    includes: tuple[str, ...] = ()
    # For requirements files: every requirement is pinned (`==`), as pip-compile writes.
    all_pinned: bool = False
    # Extra per-format facts (for example a pom's parent, for framework detection).
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


def error(path: str, message: str, line: int = 1) -> FactError:
    return FactError(f"{path}: {message}", Location(path, max(line, 1)))


def load_json(text: str, path: str) -> Any:
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(path, f"invalid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise error(path, "JSON nested too deeply") from None
    return data


_TOML_LINE = re.compile(r"\(at line (\d+)")


def load_toml(text: str, path: str) -> dict[str, Any]:
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        message = str(exc).split(" (at ")[0]
        # "(at end of document)": the last line that has something on it.
        line = int(found.group(1)) if found else len(text.rstrip().split("\n"))
        raise error(path, f"invalid TOML: {message}", line) from None
    except RecursionError:
        raise error(path, "TOML nested too deeply") from None
    return data


def load_yaml(text: str, path: str) -> Any:
    """YAML through yamlio (alias bombs refused), as a document that maps keys to lines."""
    from opsgrade.engine.errors import ParseError
    from opsgrade.engine.yamlio import load_document

    try:
        doc = load_document(text, path)
    except ParseError as exc:
        line = exc.where.line if exc.where else 1
        raise error(path, exc.message, line) from None
    return doc


def lock_tables(text: str, path: str, key: str) -> list[tuple[dict[str, str], int]]:
    """The top-level keys of each `[[key]]` table of a TOML lockfile, with its line.

    Lockfiles (uv.lock, poetry.lock, pdm.lock, Cargo.lock, pylock.toml) are written by
    their tools in one layout: every table header and top-level key at column 0, nested
    values indented. They are read line by line: tomllib parses about 6 MB/s in pure
    Python and a lockfile can be megabytes, while only names and versions are needed.
    A line at column 0 that is none of a header, a comment, `key = value` or the end of
    a multi-line value (a merge conflict marker, say) is a located error. String values
    are unquoted; other values are kept as their TOML text.
    """
    header = f"[[{key}]]"
    found: list[tuple[dict[str, str], int]] = []
    current: dict[str, str] | None = None
    for number, line in enumerate(text.split("\n"), 1):
        first = line[:1]
        if not first or first in " \t#]}":
            continue  # blank, a comment, or inside / closing a multi-line value
        if first == "[":
            current = _lock_header(line, header, path, number)
            if current is not None:
                found.append((current, number))
            continue
        name, equals, value = line.partition("=")
        name = name.strip().strip('"')
        if not equals or not name.replace("-", "a").replace("_", "a").replace(".", "a").isalnum():
            raise error(path, "not a TOML lockfile line (a merge conflict?)", number)
        if current is not None:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            current.setdefault(name, value)
    return found


def _lock_header(line: str, wanted: str, path: str, number: int) -> dict[str, str] | None:
    name = line.split("#", 1)[0].replace(" ", "").rstrip()
    closing = "]]" if name.startswith("[[") else "]"
    if not name.endswith(closing) or "]" in name[: -len(closing)]:
        raise error(path, "malformed table header", number)
    return {} if name == wanted else None


def yaml_key_lines(doc: Any, keys: tuple[str, ...]) -> dict[str, int]:
    """Line of every key of the mapping at `keys` in a yamlio document, in one pass.

    (`YamlDocument.line_of` scans a mapping per call: quadratic over a big lockfile.)
    """
    import yaml

    node = doc.node
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return {}
        node = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
    if not isinstance(node, yaml.MappingNode):
        return {}
    found: dict[str, int] = {}
    for k, _ in node.value:
        if isinstance(k, yaml.ScalarNode):
            found.setdefault(k.value, k.start_mark.line + 1)
    return found


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class Lines:
    """Line numbers for values a parser found without positions (json, tomllib).

    Each kind of lookup indexes the text once, on first use (a manifest can list
    thousands of dependencies, and a scan per dependency would be quadratic), and
    answers the first occurrence at or after a starting line, so a name that appears in
    two sections is found in the section being read. Misses fall back to the start.
    """

    __slots__ = ("_headers", "_json_keys", "_lines", "_strings", "_toml_keys")

    def __init__(self, text: str) -> None:
        self._lines = text.split("\n")
        self._headers: dict[str, int] | None = None
        self._toml_keys: dict[tuple[int, str], int] | None = None
        self._json_keys: dict[str, list[int]] | None = None
        self._strings: dict[str, list[int]] | None = None

    def __len__(self) -> int:
        return len(self._lines)

    def toml_table(self, *names: str) -> int:
        """Line of the `[a.b]` header (any quoting and spacing), or 0 when absent."""
        if self._headers is None:
            self._headers = {}
            for index, raw in enumerate(self._lines):
                line = raw.strip()
                if line.startswith("[") and not line.startswith("[[") and "]" in line:
                    self._headers.setdefault(_dotted(line[1 : line.find("]")]), index + 1)
        return self._headers.get(".".join(names), 0)

    def toml_key(self, key: str, table: int) -> int:
        """Line of `key = ...` (bare or quoted) in the table whose header is at line
        `table` (0: before any header), or `table` when it is not there."""
        if self._toml_keys is None:
            self._toml_keys = {}
            header = 0
            for index, raw in enumerate(self._lines):
                line = raw.strip()
                if line.startswith("["):
                    header = index + 1 if not line.startswith("[[") else header
                    continue
                name = line.split("=", 1)[0].split(".", 1)[0].strip().strip("\"'")
                if name and "=" in line:
                    self._toml_keys.setdefault((header, name), index + 1)
        return self._toml_keys.get((table, key), max(table, 1))

    def json_key(self, key: str, start: int = 1) -> int:
        """Line of the first `"key":` at or after `start`, else `start`."""
        if self._json_keys is None:
            self._json_keys = _occurrences(self._lines, r'"((?:[^"\\]|\\.)*)"\s*:')
        return _first_at(self._json_keys.get(_json_text(key), []), start)

    def string(self, value: str, start: int = 1) -> int:
        """Line of the first string literal `"value"` or `'value'` at or after `start`."""
        if self._strings is None:
            self._strings = _occurrences(self._lines, r""""((?:[^"\\]|\\.)*)"|'([^']*)'""")
        return _first_at(self._strings.get(value, []), start)


def _occurrences(lines: list[str], pattern: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    compiled = re.compile(pattern)
    for number, line in enumerate(lines, 1):
        if '"' not in line and "'" not in line:
            continue
        for match in compiled.finditer(line):
            text = next(g for g in match.groups() if g is not None)
            found.setdefault(text, []).append(number)
    return found


def _first_at(lines: list[int], start: int) -> int:
    import bisect

    index = bisect.bisect_left(lines, start)
    return lines[index] if index < len(lines) else max(start, 1)


def _json_text(key: str) -> str:
    import json

    return json.dumps(key, ensure_ascii=False)[1:-1]


def _dotted(inner: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in inner.split("."))


# -- XML (pom.xml, *.csproj) ---------------------------------------------------------------

MAX_XML_ELEMENTS = 200_000


class XmlElement:
    """An element with its line: the little of ElementTree that manifests need."""

    __slots__ = ("attrs", "children", "line", "tag", "texts")

    def __init__(self, tag: str, attrs: dict[str, str], line: int) -> None:
        self.tag = tag
        self.attrs = attrs
        self.line = line
        self.children: list[XmlElement] = []
        self.texts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self.texts).strip()

    def find(self, *path: str) -> XmlElement | None:
        node: XmlElement | None = self
        for tag in path:
            node = next((c for c in node.children if c.tag == tag), None) if node else None
        return node

    def findall(self, *path: str) -> list[XmlElement]:
        parent = self.find(*path[:-1]) if len(path) > 1 else self
        return [c for c in parent.children if c.tag == path[-1]] if parent else []

    def child_text(self, tag: str) -> str | None:
        found = self.find(tag)
        return found.text if found is not None else None


class _Refused(Exception):
    pass


def parse_xml(text: str, path: str) -> XmlElement:
    """Parse XML safely: any DTD (and so any entity declaration) is refused.

    Entity expansion ("billion laughs", external entities) needs a DOCTYPE; refusing the
    DOCTYPE as soon as expat reports it keeps time and memory bounded by the file size,
    as defusedxml's `forbid_dtd` does. No manifest format uses a DTD.
    """
    import xml.parsers.expat

    # The text is already decoded: expat must not re-decode it per its XML declaration.
    parser = xml.parsers.expat.ParserCreate(encoding="utf-8")
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    root: list[XmlElement] = []
    stack: list[XmlElement] = []
    count = 0

    def refuse_dtd(*_: object) -> None:
        raise _Refused("DOCTYPE declarations are not allowed (entity expansion)")

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_XML_ELEMENTS:
            raise _Refused(f"more than {MAX_XML_ELEMENTS} elements")
        if len(stack) > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
        element = XmlElement(name.rsplit(":", 1)[-1], attrs, parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(element)
        else:
            root.append(element)
        stack.append(element)

    def end(_: str) -> None:
        stack.pop()

    def data(chunk: str) -> None:
        if stack:
            stack[-1].texts.append(chunk)

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.ExternalEntityRefHandler = refuse_dtd  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    try:
        parser.Parse(text, True)
    except _Refused as exc:
        raise error(path, str(exc), parser.CurrentLineNumber) from None
    except xml.parsers.expat.ExpatError as exc:
        message = xml.parsers.expat.errors.messages.get(exc.code, "syntax error")
        raise error(path, f"invalid XML: {message}", exc.lineno) from None
    if not root:
        raise error(path, "no XML element")
    return root[0]
