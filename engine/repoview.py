"""RepoView: the only way the engine reads a repository.

Paths are repo-relative POSIX strings. A view never follows a symlink out of its root,
skips binary and oversized files when asked for text, and decodes text tolerantly.
The same interface covers a working tree and a git revision (read through
`git ls-tree` / `git cat-file`, without touching the work tree or HEAD).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from subprocess import Popen

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import Note

DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024
MAX_FILES = 200_000
BINARY_SNIFF = 8192

# Folders that hold dependencies or caches, never a service's own files.
PRUNED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".terraform",
    }
)


class Unreadable(Exception):
    """The file exists but its text is not available (binary, too large, gone)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class RepoView(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def revision(self) -> str | None: ...

    def files(self) -> Sequence[str]:
        """Every file, sorted, repo-relative."""
        ...

    def read_text(self, path: str) -> str:
        """The decoded text of `path`; raises Unreadable for binary or oversized files."""
        ...

    def notes(self) -> Sequence[Note]:
        """What the view skipped and why, in a stable order."""
        ...

    def limit_file_size(self, max_bytes: int) -> None:
        """Change the bound above which a file's text is not read."""
        ...


def in_pruned_dir(rel: str) -> bool:
    """Whether a repo-relative path lies inside a folder the listing skips."""
    return any(part in PRUNED_DIRS for part in rel.split("/")[:-1])


def decode_text(data: bytes) -> str:
    """Decode bytes as text whatever the editor did: BOMs, CRLF, invalid UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        text = data.decode("utf-8", errors="replace")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        text = data.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def is_text_name(name: str) -> bool:
    """False for a file name that is not UTF-8 (its bytes kept as lone surrogates): every
    output (JSON, SARIF, fingerprints) holds paths as UTF-8 text, so such a file is skipped."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(name: str) -> str:
    """A non-UTF-8 name made printable for a note: its bad bytes as `\\xff`."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def looks_binary(data: bytes) -> bool:
    head = data[:BINARY_SNIFF]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    return b"\x00" in head


class _BaseView:
    def __init__(self, name: str, max_file_size: int) -> None:
        self._name = name
        self._max = max_file_size
        self._notes: dict[str, Note] = {}
        self._text: dict[str, str] = {}
        self._sizes: dict[str, int] = {}

    @property
    def name(self) -> str:
        return self._name

    def files(self) -> Sequence[str]:
        return sorted(self._sizes)

    def notes(self) -> Sequence[Note]:
        return [self._notes[k] for k in sorted(self._notes)]

    def limit_file_size(self, max_bytes: int) -> None:
        self._max = max_bytes

    def _note(self, path: str, message: str) -> None:
        self._notes.setdefault(path, Note(path=path, message=message))

    def read_text(self, path: str) -> str:
        cached = self._text.get(path)
        if cached is not None:
            return cached
        size = self._sizes.get(path)
        if size is None:
            raise Unreadable(path, "not in the repository")
        if size > self._max:
            reason = f"larger than {self._max} bytes ({size}); not read"
            self._note(path, reason)
            raise Unreadable(path, reason)
        try:
            data = self._read_bytes(path)
        except Unreadable as exc:
            self._note(path, f"{exc.reason}; not read")
            raise
        if len(data) > self._max:
            # The file grew past the bound after it was listed: refuse it, never truncate.
            reason = f"larger than {self._max} bytes; not read"
            self._note(path, reason)
            raise Unreadable(path, reason)
        if looks_binary(data):
            self._note(path, "binary file; not read")
            raise Unreadable(path, "binary file")
        text = decode_text(data)
        self._text[path] = text
        return text

    def _read_bytes(self, path: str) -> bytes:
        raise NotImplementedError


class WorkTreeView(_BaseView):
    """A folder on disk. Symlinks are listed only when they resolve inside the root."""

    def __init__(self, root: Path, max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> None:
        if not root.is_dir():
            raise ConfigError(f"not a directory: {root}")
        self.root = root.resolve()
        super().__init__(self.root.name, max_file_size)
        # Link path -> resolved in-root target, read instead of the link itself.
        self._targets: dict[str, str] = {}
        self._walk()

    @property
    def revision(self) -> str | None:
        return None

    def _walk(self) -> None:
        root = str(self.root)
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            abs_dir = os.path.join(root, rel_dir) if rel_dir else root
            try:
                entries = list(os.scandir(abs_dir))
            except OSError as exc:
                self._note(rel_dir or ".", f"cannot list folder: {exc.strerror}")
                continue
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if not is_text_name(rel):
                    self._note(shown_name(rel), "the name is not UTF-8; skipped")
                    continue
                if entry.is_symlink():
                    self._add_symlink(entry, rel)
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name not in PRUNED_DIRS:
                        stack.append(rel)
                elif entry.is_file(follow_symlinks=False):
                    self._add(rel, entry.stat(follow_symlinks=False).st_size)
                if len(self._sizes) >= MAX_FILES:
                    self._note(".", f"more than {MAX_FILES} files; the rest were not listed")
                    return

    def _add(self, rel: str, size: int) -> None:
        self._sizes[rel] = size

    def _add_symlink(self, entry: os.DirEntry[str], rel: str) -> None:
        target = os.path.realpath(entry.path)
        inside = target == str(self.root) or target.startswith(str(self.root) + os.sep)
        if not inside:
            self._note(rel, "symlink points outside the repository; not followed")
            return
        if in_pruned_dir(os.path.relpath(target, self.root).replace(os.sep, "/")):
            # Never a way into .git (a CI checkout keeps its token in .git/config), nor
            # into folders the listing skips, so both views list the same files.
            self._note(rel, "symlink points into a skipped folder; not followed")
            return
        if os.path.isfile(target):
            # Read through the resolved target so a later swap of the link cannot escape.
            self._targets[rel] = target
            self._add(rel, os.stat(target).st_size)
        # Symlinked folders are not followed: their files are listed at their real place.

    def _read_bytes(self, path: str) -> bytes:
        target = self._targets.get(path)
        abs_path = target or os.path.join(self.root, path)
        # O_NOFOLLOW: a file (or an in-root link's resolved target) swapped for a link after
        # listing is not followed. The target is a realpath, so its last part is no link.
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(abs_path, flags)
        except OSError as exc:
            raise Unreadable(path, f"cannot open: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as fh:
            # Read the listed size, not the bound: `read(n)` allocates n bytes up front,
            # and 5 MiB per small file doubled the cost of reading a source tree.
            listed = min(self._sizes.get(path, self._max), self._max)
            data = fh.read(listed + 1)
            if len(data) > listed:  # it grew since listing: read on, up to the bound
                data += fh.read(self._max + 1 - len(data))
            return data


class GitRevisionView(_BaseView):
    """A revision of a git repository, read from the object store."""

    def __init__(self, path: Path, rev: str, max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> None:
        if not path.is_dir():
            raise ConfigError(f"not a directory: {path}")
        self._cwd = path.resolve()
        top = self._git("rev-parse", "--show-toplevel").strip()
        self._prefix = self._git("rev-parse", "--show-prefix").strip()
        try:
            self._commit = self._git(
                "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"
            ).strip()
        except ConfigError:
            raise ConfigError(f"unknown revision {rev!r} in {path}") from None
        name = Path(top).name if not self._prefix else Path(self._prefix.rstrip("/")).name
        super().__init__(name, max_file_size)
        self._rev = rev
        self._oids: dict[str, str] = {}
        self._batch: Popen[bytes] | None = None
        self._list()

    @property
    def revision(self) -> str | None:
        return self._commit

    def _git(self, *args: str) -> str:
        import subprocess

        proc = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=self._cwd,
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            msg = proc.stderr.decode(errors="replace").strip() or f"git {args[0]} failed"
            raise ConfigError(msg)
        return proc.stdout.decode("utf-8", errors="surrogateescape")

    def _list(self) -> None:
        out = self._git(
            "ls-tree", "-r", "-l", "-z", "--full-tree", self._commit, "--", self._prefix or "."
        )
        links: list[tuple[str, str]] = []
        for record in out.split("\0"):
            if not record:
                continue
            meta, _, full = record.partition("\t")
            mode, kind, oid, size = meta.split()
            if self._prefix and not full.startswith(self._prefix):
                continue
            rel = full[len(self._prefix) :]
            if not is_text_name(rel):
                self._note(shown_name(rel), "the name is not UTF-8; skipped")
                continue
            if kind != "blob":
                continue  # submodules are other repositories
            if in_pruned_dir(rel):
                continue  # skipped like the work tree skips them (a committed node_modules)
            if mode == "120000":
                links.append((rel, oid))
                continue
            self._oids[rel] = oid
            self._sizes[rel] = int(size)
            if len(self._sizes) >= MAX_FILES:
                self._note(".", f"more than {MAX_FILES} files; the rest were not listed")
                break
        for rel, oid in links:
            target = self._cat(oid).decode("utf-8", errors="replace")
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
            if target.startswith("/") or resolved.startswith("../") or resolved == "..":
                self._note(rel, "symlink points outside the repository; not followed")
            elif in_pruned_dir(resolved):
                self._note(rel, "symlink points into a skipped folder; not followed")
            elif resolved in self._oids:
                self._oids[rel] = self._oids[resolved]
                self._sizes[rel] = self._sizes[resolved]

    def _cat(self, oid: str) -> bytes:
        import subprocess

        if self._batch is None:
            self._batch = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self._cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        stdin: IO[bytes] | None = self._batch.stdin
        stdout: IO[bytes] | None = self._batch.stdout
        assert stdin is not None and stdout is not None
        stdin.write(oid.encode() + b"\n")
        stdin.flush()
        header = stdout.readline().split()
        if len(header) != 3:
            raise Unreadable(oid, "missing object")
        size = int(header[2])
        data = stdout.read(size)
        stdout.read(1)
        return data

    def _read_bytes(self, path: str) -> bytes:
        return self._cat(self._oids[path])

    def close(self) -> None:
        if self._batch is not None:
            if self._batch.stdin:
                self._batch.stdin.close()
            self._batch.wait()
            self._batch = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()


def open_view(
    path: Path, rev: str | None = None, max_file_size: int = DEFAULT_MAX_FILE_SIZE
) -> RepoView:
    if rev is None:
        return WorkTreeView(path, max_file_size)
    return GitRevisionView(path, rev, max_file_size)


def under(paths: Iterable[str], folder: str) -> list[str]:
    """The paths inside `folder` ("" is the root), relative to it."""
    if not folder:
        return list(paths)
    prefix = folder.rstrip("/") + "/"
    return [p[len(prefix) :] for p in paths if p.startswith(prefix)]
