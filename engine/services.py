"""Service discovery: descriptor files mark services and their root folders.

A folder with a descriptor is a service's root; a repository without any descriptor is
one service, rooted at the top and named after the repository. A service sees its own
files (not those of services nested below it) plus the repository-wide files that
configure every service (CI workflows, CODEOWNERS, dependency-update tools).
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Sequence

import msgspec
from msgspec import field

from opsgrade.engine import descriptors
from opsgrade.engine.errors import ConfigError, Located, ParseError
from opsgrade.engine.globs import GlobSet, Listing
from opsgrade.engine.model import Location, Note, Service
from opsgrade.engine.repoview import RepoView, Unreadable
from opsgrade.engine.yamlio import load_documents

# Files at the repository root that configure every service in it.
REPO_WIDE = GlobSet(
    [
        ".github/**",
        ".gitlab-ci.yml",
        ".gitlab/**",
        ".circleci/**",
        "CODEOWNERS",
        "docs/CODEOWNERS",
        "renovate.json",
        "renovate.json5",
        ".renovaterc",
        ".renovaterc.json",
        ".pre-commit-config.yaml",
    ]
)


class ServiceFiles:
    """The files one service sees: visible path (what globs match) -> repo path."""

    __slots__ = ("_listing", "visible")

    def __init__(self, visible: dict[str, str]) -> None:
        self.visible = visible
        self._listing: Listing | None = None

    def match(self, matcher: GlobSet) -> list[str]:
        """Repo paths of visible files the matcher accepts, sorted by visible path."""
        if self._listing is None:
            self._listing = Listing(sorted(self.visible))
        return [self.visible[v] for v in matcher.select(self._listing)]


class Discovery(msgspec.Struct):
    services: list[Service] = field(default_factory=list)
    # Service name -> the located reason its descriptor could not be read.
    broken: dict[str, ConfigError | ParseError] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)


def _folder(path: str) -> str:
    folder = posixpath.dirname(path)
    return "" if folder == "." else folder


def _fallback_name(root: str, repo_name: str) -> str:
    return posixpath.basename(root) if root else repo_name


def discover(view: RepoView, repo_name: str) -> Discovery:
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in view.files():
        if descriptors.format_of(path):
            by_folder[_folder(path)].append(path)
    found = Discovery()
    for root in sorted(by_folder):
        candidates = sorted(
            by_folder[root],
            key=lambda p: descriptors.PRIORITY.index(descriptors.format_of(p) or ""),
        )
        chosen, shadowed = candidates[0], candidates[1:]
        for other in shadowed:
            found.notes.append(
                Note(other, f"ignored: {posixpath.basename(chosen)} in the same folder wins")
            )
        _read_descriptor(view, chosen, root, repo_name, found)
    if not by_folder:
        found.services.append(Service(name=repo_name, root=""))
    _drop_duplicates(found)
    found.services.sort(key=lambda s: (s.root, s.name))
    return found


def _read_descriptor(
    view: RepoView, path: str, root: str, repo_name: str, found: Discovery
) -> None:
    fmt = descriptors.format_of(path) or ""
    try:
        docs = load_documents(view.read_text(path), path)
        services = descriptors.reader(fmt)(docs, path, root)
    except (ConfigError, ParseError) as exc:
        broken = Service(
            name=_fallback_name(root, repo_name), root=root, descriptor=path, descriptor_format=fmt
        )
        found.services.append(broken)
        found.broken[broken.name] = exc
        return
    except Unreadable as exc:
        found.notes.append(Note(path, f"descriptor not read: {exc.reason}", kind="error"))
        return
    if not services:
        found.notes.append(Note(path, "no service declared in this descriptor"))
    found.services.extend(services)


def _drop_duplicates(found: Discovery) -> None:
    seen: dict[str, Service] = {}
    kept: list[Service] = []
    for service in found.services:
        first = seen.get(service.name)
        if first is None:
            seen[service.name] = service
            kept.append(service)
            continue
        found.notes.append(
            Note(
                service.descriptor or service.root,
                f"service name {service.name!r} is already declared in {first.descriptor}; ignored",
                line=service.field_lines.get("name", 1),
                kind="error",
            )
        )
    found.services = kept


def assign_files(services: Sequence[Service], files: Sequence[str]) -> dict[str, ServiceFiles]:
    """Service root -> the files that service sees.

    A file belongs to the service with the deepest root above it; a service rooted in a
    sub-folder also sees the repository-wide files under their repo-relative paths
    (its own file of the same name wins).
    """
    roots = {s.root for s in services}
    own: dict[str, dict[str, str]] = {root: {} for root in roots}
    for path in files:
        folder = path
        while True:
            folder = posixpath.dirname(folder)
            if folder in roots:
                own[folder][path[len(folder) + 1 :] if folder else path] = path
                break
            if not folder:
                break
    shared = REPO_WIDE.select(Listing(files))
    for root, visible in own.items():
        if root:
            for path in shared:
                visible.setdefault(path, path)
    return {root: ServiceFiles(visible) for root, visible in own.items()}


def anchor_for(service: Service, own: ServiceFiles) -> Location | None:
    """Where a service-level finding points: its descriptor, README, or first file."""
    if service.descriptor:
        return Location(service.descriptor, 1, whole_file=True)
    readmes = [v for v in sorted(own.visible) if v.lower().startswith("readme")]
    pick = readmes[0] if readmes else (min(own.visible) if own.visible else None)
    return Location(own.visible[pick], 1, whole_file=True) if pick is not None else None


def broken_location(exc: ConfigError | ParseError, fallback: str) -> Location:
    where = exc.where or Located(fallback)
    return Location(where.file, max(where.line, 1))
