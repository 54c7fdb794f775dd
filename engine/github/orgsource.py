"""The org scan's GitHub source: an organization's repositories, one tarball each.

Requests per scan: one for the organization, one per 100 repositories listed, one per
repository to resolve its default branch's HEAD (`GET /repos/{o}/{r}/branches/{b}`), and
for a repository whose HEAD is new to the store one archive link
(`GET /repos/{o}/{r}/tarball/{sha}`, a 302) plus the download of that exact commit from
the codeload host. Every request goes through one `ratelimit.Scheduler`, which owns
concurrency, spacing, rate-limit waits and retries.

Requests are made with PyGithub's Requester (its authentication, base URL for GitHub
Enterprise and error types) rather than its object model, because the scheduler needs
each response's headers and the listing must never trigger PyGithub's lazy "complete
the object" requests behind the scheduler's back. PyGithub's connection object keeps
the request being made in its own attributes, so one client is not safe to share
between threads: each thread gets its own client.

API responses are untrusted input: repository names, branch names and commit ids are
checked before they are put in a URL, and an archive is read as a bounded stream
(see tarball.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import requests
from github import GithubException
from github.Requester import Requester

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.github import client
from opsgrade.engine.github.ratelimit import DEFAULT_REQUESTS_PER_MINUTE, Failure, Scheduler
from opsgrade.engine.github.tarball import ArchiveError, Limits, extract
from opsgrade.engine.globs import GlobError, GlobSet
from opsgrade.engine.org.sources import FetchError, RepoRef, SourceExhausted

RATE_VARIABLE = "OPSGRADE_GITHUB_REQUESTS_PER_MINUTE"
PER_PAGE = 100
MAX_PAGES = 2_000  # 200,000 repositories: far past any organization, but not endless
UNPACKED_RATIO = 5  # uncompressed bytes allowed per archive byte allowed
DOWNLOAD_TIMEOUT_S = 300.0  # a whole archive download, however slowly it trickles in
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class _Listed(msgspec.Struct, frozen=True):
    name: str
    default_branch: str
    url: str | None


class _Client(msgspec.Struct, frozen=True):
    requester: Requester
    session: requests.Session


class _DownloadFailed(Exception):
    """The archive host refused or could not be reached, as a Failure the scheduler can
    judge. The message never holds the address: GitHub's archive links for private
    repositories carry a token in their query string."""

    def __init__(self, status: int, headers: Mapping[str, str], what: str = "") -> None:
        super().__init__(f"archive download failed: {what or f'HTTP {status}'}")
        self.status = status
        self.headers = headers


def _classify(exc: BaseException) -> Failure | None:
    """The HTTP meaning of a request's exception, for the scheduler's retry decision."""
    if isinstance(exc, GithubException):
        data: Any = exc.data
        message = str(data.get("message") or "") if isinstance(data, dict) else str(data or "")
        headers = {str(k): str(v) for k, v in (exc.headers or {}).items()}
        return Failure(status=exc.status or 0, headers=headers, message=message)
    if isinstance(exc, _DownloadFailed):
        return Failure(status=exc.status, headers=exc.headers, message=str(exc))
    if isinstance(exc, requests.RequestException):
        return Failure(status=0, message=str(exc))
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _DownloadFailed | ArchiveError):
        return str(exc)
    return client.describe_error(exc)


def _requests_per_minute(value: float | None) -> float:
    if value is not None:
        return value
    raw = os.environ.get(RATE_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_REQUESTS_PER_MINUTE
    try:
        rate = float(raw)
    except ValueError:
        rate = 0.0
    if not 0 < rate <= 1_000_000:
        raise ConfigError(f"{RATE_VARIABLE} must be a positive number, not {raw!r}")
    return rate


def _web_url(value: Any) -> str | None:
    """The repository's page for the report's links: only an http(s) address is kept."""
    if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) < 2048:
        return value
    return None


def _next_page(headers: Mapping[str, Any]) -> bool:
    link = str(headers.get("link") or headers.get("Link") or "")
    return 'rel="next"' in link


class _Limited:
    """The download as a stream, failing past `limit` bytes or after `deadline`."""

    def __init__(self, response: requests.Response, limit: int, deadline: float) -> None:
        self._chunks = response.iter_content(64 * 1024)
        self._buffer = b""
        self._limit = limit
        self._deadline = deadline
        self.received = 0

    def read(self, size: int = -1) -> bytes:
        while not self._buffer:
            if time.monotonic() > self._deadline:
                raise ArchiveError(f"archive download took over {DOWNLOAD_TIMEOUT_S:.0f}s")
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return b""
            except requests.RequestException as exc:
                raise ArchiveError(f"truncated archive ({type(exc).__name__})") from None
            self.received += len(chunk)
            if self.received > self._limit:
                raise ArchiveError(f"archive larger than {self._limit / 2**20:g} MB")
            self._buffer = chunk
        size = len(self._buffer) if size < 0 else size
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class GitHubOrgSource:
    """A RepoSource over one GitHub organization; safe to call from several threads."""

    def __init__(
        self,
        org: str,
        *,
        token: str | None,
        base_url: str | None = None,
        include_archived: bool = False,
        include_forks: bool = False,
        topics: Sequence[str] = (),
        name_globs: Sequence[str] = (),
        max_archive_bytes: int = 200 * 2**20,
        max_wait_s: float = 600.0,
        concurrency: int = 4,
        requests_per_minute: float | None = None,
    ) -> None:
        if not _NAME.fullmatch(org):
            raise ConfigError(f"not a GitHub organization name: {org!r}")
        if concurrency < 1 or max_archive_bytes < 1 or max_wait_s < 0:
            raise ConfigError("concurrency and the archive bound must be positive")
        try:
            self._globs = GlobSet(list(name_globs)) if name_globs else None
        except GlobError as exc:
            raise ConfigError(f"repository name glob: {exc}") from None
        self.org = org
        self._token = token
        self._base_url = base_url
        self._include_archived = include_archived
        self._include_forks = include_forks
        self._topics = frozenset(t.lower() for t in topics)
        self._max_archive = max_archive_bytes
        self._limits = Limits(max_total_bytes=max_archive_bytes * UNPACKED_RATIO)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._listed: dict[str, _Listed] = {}
        self._resolved = 0
        self.scheduler = Scheduler(
            concurrency=concurrency,
            max_wait_s=max_wait_s,
            requests_per_minute=_requests_per_minute(requests_per_minute),
            classify=_classify,
            progress=self._progress,
        )

    @property
    def label(self) -> str:
        return f"github:{self.org}"

    @property
    def notes(self) -> tuple[str, ...]:
        """What the scan's summary says about the API traffic."""
        s = self.scheduler
        return (
            f"GitHub: {s.requests} requests, {s.retries} retried, "
            f"{s.secondary_hits} secondary-limit answers, {s.waited_s:.0f}s waited for limits",
        )

    # -- plumbing ----------------------------------------------------------------------
    def _client(self) -> _Client:
        """This thread's PyGithub requester and download session (see the module doc).

        connect() decides the settings (token, base URL, user agent, timeout, page size);
        its Requester is re-made with `retry=0`, because even with no retries left
        PyGithub's GithubRetry reads a 403's body to classify it, and the error that
        reaches us then has lost GitHub's message ("secondary rate limit").
        """
        mine: _Client | None = getattr(self._local, "client", None)
        if mine is None:
            settings = client.connect(self._token, base_url=self._base_url).requester.kwargs
            mine = _Client(Requester(**{**settings, "retry": 0}), requests.Session())
            self._local.client = mine
        return mine

    def _get(self, path: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        """One scheduled API GET: (headers, JSON). Raises GithubException or SourceExhausted."""
        requester = self._client().requester

        def request() -> tuple[dict[str, Any], Any]:
            return requester.requestJsonAndCheck("GET", path, parameters=params)

        headers, data = self.scheduler.call(request)
        self.scheduler.observe(headers)
        return headers, data

    def _progress(self) -> str:
        with self._lock:
            done, total = self._resolved, len(self._listed)
        return f"stopping after {done} of {total} repositories" if total else ""

    # -- listing -----------------------------------------------------------------------
    def list_repos(self) -> list[RepoRef]:
        """The organization's repositories after the filters, sorted by full name."""
        quoted = urllib.parse.quote(self.org, safe="")
        try:
            self._get(f"/orgs/{quoted}")
            found: dict[str, _Listed] = {}
            for page in range(1, MAX_PAGES + 1):
                params = {"type": "all", "per_page": PER_PAGE, "page": page}
                headers, data = self._get(f"/orgs/{quoted}/repos", params)
                for item in data if isinstance(data, list) else ():
                    listed = self._keep(item)
                    if listed is not None:
                        found[listed.name] = listed
                if not _next_page(headers) or not data:
                    break
        except GithubException as exc:
            self._listing_failed(exc)
        except requests.RequestException as exc:
            raise SourceExhausted(
                f"cannot list the repositories of {self.org}: {client.describe_error(exc)}"
            ) from None
        with self._lock:
            self._listed = dict(sorted(found.items()))
            return [RepoRef(name=r.name, url=r.url) for r in self._listed.values()]

    def _listing_failed(self, exc: GithubException) -> None:
        reason = client.describe_error(exc)
        if exc.status in (401, 403, 404):
            if exc.status == 404:
                reason = f"GitHub organization {self.org!r} not found ({reason})"
            raise ConfigError(reason) from None
        raise SourceExhausted(f"cannot list the repositories of {self.org}: {reason}") from None

    def _keep(self, item: Any) -> _Listed | None:
        """The listed repository when it is well-formed and passes the filters."""
        if not isinstance(item, dict):
            return None
        full_name, branch = item.get("full_name"), item.get("default_branch")
        if not isinstance(full_name, str) or not isinstance(branch, str):
            return None
        owner, _, name = full_name.partition("/")
        if owner.lower() != self.org.lower() or not _NAME.fullmatch(name) or name in {".", ".."}:
            return None
        if item.get("archived") and not self._include_archived:
            return None
        if item.get("fork") and not self._include_forks:
            return None
        if self._topics:
            topics = item.get("topics")
            names = (
                {t.lower() for t in topics if isinstance(t, str)}
                if isinstance(topics, list)
                else set()
            )
            if not names & self._topics:
                return None
        if self._globs is not None and not (
            self._globs.match(full_name) or self._globs.match(name)
        ):
            return None
        return _Listed(full_name, branch, _web_url(item.get("html_url")))

    # -- resolve -----------------------------------------------------------------------
    def _listing_of(self, name: str) -> _Listed:
        with self._lock:
            listed = self._listed.get(name)
        if listed is not None:
            return listed
        owner, _, repo = name.partition("/")
        if not (_NAME.fullmatch(owner) and _NAME.fullmatch(repo)):
            raise FetchError(f"not a GitHub repository name: {name!r}")
        try:
            _, data = self._get(f"/repos/{owner}/{repo}")
        except GithubException as exc:
            raise FetchError(client.describe_error(exc)) from None
        found = self._keep(data) if isinstance(data, dict) else None
        branch = data.get("default_branch") if isinstance(data, dict) else None
        if not isinstance(branch, str):
            raise FetchError(f"{name}: GitHub gave no default branch")
        return found or _Listed(name, branch, _web_url(data.get("html_url")))

    def resolve(self, ref: RepoRef) -> RepoRef:
        """`ref` with the default branch's HEAD commit: one request."""
        listed = self._listing_of(ref.name)
        branch = urllib.parse.quote(listed.default_branch, safe="/")
        if not listed.default_branch or any(ord(c) < 32 for c in listed.default_branch):
            raise FetchError(f"{ref.name}: unusable default branch name")
        try:
            _, data = self._get(f"/repos/{listed.name}/branches/{branch}")
        except (GithubException, requests.RequestException) as exc:
            raise FetchError(_describe(exc)) from None
        commit = data.get("commit") if isinstance(data, dict) else None
        sha = commit.get("sha") if isinstance(commit, dict) else None
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise FetchError(f"{ref.name}: GitHub gave no commit id for {listed.default_branch!r}")
        with self._lock:
            self._resolved += 1
        return msgspec.structs.replace(ref, revision=sha, url=ref.url or listed.url)

    # -- checkout ----------------------------------------------------------------------
    @contextlib.contextmanager
    def checkout(self, ref: RepoRef) -> Iterator[Path]:
        """The repository's files at `ref.revision` (resolved first when unknown)."""
        if ref.revision is None:
            ref = self.resolve(ref)
        sha = ref.revision or ""
        if not _SHA.fullmatch(sha):
            raise FetchError(f"{ref.name}: not a commit id: {sha!r}")
        owner, _, repo = ref.name.partition("/")
        if not (_NAME.fullmatch(owner) and _NAME.fullmatch(repo)):
            raise FetchError(f"not a GitHub repository name: {ref.name!r}")
        folder = Path(tempfile.mkdtemp(prefix="opsgrade-gh-"))
        try:
            root = self._fetch(f"/repos/{owner}/{repo}/tarball/{sha}", folder / "x")
            yield root
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _fetch(self, path: str, dest: Path) -> Path:
        try:
            headers, _ = self._get(path)
            location = str(headers.get("location") or "")
            if not location.startswith(("https://", "http://")):
                raise FetchError("GitHub gave no archive address")
            dest.mkdir()
            return self.scheduler.call(lambda: self._download(location, dest), quota=False)
        except (GithubException, requests.RequestException, ArchiveError, _DownloadFailed) as exc:
            raise FetchError(_describe(exc)) from None
        except OSError as exc:
            raise FetchError(f"cannot extract the archive: {exc.strerror or exc}") from None

    def _download(self, location: str, dest: Path) -> Path:
        """Stream one archive into `dest` (emptied first, so a retry starts clean)."""
        for child in dest.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        session = self._client().session
        # No Authorization header: the archive host is another host, and GitHub's
        # redirect already carries a short-lived token for private repositories.
        try:
            resp = session.get(location, stream=True, timeout=(15, 60), allow_redirects=True)
        except requests.RequestException as exc:
            raise _DownloadFailed(0, {}, type(exc).__name__) from None
        with resp:
            if resp.status_code != 200:
                raise _DownloadFailed(resp.status_code, dict(resp.headers))
            size = resp.headers.get("Content-Length", "")
            if size.isdigit() and int(size) > self._max_archive:
                raise ArchiveError(f"archive larger than {self._max_archive / 2**20:g} MB")
            deadline = time.monotonic() + DOWNLOAD_TIMEOUT_S
            stream = _Limited(resp, self._max_archive, deadline)
            return extract(stream, dest, self._limits).root
