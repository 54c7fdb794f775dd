"""The one place a PyGithub client is built, shared by the Action and the org scan.

Imported lazily by its callers: PyGithub (and requests) never load on the `opsgrade scan`
path. Retries are bounded so a run never sleeps longer than `max_rate_limit_wait` for a
rate limit, whether GitHub says so through `X-RateLimit-Reset` or `Retry-After`.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from types import TracebackType
from typing import Any

import github
import requests
import urllib3.exceptions
from github import Auth, GithubException, GithubRetry
from github.GithubException import RateLimitExceededExceedsMaxWait
from urllib3 import Retry
from urllib3.connectionpool import ConnectionPool
from urllib3.response import HTTPResponse

from opsgrade.engine import __version__
from opsgrade.engine.errors import ConfigError

DEFAULT_API_URL = "https://api.github.com"
TOKEN_VARIABLES = ("GITHUB_TOKEN", "INPUT_GITHUB_TOKEN")
MAX_ERROR_BODY = 64 * 1024  # GitHub's error bodies are a few hundred bytes
MAX_MESSAGE = 300


class BoundedRetry(GithubRetry):
    """GithubRetry whose `Retry-After` waits are capped like its rate-limit waits.

    urllib3 sleeps whatever `Retry-After` says (GitHub sends it with secondary limits, often
    60 s or more); past the cap we fail at once with a clear error instead of hanging.
    """

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: HTTPResponse | None = None,  # type: ignore[override]
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Retry:
        # Checked here rather than in sleep(): urllib3 drains the body before sleeping, and
        # the error should carry GitHub's message.
        wait = self.get_retry_after(response) if response is not None else None
        cap = self.max_rate_limit_wait
        if response is not None and wait is not None and cap is not None and wait > cap:
            body = _json_body(response) or {"message": f"Retry-After: {wait:g}"}
            headers = dict(response.headers)
            raise RateLimitExceededExceedsMaxWait(response.status, body, headers, wait=wait)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _json_body(response: HTTPResponse) -> dict[str, Any] | None:
    """GitHub's JSON error body, if any: ours to read since we fail now; bounded in size."""
    try:
        data = json.loads(response.read(MAX_ERROR_BODY, decode_content=True))
    except (ValueError, OSError, urllib3.exceptions.HTTPError):
        return None
    return data if isinstance(data, dict) else None


def connect(
    token: str | None,
    *,
    base_url: str | None = None,
    retries: int = 3,
    max_rate_limit_wait: float = 60.0,
    timeout: float = 15.0,
    user_agent: str = f"opsgrade/{__version__}",
    seconds_between_writes: float | None = None,
    lazy: bool = False,
) -> github.Github:
    """A `Github` client with bounded retries and no per-request throttling.

    PyGithub's defaults sleep 0.25 s before every request and 1 s before every write; that
    protects bulk writers, but opsgrade makes a handful of reads and at most a few writes
    per run, and the org scan schedules its own requests against the rate limits.
    `lazy=True` makes `get_repo()` and friends cost no request until an attribute is read.
    """
    retry = BoundedRetry(
        total=retries,
        backoff_factor=0.5,
        backoff_max=min(max_rate_limit_wait, 30.0),
        # Secondary limits: wait what GitHub asks (Retry-After) or a short default.
        secondary_rate_wait=min(max_rate_limit_wait, 60.0),
        max_rate_limit_wait=max_rate_limit_wait,
        raise_on_status=False,  # the last response reaches PyGithub, which raises its own error
    )
    return github.Github(
        auth=Auth.Token(token) if token else None,
        base_url=api_url(base_url),
        retry=retry,
        timeout=max(1, round(timeout)),
        user_agent=user_agent,
        per_page=100,
        seconds_between_requests=None,
        seconds_between_writes=seconds_between_writes,
        lazy=lazy,
    )


def api_url(base_url: str | None = None) -> str:
    """The API root: `base_url`, else GITHUB_API_URL (GitHub Enterprise), else github.com."""
    url = (base_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ConfigError(f"GitHub API URL is not an http(s) URL: {url!r} (see GITHUB_API_URL)")
    return url


def token_from_env(environ: dict[str, str] | None = None) -> str | None:
    """The token from GITHUB_TOKEN, else the Action input INPUT_GITHUB_TOKEN; blank is none."""
    env = os.environ if environ is None else environ
    for name in TOKEN_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def describe_error(exc: BaseException) -> str:
    """One line for a failed GitHub call: status, GitHub's message, its documentation link."""
    if isinstance(exc, GithubException):
        data: Any = exc.data
        message, docs = (str(data or ""), "")
        if isinstance(data, dict):
            message = str(data.get("message") or "")
            docs = str(data.get("documentation_url") or "")
            details = [_detail(e) for e in data.get("errors") or [] if isinstance(e, dict)]
            message += "".join(f"; {d}" for d in details if d)
        message = _one_line(message or exc.message or type(exc).__name__)
        text = f"GitHub API error {exc.status}: {message}" if exc.status else message
        if isinstance(exc, RateLimitExceededExceedsMaxWait) and exc.wait is not None:
            text += f" (needs a {exc.wait:.0f}s wait, over the allowed maximum)"
        return f"{text} ({_one_line(docs)})" if docs else text
    if isinstance(exc, requests.RequestException):
        kind = type(exc).__name__
        return f"GitHub API unreachable ({kind}): {_one_line(str(exc)) or kind}"
    return _one_line(f"{type(exc).__name__}: {exc}")


def _detail(error: dict[str, Any]) -> str:
    """One entry of a 422's `errors` list: its message, else what was wrong with what."""
    if error.get("message"):
        return str(error["message"])
    fields = [str(error[k]) for k in ("resource", "field", "code") if error.get(k)]
    return " ".join(fields)


def _one_line(text: str) -> str:
    """Whitespace folded, and bounded: an error page from a proxy can be any size."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
