"""`opsgrade rules list|explain`, `opsgrade packs list|update`: the rule catalogue as text,
and the lock file written from it."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from opsgrade.engine import lockfile, packsources
from opsgrade.engine.config import load_config
from opsgrade.engine.errors import ConfigError
from opsgrade.engine.lockfile import LOCK_NAME
from opsgrade.engine.packs import (
    PackSet,
    PackSource,
    builtin_names,
    cli_source,
    installed_packs,
    load_packs,
    requested_sources,
)
from opsgrade.engine.repoview import WorkTreeView


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


def _pack_row(source: PackSource, origin: str) -> list[str]:
    packset = load_packs([source])
    own = packset.packs[-1]
    count = sum(1 for r in packset.rules if r.info.pack == own.name)
    summary = own.description.strip().splitlines()[0] if own.description.strip() else ""
    return [own.name, own.version, origin, str(count), summary]


def _git_rows(root: Path, problems: list[ConfigError]) -> list[list[str]]:
    """The lock's git packs (cached or not), then every other cached git pack. Reading
    the cache never starts git: a pack that is not cached is listed, not fetched. A lock
    that cannot be read is added to `problems`; the other packs are listed all the same."""
    rows: list[list[str]] = []
    listed: set[tuple[str, str]] = set()
    lock_path = root / LOCK_NAME
    lock = None
    if lock_path.is_file():
        try:
            lock = lockfile.decode(lock_path.read_bytes(), str(lock_path))
        except ConfigError as exc:
            problems.append(exc)
        except OSError as exc:
            problems.append(ConfigError(f"cannot read {lock_path}: {exc.strerror}"))
    for entry in lock.resolved if lock else ():
        if entry.kind != "git":
            continue
        git = packsources.parse_git_ref(entry.source)
        listed.add((entry.commit, git.path))
        where = f"{entry.source} @ {entry.commit[:12]} (locked)"
        if (packsources.cache_root() / entry.commit).is_dir():
            rows.append(
                _pack_row(PackSource("git", git.label, git=git, commit=entry.commit), where)
            )
        else:
            rows.append([entry.name, entry.version, where, "-", "not cached: run a scan"])
    for folder, meta in packsources.cached_commits():
        for path in _pack_files(folder):
            if (meta.commit, path) in listed:
                continue
            git = packsources.GitRef(meta.url, meta.ref, path)
            where = f"{git.label} @ {meta.commit[:12]} (cached)"
            with contextlib.suppress(ConfigError):  # a YAML file that is no pack
                rows.append(
                    _pack_row(PackSource("git", git.label, git=git, commit=meta.commit), where)
                )
    return rows


def _pack_files(folder: Path) -> list[str]:
    """Cached YAML files that declare a rule pack (a cheap test before loading one)."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in packsources.PACK_SUFFIXES and path.is_file():
            with contextlib.suppress(OSError):
                if "RulePack" in path.read_text("utf-8", errors="replace"):
                    found.append(path.relative_to(folder).as_posix())
    return found


def format_pack_table(root: Path = Path("."), problems: list[ConfigError] | None = None) -> str:
    """Built-in packs, installed packs, and the git packs locked at `root` or cached.
    What could not be read (a broken lock) goes to `problems`, not into the table."""
    rows = [["NAME", "VERSION", "ORIGIN", "RULES", "DESCRIPTION"]]
    for name in builtin_names():
        source = PackSource("builtin", name)
        rows.append(_pack_row(source, source.label))
    for _, value in sorted(installed_packs().items()):
        source = PackSource("entrypoint", value)
        rows.append(_pack_row(source, source.label))
    rows.extend(_git_rows(root, problems if problems is not None else []))
    return _table(rows)


def update_lock(root: Path, refs: Sequence[str]) -> tuple[Path, lockfile.Lock, bool]:
    """Resolve the packs a scan of `root` would use (git refs afresh) and write the lock.

    Returns the lock's path, the lock, and whether the file changed."""
    view = WorkTreeView(root)
    config = load_config(view)
    sources = requested_sources([cli_source(r) for r in refs], view, config)
    packset = load_packs(sources, config.spec if config else None, config.doc if config else None)
    lock = lockfile.Lock(lockfile.LOCK_VERSION, list(packset.requested), list(packset.locked))
    path = root / LOCK_NAME
    try:
        before = path.read_bytes()
    except OSError:
        before = b""
    if before == lockfile.encode(lock):
        return path, lock, False
    return lockfile.write_lock(root, lock), lock, True


def format_lock(lock: lockfile.Lock) -> str:
    rows = [["NAME", "VERSION", "SOURCE", "COMMIT", "SHA256"]]
    for p in lock.resolved:
        rows.append([p.name, p.version, p.source, p.commit[:12] or "-", p.sha256[:12]])
    return _table(rows)
