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
from opsgrade.engine.globs import GlobSet
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


class ServiceFiles(msgspec.Struct, frozen=True):
    """The files one service sees: visible path (what globs match) -> repo path."""

    visible: dict[str, str]

    def match(self, matcher: GlobSet) -> list[str]:
        """Repo paths of visible files the matcher accepts, sorted by visible path."""
        return [self.visible[v] for v in sorted(self.visible) if matcher.match(v)]


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


def files_for(
    service: Service, all_services: Sequence[Service], files: Sequence[str]
) -> ServiceFiles:
    """Own files relative to the service root, plus repository-wide files as they are."""
    root = service.root
    nested = sorted(
        {s.root + "/" for s in all_services if s.root != root and _inside(s.root, root)}
    )
    prefix = root + "/" if root else ""
    visible: dict[str, str] = {}
    for path in files:
        if prefix and not path.startswith(prefix):
            continue
        if any(path.startswith(n) for n in nested):
            continue
        visible[path[len(prefix) :]] = path
    if root:
        for path in files:
            if REPO_WIDE.match(path) and path not in visible:
                visible[path] = path
    return ServiceFiles(visible)


def _inside(child: str, parent: str) -> bool:
    if not parent:
        return bool(child)
    return child.startswith(parent + "/")


def anchor_for(service: Service, own: ServiceFiles) -> Location | None:
    """Where a service-level finding points: its descriptor, README, or first file."""
    if service.descriptor:
        return Location(service.descriptor, 1)
    readmes = [v for v in sorted(own.visible) if v.lower().startswith("readme")]
    pick = readmes[0] if readmes else (min(own.visible) if own.visible else None)
    return Location(own.visible[pick], 1) if pick is not None else None


def broken_location(exc: ConfigError | ParseError, fallback: str) -> Location:
    where = exc.where or Located(fallback)
    return Location(where.file, max(where.line, 1))
