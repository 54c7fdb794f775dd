"""A local GitHub REST API for tests: real HTTP on 127.0.0.1 so PyGithub's own code runs.

Speaks the shapes the Action and the org scan use (users, orgs, repos, branches, commits,
pulls, issue comments, tarballs through a codeload-style redirect, a GraphQL
`minimizeComment`), with GitHub's pagination `Link` headers, ETags and free 304s,
primary and secondary rate limits, and fault injection. Paths in `FakeGitHub.requests`
are relative to the API base (`/repos/o/r`), codeload downloads are `/_codeload/...`,
GraphQL is `/graphql`.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import hashlib
import io
import json
import math
import re
import tarfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
MAX_COMMENT = 65536  # characters, GitHub's limit on a comment body
TAR_MTIME = 1_704_067_200  # fixed, so the same files give byte-identical archives
JsonBody = dict[str, Any] | list[Any] | str | bytes | None


@dataclasses.dataclass(frozen=True)
class Symlink:
    """A `files` value that makes the archive entry a symlink to `target`."""

    target: str


@dataclasses.dataclass(frozen=True)
class Req:
    method: str
    path: str
    query: dict[str, str]
    token: str | None
    status: int
    time: float


@dataclasses.dataclass
class FakeRepo:
    full_name: str
    id: int
    files: dict[str, bytes | str | Symlink]
    default_branch: str
    sha: str
    archived: bool = False
    fork: bool = False
    private: bool = False
    topics: tuple[str, ...] = ()
    pushed: int = 0
    tarball: bytes | None = None  # raw bytes served instead of the generated archive

    def set_files(self, files: dict[str, Any]) -> None:
        """A new commit: new files, a new sha, a later pushed_at."""
        self.files = _files(files)
        self.sha = _derive_sha(self.full_name, self.files)
        self.pushed += 1
        self.tarball = None


@dataclasses.dataclass
class _Token:
    login: str
    id: int
    can_write: bool
    user_type: str


@dataclasses.dataclass
class _Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str]
    body: dict[str, Any] | str | None


class _Reply(Exception):
    """Raised by a route to answer with a status, JSON body and extra headers."""

    def __init__(self, status: int, body: JsonBody = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _error(status: int, message: str, docs: str = DOCS) -> _Reply:
    return _Reply(status, {"message": message, "documentation_url": docs, "status": str(status)})


def _derive_sha(full_name: str, files: dict[str, bytes | str | Symlink]) -> str:
    digest = hashlib.sha1(full_name.encode())
    for path in sorted(files):
        value = files[path]
        data = value.encode() if isinstance(value, str) else value
        data = b"link:" + value.target.encode() if isinstance(value, Symlink) else data
        digest.update(f"{path}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def _stamp(n: int) -> str:
    return (EPOCH + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")


def tar_gz(entries: dict[str, bytes | str | Symlink | None], *, comment: str = "") -> bytes:
    """A deterministic .tar.gz of `entries` (None: a folder), names written verbatim.

    Verbatim, so a test can build hostile archives too: `../x`, `/etc/x`, links out.
    """
    raw = io.BytesIO()
    pax = {"comment": comment} if comment else {}
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, pax_headers=pax) as tar:
        for name, value in sorted(entries.items()):
            info = tarfile.TarInfo(name + ("/" if value is None else ""))
            info.mtime, info.uname, info.gname = TAR_MTIME, "root", "root"
            data = b""
            if value is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o775
            elif isinstance(value, Symlink):
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, value.target, 0o777
            else:
                data = value.encode() if isinstance(value, str) else value
                info.size, info.mode = len(data), 0o664
            tar.addfile(info, io.BytesIO(data) if data else None)
    return gzip.compress(raw.getvalue(), mtime=0)


def build_tarball(repo: FakeRepo) -> bytes:
    """What codeload serves: one `{owner}-{repo}-{sha7}/` folder, its sha as the pax comment."""
    top = f"{repo.full_name.replace('/', '-')}-{repo.sha[:7]}"
    entries: dict[str, bytes | str | Symlink | None] = {top: None}
    for path, value in repo.files.items():
        parts = path.split("/")
        entries.update({f"{top}/{'/'.join(parts[:i])}": None for i in range(1, len(parts))})
        entries[f"{top}/{path}"] = value
    return tar_gz(entries, comment=repo.sha)


def _files(files: dict[str, Any] | None) -> dict[str, bytes | str | Symlink]:
    """`files` as given, with `{"link": target}` values read as symlinks."""
    return {
        path: Symlink(value["link"]) if isinstance(value, dict) else value
        for path, value in (files or {}).items()
    }


Route = Callable[["FakeGitHub", "_Call", re.Match[str]], JsonBody]


@dataclasses.dataclass
class _Call:
    method: str
    query: dict[str, str]
    accept: str
    body: Any
    token: _Token | None
    if_none_match: str = ""


class FakeGitHub:
    """`with FakeGitHub() as gh:` serves GitHub's REST API at `gh.url` until the block ends."""

    def __init__(self, *, base_path: str = "/api/v3") -> None:
        self.base_path = base_path.rstrip("/")
        self.requests: list[Req] = []
        self.abuse_count = 0
        self.core_limit = 5000
        self.core_window_s = 3600.0
        self.core_limit_status = 403  # GitHub answers 403 or 429 when the primary limit is hit
        self.secondary: tuple[int, float] | None = None
        self.max_concurrent: int | None = None
        self.latency_s = 0.0
        self.repos: dict[str, FakeRepo] = {}
        self.orgs: dict[str, int] = {}
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self._comments: dict[int, dict[str, Any]] = {}
        self._tokens: dict[str, _Token] = {}
        self._faults: list[_Fault] = []
        self._windows: dict[str, tuple[float, int]] = {}
        self._recent: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._in_flight = 0
        self._ids = 1000
        self._clock = 0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""
        self.root = ""

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> FakeGitHub:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.root = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.url = self.root + self.base_path
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- state set-up ------------------------------------------------------------------
    def _next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def _tick(self) -> int:
        with self._lock:
            self._clock += 1
            return self._clock

    def count(self, method: str, path_regex: str) -> int:
        pattern = re.compile(path_regex)
        return sum(
            1 for r in list(self.requests) if r.method == method and pattern.fullmatch(r.path)
        )

    def add_token(
        self, token: str, login: str = "github-actions[bot]", *, can_write: bool = True,
        user_type: str = "Bot",
    ) -> None:  # fmt: skip
        self._tokens[token] = _Token(login, self._next_id(), can_write, user_type)

    def add_repo(
        self, full_name: str, *,
        files: dict[str, Any] | None = None,  # bytes, str, Symlink or {"link": target}
        default_branch: str = "main", sha: str | None = None, archived: bool = False,
        fork: bool = False, private: bool = False, topics: tuple[str, ...] | list[str] = (),
    ) -> FakeRepo:  # fmt: skip
        files = _files(files)
        repo = FakeRepo(
            full_name, self._next_id(), files, default_branch,
            sha or _derive_sha(full_name, files), archived, fork, private, tuple(topics),
            self._tick(),
        )  # fmt: skip
        self.repos[full_name] = repo
        self.orgs.setdefault(full_name.split("/")[0], self._next_id())
        return repo

    def add_pull(
        self, full_name: str, number: int, *, head_sha: str, base_sha: str,
        head_ref: str = "feature", base_ref: str = "main", user: str = "octocat",
        head_repo: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        repo = self._repo(full_name)
        head = self._repo(head_repo) if head_repo else repo
        owner = self._user(user, "User")
        pull = {
            "id": self._next_id(), "number": number, "state": "open", "title": f"PR {number}",
            "user": owner, "draft": False, "merged": False, "created_at": _stamp(self._tick()),
            "url": f"{self.url}/repos/{full_name}/pulls/{number}",
            "html_url": f"{self.root}/{full_name}/pull/{number}",
            "head": self._ref(head, head_ref, head_sha),
            "base": self._ref(repo, base_ref, base_sha),
        }  # fmt: skip
        pull["node_id"] = f"PR_{pull['id']}"
        pull["issue_url"] = f"{self.url}/repos/{full_name}/issues/{number}"
        pull["comments_url"] = pull["issue_url"] + "/comments"
        pull["updated_at"] = pull["created_at"]
        self.pulls[(full_name, number)] = pull
        return pull

    def add_comment(
        self, full_name: str, issue_number: int, body: str, *, login: str = "someone",
        user_type: str = "User",
    ) -> dict[str, Any]:  # fmt: skip
        self._repo(full_name)
        cid, now = self._next_id(), _stamp(self._tick())
        comment = {
            "id": cid, "node_id": f"IC_{cid}", "body": body, "user": self._user(login, user_type),
            "url": f"{self.url}/repos/{full_name}/issues/comments/{cid}",
            "html_url": f"{self.root}/{full_name}/pull/{issue_number}#issuecomment-{cid}",
            "issue_url": f"{self.url}/repos/{full_name}/issues/{issue_number}",
            "created_at": now, "updated_at": now, "author_association": "NONE",
            "minimized": False, "_repo": full_name, "_issue": issue_number,
        }  # fmt: skip
        with self._lock:
            self._comments[cid] = comment
        return _public(comment)

    def comments(self, full_name: str, issue_number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [
                _public(c)
                for c in self._comments.values()
                if c["_repo"] == full_name and c["_issue"] == issue_number
            ]

    def fail_next(
        self, method: str, path_regex: str, status: int, *, times: int = 1,
        headers: dict[str, str] | None = None, body: dict[str, Any] | str | None = None,
    ) -> None:  # fmt: skip
        fault = _Fault(method, re.compile(path_regex), status, times, headers or {}, body)
        with self._lock:
            self._faults.append(fault)

    def truncate_tarball(self, full_name: str) -> None:
        data = build_tarball(self._repo(full_name))
        self._repo(full_name).tarball = data[: len(data) // 2]

    def corrupt_tarball(self, full_name: str) -> None:
        data = bytearray(build_tarball(self._repo(full_name)))
        for i in range(len(data) // 3, len(data) - 8):  # keep the gzip header, break the stream
            data[i] ^= 0x5A
        self._repo(full_name).tarball = bytes(data)

    def set_tarball_bytes(self, full_name: str, data: bytes) -> None:
        self._repo(full_name).tarball = data

    # -- JSON shapes -------------------------------------------------------------------
    def _repo(self, full_name: str) -> FakeRepo:
        try:
            return self.repos[full_name]
        except KeyError:
            raise _error(404, "Not Found") from None

    def _user(self, login: str, user_type: str = "User", uid: int | None = None) -> dict[str, Any]:
        uid = uid if uid is not None else int(hashlib.sha1(login.encode()).hexdigest()[:6], 16)
        return {
            "login": login, "id": uid, "node_id": f"U_{uid}", "type": user_type,
            "url": f"{self.url}/users/{login}", "html_url": f"{self.root}/{login}",
            "avatar_url": f"{self.root}/avatars/{uid}", "site_admin": False,
        }  # fmt: skip

    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        owner, name = repo.full_name.split("/")
        return {
            "id": repo.id, "node_id": f"R_{repo.id}", "name": name, "full_name": repo.full_name,
            "owner": self._user(owner, "Organization", self.orgs.get(owner)),
            "private": repo.private, "visibility": "private" if repo.private else "public",
            "fork": repo.fork, "archived": repo.archived, "disabled": False,
            "topics": list(repo.topics), "default_branch": repo.default_branch,
            "url": f"{self.url}/repos/{repo.full_name}",
            "html_url": f"{self.root}/{repo.full_name}", "description": None, "language": None,
            "created_at": _stamp(0), "updated_at": _stamp(repo.pushed),
            "pushed_at": _stamp(repo.pushed), "size": sum(len(str(v)) for v in repo.files.values()),
        }  # fmt: skip

    def _ref(self, repo: FakeRepo, ref: str, sha: str) -> dict[str, Any]:
        owner = repo.full_name.split("/")[0]
        user = self._user(owner, "Organization")
        return {"label": f"{owner}:{ref}", "ref": ref, "sha": sha, "user": user,
                "repo": self._repo_json(repo)}  # fmt: skip

    def _commit_json(self, repo: FakeRepo) -> dict[str, Any]:
        author = {"name": "octocat", "email": "octocat@example.com", "date": _stamp(repo.pushed)}
        return {
            "sha": repo.sha, "node_id": f"C_{repo.sha}", "parents": [],
            "url": f"{self.url}/repos/{repo.full_name}/commits/{repo.sha}",
            "html_url": f"{self.root}/{repo.full_name}/commit/{repo.sha}",
            "commit": {"message": "commit", "author": author, "committer": author,
                       "tree": {"sha": hashlib.sha1(repo.sha.encode()).hexdigest()}},
        }  # fmt: skip

    def _resolve(self, repo: FakeRepo, ref: str) -> str:
        if ref in (repo.default_branch, "HEAD", f"refs/heads/{repo.default_branch}"):
            return repo.sha
        if len(ref) >= 7 and repo.sha.startswith(ref.lower()):
            return repo.sha
        raise _error(422, f"No commit found for SHA: {ref}")

    def _page(self, call: _Call, path: str, items: list[Any]) -> _Reply:
        """One page of `items`, with a `Link` header formatted as GitHub formats it."""
        try:
            per_page = min(max(int(call.query.get("per_page", 30)), 1), 100)
            page = max(int(call.query.get("page", 1)), 1)
        except ValueError:
            raise _error(400, "Invalid pagination parameters") from None
        last = max(math.ceil(len(items) / per_page), 1)

        def link(n: int, rel: str) -> str:
            query = urlencode({**call.query, "per_page": per_page, "page": n})
            return f'<{self.url}{path}?{query}>; rel="{rel}"'

        links = [link(page - 1, "prev")] if page > 1 else []
        links += [link(page + 1, "next"), link(last, "last")] if page < last else []
        links += [link(1, "first")] if page > 1 else []
        headers = {"Link": ", ".join(links)} if links else {}
        return _Reply(200, items[(page - 1) * per_page : page * per_page], headers)

    # -- routes ------------------------------------------------------------------------
    def _writable(self, call: _Call) -> _Token:
        if call.token is None:
            raise _error(401, "Requires authentication")
        if not call.token.can_write:
            raise _error(403, "Resource not accessible by integration", DOCS + "/issues/comments")
        return call.token

    def _comment(self, full_name: str, cid: str) -> dict[str, Any]:
        comment = self._comments.get(int(cid))
        if comment is None or comment["_repo"] != full_name:
            raise _error(404, "Not Found")
        return comment

    def r_user(self, call: _Call, m: re.Match[str]) -> JsonBody:
        if call.token is None:
            raise _error(401, "Requires authentication")
        return self._user(call.token.login, call.token.user_type, call.token.id)

    def r_org(self, call: _Call, m: re.Match[str]) -> JsonBody:
        if m["o"] not in self.orgs:
            raise _error(404, "Not Found")
        public = sum(1 for r in self.repos.values() if r.full_name.startswith(m["o"] + "/"))
        org = self._user(m["o"], "Organization", self.orgs[m["o"]])
        org_url = f"{self.url}/orgs/{m['o']}"
        return {**org, "url": org_url, "repos_url": org_url + "/repos", "public_repos": public}

    def r_org_repos(self, call: _Call, m: re.Match[str]) -> JsonBody:
        if m["o"] not in self.orgs:
            raise _error(404, "Not Found")
        kind = call.query.get("type", "all")
        repos = [r for r in self.repos.values() if r.full_name.split("/")[0] == m["o"]]
        keep: dict[str, Callable[[FakeRepo], bool]] = {
            "public": lambda r: not r.private, "private": lambda r: r.private,
            "forks": lambda r: r.fork, "sources": lambda r: not r.fork,
        }  # fmt: skip
        repos = [r for r in repos if keep.get(kind, lambda r: True)(r)]
        repos = [r for r in repos if call.token or not r.private]
        sort = call.query.get("sort", "created")
        if sort == "full_name":
            repos.sort(key=lambda r: r.full_name)
        else:
            repos.sort(key=lambda r: r.pushed if sort in ("updated", "pushed") else r.id)
        if call.query.get("direction", "asc" if sort == "full_name" else "desc") == "desc":
            repos.reverse()
        items = [self._repo_json(r) for r in repos]
        raise self._page(call, f"/orgs/{m['o']}/repos", items)

    def r_repo(self, call: _Call, m: re.Match[str]) -> JsonBody:
        return self._repo_json(self._repo(m["repo"]))

    def r_topics(self, call: _Call, m: re.Match[str]) -> JsonBody:
        return {"names": list(self._repo(m["repo"]).topics)}

    def r_branch(self, call: _Call, m: re.Match[str]) -> JsonBody:
        repo = self._repo(m["repo"])
        if m["ref"] != repo.default_branch:
            raise _error(404, "Branch not found")
        commit = self._commit_json(repo)
        links = {"self": f"{self.url}/repos/{repo.full_name}/branches/{m['ref']}"}
        return {"name": m["ref"], "commit": commit, "protected": False, "_links": links}

    def r_commit(self, call: _Call, m: re.Match[str]) -> JsonBody:
        repo = self._repo(m["repo"])
        sha = self._resolve(repo, m["ref"])
        if "application/vnd.github.sha" in call.accept:
            return sha
        return self._commit_json(repo)

    def r_pull(self, call: _Call, m: re.Match[str]) -> JsonBody:
        self._repo(m["repo"])
        pull = self.pulls.get((m["repo"], int(m["n"])))
        if pull is None:
            raise _error(404, "Not Found")
        return pull

    def r_issue(self, call: _Call, m: re.Match[str]) -> JsonBody:
        """A pull request read as an issue, as GitHub serves it."""
        pull = self.r_pull(call, m)
        assert isinstance(pull, dict)
        keep = ("id", "node_id", "number", "state", "title", "user", "created_at", "updated_at")
        issue = {k: pull[k] for k in keep}
        links = {"url": pull["issue_url"], "html_url": pull["html_url"]}
        issue.update(links, comments_url=pull["comments_url"], pull_request={"url": pull["url"]})
        return {**issue, "body": None}

    def r_issue_comments(self, call: _Call, m: re.Match[str]) -> JsonBody:
        if call.method == "GET":
            items = self.comments(self._repo(m["repo"]).full_name, int(m["n"]))
            raise self._page(call, f"/repos/{m['repo']}/issues/{m['n']}/comments", items)
        token = self._writable(call)
        body = _comment_body(call)
        made = self.add_comment(m["repo"], int(m["n"]), body, login=token.login,
                                user_type=token.user_type)  # fmt: skip
        raise _Reply(201, made, {"Location": made["url"]})

    def r_comment(self, call: _Call, m: re.Match[str]) -> JsonBody:
        self._repo(m["repo"])
        comment = self._comment(m["repo"], m["id"])
        if call.method == "GET":
            return _public(comment)
        self._writable(call)
        if call.method == "DELETE":
            with self._lock:
                del self._comments[comment["id"]]
            raise _Reply(204)
        body = _comment_body(call)
        comment.update(body=body, updated_at=_stamp(self._tick()))
        return _public(comment)

    def r_tarball(self, call: _Call, m: re.Match[str]) -> JsonBody:
        repo = self._repo(m["repo"])
        sha = self._resolve(repo, m["ref"] or repo.default_branch)
        location = f"{self.root}/_codeload/{repo.full_name}/legacy.tar.gz/{sha}"
        raise _Reply(302, b"", {"Location": location})

    def r_rate_limit(self, call: _Call, m: re.Match[str]) -> JsonBody:
        core, _ = self._core(call.token, take=False)
        other = {"limit": 30, "remaining": 30, "used": 0, "reset": core["reset"]}
        return {"resources": {"core": core, "search": other, "graphql": core}, "rate": core}

    def r_graphql(self, call: _Call, m: re.Match[str]) -> JsonBody:
        self._writable(call)
        query = str(call.body.get("query", "")) if isinstance(call.body, dict) else ""
        subject = (call.body.get("variables") or {}).get("input", {}).get("subjectId", "")
        for comment in self._comments.values():
            if comment["node_id"] == subject and "inimizeComment" in query:
                hide = "unminimizeComment" not in query
                comment["minimized"] = hide
                name = "minimizeComment" if hide else "unminimizeComment"
                field = "minimizedComment" if hide else "unminimizedComment"
                return {"data": {name: {field: {"isMinimized": hide}}}}
        return {"data": None, "errors": [{"type": "NOT_FOUND", "message": "Could not resolve"}]}

    # -- limits ------------------------------------------------------------------------
    def _core(self, token: _Token | None, *, take: bool) -> tuple[dict[str, int], bool]:
        """The primary limit's state for `token`, taking one unit when `take` and any are left."""
        key = token.login if token else "anonymous"
        limit = self.core_limit if token else 60
        now = time.time()
        with self._lock:
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.core_window_s:
                start, used = now, 0
            allowed = used < limit
            if take and allowed:
                used += 1
            self._windows[key] = (start, used)
        reset = math.ceil(start + self.core_window_s)
        state = {"limit": limit, "remaining": limit - used, "used": used, "reset": reset}
        return state, allowed

    def _secondary_hit(self, key: str) -> _Reply | None:
        if self.secondary is None:
            return None
        most, per = self.secondary
        now = time.time()
        with self._lock:
            recent = self._recent[key]
            while recent and now - recent[0] >= per:
                recent.popleft()
            if len(recent) < most:
                recent.append(now)
                return None
            wait = per - (now - recent[0])
        return self._abuse(max(1, math.ceil(wait)))

    def _abuse(self, retry_after: int) -> _Reply:
        with self._lock:
            self.abuse_count += 1
        reply = _error(
            403,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you "
            "try again. If you reach out to GitHub Support for help, please include the "
            "request ID 0000:0000.",
            RATE_DOCS + "#about-secondary-rate-limits",
        )
        reply.headers["Retry-After"] = str(retry_after)
        return reply

    def _fault(self, method: str, path: str) -> _Reply | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and fault.path.fullmatch(path) and fault.times > 0:
                    fault.times -= 1
                    body = fault.body if fault.body is not None else {"message": "Server Error"}
                    return _Reply(fault.status, body, dict(fault.headers))
        return None

    def dispatch(self, call: _Call, path: str, bad_token: bool) -> _Reply:
        """Answer one API call: auth, faults, limits, then the route; never raises."""
        if bad_token:
            return _error(401, "Bad credentials")
        free = path == "/rate_limit"  # as on GitHub, asking for the limit costs nothing
        key = call.token.login if call.token else "anonymous"
        reply = self._fault(call.method, path)
        injected = reply is not None
        if reply is None and not free:
            reply = self._secondary_hit(key)
        routed = reply is None and not free
        core, allowed = self._core(call.token, take=routed)
        if routed and not allowed:
            who = f"user ID {call.token.id}" if call.token else "127.0.0.1"
            reply = _error(self.core_limit_status, f"API rate limit exceeded for {who}.", RATE_DOCS)
        reply = reply or self._route(call, path)
        if call.method == "GET" and reply.status == 200 and not injected:
            reply = self._conditional(call, reply)
            if reply.status == 304 and routed:
                core = self._refund(key, core)
        if not (injected and "X-RateLimit-Remaining" in reply.headers):
            reply.headers.update({f"X-RateLimit-{k.title()}": str(v) for k, v in core.items()})
            reply.headers["X-RateLimit-Resource"] = "graphql" if path == "/graphql" else "core"
        return reply

    def _conditional(self, call: _Call, reply: _Reply) -> _Reply:
        """ETag on every GET; a matching If-None-Match gets a bodiless 304."""
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        digest = hashlib.sha1(body).hexdigest()
        reply.headers["ETag"] = f'W/"{digest}"'
        if f'"{digest}"' not in call.if_none_match:
            return reply
        return _Reply(304, b"", reply.headers)

    def _refund(self, key: str, core: dict[str, int]) -> dict[str, int]:
        """As on GitHub, a 304 answer to a conditional request costs no rate limit."""
        with self._lock:
            start, used = self._windows[key]
            self._windows[key] = (start, used - 1)
        return {**core, "remaining": core["remaining"] + 1, "used": core["used"] - 1}

    def _route(self, call: _Call, path: str) -> _Reply:
        for methods, pattern, route in ROUTES:
            match = pattern.fullmatch(path)
            if match and call.method in methods.split("|"):
                repo = self.repos.get(match.groupdict().get("repo") or "")
                if repo is not None and repo.private and call.token is None:
                    return _error(404, "Not Found")  # private repositories hide from anonymous
                try:
                    return _Reply(200, route(self, call, match))
                except _Reply as reply:
                    return reply
                except Exception as exc:  # a bug here must show as a 500, not a dropped socket
                    return _error(500, f"fake server error: {exc!r}")
        return _error(404, "Not Found")


def _comment_body(call: _Call) -> str:
    """The `body` of a comment write, validated as GitHub does (422 with an `errors` list)."""
    body = call.body.get("body") if isinstance(call.body, dict) else None
    problem = {"resource": "IssueComment", "field": "body"}
    if not isinstance(body, str) or not body:
        problem["code"] = "missing_field"
    elif len(body) > MAX_COMMENT:
        problem.update(
            code="custom", message=f"Body is too long (maximum is {MAX_COMMENT} characters)"
        )
    else:
        return body
    reply = _error(422, "Validation Failed", DOCS + "/issues/comments#create-an-issue-comment")
    assert isinstance(reply.body, dict)
    reply.body["errors"] = [problem]
    raise reply


def _public(comment: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in comment.items() if not k.startswith("_")}


_REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"
ROUTES: list[tuple[str, re.Pattern[str], Route]] = [
    (m, re.compile(p), r)
    for m, p, r in [
        ("GET", r"/user", FakeGitHub.r_user),
        ("GET", r"/rate_limit", FakeGitHub.r_rate_limit),
        ("GET", r"/orgs/(?P<o>[^/]+)", FakeGitHub.r_org),
        ("GET", r"/orgs/(?P<o>[^/]+)/repos", FakeGitHub.r_org_repos),
        ("GET", _REPO, FakeGitHub.r_repo),
        ("GET", _REPO + r"/topics", FakeGitHub.r_topics),
        ("GET", _REPO + r"/branches/(?P<ref>.+)", FakeGitHub.r_branch),
        ("GET", _REPO + r"/commits/(?P<ref>[^/]+)", FakeGitHub.r_commit),
        ("GET", _REPO + r"/pulls/(?P<n>\d+)", FakeGitHub.r_pull),
        ("GET", _REPO + r"/issues/(?P<n>\d+)", FakeGitHub.r_issue),
        ("GET|POST", _REPO + r"/issues/(?P<n>\d+)/comments", FakeGitHub.r_issue_comments),
        ("GET|PATCH|DELETE", _REPO + r"/issues/comments/(?P<id>\d+)", FakeGitHub.r_comment),
        ("GET", _REPO + r"/tarball(?:/(?P<ref>.+))?", FakeGitHub.r_tarball),
        ("POST", r"/graphql", FakeGitHub.r_graphql),
    ]
]


def _handler_for(gh: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as PyGithub's pooled session expects
        # Headers and body go out in separate writes; with Nagle on, keep-alive answers
        # stall ~40 ms each on the client's delayed ACK (a 50x slower org-scan bench).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        do_POST = do_PATCH = do_DELETE = do_PUT = do_GET

        def _serve(self) -> None:
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            auth = self.headers.get("Authorization")
            secret = auth.split(" ", 1)[1].strip() if auth and " " in auth else None
            token = gh._tokens.get(secret or "")
            path = url.path
            with gh._lock:
                gh._in_flight += 1
                crowded = gh.max_concurrent is not None and gh._in_flight > gh.max_concurrent
            try:
                time.sleep(gh.latency_s)
                if path.startswith("/_codeload/"):
                    reply = self._codeload(path)
                elif crowded:
                    reply = gh._abuse(1)
                else:
                    api = gh.base_path
                    graphql = api.removesuffix("/v3") + "/graphql"
                    if path == graphql:
                        path = "/graphql"
                    elif path.startswith(api + "/") or path == api:
                        path = path[len(api) :] or "/"
                    else:
                        path = "/_outside" + path
                    accept = self.headers.get("Accept", "")
                    etag = self.headers.get("If-None-Match", "")
                    call = _Call(self.command, query, accept, body, token, etag)
                    reply = gh.dispatch(call, path, bad_token=auth is not None and token is None)
            finally:
                with gh._lock:
                    gh._in_flight -= 1
            with gh._lock:
                gh.requests.append(
                    Req(self.command, path, query, secret, reply.status, time.time())
                )
            self._send(reply)

        def _codeload(self, path: str) -> _Reply:
            match = re.fullmatch(r"/_codeload/([^/]+/[^/]+)/legacy\.tar\.gz/([0-9a-f]{40})", path)
            repo = gh.repos.get(match[1]) if match else None
            if match is None or repo is None or repo.sha != match[2]:
                return _Reply(404, b"404: Not Found", {"Content-Type": "text/plain"})
            data = repo.tarball if repo.tarball is not None else build_tarball(repo)
            name = f"{repo.full_name.replace('/', '-')}-{repo.sha[:7]}.tar.gz"
            disposition = f"attachment; filename={name}"
            headers = {"Content-Type": "application/x-gzip", "Content-Disposition": disposition}
            return _Reply(200, data, headers)

        def _send(self, reply: _Reply) -> None:
            body = reply.body
            kind = "application/json; charset=utf-8"
            if isinstance(body, str):
                data, kind = body.encode(), "text/plain; charset=utf-8"
            elif isinstance(body, bytes):
                data = body
            elif body is None:
                data = b""
            else:
                data = json.dumps(body).encode()
            self.send_response(reply.status)
            headers = {"Content-Type": kind, **reply.headers, "Content-Length": str(len(data))}
            headers.setdefault("X-GitHub-Request-Id", f"0000:{len(gh.requests):04d}")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler
