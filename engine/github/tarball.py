"""Safe, bounded extraction of an untrusted `.tar.gz` (a repository archive from GitHub).

The archive comes from a repository's owner, so it is treated as hostile: it is read as
one stream (never buffered whole), decompressed here rather than by tarfile so that the
*uncompressed* byte count is bounded (a gzip bomb stops at the bound, skipped members
included), and only regular files and folders are written, each through explicit checks:

- a member whose path is absolute or climbs out with `..` makes the archive unsafe:
  GitHub never produces one, so the repository fails rather than being half-extracted;
- symbolic links, hard links, devices and FIFOs are skipped (a link could point out of
  the tree or at a file written later; the scan reads files, not links);
- a file over `max_file_bytes` is skipped (the engine would not read it anyway);
- more than `max_members` entries, or more than `max_total_bytes` uncompressed, fails.

Python's own `tarfile.data_filter` runs on every member as a second opinion, but the
checks above do not depend on it. Files are created with O_EXCL|O_NOFOLLOW and fixed
modes (0644/0755), so nothing in the archive chooses permissions or follows a link.
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import tarfile
import zlib
from pathlib import Path
from typing import Protocol

import msgspec

CHUNK = 64 * 1024
DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024  # the engine's RepoView reads nothing bigger
DEFAULT_MAX_MEMBERS = 200_000  # RepoView lists no more files than this
DEFAULT_MAX_TOTAL_BYTES = 1024 * 2**20


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ArchiveError(Exception):
    """The archive cannot be used: corrupt, truncated, unsafe or over a bound."""


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES  # uncompressed, tar headers included
    max_members: int = DEFAULT_MAX_MEMBERS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # bigger files are skipped, not fatal


class Extracted(msgspec.Struct, frozen=True, kw_only=True):
    root: Path  # the archive's single top folder, or the extraction folder itself
    files: int
    skipped: tuple[str, ...]  # "path: why", for the members left out on purpose


def _mb(n: int) -> str:
    return f"{n / 2**20:g} MB"


class _Gunzip(io.RawIOBase):
    """A gzip stream decompressed on read, counting (and bounding) the bytes it yields.

    `max_length` on every decompress call keeps one small compressed chunk from
    expanding into memory beyond CHUNK at a time.
    """

    def __init__(self, source: Readable, max_total: int) -> None:
        self._source = source
        self._max_total = max_total
        self._inflate = zlib.decompressobj(wbits=31)
        self._pending = b""  # compressed bytes not yet fed
        self._source_done = False
        self.total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _feed(self) -> bytes:
        if self._inflate.unconsumed_tail:
            return self._inflate.unconsumed_tail
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        if self._source_done:
            return b""
        data = self._source.read(CHUNK)
        if not data:
            self._source_done = True
        return data

    def _read(self, size: int) -> bytes:
        size = max(1, min(size, CHUNK))
        while True:
            if self._inflate.eof:
                # A gzip file may hold several members back to back (gzip(1) reads
                # them as one stream); tarfile stops at its end-of-archive blocks first.
                rest = self._inflate.unused_data
                if not rest and not self._source_done:
                    rest = self._source.read(CHUNK)
                    self._source_done = not rest
                if not rest:
                    return b""
                self._inflate = zlib.decompressobj(wbits=31)
                self._pending = rest
            data = self._feed()
            if not data:
                raise ArchiveError("truncated archive")
            try:
                out = self._inflate.decompress(data, size)
            except zlib.error as exc:
                raise ArchiveError(f"corrupt archive: {exc}") from None
            if out:
                self.total += len(out)
                if self.total > self._max_total:
                    raise ArchiveError(f"archive larger than {_mb(self._max_total)} uncompressed")
                return out


def _unsafe_reason(name: str) -> str | None:
    """Why a member's path may not be written at all, or None when it is a plain relative path."""
    if not name or "\x00" in name:
        return "empty or NUL in path"
    if name.startswith(("/", "\\")) or (os.name == "nt" and name[1:2] == ":"):
        return "absolute path"  # a drive letter only means one on Windows
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "path climbs out with '..'"
    return None


