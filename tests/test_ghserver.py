"""The local GitHub API (tests/ghserver.py) driven by PyGithub through `connect()`."""

from __future__ import annotations

import io
import tarfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import github
import pytest
import requests
from ghserver import FakeGitHub, Symlink, tar_gz
from github import GithubException

from opsgrade.engine.github.client import connect, describe_error

FILES: dict[str, bytes | str | Symlink] = {
    "opsgrade.yml": "name: api\n",
    "src/app.py": b"print('hi')\n",
    "link": Symlink("../outside"),
}


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_token("rw")
        server.add_token("ro", "reader", can_write=False)
        yield server


def client(gh: FakeGitHub, token: str | None = "rw", **kwargs: Any) -> github.Github:
    return connect(token, base_url=gh.url, **kwargs)


def test_org_repos_paginate_across_link_pages(gh: FakeGitHub) -> None:
    for i in range(7):
        gh.add_repo(f"acme/svc-{i}", archived=i == 3, fork=i == 4, topics=["python"])
    gh.add_repo("other/x")
    g = connect("rw", base_url=gh.url)
    g.per_page = 3
    repos = list(g.get_organization("acme").get_repos(type="all", sort="full_name"))
    assert [r.full_name for r in repos] == [f"acme/svc-{i}" for i in range(7)]
    assert gh.count("GET", r"/orgs/acme/repos") == 3
    assert [r.archived for r in repos].count(True) == 1 and repos[4].fork
    assert (
        repos[0].topics == repos[1].get_topics() == ["python"] and repos[0].default_branch == "main"
    )
    first = requests.get(f"{gh.url}/orgs/acme/repos?per_page=3&sort=full_name", timeout=5)
    assert first.links["next"]["url"].endswith("page=2")
    assert first.links["last"]["url"].endswith("page=3")
    middle = requests.get(first.links["next"]["url"], timeout=5)
    assert set(middle.links) == {"prev", "next", "last", "first"}
    assert "Link" not in requests.get(f"{gh.url}/orgs/acme/repos", timeout=5).headers


def test_repo_branch_commit_and_pull(gh: FakeGitHub) -> None:
    made = gh.add_repo("acme/api", files=FILES, default_branch="trunk")
    repo = client(gh).get_repo("acme/api")
    assert repo.default_branch == "trunk"
    assert repo.get_branch("trunk").commit.sha == made.sha
    assert repo.get_commit("trunk").sha == made.sha
    bare = requests.get(
        f"{gh.url}/repos/acme/api/commits/trunk",
        headers={"Accept": "application/vnd.github.sha"},
        timeout=5,
    )
    assert bare.text == made.sha
    old = made.sha
    made.set_files({"README.md": "new"})
    assert made.sha != old and repo.get_commit("HEAD").sha == made.sha
    gh.add_pull("acme/api", 7, head_sha="a" * 40, base_sha="b" * 40)
    pull = repo.get_pull(7)
    assert (pull.head.sha, pull.base.sha, pull.base.ref, pull.user.login) == (
        "a" * 40,
        "b" * 40,
        "main",
        "octocat",
    )
    with pytest.raises(github.UnknownObjectException):
        repo.get_pull(8)


def test_comments_paginate_create_update_delete(gh: FakeGitHub) -> None:
    gh.add_repo("acme/api")
    gh.add_pull("acme/api", 1, head_sha="a" * 40, base_sha="b" * 40)
    for i in range(5):
        gh.add_comment("acme/api", 1, f"old {i}")
    g = client(gh)
    g.per_page = 2
    pull = g.get_repo("acme/api").get_pull(1)
    assert [c.body for c in pull.get_issue_comments()] == [f"old {i}" for i in range(5)]
    assert gh.count("GET", r"/repos/acme/api/issues/1/comments") == 3
    mine = pull.create_issue_comment("<!-- opsgrade --> level: silver")
    assert mine.user.login == "github-actions[bot]" and mine.user.type == "Bot"
    mine.edit("<!-- opsgrade --> level: gold")
    assert gh.comments("acme/api", 1)[-1]["body"].endswith("gold")
    assert mine.minimize() and gh.comments("acme/api", 1)[-1]["minimized"]
    with pytest.raises(GithubException) as too_long:
        mine.edit("x" * 65537)
    assert describe_error(too_long.value).startswith(
        "GitHub API error 422: Validation Failed; Body is too long (maximum is 65536 characters)"
    )
    mine.delete()
    assert len(gh.comments("acme/api", 1)) == 5


def test_read_only_and_bad_tokens(gh: FakeGitHub) -> None:
    gh.add_repo("acme/api")
    gh.add_pull("acme/api", 1, head_sha="a" * 40, base_sha="b" * 40)
    pull = client(gh, "ro").get_repo("acme/api").get_pull(1)
    with pytest.raises(GithubException) as denied:
        pull.create_issue_comment("x")
    assert denied.value.status == 403
    assert "Resource not accessible by integration" in describe_error(denied.value)
    with pytest.raises(github.BadCredentialsException):
        client(gh, "nope").get_repo("acme/api")
    assert client(gh, None).get_repo("acme/api").full_name == "acme/api"
    with pytest.raises(github.UnknownObjectException):
        client(gh).get_repo("acme/missing")


