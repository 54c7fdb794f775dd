"""engine/github/event.py: the payload, the runner's files, workflow commands; and the
bounded waits of the comment's API calls (secondary and primary rate limits)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ghserver import FakeGitHub
from github import GithubException
from test_action import parse_outputs

from opsgrade.engine.github import comment, event
from opsgrade.engine.github.client import connect
from opsgrade.engine.github.event import ActionEnv, EventError, load_pull_request
from opsgrade.reporters.markdown import MARKER
from opsgrade.reporters.sarif import automation_id

BASE, HEAD = "a" * 40, "b" * 40


def write_event(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def pr_payload(**head: Any) -> dict[str, Any]:
    return {
        "number": 5,
        "pull_request": {
            "number": 5,
            "base": {"sha": BASE, "ref": "main", "repo": {"full_name": "acme/shop"}},
            "head": {"sha": HEAD, "ref": "f", "repo": {"full_name": "acme/shop"}, **head},
        },
    }


def test_pull_request_fields(tmp_path: Path) -> None:
    pr = load_pull_request(write_event(tmp_path, pr_payload()))
    assert (pr.number, pr.base_sha, pr.head_sha, pr.base_ref) == (5, BASE, HEAD, "main")
    assert not pr.from_fork
    fork = load_pull_request(write_event(tmp_path, pr_payload(repo={"full_name": "m/shop"})))
    assert fork.from_fork
    gone = load_pull_request(write_event(tmp_path, pr_payload(repo=None)))  # deleted fork
    assert gone.head_repo is None and gone.from_fork
    sha256 = load_pull_request(write_event(tmp_path, pr_payload(sha="c" * 64)))
    assert sha256.head_sha == "c" * 64


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "is not a pull_request payload"),
        ({"pull_request": None}, "is not a pull_request payload"),
        ({"pull_request": {"number": "5"}}, "Expected `int`"),
        (pr_payload(sha="B" * 40), "pull_request.head.sha is not a commit id"),
        (pr_payload(sha="-" + "a" * 39), "pull_request.head.sha is not a commit id"),
        ("\xff\xfe garbage", "is not a pull_request payload"),
    ],
)
def test_bad_payloads(tmp_path: Path, data: Any, message: str) -> None:
    with pytest.raises(EventError, match=message.replace("`", ".")):
        load_pull_request(write_event(tmp_path, data))


def test_missing_and_oversized_payloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EventError, match="GITHUB_EVENT_PATH is not set"):
        load_pull_request("")
    with pytest.raises(EventError, match="cannot read the event payload"):
        load_pull_request(str(tmp_path / "nope.json"))
    monkeypatch.setattr(event, "MAX_PAYLOAD_BYTES", 100)
    with pytest.raises(EventError, match="is over 100 bytes"):
        load_pull_request(write_event(tmp_path, pr_payload()))


def test_outputs_survive_any_value() -> None:
    values = {"a": "x", "b": "two\nlines\nghadelimiter_x", "c": "", "d": "=<<"}
    assert parse_outputs(event.output_lines(values)) == values


def test_workflow_command_is_one_inert_line() -> None:
    line = event.workflow_command("warning", "50% down\n::error::boom\r", title="a:b,c")
    assert line == "::warning title=a%3Ab%2Cc::50%25 down%0A::error::boom%0D"


def test_run_url_only_from_sane_values() -> None:
    env = ActionEnv(repository="acme/shop", run_id="12", server_url="https://ghe.example.com/")
    assert env.run_url() == "https://ghe.example.com/acme/shop/actions/runs/12"
    assert ActionEnv(repository="acme/shop", run_id="1)](x").run_url() is None
    assert (
        ActionEnv(repository="acme/shop", run_id="1", server_url="javascript:x").run_url() is None
    )
    assert ActionEnv(repository="a/b/c", run_id="1").run_url() is None


def test_append_file_is_quiet_without_a_file(tmp_path: Path) -> None:
    assert not event.append_file("", "x")
    assert not event.append_file(str(tmp_path / "missing" / "f"), "x")
    assert event.append_file(str(tmp_path / "f"), "x") and event.append_file(
        str(tmp_path / "f"), "y"
    )
    assert (tmp_path / "f").read_text() == "xy"


def test_sarif_category() -> None:
    from types import SimpleNamespace

    run: Any = SimpleNamespace(repository="shop")  # only `repository` is read
    assert automation_id(run) == "opsgrade/shop/"
    assert automation_id(run, " ") == "opsgrade/shop/"
    assert automation_id(run, "opsgrade/api") == "opsgrade/api/"
    assert automation_id(run, "opsgrade/api/") == "opsgrade/api/"
    assert automation_id(run, "x\n\x1b[31my") == "x \\x1b[31my/"  # inert text


# -- bounded waits --------------------------------------------------------------------------

REPO, PR, TOKEN = "acme/shop", 5, "ghs_t"
SECONDARY = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_token(TOKEN)
        server.add_repo(REPO)
        yield server


def upsert(gh: FakeGitHub) -> comment.CommentResult:
    client = connect(TOKEN, base_url=gh.url, retries=3, max_rate_limit_wait=5).withLazy(True)
    return comment.upsert(client, REPO, PR, f"{MARKER}\nbody\n", passed=False)


def test_a_short_secondary_limit_is_waited_out(gh: FakeGitHub) -> None:
    path = rf"/repos/acme/shop/issues/{PR}/comments"
    gh.fail_next("GET", path, 403, headers={"Retry-After": "1"}, body=SECONDARY)
    assert upsert(gh).action == "created"
    assert gh.count("GET", path) == 2


def test_a_long_secondary_limit_fails_at_once(gh: FakeGitHub) -> None:
    path = rf"/repos/acme/shop/issues/{PR}/comments"
    gh.fail_next("GET", path, 403, headers={"Retry-After": "3600"}, body=SECONDARY, times=9)
    with pytest.raises(GithubException):
        upsert(gh)
    assert gh.count("GET", path) == 1  # no retry, no hour-long sleep
    assert gh.comments(REPO, PR) == []


def test_an_exhausted_primary_limit_fails_at_once(gh: FakeGitHub) -> None:
    gh.core_limit = 1  # GET /user takes it; the reset is an hour away
    with pytest.raises(GithubException) as info:
        upsert(gh)
    assert info.value.status in (403, 429)
    assert gh.comments(REPO, PR) == []


def test_the_base_fetch_gets_the_token_only_through_the_environment(tmp_path: Path) -> None:
    import base64
    import subprocess

    from opsgrade.engine.github.checkout import _auth_env

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    env = _auth_env(tmp_path, "ghs_secret", "https://ghe.example.com/")
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == "http.https://ghe.example.com/.extraheader"
    basic = base64.b64encode(b"x-access-token:ghs_secret").decode()
    assert env["GIT_CONFIG_VALUE_0"] == f"AUTHORIZATION: basic {basic}"
    assert "ghs_secret" not in (tmp_path / ".git" / "config").read_text()
    assert _auth_env(tmp_path, None, "https://github.com") == {}
    assert _auth_env(tmp_path, "t", "http://insecure.example.com") == {}
    # actions/checkout persisted its own header: a second one would clash.
    subprocess.run(
        ["git", "-C", str(tmp_path), "config", "http.https://github.com/.extraheader", "x"],
        check=True,
    )
    assert _auth_env(tmp_path, "ghs_secret", "https://github.com") == {}


def test_the_token_header_follows_config_the_job_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from opsgrade.engine.github.checkout import _auth_env

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.quotepath")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "off")
    env = _auth_env(tmp_path, "t", "https://github.com")
    assert env["GIT_CONFIG_COUNT"] == "2" and "GIT_CONFIG_KEY_1" in env
