"""The scan pipeline: RepoView -> services -> evaluate -> scorecard -> RunResult."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import msgspec

from opsgrade.engine.config import LoadedConfig, load_config
from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.evaluate import evaluate_service
from opsgrade.engine.facts import EvalContext
from opsgrade.engine.fingerprint import with_fingerprints
from opsgrade.engine.globs import GlobSet
from opsgrade.engine.model import Note, RunResult, ServiceReport

# select_packs: `--pack`, else the repo config's packs, else every built-in, as pinned by
# the view's `opsgrade.lock` (so `diff` uses the base revision's lock).
from opsgrade.engine.packs import PackSet, PackSource
from opsgrade.engine.packs import select_packs as select_packs
from opsgrade.engine.repoview import RepoView, open_view
from opsgrade.engine.scorecard import score_card
from opsgrade.engine.services import anchor_for, assign_files, broken_location, discover


class ScanRequest(msgspec.Struct, frozen=True):
    path: Path
    rev: str | None = None
    packs: Sequence[PackSource] = ()  # empty: the repo config's packs, else every built-in
    today: dt.date | None = None


class _FilteredView:
    """A RepoView minus the files the repo config excludes."""

    def __init__(self, view: RepoView, patterns: Sequence[str]) -> None:
        self._view = view
        self._excluded = GlobSet(patterns)
        self._files = [p for p in view.files() if not self._excluded.match(p)]

    @property
    def name(self) -> str:
        return self._view.name

    @property
    def revision(self) -> str | None:
        return self._view.revision

    def files(self) -> Sequence[str]:
        return self._files

    def read_text(self, path: str) -> str:
        return self._view.read_text(path)

    def notes(self) -> Sequence[Note]:
        # What the walk noted about excluded paths (links out of the root...) is not news.
        return [n for n in self._view.notes() if not self._excluded.match(n.path)]

    def limit_file_size(self, max_bytes: int) -> None:
        self._view.limit_file_size(max_bytes)


def scan(request: ScanRequest) -> RunResult:
    view: RepoView = open_view(request.path, request.rev)
    config = load_config(view)
    packset = select_packs(request.packs, view, config)
    return evaluate_view(view, packset, config, request.today or dt.date.today())


def evaluate_view(
    view: RepoView,
    packset: PackSet,
    config: LoadedConfig | None,
    today: dt.date,
    name: str | None = None,
) -> RunResult:
    """`name` stands in for the view's folder name (the org scan's repository name, since
    an unpacked archive's folder name means nothing); the repo config's name still wins."""
    if config is not None:
        if config.spec.max_file_size:
            view.limit_file_size(config.spec.max_file_size)
        if config.spec.exclude:
            view = _FilteredView(view, config.spec.exclude)
    repo_name = (config.spec.name if config else None) or name or view.name
    found = discover(view, repo_name)
    files = view.files()
    rule_infos = {r.id: r.info for r in packset.rules}
    reports: list[ServiceReport] = []
    # A descriptor that could not be read, or that declares a name already taken, is a
    # configuration error (exit 2) like an invalid one, not just a note.
    notes: list[Note] = [n for n in found.notes if n.kind != "error"]
    config_errors: list[Note] = [n for n in found.notes if n.kind == "error"]
    visible = assign_files(found.services, files)
    shared: dict[object, object] = {}  # parses shared by every service of this scan
    for service in found.services:
        own = visible[service.root]
        broken = found.broken.get(service.name)
        if broken is not None:
            loc = broken_location(broken, service.descriptor or "")
            config_errors.append(Note(loc.path, broken.keyed_message, loc.line, "error"))
        ctx = EvalContext(service, own, view, anchor_for(service, own), broken, shared, today)
        results, service_notes = evaluate_service(ctx, packset.rules, today, packset.aliases)
        results = with_fingerprints(results, view)
        notes.extend(service_notes)
        card = score_card(results, packset.levels, packset.categories, rule_infos)
        reports.append(ServiceReport(service, tuple(sorted(results)), card))
    notes.extend(view.notes())
    required = (config.spec.required_level if config else None) or packset.levels[0]
    if required not in packset.levels:
        doc = config.doc if config else None
        line = doc.line_of(["required_level"]) if doc else 0
        raise ConfigError(
            f"required_level {required!r} is not one of {list(packset.levels)}",
            Located(doc.path if doc else "", line, "required_level"),
        )
    return RunResult(
        repository=repo_name,
        revision=view.revision,
        evaluated_on=today,
        levels=packset.levels,
        categories=packset.categories,
        packs=packset.packs,
        packs_digest=packset.digest,
        rules=rule_infos,
        services=tuple(reports),
        notes=tuple(sorted(set(notes), key=lambda n: (n.path, n.line, n.message))),
        config_errors=tuple(config_errors),
        required_level=required,
    )
