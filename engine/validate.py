"""`opsgrade validate`: every descriptor, the repo config and local packs, all errors at once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opsgrade.engine import descriptors
from opsgrade.engine.config import CONFIG_PATHS, load_config
from opsgrade.engine.errors import ConfigError, OpsgradeError
from opsgrade.engine.globs import GlobSet
from opsgrade.engine.packs import PackSource, cli_source, is_path_ref, load_packs, repo_source
from opsgrade.engine.repoview import Unreadable, WorkTreeView
from opsgrade.engine.yamlio import load_documents

LOCAL_PACKS = GlobSet([".opsgrade/packs/*.{yml,yaml}"])


def validate_repository(path: Path, pack_refs: Sequence[str]) -> tuple[list[str], int]:
    view = WorkTreeView(path)
    problems: list[str] = []
    checked = 0

    def attempt(action: object) -> None:
        nonlocal checked
        checked += 1
        try:
            action()  # type: ignore[operator]
        except OpsgradeError as exc:
            problems.append(str(exc))

    files = view.files()
    config = None
    if any(p in files for p in CONFIG_PATHS):
        try:
            checked += 1
            config = load_config(view)
        except ConfigError as exc:
            problems.append(str(exc))
    if config is not None and config.spec.exclude:
        excluded = GlobSet(config.spec.exclude)  # what the scan never reads is not checked
        files = [p for p in files if not excluded.match(p)]
    sources: list[PackSource] = [cli_source(r) for r in pack_refs]
    if config is not None:
        sources += [repo_source(r, view) for r in config.spec.packs if is_path_ref(r)]
    sources += [repo_source(p, view) for p in files if LOCAL_PACKS.match(p)]
    for source in dict.fromkeys(sources):
        attempt(lambda s=source: load_packs([s]))
    for file in files:
        fmt = descriptors.format_of(file)
        if fmt is None:
            continue

        def read(file: str = file, fmt: str = fmt) -> None:
            try:
                text = view.read_text(file)
            except Unreadable as exc:
                raise ConfigError(f"cannot read: {exc.reason}") from None
            root = file.rpartition("/")[0]
            descriptors.reader(fmt)(load_documents(text, file), file, root)

        attempt(read)
    return problems, checked
