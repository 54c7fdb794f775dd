"""engine/github/client.py: connect, token_from_env, describe_error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import github
import pytest
import requests
from ghserver import FakeGitHub
from github import GithubException
from github.GithubException import RateLimitExceededExceedsMaxWait

from opsgrade.engine import __version__
from opsgrade.engine.errors import ConfigError
from opsgrade.engine.github.client import (
    DEFAULT_API_URL,
    BoundedRetry,
    connect,
    describe_error,
    token_from_env,
)

PAYMENTS = Path(__file__).resolve().parents[1] / "fixtures" / "repos" / "payments" / "repo"


def _private(requester: object, name: str) -> object:
    """PyGithub keeps its settings name-mangled; reading them checks what connect() wired."""
    return getattr(requester, f"_Requester__{name}")


def test_connect_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    g = connect("t")
    requester = g.requester
    assert requester.base_url == DEFAULT_API_URL
    assert requester.per_page == 100
    retry = _private(requester, "retry")
    assert isinstance(retry, BoundedRetry)
    assert retry.total == 3 and retry.max_rate_limit_wait == 60.0
    assert retry.secondary_rate_wait <= 60.0
    assert _private(requester, "seconds_between_requests") is None
    assert _private(requester, "seconds_between_writes") is None
    assert _private(requester, "userAgent") == f"opsgrade/{__version__}"


def test_connect_reads_ghe_url_from_env_and_sends_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeGitHub() as gh:
        gh.add_token("secret", "someone", user_type="User")
        monkeypatch.setenv("GITHUB_API_URL", gh.url + "/")
        g = connect("secret", user_agent="probe/1")
        assert g.get_user().login == "someone"
        assert gh.requests[-1].token == "secret"
        assert g.requester.base_url == gh.url
        before = len(gh.requests)
        issue = connect("secret", lazy=True).get_repo("acme/api").get_issue(1)
        assert len(gh.requests) == before  # lazy objects cost nothing until read
        with pytest.raises(github.UnknownObjectException):
            issue.get_comments().totalCount  # noqa: B018


def test_connect_wait_caps_apply_to_retry_after() -> None:
    g = connect(None, base_url="http://127.0.0.1:9", max_rate_limit_wait=5.0)
    retry = _private(g.requester, "retry")
    assert isinstance(retry, BoundedRetry)
    assert retry.secondary_rate_wait == 5.0
    with FakeGitHub() as gh:
        gh.add_repo("acme/api")
        gh.fail_next("GET", r"/repos/acme/api", 503, headers={"Retry-After": "3600"})
        with pytest.raises(RateLimitExceededExceedsMaxWait) as refused:
            connect(None, base_url=gh.url, max_rate_limit_wait=5.0).get_repo("acme/api")
        assert describe_error(refused.value) == (
            "GitHub API error 503: Server Error (needs a 3600s wait, over the allowed maximum)"
        )
        gh.fail_next("GET", r"/repos/acme/api", 503, headers={"Retry-After": "0"})
        assert connect(None, base_url=gh.url).get_repo("acme/api").name == "api"


@pytest.mark.parametrize("url", ["api.github.com", "ftp://x/api", "https://", "https://h/?q=1"])
def test_connect_rejects_a_bad_api_url(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("GITHUB_API_URL", url)
    with pytest.raises(ConfigError, match="not an http\\(s\\) URL") as bad:
        connect("t")
    assert bad.value.exit_code == 2


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GITHUB_TOKEN": "a", "INPUT_GITHUB_TOKEN": "b"}, "a"),
        ({"GITHUB_TOKEN": "  ", "INPUT_GITHUB_TOKEN": "b\n"}, "b"),
        ({"INPUT_GITHUB_TOKEN": ""}, None),
        ({}, None),
    ],
)
def test_token_from_env(env: dict[str, str], expected: str | None) -> None:
    assert token_from_env(env) == expected


def test_token_from_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("INPUT_GITHUB_TOKEN", "from-action")
    assert token_from_env() == "from-action"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (
            GithubException(404, {"message": "Not Found", "documentation_url": "https://d/x"}),
            "GitHub API error 404: Not Found (https://d/x)",
        ),
        (
            GithubException(502, "<html>\n bad gateway </html>"),
            "GitHub API error 502: <html> bad gateway </html>",
        ),
        (GithubException(500, None), "GitHub API error 500: GithubException"),
        (
            GithubException(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [
                        {"resource": "IssueComment", "code": "custom", "message": "Too long"},
                        {"resource": "IssueComment", "field": "body", "code": "missing_field"},
                        "odd",
                    ],
                },
            ),
            "GitHub API error 422: Validation Failed; Too long; IssueComment body missing_field",
        ),
        (GithubException(502, "x" * 5000), "GitHub API error 502: " + "x" * 299 + "…"),
        (
            RateLimitExceededExceedsMaxWait(
                403, {"message": "API rate limit exceeded"}, wait=120.4
            ),
            "GitHub API error 403: API rate limit exceeded"
            " (needs a 120s wait, over the allowed maximum)",
        ),
        (
            requests.ConnectionError("refused\nby peer"),
            "GitHub API unreachable (ConnectionError): refused by peer",
        ),
        (requests.Timeout(), "GitHub API unreachable (Timeout): Timeout"),
        (ValueError("odd"), "ValueError: odd"),
    ],
)
def test_describe_error(exc: BaseException, expected: str) -> None:
    assert describe_error(exc) == expected


def test_describe_error_real_unreachable_server() -> None:
    g = connect(None, base_url="http://127.0.0.1:9/api/v3", retries=0, timeout=2)
    with pytest.raises(requests.RequestException) as failed:
        g.get_repo("acme/api")
    assert describe_error(failed.value).startswith("GitHub API unreachable (ConnectionError):")


def test_scan_path_does_not_import_the_client() -> None:
    code = (
        "import sys\n"
        "from opsgrade.engine.cli import run\n"
        f"run(['scan', {str(PAYMENTS)!r}, '--format', 'json'])\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('github', 'requests')]\n"
        "print('loaded:', heavy, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert '"services"' in out.stdout  # the scan really ran
    assert out.stderr.strip().splitlines()[-1] == "loaded: []"