def test_server_errors_are_retried_then_succeed(gh: FakeGitHub) -> None:
    gh.add_repo("acme/api")
    gh.fail_next("GET", r"/repos/acme/api", 502)
    assert client(gh).get_repo("acme/api").name == "api"
    assert [r.status for r in gh.requests if r.path == "/repos/acme/api"] == [502, 200]
    gh.fail_next("GET", r"/repos/acme/api", 500, times=5)
    with pytest.raises(GithubException) as failed:
        client(gh, retries=1).get_repo("acme/api")
    assert failed.value.status == 500
    assert describe_error(failed.value).startswith("GitHub API error 500:")


def test_primary_rate_limit_headers_and_bounded_wait(gh: FakeGitHub) -> None:
    gh.add_repo("acme/api")
    gh.core_limit = 3
    g = client(gh, max_rate_limit_wait=2.0)
    g.get_repo("acme/api")
    seen = [r for r in gh.requests if r.path == "/repos/acme/api"]
    assert len(seen) == 1
    reply = requests.get(
        f"{gh.url}/repos/acme/api", headers={"Authorization": "token rw"}, timeout=5
    )
    assert reply.headers["X-RateLimit-Limit"] == "3"
    assert reply.headers["X-RateLimit-Remaining"] == "1"
    assert reply.headers["X-RateLimit-Used"] == "2"
    assert int(reply.headers["X-RateLimit-Reset"]) > time.time() + 3000
    assert g.get_rate_limit().resources.core.remaining == 1  # /rate_limit itself is free
    g.get_repo("acme/api")
    started = time.monotonic()
    with pytest.raises(github.RateLimitExceededException) as limited:
        g.get_repo("acme/api")
    assert time.monotonic() - started < 2
    assert "API rate limit exceeded" in describe_error(limited.value)
    auth = {"Authorization": "token rw"}
    post = requests.post(f"{gh.url}/repos/acme/api/issues/1/comments", json={"body": "x"},
                         headers=auth, timeout=5)  # fmt: skip
    assert (post.status_code, post.headers["X-RateLimit-Remaining"]) == (403, "0")
    assert post.json()["message"].startswith("API rate limit exceeded for user ID")
    gh.core_limit_status = 429
    assert requests.get(f"{gh.url}/user", headers=auth, timeout=5).status_code == 429
    assert gh.comments("acme/api", 1) == []  # a refused write changes nothing
    anonymous = requests.get(f"{gh.url}/rate_limit", timeout=5).json()
    assert anonymous["resources"]["core"]["limit"] == 60


def test_secondary_limit_retry_after_is_honoured_or_refused(gh: FakeGitHub) -> None:
    gh.add_repo("acme/api")
    gh.secondary = (2, 1.0)
    g = client(gh, max_rate_limit_wait=1.5)
    started = time.monotonic()
    for _ in range(3):  # the third waits out Retry-After: 1, then passes
        g.get_repo("acme/api")
    assert gh.abuse_count == 1 and 0.9 < time.monotonic() - started < 5
    gh.secondary = (1, 30.0)
    with pytest.raises(github.RateLimitExceededException) as refused:
        client(gh, max_rate_limit_wait=1.0).get_repo("acme/api")
    message = describe_error(refused.value)
    assert message.startswith("GitHub API error 403: You have exceeded a secondary rate limit")
    assert "needs a 30s wait" in message and message.endswith("#about-secondary-rate-limits)")
    assert gh.abuse_count == 2


def test_max_concurrent_requests_are_refused(gh: FakeGitHub) -> None:
    gh.add_repo("acme/api")
    gh.max_concurrent, gh.latency_s = 2, 0.2
    statuses: list[int] = []

    def fetch() -> None:
        auth = {"Authorization": "Bearer rw"}
        statuses.append(
            requests.get(f"{gh.url}/repos/acme/api", headers=auth, timeout=5).status_code
        )

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(403) >= 1 and statuses.count(200) >= 1
    assert gh.abuse_count == statuses.count(403)


