"""Ruby: Gemfile / gems.rb (gems, groups, `ruby`) and Gemfile.lock / gems.locked.

A Gemfile is Ruby code; it is read as the declarations Bundler documents (`gem NAME,
REQUIREMENT..., OPTIONS`, `group ... do ... end`, `ruby VERSION`), never executed.
"""

from __future__ import annotations

import re

from opsgrade.engine.extractors.manifests_base import Declared, Locked, Parsed, Runtime, error

_GEM = re.compile(r"""^gem\s*\(?\s*(["'])([^"']+)\1(.*)$""")
_REQUIREMENT = re.compile(r"""^\s*,\s*(["'])([^"']*)\1""")
_PERCENT_REQUIREMENT = re.compile(r"""^\s*,\s*%[wq]?[\[({]([^\])}]*)[\])}]""")
_GROUP_OPTION = re.compile(
    r"""(?:\bgroups?:\s*|:groups?\s*=>\s*)(\[[^\]]*\]|%i\[[^\]]*\]|:\w+|["']\w+["'])"""
)
_SOURCE_OPTION = re.compile(r"""(?:\b|:)(git|github|gitlab|bitbucket|path)(?::|\s*=>)""")
_GROUP_BLOCK = re.compile(r"^group\b\s*\(?(.*?)\)?\s*do\b")
_BLOCK_OPENERS = re.compile(
    r"^(?:\w+\b.*\bdo\b(?:\s*\|[^|]*\|)?\s*$|(?:if|unless|case|begin|while|until)\b)"
)
_RUBY = re.compile(r"""^ruby\s*\(?\s*(["'])([^"']+)\1""")
_SYMBOL = re.compile(r":?[\"']?(\w+)")
_DEV = frozenset({"development", "test"})
MAX_REQUIREMENTS = 16  # a gem takes a few; more is not a Gemfile Bundler would read


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line, code) with comments dropped and `,`-continued lines joined."""
    out: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.split("\n"), 1):
        code = _strip_comment(raw).strip()
        if not pending:
            start = number
        pending = f"{pending} {code}".strip() if pending else code
        if pending.endswith((",", "\\")):
            pending = pending.rstrip("\\")
            continue
        if pending:
            out.append((start, pending))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def _strip_comment(line: str) -> str:
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index]
    return line


def _groups(text: str) -> set[str]:
    return {m.group(1) for m in _SYMBOL.finditer(text) if m.group(1) not in ("i", "w")}


def parse_gemfile(text: str, path: str) -> Parsed:
    declared: list[Declared] = []
    runtimes: list[Runtime] = []
    stack: list[set[str]] = []  # groups of each open block (empty for non-group blocks)
    for line, code in _logical_lines(text):
        if code == "end" or code.startswith("end ") or code.startswith("end."):
            if stack:
                stack.pop()
            continue
        group = _GROUP_BLOCK.match(code)
        if group:
            stack.append(_groups(group.group(1)))
            continue
        gem = _GEM.match(code)
        if gem:
            declared.append(_gem(gem.group(2), gem.group(3), line, stack))
            continue
        ruby = _RUBY.match(code)
        if ruby:
            runtimes.append(Runtime("ruby", ruby.group(2), line, "Gemfile ruby"))
            continue
        if _BLOCK_OPENERS.match(code):
            stack.append(set())
    return Parsed(declared=tuple(declared), runtimes=tuple(runtimes))


def _gem(name: str, rest: str, line: int, stack: list[set[str]]) -> Declared:
    requirements: list[str] = []
    for _ in range(MAX_REQUIREMENTS):
        found = _REQUIREMENT.match(rest) or _PERCENT_REQUIREMENT.match(rest)
        if not found:
            break
        requirements.extend(
            r.strip() for r in found.group(found.lastindex or 1).split(",") if r.strip()
        )
        rest = rest[found.end() :]
    groups: set[str] = set().union(*stack) if stack else set()
    option = _GROUP_OPTION.search(rest)
    if option:
        groups |= _groups(option.group(1))
    source = _SOURCE_OPTION.search(rest)
    kind = "registry"
    if source:
        kind = "path" if source.group(1) == "path" else "git"
    dev = bool(groups) and groups <= _DEV
    return Declared(name, ", ".join(requirements) or None, line, dev, kind)


# -- Gemfile.lock ---------------------------------------------------------------------

_SPEC = re.compile(r"^    (\S+) \(([^)]+)\)$")
_PLATFORM = re.compile(r"-(?:x86|x64|arm|aarch64|universal|java|mswin|mingw|linux|darwin)")
_SECTION = re.compile(r"^[A-Z][A-Z ]*$")
_RUBY_LOCKED = re.compile(r"^\s+ruby (\d+(?:\.\d+)*)")


def _version(raw: str) -> str:
    # `1.15.4-x86_64-linux`: Bundler appends the platform to a platform-specific gem.
    found = _PLATFORM.search(raw)
    return raw[: found.start()] if found else raw


def parse_gemfile_lock(text: str, path: str) -> Parsed:
    locked: list[Locked] = []
    runtimes: list[Runtime] = []
    section = ""
    in_specs = False
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if not line[0].isspace():
            if not _SECTION.match(line.strip()):
                raise error(path, "not a Gemfile.lock section header", number)
            section, in_specs = line.strip(), False
            continue
        if section in ("GEM", "GIT", "PATH", "PLUGIN SOURCE"):
            if line.strip() == "specs:":
                in_specs = True
                continue
            found = _SPEC.match(line) if in_specs else None
            if found:
                locked.append(Locked(found.group(1), _version(found.group(2)), number))
        elif section == "RUBY VERSION":
            ruby = _RUBY_LOCKED.match(line)
            if ruby:
                runtimes.append(Runtime("ruby", ruby.group(1), number, "Gemfile.lock RUBY VERSION"))
    if text.strip() and not section:
        raise error(path, "no Gemfile.lock section found")
    return Parsed(locked=tuple(locked), runtimes=tuple(runtimes))
