"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning (docs/sarif.md).

One run per file, one `result` per failing location. GitHub's subset of SARIF and its
upload limits shape the output: unique rule ids with full metadata, a repo-relative
file and a `startLine` >= 1 on every result, our own stable fingerprint, at most
25,000 results (most severe kept), and at most 10 MB once gzipped. Deterministic: keys
sorted, results in a defined order, no timestamps.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec

from opsgrade.engine import __version__
from opsgrade.engine.model import (
    CheckResult,
    Location,
    Note,
    RuleInfo,
    RunResult,
    Severity,
    Status,
)
from opsgrade.reporters import RenderOptions
from opsgrade.reporters.escape import plain

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "opsgrade/v1"
# GitHub reads only `primaryLocationLineHash`; without it upload-sarif hashes ~100
# characters from the flagged line onward, so an edit below a finding, or on line 1 for
# a whole-file finding, would open a new alert. Ours ignores line numbers and neighbours.
GITHUB_FINGERPRINT_KEY = "primaryLocationLineHash"

# GitHub's hard limits (docs.github.com, "SARIF support for code scanning").
MAX_RESULTS = 25_000
MAX_GZIP_BYTES = 10_000_000  # 10 MB, decimal: a little under 10 MiB, on the safe side
MAX_TAGS = 10  # 20 are accepted, only 10 are shown
MAX_DESCRIPTION = 1024  # shortDescription and fullDescription
MAX_HELP = 20_000
MAX_NOTIFICATIONS = 1_000  # per list; a repository full of skipped files stays small

LEVEL_RANK = {"error": 0, "warning": 1, "note": 2}
# GitHub: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. Our rules flag
# configuration that invites an incident, not an exploitable flaw, so `error` is high.
SECURITY_SEVERITY = {Severity.ERROR: "8.0", Severity.WARNING: "5.5", Severity.NOTE: "2.0"}
PROBLEM_SEVERITY = {
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.NOTE: "recommendation",
}
NOTE_LEVELS = {"error": "error", "waiver": "warning"}  # any other kind: "note"
INLINE_PREFIX = "inline: "  # how engine/evaluate.py marks a waiver from a source comment

_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Kept: tab and newline. Dropped: other C0/C1 controls (ANSI escapes start with one) and
# the bidi overrides that make a review show something other than what is there.
_BLOCK_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BRACKET = re.compile(r"(\\*)([\[\]])")
# RFC 3986 sub-delims plus "@" stay readable; ":" is encoded so that no first segment
# can read as a URI scheme.
_URI_SAFE = "/!$&'()*+,;=@"


# -- text --------------------------------------------------------------------------------


def _escape_bracket(match: re.Match[str]) -> str:
    return match.group(1) * 2 + "\\" + match.group(2)


def _clean(value: str | None, limit: int) -> str:
    """One line of inert text: control characters as escapes, at most `limit` long."""
    if not value:
        return ""
    # isprintable() is False for every control, bidi, line-break and surrogate character
    # we neutralize, so most text skips the regexes.
    if value.isprintable() and len(value) <= limit:
        return value
    return _SURROGATE.sub("\ufffd", plain(value, limit))


def _unlinked(text: str) -> str:
    """SARIF 3.11.6: "[text](target)" in a plain-text message is an embedded link.

    Where the text could read as one, every bracket (and the backslashes just before
    it) is escaped so that no link can be forged; elsewhere brackets stay as written
    (regexes, JMESPath queries), which the specification allows and which reads better.
    """
    return _BRACKET.sub(_escape_bracket, text) if "](" in text else text


def _text(value: str | None, limit: int) -> str:
    """A whole SARIF message text made of one piece of outside text."""
    return _unlinked(_clean(value, limit))


