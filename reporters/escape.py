"""Neutralize repository-controlled text before it reaches a terminal or a document.

Three destinations, three sets of rules:

- a terminal or a log (`plain`): control characters shown as visible escapes;
- Markdown rendered by GitHub (`md_text`, `md_code`, `md_inline`): no raw HTML, no
  links or images, no @-mentions or issue references, no table breakage, no math;
- GitHub workflow commands (`command_data`, `command_property`): the percent-encoding
  the runner decodes, so a value cannot end the command or start another one.

Every function takes text as the repository wrote it and returns one line.
"""

from __future__ import annotations

import re

# C0 and C1 control characters except tab, DEL, and the bidi overrides that can make a
# terminal or a code review show something other than what is there.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Lone surrogates come from file names that are not UTF-8 (os.fsdecode keeps them as
# surrogate escapes); they cannot be encoded, so writing them would crash the report.
# This pattern and those below are plain strings, compiled on first use (re caches
# them), so that a text report does not pay for the Markdown and command rules.
_SURROGATE = "[\ud800-\udfff]"
MAX_FIELD = 500


def plain(text: str | None, limit: int = MAX_FIELD) -> str:
    """One line of inert text: control characters shown as escapes, newlines as spaces."""
    if not text:
        return ""
    text = text.replace("\n", " ").replace("\r", " ")
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    text = re.sub(_SURROGATE, "\ufffd", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- removing what must not be shown at all --------------------------------------------

# Terminal escape sequences, removed whole so no parameter bytes ("[31m") are left
# behind: CSI (ESC [ or 8-bit 0x9b), OSC (ESC ] or 0x9d, up to BEL or ST, which is how
# terminal hyperlinks are written), and the two-byte ESC forms.
_ANSI = (
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[@-Z\\-_]?"
)
_SPACES = r"\s+"


def one_line(text: str | None, limit: int = MAX_FIELD) -> str:
    """Visible text only: escape sequences and control characters removed, whitespace
    (newlines included) collapsed to single spaces, cut to `limit` characters."""
    if not text:
        return ""
    text = re.sub(_ANSI, "", text)
    text = _CONTROL.sub(" ", text)
    text = re.sub(_SURROGATE, "\ufffd", text)
    text = re.sub(_SPACES, " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- Markdown (GitHub-flavoured, as GitHub renders comments) ---------------------------

# Inline Markdown syntax, escaped with a backslash (CommonMark lets any ASCII punctuation
# be escaped): emphasis, code, links and images, tables, strikethrough, math.
_MD_PUNCT = r"([\\`*_\[\]()|~$!])"
# GitHub links `@user`, `@org/team` and `#123` after Markdown is rendered, in any text
# outside code, so a backslash does not stop it; a zero-width joiner after the sign does.
_MENTION = r"([@#])(?=[\w-])"
ZWJ = "\u200d"


def _md_escape(text: str) -> str:
    # Entities first, so the `&` of an entity written by the repository shows as text.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(_MD_PUNCT, r"\\\1", text)
    return re.sub(_MENTION, lambda m: m.group(1) + ZWJ, text)


def md_text(text: str | None, limit: int = MAX_FIELD) -> str:
    """Repository text as inert Markdown: shows as written, renders nothing, pings no one.

    Safe in a paragraph, a list item and a table cell (a `|` is escaped); never put it at
    the start of a line, where `#`, `>` or `-` would start a block.
    """
    return _md_escape(one_line(text, limit))


def md_code(text: str | None, limit: int = MAX_FIELD, table: bool = False) -> str:
    """Repository text as a code span: shown verbatim, never rendered or linked.

    GitHub does not look for mentions inside code. The fence is one backtick longer
    than the longest run inside. In a table cell a `|` still ends the cell, so
    `table=True` escapes it (GFM removes that backslash before the span is parsed).
    """
    text = one_line(text, limit)
    if not text:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space on each side when both are there: pad so that a
    # backtick at either end cannot merge with the fence and spaces survive.
    if text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


_CODE_SPAN = r"(`+)(.+?)(?<!`)\1(?!`)"


def md_inline(text: str | None, limit: int = MAX_FIELD) -> str:
    """Text that may hold `code spans` (rule titles, fixes, messages): the spans are
    kept as code, everything around them is escaped like `md_text`."""
    text = one_line(text, limit)
    out: list[str] = []
    pos = 0
    for match in re.finditer(_CODE_SPAN, text):
        out.append(_md_escape(text[pos : match.start()]))
        out.append(md_code(match.group(2), limit) or _md_escape(match.group()))
        pos = match.end()
    out.append(_md_escape(text[pos:]))
    return "".join(out)


# -- GitHub workflow commands ----------------------------------------------------------
# The runner decodes %0D, %0A and %25 in a command's data, and also %3A and %2C in its
# properties (actions/runner src/Runner.Common/ActionCommand.cs; the encoders are
# escapeData/escapeProperty in actions/toolkit packages/core/src/command.ts).

# Control characters other than CR and LF (which are encoded) are shown as escapes: the
# log viewer renders ANSI sequences, and a raw ESC would restyle or hide the log.
_COMMAND_CONTROL = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"


def command_data(text: str) -> str:
    """A command's message: `%`, CR and LF encoded so it stays on one line."""
    text = re.sub(_SURROGATE, "\ufffd", text)
    text = re.sub(_COMMAND_CONTROL, lambda m: f"\\x{ord(m.group()):02x}", text)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def command_property(text: str) -> str:
    """A command's property value (file, title): also `:` and `,`, which end it."""
    return command_data(text).replace(":", "%3A").replace(",", "%2C")
