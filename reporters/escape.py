"""Neutralize repository-controlled text before it reaches a terminal or a document."""

from __future__ import annotations

import re

# C0 and C1 control characters except tab, DEL, and the bidi overrides that can make a
# terminal or a code review show something other than what is there.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MAX_FIELD = 500


def plain(text: str | None, limit: int = MAX_FIELD) -> str:
    """One line of inert text: control characters shown as escapes, newlines as spaces."""
    if not text:
        return ""
    text = text.replace("\n", " ").replace("\r", " ")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
