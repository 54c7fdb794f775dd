"""The folder source: a folder whose immediate sub-folders are repositories (clones).

No network and no subprocess: a clone's revision is read from `.git/HEAD` and the refs
it names (loose or packed), which is enough to reuse an unchanged repository's record.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.org.sources import FetchError, RepoRef
from opsgrade.engine.repoview import is_text_name, shown_name

_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # SHA-1 or SHA-256 object names
_SMALL_FILE = 4096  # HEAD, a loose ref, a `.git` file: anything longer is not one
_MAX_PACKED_REFS = 64 * 2**20


class FolderSource:
    """Each immediate sub-folder holding a `.git` or any file is one repository named
    after the sub-folder. Hidden sub-folders (`.cache`, the folder's own `.git`) are not
    repositories; a symlinked sub-folder is followed only when it stays inside FOLDER."""

    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise ConfigError(f"not a directory: {path}")
        self.root = path.resolve()
        self.notes: list[str] = []  # what the listing skipped, for the CLI to show

    @property
    def label(self) -> str:
        return f"folder:{self.root}"

    def list_repos(self) -> Iterator[RepoRef]:
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except OSError as exc:
            raise ConfigError(f"cannot list {self.root}: {exc.strerror}") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if not is_text_name(entry.name):
                # The name is the repository's name in the store and the JSON report,
                # which hold text: a name that is no text cannot be one.
                self.notes.append(f"{shown_name(entry.name)}: the name is not UTF-8; skipped")
                continue
            if entry.is_symlink() and not self._inside(entry.path):
                self.notes.append(f"{entry.name}: symlink points outside {self.root}; skipped")
                continue
            if not entry.is_dir():
                continue
            try:
                with os.scandir(entry.path) as it:
                    empty = next(it, None) is None
            except OSError as exc:
                self.notes.append(f"{entry.name}: cannot list ({exc.strerror}); skipped")
                continue
            if not empty:
                yield RepoRef(entry.name)

    def resolve(self, ref: RepoRef) -> RepoRef:
        return RepoRef(ref.name, head_revision(self.root / ref.name), ref.url)

    @contextlib.contextmanager
    def checkout(self, ref: RepoRef) -> Iterator[Path]:
        folder = self.root / ref.name
        if not folder.is_dir():
            raise FetchError(f"{ref.name}: the folder is gone")
        yield folder  # scanned in place, never removed

    def _inside(self, path: str) -> bool:
        target = os.path.realpath(path)
        return target.startswith(str(self.root) + os.sep)


def head_revision(repo: Path) -> str | None:
    """The commit a clone's HEAD names, or None (no clone, unborn branch, unreadable)."""
    git_dir = _git_dir(repo)
    if git_dir is None:
        return None
    head = _read_small(git_dir / "HEAD")
    if head is None:
        return None
    if _SHA.fullmatch(head):
        return head  # detached HEAD
    if not head.startswith("ref: "):
        return None
    ref = head[5:].strip()
    if not ref.startswith("refs/") or ".." in ref:
        return None
    # A linked worktree keeps its HEAD apart but shares refs with the main clone.
    common = _read_small(git_dir / "commondir")
    ref_dirs = [git_dir] + ([(git_dir / common).resolve()] if common else [])
    for ref_dir in ref_dirs:
        loose = _read_small(ref_dir / ref)
        if loose is not None and _SHA.fullmatch(loose):
            return loose
        packed = _packed_ref(ref_dir / "packed-refs", ref)
        if packed is not None:
            return packed
    return None


def _git_dir(repo: Path) -> Path | None:
    dot_git = repo / ".git"
    if dot_git.is_dir():
        return dot_git
    # A submodule or worktree checkout: `.git` is a file saying where the git dir is.
    text = _read_small(dot_git)
    if text is None or not text.startswith("gitdir: "):
        return None
    git_dir = (repo / text[8:].strip()).resolve()
    return git_dir if git_dir.is_dir() else None


def _read_small(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            data = fh.read(_SMALL_FILE + 1)
    except OSError:
        return None
    if len(data) > _SMALL_FILE:
        return None
    return data.decode("utf-8", "replace").strip()


def _packed_ref(path: Path, ref: str) -> str | None:
    """The object `ref` names in a packed-refs file: `SHA REF` lines, `^` peel lines."""
    try:
        if path.stat().st_size > _MAX_PACKED_REFS:
            return None
        with path.open("rb") as fh:
            suffix = b" " + ref.encode()
            for line in fh:
                line = line.rstrip(b"\r\n")
                if line.endswith(suffix):
                    sha = line[: -len(suffix)].decode("ascii", "replace")
                    return sha if _SHA.fullmatch(sha) else None
    except OSError:
        return None
    return None