def test_tarball_redirects_to_a_deterministic_archive(gh: FakeGitHub) -> None:
    made = gh.add_repo("acme/api", files=FILES)
    auth = {"Authorization": "token rw"}
    hop = requests.get(f"{gh.url}/repos/acme/api/tarball/main", headers=auth, timeout=5,
                       allow_redirects=False)  # fmt: skip
    assert hop.status_code == 302
    assert hop.headers["Location"].endswith(f"/_codeload/acme/api/legacy.tar.gz/{made.sha}")
    data = requests.get(hop.headers["Location"], timeout=5).content
    assert data == requests.get(f"{gh.url}/repos/acme/api/tarball/{made.sha}", timeout=5).content
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    top = f"acme-api-{made.sha[:7]}"
    assert sorted(members) == [top, f"{top}/link", f"{top}/opsgrade.yml", f"{top}/src",
                               f"{top}/src/app.py"]  # fmt: skip
    assert members[f"{top}/link"].issym() and members[f"{top}/link"].linkname == "../outside"
    assert client(gh).get_repo("acme/api").get_archive_link("tarball").endswith(made.sha)
    gh.truncate_tarball("acme/api")
    cut = io.BytesIO(requests.get(hop.headers["Location"], timeout=5).content)
    with pytest.raises((tarfile.TarError, EOFError)), tarfile.open(fileobj=cut) as broken:
        broken.getmembers()
    gh.corrupt_tarball("acme/api")
    bad = io.BytesIO(requests.get(hop.headers["Location"], timeout=5).content)
    with pytest.raises((tarfile.TarError, EOFError, OSError)), tarfile.open(fileobj=bad) as t:
        t.getmembers()
    gh.set_tarball_bytes("acme/api", b"raw")
    assert requests.get(hop.headers["Location"], timeout=5).content == b"raw"


def test_ghe_base_path_and_unknown_paths(gh: FakeGitHub) -> None:
    gh.add_repo("acme/api")
    assert gh.url.endswith("/api/v3")
    assert requests.get(f"{gh.root}/repos/acme/api", timeout=5).status_code == 404
    assert requests.get(f"{gh.url}/nothing/here", timeout=5).json()["message"] == "Not Found"
    with FakeGitHub(base_path="") as dotcom:
        dotcom.add_repo("acme/api")
        assert connect(None, base_url=dotcom.url).get_repo("acme/api").name == "api"


def test_conditional_requests_cost_no_rate_limit(gh: FakeGitHub) -> None:
    gh.add_repo("acme/api")
    auth = {"Authorization": "token rw", "Accept": "application/vnd.github.sha"}
    first = requests.get(f"{gh.url}/repos/acme/api/commits/main", headers=auth, timeout=5)
    assert first.headers["X-RateLimit-Used"] == "1" and first.headers["ETag"].startswith('W/"')
    again = {**auth, "If-None-Match": first.headers["ETag"]}
    same = requests.get(f"{gh.url}/repos/acme/api/commits/main", headers=again, timeout=5)
    assert (same.status_code, same.content, same.headers["X-RateLimit-Used"]) == (304, b"", "1")
    gh.repos["acme/api"].set_files({"new": "commit"})
    moved = requests.get(f"{gh.url}/repos/acme/api/commits/main", headers=again, timeout=5)
    assert (moved.status_code, moved.text) == (200, gh.repos["acme/api"].sha)
    assert moved.headers["X-RateLimit-Used"] == "2"


def test_hostile_archives_and_link_values(gh: FakeGitHub) -> None:
    made = gh.add_repo("acme/api", files={"up": {"link": "../../etc/passwd"}, "a/b/c.txt": "x"})
    data = requests.get(f"{gh.url}/repos/acme/api/tarball", timeout=5).content
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        assert tar.getmember(f"acme-api-{made.sha[:7]}/up").linkname == "../../etc/passwd"
    top = f"acme-api-{made.sha[:7]}"
    assert names == [top, f"{top}/a", f"{top}/a/b", f"{top}/a/b/c.txt", f"{top}/up"]
    assert tar_gz({"x/../../escape": "boom", "/abs": b"", "d": None}) == tar_gz(
        {"d": None, "/abs": b"", "x/../../escape": "boom"}
    )
    gh.set_tarball_bytes("acme/api", tar_gz({"../escape": "boom"}))
    with tarfile.open(fileobj=io.BytesIO(requests.get(f"{gh.url}/repos/acme/api/tarball",
                                                      timeout=5).content)) as tar:  # fmt: skip
        assert tar.getnames() == ["../escape"]


def test_org_repo_filters_and_unknown_org(gh: FakeGitHub) -> None:
    gh.add_repo("acme/src")
    gh.add_repo("acme/fork", fork=True)
    gh.add_repo("acme/secret", private=True)
    org = client(gh).get_organization("acme")
    assert [r.name for r in org.get_repos(type="forks")] == ["fork"]
    assert [r.name for r in org.get_repos(type="sources", sort="full_name")] == ["secret", "src"]
    assert [r.name for r in org.get_repos(type="public", sort="full_name")] == ["fork", "src"]
    with pytest.raises(github.UnknownObjectException):
        client(gh).get_organization("nobody")
    anonymous = client(gh, None)
    assert [r.name for r in anonymous.get_organization("acme").get_repos()] == ["fork", "src"]
    with pytest.raises(github.UnknownObjectException):
        anonymous.get_repo("acme/secret")
