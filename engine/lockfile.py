"""`opsgrade.lock`: the exact packs a repository is graded with.

JSON at the repository root, written by `opsgrade packs update` and read by every scan.
It lists the packs asked for (the repo config's `packs`, or `--pack`) and every pack
they resolved to, `extends` included: its source, name, version, the SHA-256 of its
file, and for a git pack the commit. A scan with a lock reads git packs at the locked
commit (from the cache: no network, no git process) and refuses any pack whose file no
longer has the locked digest. It is read through the RepoView, so a pull request's gate
uses the lock of its base revision, like the rest of the gate's configuration.

JSON rather than YAML: a lock is written by a program and read on every scan, and
msgspec decodes and validates it in microseconds; sorted keys and one entry per line
keep its diffs reviewable.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from opsgrade.engine.errors import ConfigError, Located
from opsgrade.engine.repoview import RepoView, Unreadable

LOCK_NAME = "opsgrade.lock"
LOCK_VERSION = 1
UPDATE_HINT = "run `opsgrade packs update`"


class LockError(ConfigError):
    """The lock does not describe the packs at hand: reported as is, never re-located."""


PackKind = Literal["builtin", "entrypoint", "file", "repo", "git"]


class LockedPack(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One resolved pack. `source` is the pack's origin as results show it."""

    source: Annotated[str, Meta(min_length=1, max_length=2000)]
    kind: PackKind
    name: str
    version: str
    sha256: Annotated[str, Meta(pattern="^[0-9a-f]{64}$")]
    # A lock is repository content, so untrusted: the commit names a cache folder.
    commit: Annotated[str, Meta(pattern="^(?:[0-9a-f]{40})?$")] = ""


class Lock(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    lock_version: int
    packs: list[str]  # the packs asked for, in order
    resolved: list[LockedPack]  # every pack loaded, in load order

    def entry(self, source: str) -> LockedPack | None:
        return next((p for p in self.resolved if p.source == source), None)


def encode(lock: Lock) -> bytes:
    """Deterministic: the same packs give byte-identical files."""
    return msgspec.json.format(msgspec.json.encode(lock), indent=2) + b"\n"


def decode(data: bytes | str, where: str) -> Lock:
    try:
        version = msgspec.json.decode(data, type=dict[str, object]).get("lock_version")
    except msgspec.ValidationError:  # JSON, but not an object
        raise ConfigError(f"not a lock file; {UPDATE_HINT}", Located(where)) from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"not a valid lock file: {exc}; {UPDATE_HINT}", Located(where)) from None
    if version != LOCK_VERSION:
        raise ConfigError(
            f"lock_version {version!r} is not supported (this opsgrade reads {LOCK_VERSION}); "
            f"{UPDATE_HINT}",
            Located(where, 0, "lock_version"),
        )
    try:
        return msgspec.json.decode(data, type=Lock)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid lock file: {exc}; {UPDATE_HINT}", Located(where)) from None


def read_lock(view: RepoView) -> Lock | None:
    files = view.files()
    at = bisect.bisect_left(files, LOCK_NAME)  # sorted: no pass over a big repository
    if at == len(files) or files[at] != LOCK_NAME:
        return None
    try:
        text = view.read_text(LOCK_NAME)
    except Unreadable as exc:
        raise ConfigError(f"cannot read: {exc.reason}", Located(LOCK_NAME)) from None
    return decode(text, LOCK_NAME)


def write_lock(root: Path, lock: Lock) -> Path:
    """Write atomically, so a scan never reads half a lock."""
    path = root / LOCK_NAME
    staging = root / f".{LOCK_NAME}.tmp"
    try:
        staging.write_bytes(encode(lock))
        staging.replace(path)
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", Located(str(path))) from None
    return path