def _relative(name: str) -> str:
    """The member's path, normalized (no `.` or empty parts); "" for the root itself."""
    norm = posixpath.normpath(name)
    return "" if norm == "." else norm


def _second_opinion(member: tarfile.TarInfo, dest: Path) -> str | None:
    """What Python's 'data' filter objects to, as a reason, or None."""
    try:
        tarfile.data_filter(member, str(dest))
    except tarfile.FilterError as exc:
        return f"refused by tarfile's data filter ({type(exc).__name__})"
    return None


# The member's name cannot exist here (too long, a file where a folder must be, ...):
# the member is skipped; any other OSError (disk full) fails the archive.
_UNWRITABLE_NAME = frozenset(
    {errno.ENAMETOOLONG, errno.EINVAL, errno.EISDIR, errno.EEXIST, errno.ENOTDIR, errno.ELOOP}
)


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, rel: str) -> bool:
    """Copy one regular file's data; False when the name cannot exist on this system."""
    source = tar.extractfile(member)
    if source is None:
        return False
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and not target.is_symlink():
            target.unlink()  # a later entry of the same name wins, as with tar(1)
        fd = os.open(target, flags, 0o644)
    except OSError as exc:
        if exc.errno in _UNWRITABLE_NAME:
            return False
        raise ArchiveError(f"cannot extract {rel!r}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(CHUNK):
            out.write(chunk)
    return True


def _top_folder(dest: Path) -> Path:
    entries = list(dest.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return dest


def extract(source: Readable, dest: Path, limits: Limits | None = None) -> Extracted:
    """Extract the gzip tar read from `source` into the empty folder `dest`.

    Raises ArchiveError with a one-line reason; `dest` may then hold a partial tree,
    which the caller removes with the rest of its temporary folder.
    """
    limits = limits or Limits()
    dest = dest.resolve()
    stream = _Gunzip(source, limits.max_total_bytes)
    skipped: list[str] = []
    files = members = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                members += 1
                if members > limits.max_members:
                    raise ArchiveError(f"archive has more than {limits.max_members} entries")
                files += _extract_member(tar, member, dest, limits, skipped)
    except ArchiveError:
        raise
    except (tarfile.ReadError, EOFError) as exc:
        if "unexpected end" in str(exc) or isinstance(exc, EOFError):
            raise ArchiveError("truncated archive") from None
        raise ArchiveError(f"corrupt archive: {exc}") from None
    except tarfile.TarError as exc:
        raise ArchiveError(f"corrupt archive: {exc}") from None
    if members == 0:
        raise ArchiveError("corrupt archive: no entries")
    root = _top_folder(dest)
    prefix = f"{root.name}/" if root != dest else ""
    # Reported relative to the repository, as the scan's other notes are.
    notes = tuple(s.removeprefix(prefix) for s in skipped)
    return Extracted(root=root, files=files, skipped=notes)


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, limits: Limits, skipped: list[str]
) -> int:
    """Write one member when it is safe and wanted; return 1 for a file written."""
    name = member.name
    unsafe = _unsafe_reason(name)
    if unsafe:
        raise ArchiveError(f"unsafe archive: {name!r}: {unsafe}")
    rel = _relative(name)
    if not rel:
        return 0
    target = dest / rel
    if not (member.isfile() or member.isdir()):
        kind = "link" if (member.issym() or member.islnk()) else "special file"
        skipped.append(f"{rel}: {kind} skipped")
        return 0
    objection = _second_opinion(member, dest)
    if objection:
        raise ArchiveError(f"unsafe archive: {name!r}: {objection}")
    if member.isdir():
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError:
            skipped.append(f"{rel}: folder cannot be created here, skipped")
        return 0
    if member.size > limits.max_file_bytes:
        skipped.append(f"{rel}: larger than {_mb(limits.max_file_bytes)}, skipped")
        return 0
    if not _write_file(tar, member, target, rel):
        skipped.append(f"{rel}: cannot be created here, skipped")
        return 0
    return 1
