"""Glob patterns for repo-relative paths, compiled to one regular expression.

The syntax is the one users know from .gitignore and GitHub's `paths:` filters:
`*` and `?` never cross a `/`, `**` spans any number of folders (`docs/**/*.md`
matches `docs/a.md` and `docs/x/y/a.md`), `[abc]`/`[!abc]` classes, `{a,b}`
alternatives (nested), and `\\` escapes. A leading `*` matches dotfiles too.

Small because it sits on the scan path (wcmatch costs more to import and compile than a
whole scan may take); tests check it agrees with wcmatch's GLOBSTAR|BRACE|DOTGLOB mode
on a corpus. Patterns come from untrusted packs: the regex runs on RE2, so `*a*a*a*b`
cannot backtrack exponentially.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

MAX_GLOB = 500
# One path segment's character. Newline is excluded because a Listing matches every
# path of a service in one regex search over the paths joined by newlines.
SEG = "[^/\\n]"


class GlobError(ValueError):
    pass


def _class(pattern: str, i: int) -> tuple[str, int]:
    """Translate the `[...]` starting at pattern[i]; return (regex, index after)."""
    j = i + 1
    negate = j < len(pattern) and pattern[j] in "!^"
    if negate:
        j += 1
    start = j
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 1
    if j >= len(pattern):
        return re.escape("["), i + 1  # an unclosed bracket is a literal
    body = pattern[start:j].replace("\\", "\\\\").replace("/", "")
    if not body:
        return re.escape("[]"), j + 1
    prefix = "^/\\n" if negate else ""
    return "[" + prefix + body.replace("^", "\\^") + "]", j + 1


def _split_braces(body: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        current += ch
    parts.append(current)
    return parts


def _closing_brace(pattern: str, i: int) -> int:
    depth = 0
    for j in range(i, len(pattern)):
        if pattern[j] == "\\":
            continue
        if pattern[j] == "{":
            depth += 1
        elif pattern[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                at_start = i == 0 or pattern[i - 1] == "/"
                j = i + 2
                if at_start and (j == n or pattern[j] == "/"):
                    if j == n:
                        out.append("[^\\n]*")  # `dir/**`: everything below
                        i = j
                    else:
                        out.append(f"(?:{SEG}*/)*")  # `**/`: zero or more folders
                        i = j + 1
                    continue
                while j < n and pattern[j] == "*":
                    j += 1
                out.append(f"{SEG}*")
                i = j
                continue
            out.append(f"{SEG}*")
            i += 1
        elif ch == "?":
            out.append(SEG)
            i += 1
        elif ch == "[":
            regex, i = _class(pattern, i)
            out.append(regex)
        elif ch == "{":
            end = _closing_brace(pattern, i)
            if end < 0:
                out.append(re.escape("{"))
                i += 1
                continue
            options = _split_braces(pattern[i + 1 : end])
            if len(options) < 2:
                out.append(re.escape("{") + _translate(pattern[i + 1 : end]) + re.escape("}"))
            else:
                out.append("(?:" + "|".join(_translate(o) for o in options) + ")")
            i = end + 1
        elif ch == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out)


def translate(patterns: Sequence[str]) -> str:
    """One regex source matching a path when any of the patterns does."""
    parts = []
    for pattern in patterns:
        if not pattern or len(pattern) > MAX_GLOB:
            raise GlobError(f"glob must be 1 to {MAX_GLOB} characters")
        parts.append(_translate(pattern))
    return "(?:" + "|".join(parts) + ")"


_SURROGATE = re.compile("[\ud800-\udfff]")


def _plain(path: str) -> bool:
    return "\n" not in path and _SURROGATE.search(path) is None


def _matchable(path: str) -> str:
    """The path as RE2 can take it: newline as NUL, undecodable bytes as U+FFFD."""
    text = path.replace("\n", "\x00")
    if _SURROGATE.search(text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


class Listing:
    """Sorted paths prepared for matching many globs against them, one search each."""

    __slots__ = ("_odd", "_row", "paths", "text")

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        plain = [(i, p) for i, p in enumerate(self.paths) if _plain(p)]
        # A file name may hold a newline, or bytes that are not UTF-8 (decoded by the OS
        # layer as surrogates, which RE2 refuses); those few are matched one by one.
        self._odd = [(i, p) for i, p in enumerate(self.paths) if not _plain(p)]
        self.text = "\n".join(p for _, p in plain)
        self._row: dict[int, int] = {}
        offset = 0
        for index, path in plain:
            self._row[offset] = index
            offset += len(path) + 1


def _compile(source: str, ignore_case: bool) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    return re2.compile(source, options)


class GlobSet:
    """Patterns compiled on first use (RE2), so rules that never run cost nothing."""

    __slots__ = ("_each", "_ignore_case", "_lines", "_source", "patterns")

    def __init__(self, patterns: Sequence[str], ignore_case: bool = False) -> None:
        self.patterns = tuple(patterns)
        self._ignore_case = ignore_case
        self._source = translate(self.patterns)  # syntax errors surface when the pack loads
        self._each: Any = None
        self._lines: Any = None

    def match(self, path: str) -> bool:
        if self._each is None:
            self._each = _compile(f"^{self._source}$", self._ignore_case)
        return self._each.match(_matchable(path)) is not None

    def select(self, listing: Listing) -> list[str]:
        """The listed paths that match, in listing order: one regex search in all."""
        if self._lines is None:
            self._lines = _compile(f"(?m)^{self._source}$", self._ignore_case)
        rows = [listing._row[m.start()] for m in self._lines.finditer(listing.text)]
        rows += [i for i, path in listing._odd if self.match(path)]
        return [listing.paths[i] for i in sorted(rows)]
