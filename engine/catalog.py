"""`opsgrade rules list|explain` and `opsgrade packs list`: the rule catalogue as text."""

from __future__ import annotations

from collections.abc import Sequence

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.packs import (
    PackSet,
    PackSource,
    builtin_names,
    cli_source,
    installed_packs,
    load_packs,
)


def load_selected(refs: Sequence[str]) -> PackSet:
    sources = [cli_source(r) for r in refs] or [PackSource("builtin", n) for n in builtin_names()]
    return load_packs(sources)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def format_rule_table(packset: PackSet) -> str:
    rows = [["ID", "LEVEL", "CATEGORY", "SEVERITY", "PACK", "TITLE"]]
    for rule in packset.rules:
        i = rule.info
        rows.append([i.id, i.level, i.category, i.severity.value, i.pack, i.title])
    return _table(rows)


def explain(packset: PackSet, rule_id: str) -> str:
    rule = packset.rule(rule_id.upper())
    if rule is None:
        import difflib

        close = difflib.get_close_matches(rule_id.upper(), [r.id for r in packset.rules], n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(f"no rule {rule_id}{hint}")
    i = rule.info
    lines = [
        f"{i.id}: {i.title}",
        f"  pack: {i.pack}   level: {i.level}   category: {i.category}"
        f"   severity: {i.severity.value}",
    ]
    if rule.aliases:
        lines.append(f"  aliases: {', '.join(rule.aliases)}")
    if i.enforce_after:
        lines.append(f"  counts from: {i.enforce_after.isoformat()}")
    if rule.when is not None:
        import msgspec

        lines.append(f"  applies when: {msgspec.json.encode(rule.when).decode()}")
    if i.see_also:
        lines.append(f"  see also: {', '.join(i.see_also)}")
    lines.append(f"  defined at: {rule.source}")
    lines.append("")
    lines.append(i.help)
    if i.fix:
        lines.append("")
        lines.append(f"Fix: {i.fix}")
    return "\n".join(lines) + "\n"


def format_pack_table() -> str:
    rows = [["NAME", "VERSION", "ORIGIN", "RULES", "DESCRIPTION"]]
    sources = [PackSource("builtin", n) for n in builtin_names()]
    sources += [PackSource("entrypoint", v) for _, v in sorted(installed_packs().items())]
    for source in sources:
        packset = load_packs([source])
        own = packset.packs[-1]
        count = sum(1 for r in packset.rules if r.info.pack == own.name)
        summary = own.description.strip().splitlines()[0] if own.description.strip() else ""
        rows.append([own.name, own.version, source.label, str(count), summary])
    return _table(rows)
