"""`opsgrade validate`: every descriptor, the repo config and local packs, all errors at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from opsgrade.engine import descriptors
from opsgrade.engine.config import CONFIG_PATHS, LoadedConfig, load_config
from opsgrade.engine.errors import ConfigError, OpsgradeError
from opsgrade.engine.globs import GlobSet
from opsgrade.engine.packs import PackSource, cli_source, is_path_ref, load_packs, repo_source
from opsgrade.engine.repoview import RepoView, Unreadable, WorkTreeView
from opsgrade.engine.scan import select_packs
from opsgrade.engine.yamlio import load_documents

LOCAL_PACKS = GlobSet([".opsgrade/packs/*.{yml,yaml}"])


class _Findings:
    """Runs each validation step, collecting one-line problems instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked = 0

    def attempt(self, step: Callable[[], object]) -> None:
        self.checked += 1
        try:
            step()
        except OpsgradeError as exc:
            self.problems.append(str(exc))


def _descriptor_step(view: RepoView, path: str, fmt: str) -> Callable[[], object]:
    def step() -> object:
        try:
            text = view.read_text(path)
        except Unreadable as exc:
            raise ConfigError(f"cannot read: {exc.reason}") from None
        root = path.rpartition("/")[0]
        return descriptors.reader(fmt)(load_documents(text, path), path, root)

    return step


def validate_repository(path: Path, pack_refs: Sequence[str]) -> tuple[list[str], int]:
    view = WorkTreeView(path)
    found = _Findings()
    files = view.files()
    config: LoadedConfig | None = None

    def read_config() -> object:
        nonlocal config
        config = load_config(view)
        if config is not None:
            # The config's packs with its overrides and `disable`: unknown rule ids show.
            select_packs((), view, config)
        return config

    if any(p in files for p in CONFIG_PATHS):
        found.attempt(read_config)
    if config is not None and config.spec.exclude:
        excluded = GlobSet(config.spec.exclude)  # what the scan never reads is not checked
        files = [p for p in files if not excluded.match(p)]
    sources: list[PackSource] = [cli_source(r) for r in pack_refs]
    if config is not None:
        sources += [repo_source(r, view) for r in config.spec.packs if is_path_ref(r)]
    sources += [repo_source(p, view) for p in files if LOCAL_PACKS.match(p)]
    for source in dict.fromkeys(sources):
        found.attempt(partial(load_packs, [source]))
    for file in files:
        fmt = descriptors.format_of(file)
        if fmt is not None:
            found.attempt(_descriptor_step(view, file, fmt))
    return found.problems, found.checked
