"""Where the org scan's repositories come from: a folder of clones, or a GitHub org.

A source lists repositories (cheaply, sorted by name), resolves each one's revision
(the commit that would be scanned; for GitHub the default branch's HEAD, so an
unchanged repository can reuse its stored result with no content request), and
checks a repository out to a local folder for the scan.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import msgspec

from opsgrade.engine.errors import OpsgradeError


class RepoRef(msgspec.Struct, frozen=True):
    name: str  # unique within the source: "org/repo", or the folder's name
    revision: str | None = None  # None until resolved, or when it cannot be known
    url: str | None = None  # a web address for the report's links


class FetchError(OpsgradeError):
    """One repository could not be listed, resolved or fetched: it is recorded as
    failed with this message, and the scan goes on."""


class SourceExhausted(OpsgradeError):
    """The source cannot go on (rate limit wait over its bound, API down for good):
    the scan stops, keeps what it has, and the run is marked incomplete."""


class RepoSource(Protocol):
    @property
    def label(self) -> str:
        """ "folder:PATH" or "github:ORG": recorded with the run."""
        ...

    def list_repos(self) -> Iterable[RepoRef]:
        """Every repository, sorted by name. May raise SourceExhausted."""
        ...

    def resolve(self, ref: RepoRef) -> RepoRef:
        """`ref` with its revision filled in when it can be known. May raise FetchError."""
        ...

    def checkout(self, ref: RepoRef) -> AbstractContextManager[Path]:
        """A local folder holding the repository's files at `ref.revision`, removed on
        exit when it was made for the scan. May raise FetchError."""
        ...
