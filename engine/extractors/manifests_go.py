"""Go: go.mod (`go` directive, `require` lines and blocks, `replace` to local paths).

go.mod lists the selected version of every module the build uses (since Go 1.17,
indirect ones marked `// indirect`), so a requirement's version is also its locked
version. go.sum is a checksum database, not a list of selected versions: it is noted
as the lockfile but never read.
"""

from __future__ import annotations

import re

from opsgrade.engine.extractors.manifests_base import Declared, Locked, Parsed, Runtime, error

_BLOCK_START = re.compile(r"^(\w+)\s*\($")
_DIRECTIVE = re.compile(r"^(\w+)\s+(.*)$")
_GO_VERSION = re.compile(r"^\d+(?:\.\d+){0,2}(?:(?:rc|beta)\d+)?$")


def _unquote(token: str) -> str:
    return token[1:-1] if len(token) >= 2 and token[0] == token[-1] == '"' else token


def _split_comment(line: str) -> tuple[str, str]:
    code, _, comment = line.partition("//")
    return code.strip(), comment.strip()


def parse_go_mod(text: str, path: str) -> Parsed:
    declared: list[Declared] = []
    locked: list[Locked] = []
    runtimes: list[Runtime] = []
    local: set[str] = set()
    block: str | None = None
    block_line = 0
    for number, raw in enumerate(text.split("\n"), 1):
        code, comment = _split_comment(raw)
        if not code:
            continue
        if block is not None:
            if code == ")":
                block = None
                continue
            _statement(block, code, comment, path, number, declared, locked, local)
            continue
        opened = _BLOCK_START.match(code)
        if opened:
            block, block_line = opened.group(1), number
            continue
        found = _DIRECTIVE.match(code)
        if found is None:
            raise error(path, "not a go.mod directive", number)
        verb, rest = found.groups()
        if verb == "go":
            if not _GO_VERSION.match(rest.strip()):
                raise error(path, "invalid `go` version", number)
            runtimes.append(Runtime("go", rest.strip(), number, "go directive"))
        else:
            _statement(verb, rest, comment, path, number, declared, locked, local)
    if block is not None:
        raise error(path, f"unterminated `{block} (` block", block_line)
    if local:
        from msgspec.structs import replace

        declared = [replace(d, source="path") if d.name in local else d for d in declared]
    return Parsed(declared=tuple(declared), locked=tuple(locked), runtimes=tuple(runtimes))


def _statement(
    verb: str,
    rest: str,
    comment: str,
    path: str,
    line: int,
    declared: list[Declared],
    locked: list[Locked],
    local: set[str],
) -> None:
    if verb == "require":
        parts = rest.split()
        if len(parts) != 2:
            raise error(path, "`require` needs a module path and a version", line)
        module, version = _unquote(parts[0]), parts[1]
        indirect = comment.startswith("indirect")
        declared.append(Declared(module, version, line, direct=not indirect))
        locked.append(Locked(module, version, line))
    elif verb == "replace":
        old, arrow, new = rest.partition("=>")
        if arrow and new.strip().startswith(("./", "../", "/")):
            local.add(_unquote(old.split()[0]) if old.split() else "")
