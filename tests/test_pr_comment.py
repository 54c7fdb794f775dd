"""engine/github/comment.py against the local GitHub API (tests/ghserver.py).

PyGithub's own client code runs over real HTTP: the comment is found by its marker and
its author across paginated comments, updated in place, deduplicated, minimized or
deleted, and never confused with a comment someone else wrote with the marker in it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ghserver import FakeGitHub
from github import GithubException

from opsgrade.engine.github import comment
from opsgrade.engine.github.client import connect
from opsgrade.reporters.markdown import MARKER

REPO = "acme/shop"
PR = 7
TOKEN = "ghs_actions"


def body(text: str) -> str:
    return f"{MARKER}\n### opsgrade: {text}\n"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_token(TOKEN)  # github-actions[bot], a Bot, can write
        server.add_repo(REPO)
        server.add_pull(REPO, PR, head_sha="b" * 40, base_sha="a" * 40)
        yield server


def upsert(gh: FakeGitHub, text: str, **kwargs: object) -> comment.CommentResult:
    client = connect(TOKEN, base_url=gh.url, retries=1, max_rate_limit_wait=1).withLazy(True)
    return comment.upsert(client, REPO, PR, body(text), **kwargs)  # type: ignore[arg-type]


def ours(gh: FakeGitHub) -> list[dict[str, object]]:
    return [
        c
        for c in gh.comments(REPO, PR)
        if c["user"]["login"] == "github-actions[bot]" and str(c["body"]).startswith(MARKER)
    ]


def test_creates_then_updates_in_place(gh: FakeGitHub) -> None:
    first = upsert(gh, "failed", passed=False)
    assert (
        first.action == "created"
        and first.url
        and first.url.endswith(f"#issuecomment-{ours(gh)[0]['id']}")
    )
    again = upsert(gh, "failed", passed=False)
    assert again.action == "unchanged"  # the same body: no write at all
    assert gh.count("PATCH", r"/repos/acme/shop/issues/comments/\d+") == 0
    third = upsert(gh, "passed", passed=True)
    assert third.action == "updated" and third.url == first.url
    assert [c["body"] for c in gh.comments(REPO, PR)] == [body("passed")]


@pytest.mark.parametrize("user_endpoint", ["readable", "forbidden"])
def test_finds_ours_on_page_3_among_impostors(gh: FakeGitHub, user_endpoint: str) -> None:
    """250 comments; ours is on page 3; people and another bot pasted the marker."""
    older = gh.add_comment(REPO, PR, body("old"), login="github-actions[bot]", user_type="Bot")
    for i in range(1, 250):
        if i == 40:
            gh.add_comment(REPO, PR, body("mallory"), login="mallory")
        elif i == 90:
            gh.add_comment(REPO, PR, body("other bot"), login="renovate[bot]", user_type="Bot")
        elif i == 210:
            gh.add_comment(REPO, PR, body("ours"), login="github-actions[bot]", user_type="Bot")
        else:
            gh.add_comment(REPO, PR, f"comment {i} quoting {MARKER}", login=f"user{i % 7}")
    newest = next(c for c in gh.comments(REPO, PR) if c["body"] == body("ours"))
    if user_endpoint == "forbidden":  # what an installation token (GITHUB_TOKEN) gets
        gh.fail_next(
            "GET", "/user", 403, body={"message": "Resource not accessible by integration"}
        )
    result = upsert(gh, "new", passed=False)
    assert result.action == "updated" and result.removed == 1
    by_id = {c["id"]: c for c in gh.comments(REPO, PR)}
    assert by_id[newest["id"]]["body"] == body("new")
    assert older["id"] not in by_id  # the older copy of ours is folded away
    assert len(by_id) == 249  # nothing created; only our duplicate deleted
    assert sum(1 for c in by_id.values() if c["body"] == body("mallory")) == 1
    assert sum(1 for c in by_id.values() if c["body"] == body("other bot")) == 1
    assert gh.count("GET", r"/repos/acme/shop/issues/7/comments") == 3  # 100 per page


def test_a_personal_token_matches_its_own_login_only(gh: FakeGitHub) -> None:
    gh.add_token("ghp_person", "octocat", user_type="User")
    gh.add_comment(REPO, PR, body("bot"), login="github-actions[bot]", user_type="Bot")
    client = connect("ghp_person", base_url=gh.url, retries=1).withLazy(True)
    result = comment.upsert(client, REPO, PR, body("mine"), passed=False)
    assert result.action == "created"
    logins = sorted(c["user"]["login"] for c in gh.comments(REPO, PR))
    assert logins == ["github-actions[bot]", "octocat"]


def test_without_a_login_another_bot_is_not_deleted(gh: FakeGitHub) -> None:
    """No GET /user and no Actions-bot comment: one bot's comments, never two bots'."""
    gh.add_token("ghs_app", "opsgrade-app[bot]")
    gh.add_comment(REPO, PR, body("a"), login="renovate[bot]", user_type="Bot")
    gh.add_comment(REPO, PR, body("b"), login="opsgrade-app[bot]", user_type="Bot")
    gh.fail_next("GET", "/user", 403, body={"message": "Resource not accessible by integration"})
    client = connect("ghs_app", base_url=gh.url, retries=1).withLazy(True)
    result = comment.upsert(client, REPO, PR, body("c"), passed=False)
    assert result.action == "updated" and result.removed == 0
    assert sorted(c["body"] for c in gh.comments(REPO, PR)) == [body("a"), body("c")]


def test_comment_keys_keep_jobs_apart(gh: FakeGitHub) -> None:
    upsert(gh, "plain", passed=False)
    upsert(gh, "api", passed=False, key="services/api")
    upsert(gh, "web", passed=False, key="services/web")
    upsert(gh, "api 2", passed=False, key="services/api")
    bodies = sorted(c["body"] for c in gh.comments(REPO, PR))
    assert len(bodies) == 3
    assert all(b.startswith(MARKER + "\n") for b in bodies)
    assert any("comment-key services/api -->" in b and "api 2" in b for b in bodies)
    assert body("plain") in bodies


def test_key_is_inert_text() -> None:
    line = comment.key_line("x --> <script>@team")
    assert line == "<!-- opsgrade:comment-key x-scriptteam -->"
    assert comment.with_key(body("b"), "") == body("b")
    assert not comment.body_is_ours(body("b"), "k")
    assert comment.body_is_ours(comment.with_key(body("b"), "k"), "k")
    assert not comment.body_is_ours(None, "")
    assert not comment.body_is_ours("text\n" + MARKER, "")


def test_delete_when_passing(gh: FakeGitHub) -> None:
    upsert(gh, "failed", passed=False)
    gh.add_comment(REPO, PR, body("dup"), login="github-actions[bot]", user_type="Bot")
    result = upsert(gh, "passed", passed=True, when_passing="delete")
    assert result.action == "deleted" and result.removed == 2
    assert gh.comments(REPO, PR) == []
    # Passing again with nothing to delete creates nothing either.
    assert upsert(gh, "passed", passed=True, when_passing="delete").action == "none"
    assert gh.comments(REPO, PR) == []
    # Failing again brings a comment back.
    assert upsert(gh, "failed", passed=False, when_passing="delete").action == "created"


def test_minimize_when_passing_and_show_again_on_failure(gh: FakeGitHub) -> None:
    created = upsert(gh, "failed", passed=False, when_passing="minimize")
    assert created.minimized is False
    assert gh.count("POST", "/graphql") == 0  # a new comment is shown already
    passed = upsert(gh, "passed", passed=True, when_passing="minimize")
    assert passed.action == "updated" and passed.minimized is True
    assert gh._comments[ours(gh)[0]["id"]]["minimized"] is True  # type: ignore[index]
    failed = upsert(gh, "failed again", passed=False, when_passing="minimize")
    assert failed.minimized is False
    assert gh._comments[ours(gh)[0]["id"]]["minimized"] is False  # type: ignore[index]


def test_minimize_failure_is_a_problem_not_an_error(gh: FakeGitHub) -> None:
    upsert(gh, "failed", passed=False)
    gh.fail_next("POST", "/graphql", 502, times=5)
    result = upsert(gh, "passed", passed=True, when_passing="minimize")
    assert result.action == "updated" and result.minimized is None
    assert result.problems and "could not minimize" in result.problems[0]


def test_a_server_error_on_create_is_retried(gh: FakeGitHub) -> None:
    gh.fail_next("POST", r"/repos/acme/shop/issues/7/comments", 502)
    assert upsert(gh, "x", passed=False).action == "created"
    assert gh.count("POST", r"/repos/acme/shop/issues/7/comments") == 2
    assert len(ours(gh)) == 1


def test_a_failed_duplicate_delete_is_reported_and_the_update_stands(gh: FakeGitHub) -> None:
    gh.add_comment(REPO, PR, body("old"), login="github-actions[bot]", user_type="Bot")
    gh.add_comment(REPO, PR, body("new"), login="github-actions[bot]", user_type="Bot")
    gh.fail_next("DELETE", r"/repos/acme/shop/issues/comments/\d+", 500, times=5)
    result = upsert(gh, "now", passed=False)
    assert result.action == "updated" and result.removed == 0
    assert "could not delete" in result.problems[0]


def test_read_only_token_raises_for_the_action_to_report(gh: FakeGitHub) -> None:
    gh.add_token("ghs_fork", can_write=False)
    client = connect("ghs_fork", base_url=gh.url, retries=1).withLazy(True)
    with pytest.raises(GithubException) as info:
        comment.upsert(client, REPO, PR, body("x"), passed=False)
    assert info.value.status == 403
    assert gh.comments(REPO, PR) == []