def _block(value: str | None, limit: int = MAX_HELP) -> str:
    """Multi-line pack text (help, Markdown) with control characters removed."""
    if not value:
        return ""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = _SURROGATE.sub("\ufffd", _BLOCK_CONTROL.sub("", text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_paragraph(text: str) -> str:
    para = text.split("\n\n", 1)[0]
    return " ".join(para.split())


def _is_web_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    # Nothing that could end the Markdown autolink `<url>` it is written as.
    plain_url = value.isprintable() and not any(c in value for c in ' <>"`\\')
    return parts.scheme in ("http", "https") and bool(parts.netloc) and plain_url


def _uri(path: str) -> str:
    """A repo-relative path as a relative URI reference (percent-encoded)."""
    raw = path.replace("\\", "/").lstrip("/")
    # Undecodable file names reach us as surrogate escapes: encode the original bytes.
    return quote(raw.encode("utf-8", "surrogateescape"), safe=_URI_SAFE)


# -- rules -------------------------------------------------------------------------------


def _is_security(info: RuleInfo) -> bool:
    return info.category.lower() == "security" or any(t.lower() == "security" for t in info.tags)


def _tags(info: RuleInfo) -> list[str]:
    wanted = ["security"] if _is_security(info) else []
    wanted += [info.category, f"level:{info.level}", f"pack:{info.pack}", *sorted(info.tags)]
    tags: list[str] = []
    for tag in wanted:
        clean = _SURROGATE.sub("\ufffd", plain(tag, 100)).strip()
        if clean and clean not in tags:  # the schema wants unique tags
            tags.append(clean)
    return tags[:MAX_TAGS]


def _help(info: RuleInfo, links: list[str], names: list[str]) -> tuple[str, str]:
    body = _block(info.help) or _block(info.title)
    fix = _block(info.fix, 2_000)
    text_parts, md_parts = [body], [body]
    if fix:
        text_parts.append(f"Fix: {fix}")
        md_parts.append(f"**Fix:** {fix}")
    if names or links:
        text_parts.append("See also: " + ", ".join([*names, *links]))
        md_parts.append("**See also:** " + ", ".join([*names, *(f"<{u}>" for u in links)]))
    when = f" Counts from {info.enforce_after.isoformat()}." if info.enforce_after else ""
    meta = (
        f"opsgrade rule {info.id}: level {info.level}, category {info.category}, pack {info.pack}."
    )
    text_parts.append(_block(meta + when, 1_000))
    md_parts.append("*" + _block(meta + when, 1_000).replace("*", "\\*") + "*")
    return "\n\n".join(text_parts), "\n\n".join(md_parts)


def _descriptor(info: RuleInfo) -> dict[str, Any]:
    title = _block(" ".join(info.title.split()), MAX_DESCRIPTION) or info.id
    full = _block(_first_paragraph(_block(info.help)), MAX_DESCRIPTION) or title
    see = [_block(" ".join(s.split()), 200) for s in info.see_also]
    links = [s for s in see if _is_web_url(s)]
    names = [s for s in see if s and s not in links]
    help_text, help_md = _help(info, links, names)
    properties: dict[str, Any] = {
        "tags": _tags(info),
        # Checks are deterministic over what is in the repository: few false positives.
        "precision": "high",
        "opsgrade/level": _text(info.level, 100),
        "opsgrade/category": _text(info.category, 100),
        "opsgrade/pack": _text(info.pack, 100),
    }
    if _is_security(info):
        properties["security-severity"] = SECURITY_SEVERITY[info.severity]
    else:
        properties["problem.severity"] = PROBLEM_SEVERITY[info.severity]
    if info.enforce_after is not None:
        properties["opsgrade/enforceAfter"] = info.enforce_after.isoformat()
    out: dict[str, Any] = {
        "id": info.id,
        "shortDescription": {"text": title},
        "fullDescription": {"text": full},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": info.severity.value},
        "properties": properties,
    }
    if links:
        out["helpUri"] = links[0]
    return out


def _placeholder_info(result: CheckResult, pack: str) -> RuleInfo:
    """Metadata for a rule a result names but the run does not describe."""
    return RuleInfo(
        id=result.rule,
        title=result.rule,
        level=result.level,
        category=result.category,
        severity=result.severity,
        help=f"Rule {result.rule} is not described in the packs of this run.",
        fix="",
        pack=pack,
    )


def _rule_infos(run: RunResult) -> dict[str, RuleInfo]:
    infos = dict(run.rules)
    for report in run.services:
        for result in report.results:
            if result.rule not in infos:
                infos[result.rule] = _placeholder_info(result, "unknown")
    return dict(sorted(infos.items()))


# -- results -----------------------------------------------------------------------------


class _Entry(msgspec.Struct, frozen=True):
    """One SARIF result with the key that decides which results survive truncation."""

    key: tuple[Any, ...]
    result: dict[str, Any]


def _level(result: CheckResult) -> str:
    # `error`: the check could not decide (a file that does not parse). The gate counts
    # it as failing, so code scanning shows it at the highest level.
    return "error" if result.status == Status.ERROR else result.severity.value


def _fallback_fingerprint(result: CheckResult, loc: Location) -> str:
    # The engine fingerprints every fail/error/waived location; this only covers a
    # RunResult built elsewhere (tests, a merged org report).
    key = f"{result.rule}\0{result.service}\0{loc.path}\0{loc.line}\0{result.message}"
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _physical(loc: Location) -> dict[str, Any]:
    return {
        "artifactLocation": {"uri": _uri(loc.path), "uriBaseId": SRCROOT},
        # A whole-file finding (line 0) points at line 1: GitHub needs a line.
        "region": {"startLine": max(loc.line, 1)},
    }


def _message(result: CheckResult, info: RuleInfo, several_services: bool) -> str:
    head = _clean(info.title, 200) or result.rule
    if several_services:
        head += f" ({_clean(result.service, 100)})"
    body = _clean(result.message, 600)
    if result.status == Status.ERROR:
        body = f"could not evaluate: {body}"
    text = f"{head}: {body}" if body else head
    if result.status == Status.WAIVED:
        # GitHub does not act on `suppressions` (see docs/sarif.md): say it in words too.
        text += f" (waived: {_clean(result.waiver, 200)})"
    elif result.waiver:  # a failing result whose waiver expired
        text += f" ({_clean(result.waiver, 200)})"
    if not result.counting and info.enforce_after is not None:
        text += f" (counts from {info.enforce_after.isoformat()})"
    # Escaped as a whole: pieces that are harmless alone cannot join into a link.
    return _unlinked(text)


def _suppression(result: CheckResult) -> dict[str, Any]:
    reason = result.waiver or ""
    kind = "external"
    if reason.startswith(INLINE_PREFIX):
        kind, reason = "inSource", reason[len(INLINE_PREFIX) :]
    return {"kind": kind, "status": "accepted", "justification": _text(reason, 500)}


def _entries(
    result: CheckResult, info: RuleInfo, index: int, several_services: bool
) -> Iterable[_Entry]:
    level = _level(result)
    message = _message(result, info, several_services)
    waived = result.status == Status.WAIVED
    properties: dict[str, Any] = {
        "opsgrade/service": _text(result.service, 200),
        "opsgrade/status": result.status.value,
        "opsgrade/level": _text(result.level, 100),
        "opsgrade/category": _text(result.category, 100),
        "opsgrade/counting": result.counting,
    }
    for loc in result.locations:
        fingerprint = loc.fingerprint or _fallback_fingerprint(result, loc)
        sarif: dict[str, Any] = {
            "ruleId": result.rule,
            "ruleIndex": index,
            "level": level,
            "message": {"text": message},
            "locations": [{"physicalLocation": _physical(loc)}],
            "partialFingerprints": {
                FINGERPRINT_KEY: fingerprint,
                GITHUB_FINGERPRINT_KEY: fingerprint,
            },
            "properties": properties,
        }
        if waived:
            sarif["suppressions"] = [_suppression(result)]
        # Open before waived, then error > warning > note, then counting before not yet
        # counting; the rest only makes the order total, hence the output deterministic.
        key = (
            waived,
            LEVEL_RANK[level],
            not result.counting,
            result.rule,
            loc.path,
            loc.line,
            result.service,
            fingerprint,
        )
        yield _Entry(key, sarif)


def _collect(
    run: RunResult, indexes: Mapping[str, int], infos: Mapping[str, RuleInfo]
) -> tuple[list[_Entry], list[CheckResult]]:
    """Every SARIF result, most important first, and the results with no file."""
    several = len(run.services) > 1
    entries: list[_Entry] = []
    unlocated: list[CheckResult] = []
    for report in run.services:
        for result in report.results:
            if result.status not in (Status.FAIL, Status.ERROR, Status.WAIVED):
                continue
            if not result.locations:
                unlocated.append(result)
                continue
            info = infos[result.rule]
            entries.extend(_entries(result, info, indexes[result.rule], several))
    entries.sort(key=lambda e: e.key)
    unlocated.sort()
    return entries, unlocated


# -- notifications -----------------------------------------------------------------------


def _notification(
    level: str,
    text: str,
    descriptor: str,
    loc: Location | None = None,
    rule: tuple[str, int] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "level": level,
        "message": {"text": text},
        "descriptor": {"id": descriptor},
    }
    if loc is not None and loc.path:
        out["locations"] = [{"physicalLocation": _physical(loc)}]
    if rule is not None:
        out["associatedRule"] = {"id": rule[0], "index": rule[1]}
    return out


def _capped(items: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    if len(items) <= MAX_NOTIFICATIONS:
        return items
    rest = len(items) - MAX_NOTIFICATIONS + 1
    more = _notification("note", f"{rest} more {what} not listed.", "opsgrade/more")
    return [*items[: MAX_NOTIFICATIONS - 1], more]


def _note_notification(note: Note) -> dict[str, Any]:
    level = NOTE_LEVELS.get(note.kind, "note")
    return _notification(
        level, _text(note.message, 600), f"opsgrade/{note.kind}", Location(note.path, note.line)
    )


def _execution_notifications(
    run: RunResult,
    entries: list[_Entry],
    unlocated: list[CheckResult],
    indexes: Mapping[str, int],
    dropped: int,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if dropped:
        out.append(
            _notification(
                "warning",
                f"{dropped} of {len(entries)} results were left out to stay within GitHub's"
                " upload limits (25,000 results, 10 MB gzipped); the most severe were kept.",
                "opsgrade/truncated",
            )
        )
    # SARIF appendix I: an `error` notification tells a consumer the results may be
    # incomplete, which is what an undecidable check means.
    for entry in entries:
        if entry.result["properties"]["opsgrade/status"] == Status.ERROR.value:
            loc = entry.result["locations"][0]["physicalLocation"]
            text = entry.result["message"]["text"]
            rid = entry.result["ruleId"]
            out.append(
                {
                    "level": "error",
                    "message": {"text": text},
                    "descriptor": {"id": "opsgrade/undecided"},
                    "locations": [{"physicalLocation": loc}],
                    "associatedRule": {"id": rid, "index": indexes[rid]},
                }
            )
    for result in unlocated:
        where = "could not evaluate" if result.status == Status.ERROR else result.status.value
        text = f"{result.rule} ({_clean(result.service, 100)}) {where}, with no file to point at:"
        out.append(
            _notification(
                "error" if result.status == Status.ERROR else result.severity.value,
                _unlinked(f"{text} {_clean(result.message, 600)}"),
                "opsgrade/unlocated",
                rule=(result.rule, indexes[result.rule]),
            )
        )
    out.extend(_note_notification(n) for n in run.notes)
    return _capped(out, "notifications")


def _invocation(
    run: RunResult,
    entries: list[_Entry],
    unlocated: list[CheckResult],
    indexes: Mapping[str, int],
    dropped: int,
) -> dict[str, Any]:
    # The scan ran to the end: per-file problems are notifications, not a failed run.
    out: dict[str, Any] = {"executionSuccessful": True}
    execution = _execution_notifications(run, entries, unlocated, indexes, dropped)
    if execution:
        out["toolExecutionNotifications"] = execution
    configuration = [
        _notification(
            "error",
            _text(n.message, 600),
            "opsgrade/invalid-descriptor",
            Location(n.path, n.line),
        )
        for n in run.config_errors
    ]
    if configuration:
        out["toolConfigurationNotifications"] = _capped(configuration, "configuration errors")
    return out


# -- the document ------------------------------------------------------------------------


def _driver(descriptors: list[dict[str, Any]]) -> dict[str, Any]:
    # No `informationUri`: the project has no published home page yet (a URL is added
    # here once it has one, never a placeholder).
    driver: dict[str, Any] = {"name": "opsgrade", "version": __version__, "rules": descriptors}
    if _SEMVER.match(__version__):
        driver["semanticVersion"] = __version__
    return driver


def _run_properties(
    run: RunResult, total: int, kept: int, unlocated: int, required: str
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "opsgrade/repository": _text(run.repository, 200),
        "opsgrade/evaluatedOn": run.evaluated_on.isoformat(),
        "opsgrade/requiredLevel": required,
        "opsgrade/packs": [
            {"name": _text(p.name, 100), "version": _text(p.version, 100)} for p in run.packs
        ],
        "opsgrade/packsDigest": run.packs_digest,
        "opsgrade/results": {"total": total, "emitted": kept, "unlocated": unlocated},
    }
    if run.revision:
        props["opsgrade/revision"] = run.revision
    if kept < total:
        props["opsgrade/truncated"] = (
            f"{total - kept} of {total} results were left out to stay within GitHub's"
            " upload limits (25,000 results, 10 MB gzipped); the most severe were kept."
        )
    return props


def automation_id(run: RunResult, category: str | None = None) -> str:
    """`automationDetails.id`: the analysis category, ending in "/" (no run id after it).

    upload-sarif keeps an id the file already has and ignores its own `category:` input,
    so a workflow that uploads several opsgrade analyses of one repository (a monorepo's
    folders, a matrix) gives each its own category here (`opsgrade action
    --sarif-category`). Without one: `opsgrade/<repository>/`.
    """
    if category is None or not category.strip():
        return f"opsgrade/{_text(run.repository, 200)}/"
    clean = _text(category.strip(), 200)
    return clean if clean.endswith("/") else clean + "/"


class _Sarif:
    """The parts of the document that do not depend on how many results are kept."""

    def __init__(self, run: RunResult, options: RenderOptions, category: str | None) -> None:
        self.run = run
        self.automation_id = automation_id(run, category)
        self.required = options.required_level or run.required_level
        infos = _rule_infos(run)
        self.indexes = {rid: i for i, rid in enumerate(infos)}
        self.descriptors = [_descriptor(info) for info in infos.values()]
        self.entries, self.unlocated = _collect(run, self.indexes, infos)

    def dump(self, kept: int) -> bytes:
        entries = self.entries
        sarif_run = {
            "tool": {"driver": _driver(self.descriptors)},
            "automationDetails": {"id": self.automation_id},
            "columnKind": "unicodeCodePoints",
            "originalUriBaseIds": {
                SRCROOT: {
                    "description": {
                        "text": "The root of the scanned repository: every path is relative to it."
                    }
                }
            },
            "invocations": [
                _invocation(self.run, entries, self.unlocated, self.indexes, len(entries) - kept)
            ],
            "results": [e.result for e in entries[:kept]],
            "properties": _run_properties(
                self.run, len(entries), kept, len(self.unlocated), self.required
            ),
        }
        log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [sarif_run]}
        # Keys sorted, two-space indent: byte-identical, readable output, the same bytes
        # as json.dumps(sort_keys=True, indent=2) in a tenth of the time (C, not Python).
        return msgspec.json.format(msgspec.json.encode(log, order="sorted"), indent=2) + b"\n"


def gzipped_size(data: bytes) -> int:
    """The size GitHub's limit applies to (upload-sarif gzips at zlib's default level)."""
    return len(gzip.compress(data, compresslevel=6, mtime=0))


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Building 25,000 results makes a million small dicts and lists, none of them in a
    cycle: the cyclic collector's passes over them are pure cost (about a sixth of the
    render time), so it is paused while the document is built."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class SarifReporter:
    def __init__(self, category: str | None = None) -> None:
        self.category = category  # see automation_id

    def render(self, run: RunResult, options: RenderOptions) -> str:
        with _no_cyclic_gc():
            return self._render(run, options)

    def _render(self, run: RunResult, options: RenderOptions) -> str:
        doc = _Sarif(run, options, self.category)
        kept = min(len(doc.entries), MAX_RESULTS)
        data = doc.dump(kept)
        # Gzip never grows data by more than a fraction of a percent, so only a large
        # document can break the size limit; then drop the least severe until it fits.
        while kept and len(data) > MAX_GZIP_BYTES * 0.99:
            size = gzipped_size(data)
            if size <= MAX_GZIP_BYTES:
                break
            kept = int(kept * MAX_GZIP_BYTES / size * 0.95)
            data = doc.dump(kept)
        return data.decode("utf-8")
