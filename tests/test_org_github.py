"""The org scan's GitHub source: listing, resolve, tarball checkout, the rate-limit scheduler.

Against tests/ghserver.py's FakeGitHub (real HTTP on 127.0.0.1), so PyGithub's Requester,
requests and urllib3 run for real; hostile archives are built here with tarfile.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import os
import random
import re
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from ghserver import FakeGitHub, Symlink

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.github.orgsource import GitHubOrgSource, _Limited
from opsgrade.engine.github.ratelimit import Failure, Scheduler
from opsgrade.engine.github.tarball import ArchiveError, Extracted, Limits, extract
from opsgrade.engine.org.sources import FetchError, RepoRef, SourceExhausted

TOKEN = "t0ken"


# -- helpers -----------------------------------------------------------------------------
# A file under the archive's top folder, or a member (named in full) with its data.
Entry = tuple[str | tarfile.TarInfo, bytes]


def _tar(entries: list[Entry], top: str | None = "acme-r-abc1234") -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if top:
            tar.addfile(_member(top + "/", tarfile.DIRTYPE))
        for name, data in entries:
            if isinstance(name, str):
                name = _member(f"{top}/{name}" if top else name, tarfile.REGTYPE)
            name.size = len(data)
            tar.addfile(name, io.BytesIO(data) if data else None)
    return gzip.compress(raw.getvalue(), mtime=0)


def _member(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _extract(data: bytes, tmp_path: Path, limits: Limits | None = None) -> Extracted:
    """Extract into a new folder `x…` under tmp_path."""
    dest = tmp_path / f"x{len(list(tmp_path.iterdir()))}"
    dest.mkdir()
    return extract(io.BytesIO(data), dest, limits)


def _outside(tmp_path: Path) -> list[str]:
    """Everything under tmp_path that is not inside the extraction folder."""
    return sorted(
        p.relative_to(tmp_path).as_posix()
        for p in tmp_path.rglob("*")
        if not p.relative_to(tmp_path).parts[0].startswith("x")
    )


@pytest.fixture
def server() -> Iterator[FakeGitHub]:
    with FakeGitHub() as gh:
        gh.add_token(TOKEN, "scanner", user_type="User")
        yield gh


def _source(gh: FakeGitHub, **kwargs: object) -> GitHubOrgSource:
    options: dict[str, object] = {"requests_per_minute": 60_000.0, **kwargs}
    source = GitHubOrgSource("acme", token=TOKEN, base_url=gh.url, **options)  # type: ignore[arg-type]
    source.scheduler.backoff_base_s = 0.02
    source.scheduler.secondary_wait_s = 0.05
    return source


# -- tarball.py --------------------------------------------------------------------------
def test_extract_gives_the_top_folder_and_its_files(tmp_path: Path) -> None:
    entries: list[Entry] = [("README.md", b"# hi\n"), ("src/app.py", b"print(1)\n")]
    entries += [("src/app.py", b"x=2\n"), ("c:notes.txt", b"a plain name on POSIX")]
    result = _extract(_tar(entries), tmp_path)
    assert result.root.name == "acme-r-abc1234"
    assert _files(result.root) == {
        "README.md": b"# hi\n", "c:notes.txt": b"a plain name on POSIX", "src/app.py": b"x=2\n",
    }  # fmt: skip
    assert result.files == 4  # the later src/app.py replaced the first, as with tar(1)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil", "'..'"),
        ("acme-r-abc1234/../../evil", "'..'"),
        ("/tmp/evil-opsgrade", "absolute path"),
    ],
)
def test_traversal_fails_the_archive_and_writes_nothing_outside(
    tmp_path: Path, name: str, why: str
) -> None:
    data = _tar([("ok.txt", b"ok"), (_member(name, tarfile.REGTYPE), b"pwned")])
    with pytest.raises(ArchiveError, match="unsafe archive") as err:
        _extract(data, tmp_path)
    assert why in str(err.value)
    assert _outside(tmp_path) == []
    assert not Path("/tmp/evil-opsgrade").exists()


def test_links_devices_and_fifos_are_skipped_and_cannot_be_written_through(
    tmp_path: Path,
) -> None:
    top = "acme-r-abc1234"
    entries: list[Entry] = [
        (_member(f"{top}/out", tarfile.SYMTYPE, "../../.."), b""),
        (_member(f"{top}/passwd", tarfile.LNKTYPE, "/etc/passwd"), b""),
        (_member(f"{top}/inside", tarfile.SYMTYPE, "README.md"), b""),
        (_member(f"{top}/tty", tarfile.CHRTYPE), b""),
        (_member(f"{top}/disk", tarfile.BLKTYPE), b""),
        (_member(f"{top}/pipe", tarfile.FIFOTYPE), b""),
        ("out/evil.txt", b"written through a link?"),
        ("README.md", b"hello"),
    ]
    result = _extract(_tar(entries), tmp_path)
    root = result.root
    assert _files(root) == {"README.md": b"hello", "out/evil.txt": b"written through a link?"}
    assert (root / "out").is_dir() and not (root / "out").is_symlink()
    assert not any(p.is_symlink() for p in root.rglob("*"))
    skipped = "\n".join(result.skipped)
    for name in ("out: link", "passwd: link", "inside: link", "tty: special", "pipe: special"):
        assert name in skipped
    assert _outside(tmp_path) == []


def test_clashing_names_are_skipped_not_fatal(tmp_path: Path) -> None:
    top = "acme-r-abc1234"
    entries: list[Entry] = [("a", b"file"), ("a/b", b"under a file"), ("d/x", b"x")]
    entries += [(_member(f"{top}/d/x/", tarfile.DIRTYPE), b""), ("n" * 300, b"long")]
    entries += [(_member(f"{top}/./.", tarfile.DIRTYPE), b""), ("ok", b"ok")]
    result = _extract(_tar(entries), tmp_path)
    assert _files(result.root) == {"a": b"file", "d/x": b"x", "ok": b"ok"}
    assert sorted(result.skipped) == [
        "a/b: cannot be created here, skipped",
        "d/x: folder cannot be created here, skipped",
        "n" * 300 + ": cannot be created here, skipped",
    ]


def test_gzip_bomb_stops_at_the_uncompressed_bound(tmp_path: Path) -> None:
    data = _tar([("zeros.bin", bytes(20 * 2**20))])
    assert len(data) < 100_000
    with pytest.raises(ArchiveError, match="archive larger than 4 MB uncompressed"):
        _extract(data, tmp_path, Limits(max_total_bytes=4 * 2**20))


def test_big_files_are_skipped_and_too_many_entries_fail(tmp_path: Path) -> None:
    data = _tar([("big.bin", b"x" * 5000), ("small.txt", b"s")])
    result = _extract(data, tmp_path, Limits(max_file_bytes=1000))
    assert _files(result.root) == {"small.txt": b"s"}
    assert result.skipped == ("big.bin: larger than 0.000953674 MB, skipped",)
    many = _tar([(f"f{i}", b"") for i in range(20)])
    with pytest.raises(ArchiveError, match="more than 10 entries"):
        _extract(many, tmp_path, Limits(max_members=10))


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: d[: len(d) // 2], "truncated archive"),
        (lambda d: d[:12], "truncated archive"),
        (lambda d: d[:10] + bytes(b ^ 0x5A for b in d[10:-8]) + d[-8:], "corrupt archive: "),
        (lambda d: b"<html>not a tarball</html>", "corrupt archive: "),
        (lambda d: gzip.compress(b"plain text, not a tar" * 40), "corrupt archive: "),
        (lambda d: b"", "truncated archive"),
    ],
)
def test_truncated_and_corrupt_archives_fail_with_a_reason(
    tmp_path: Path, mangle: object, message: str
) -> None:
    data = _tar([(f"file{i}.txt", f"content {i}\n".encode() * 200) for i in range(30)])
    with pytest.raises(ArchiveError, match=message):
        _extract(mangle(data), tmp_path)  # type: ignore[operator]


# -- listing -----------------------------------------------------------------------------
def test_listing_follows_pagination_and_applies_every_filter(server: FakeGitHub) -> None:
    for i in range(230):
        server.add_repo(f"acme/svc-{i:03d}", files={"a": "b"})
    server.add_repo("acme/old", archived=True)
    server.add_repo("acme/copy", fork=True)
    server.add_repo("acme/pay-api", topics=["payments", "python"])
    server.add_repo("acme/pay-web", topics=["Payments"])
    server.add_repo("other/svc-999")
    refs = _source(server).list_repos()
    names = [r.name for r in refs]
    assert len(names) == 232 and names == sorted(names)
    assert "acme/old" not in names and "acme/copy" not in names and "other/svc-999" not in names
    assert refs[0].url == f"{server.root}/{refs[0].name}" and refs[0].revision is None
    assert server.count("GET", r"/orgs/acme/repos") == 3  # 234 repos, 100 a page

    everything = _source(server, include_archived=True, include_forks=True).list_repos()
    assert {"acme/old", "acme/copy"} <= {r.name for r in everything}
    topical = _source(server, topics=["payments", "nope"]).list_repos()
    assert [r.name for r in topical] == ["acme/pay-api", "acme/pay-web"]
    globbed = _source(server, name_globs=["svc-00[0-2]", "acme/pay-*"]).list_repos()
    assert [r.name for r in globbed] == [
        "acme/pay-api", "acme/pay-web", "acme/svc-000", "acme/svc-001", "acme/svc-002",
    ]  # fmt: skip


def test_listing_errors_are_user_errors_or_exhaustion(server: FakeGitHub) -> None:
    with pytest.raises(ConfigError, match="organization 'acme' not found"):
        _source(server).list_repos()
    server.add_repo("acme/r")
    bad = GitHubOrgSource("acme", token="wrong", base_url=server.url)
    with pytest.raises(ConfigError, match="401: Bad credentials"):
        bad.list_repos()
    server.fail_next("GET", r"/orgs/acme/repos", 503, times=10)
    with pytest.raises(SourceExhausted, match=r"cannot list the repositories of acme: .*503"):
        _source(server).list_repos()
    with pytest.raises(ConfigError, match="organization name"):
        GitHubOrgSource("../x", token=None)
    with pytest.raises(ConfigError, match="glob"):
        GitHubOrgSource("acme", token=None, name_globs=[""])


def test_listing_skips_malformed_entries(server: FakeGitHub) -> None:
    server.add_repo("acme/good")
    server.add_repo("acme/bad")
    original = server._repo_json

    def hostile(repo: object) -> dict[str, object]:
        data = original(repo)  # type: ignore[arg-type]
        if data["full_name"] == "acme/bad":
            data["full_name"] = "acme/../../etc"
        return data

    server._repo_json = hostile  # type: ignore[method-assign]
    assert [r.name for r in _source(server).list_repos()] == ["acme/good"]


# -- resolve and checkout ----------------------------------------------------------------
def test_resolve_is_one_request_and_checkout_gives_the_files(server: FakeGitHub) -> None:
    repo = server.add_repo(
        "acme/api",
        files={"Dockerfile": "FROM python:3.12\n", "svc/opsgrade.yml": "name: api\n",
               "docs/link": Symlink("../../../etc/passwd")},
        default_branch="trunk",
    )  # fmt: skip
    source = _source(server)
    [ref] = source.list_repos()
    before = len(server.requests)
    resolved = source.resolve(ref)
    assert resolved.revision == repo.sha and resolved.url == f"{server.root}/acme/api"
    assert len(server.requests) == before + 1
    with source.checkout(resolved) as root:
        assert root.name == f"acme-api-{repo.sha[:7]}"
        assert _files(root) == {
            "Dockerfile": b"FROM python:3.12\n",
            "svc/opsgrade.yml": b"name: api\n",
        }
        folder = root.parent.parent
    assert not folder.exists()  # removed on exit
    assert server.count("GET", rf"/repos/acme/api/tarball/{repo.sha}") == 1


def test_unlisted_repository_and_missing_branch(server: FakeGitHub) -> None:
    repo = server.add_repo("acme/solo")
    source = _source(server)
    resolved = source.resolve(RepoRef("acme/solo"))  # not listed by this source: one more GET
    assert resolved.revision == repo.sha and resolved.url == f"{server.root}/acme/solo"
    with pytest.raises(FetchError, match="GitHub API error 404: Not Found"):
        source.resolve(RepoRef("acme/nothere"))
    with pytest.raises(FetchError, match="not a GitHub repository name"):
        source.resolve(RepoRef("acme/../x"))
    [*_, listed] = source.list_repos()
    server.repos["acme/solo"].default_branch = "renamed"  # after the listing
    with pytest.raises(FetchError, match="GitHub API error 404: Branch not found"):
        source.resolve(listed)
    with (
        pytest.raises(FetchError, match="not a commit id"),
        source.checkout(RepoRef("acme/solo", revision="HEAD; rm -rf /")),
    ):
        pass


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("truncate", "truncated archive"),
        ("corrupt", "corrupt archive: "),
        ("traversal", "unsafe archive: '../evil'"),
        ("huge", "archive larger than 0.00390625 MB$"),
        ("bomb", "archive larger than 0.0195312 MB uncompressed"),
    ],
)
def test_bad_archives_are_fetch_errors(server: FakeGitHub, breakage: str, message: str) -> None:
    server.add_repo("acme/r", files={f"f{i}.txt": "hello world " * 40 for i in range(40)})
    if breakage == "truncate":
        server.truncate_tarball("acme/r")
    elif breakage == "corrupt":
        server.corrupt_tarball("acme/r")
    elif breakage == "traversal":
        server.set_tarball_bytes(
            "acme/r", _tar([("a", b"a"), (_member("../evil", tarfile.REGTYPE), b"x")], None)
        )
    elif breakage == "bomb":
        server.set_tarball_bytes("acme/r", _tar([("zeros", bytes(2**20))]))
    elif breakage == "huge":
        server.set_tarball_bytes("acme/r", _tar([("noise", random.Random(1).randbytes(9000))]))
    limit = 4096 if breakage in ("huge", "bomb") else 10 * 2**20
    source = _source(server, max_archive_bytes=limit)
    ref = source.resolve(source.list_repos()[0])
    with pytest.raises(FetchError, match=message), source.checkout(ref):
        pass
    assert server.count("GET", r"/_codeload/.*") == 1  # not retried: the archive is bad


def test_download_is_bounded_without_a_content_length() -> None:
    response = requests.Response()
    response.raw = io.BytesIO(b"x" * 5000)
    stream = _Limited(response, 4096, time.monotonic() + 60)
    with pytest.raises(ArchiveError, match=r"archive larger than 0\.00390625 MB$"):
        while stream.read(1000):
            pass
    response.raw = io.BytesIO(b"x" * 5000)
    late = _Limited(response, 10_000, time.monotonic() - 1)
    with pytest.raises(ArchiveError, match="archive download took over 300s"):
        late.read()


def test_bad_pace_setting_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSGRADE_GITHUB_REQUESTS_PER_MINUTE", "fast")
    with pytest.raises(ConfigError, match="OPSGRADE_GITHUB_REQUESTS_PER_MINUTE must be"):
        GitHubOrgSource("acme", token=None)


def test_download_failures_never_show_the_archive_address(server: FakeGitHub) -> None:
    server.add_repo("acme/r")
    source = _source(server)
    ref = source.resolve(source.list_repos()[0])
    secret = {"Location": "http://127.0.0.1:9/acme/r/legacy.tar.gz/main?token=SECRET"}
    server.fail_next("GET", r"/repos/acme/r/tarball/.*", 302, headers=secret)
    with pytest.raises(FetchError) as err, source.checkout(ref):
        pass
    assert str(err.value) == "archive download failed: ConnectionError"
    assert source.scheduler.retries == 3  # a network failure is retried


# -- the scheduler against the server ----------------------------------------------------
def test_5xx_is_retried_then_given_up(server: FakeGitHub) -> None:
    repo = server.add_repo("acme/r")
    source = _source(server)
    [ref] = source.list_repos()
    server.fail_next("GET", r"/repos/acme/r/branches/main", 502, times=2)
    assert source.resolve(ref).revision == repo.sha
    assert source.scheduler.retries == 2
    server.fail_next("GET", r"/repos/acme/r/branches/main", 500, times=10)
    with pytest.raises(FetchError, match="GitHub API error 500"):
        source.resolve(ref)
    assert source.scheduler.retries == 2 + 3


def test_secondary_limit_backs_off_and_retries(server: FakeGitHub) -> None:
    repo = server.add_repo("acme/r")
    source = _source(server)
    [ref] = source.list_repos()
    body = {"message": "You have exceeded a secondary rate limit. Please wait."}
    server.fail_next("GET", r"/repos/acme/r/branches/main", 403, times=2, body=body)
    server.fail_next("GET", r"/repos/acme/r/tarball/.*", 429, headers={"Retry-After": "1"})
    start = time.monotonic()
    assert source.resolve(ref).revision == repo.sha
    with source.checkout(source.resolve(ref)):
        pass
    assert source.scheduler.secondary_hits == 3
    assert source.scheduler.waited_s >= 1.0 and time.monotonic() - start >= 1.0


def test_spreading_keeps_under_an_enforced_secondary_limit(server: FakeGitHub) -> None:
    for i in range(200):
        server.add_repo(f"acme/r{i:03d}")
    server.secondary = (40, 0.5)  # 80 a second at most, in any half second
    source = _source(server, requests_per_minute=3600.0, concurrency=4)  # 60 a second
    refs = source.list_repos()
    with ThreadPoolExecutor(8) as pool:
        resolved = list(pool.map(source.resolve, refs))
    assert [r.revision for r in resolved] == [server.repos[r.name].sha for r in refs]
    assert server.abuse_count == 0 and source.scheduler.secondary_hits == 0


def test_concurrency_never_exceeds_the_bound(server: FakeGitHub) -> None:
    for i in range(24):
        server.add_repo(f"acme/r{i:02d}", files={"a.txt": "a"})
    server.max_concurrent = 2
    server.latency_s = 0.03
    source = _source(server, concurrency=2)
    refs = source.list_repos()

    def scan(ref: RepoRef) -> dict[str, bytes]:
        resolved = source.resolve(ref)
        with source.checkout(resolved) as root:
            return _files(root)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(scan, refs))
    assert results == [{"a.txt": b"a"}] * 24
    assert server.abuse_count == 0 and source.scheduler.secondary_hits == 0


def test_core_limit_exhaustion_stops_quickly_with_the_message(server: FakeGitHub) -> None:
    for i in range(10):
        server.add_repo(f"acme/r{i}")
    server.core_limit = 5
    source = _source(server, max_wait_s=5.0)
    refs = source.list_repos()  # org + one page: 2 of 5
    start = time.monotonic()
    done = []
    with pytest.raises(SourceExhausted) as err:
        for ref in refs:
            done.append(source.resolve(ref))
    assert time.monotonic() - start < 2.0
    assert len(done) == 3
    assert re.fullmatch(
        r"rate limit: 0 requests left, resets at \d\d:\d\d UTC; "
        r"stopping after 3 of 10 repositories",
        str(err.value),
    )
    with pytest.raises(SourceExhausted):  # every later call stops at once
        source.resolve(refs[-1])
    assert server.count("GET", r"/repos/.*") == 3  # no request was wasted on a 403


def test_primary_403_waits_for_the_reset_within_the_budget(server: FakeGitHub) -> None:
    repo = server.add_repo("acme/r")
    source = _source(server, max_wait_s=30.0)
    [ref] = source.list_repos()
    reset = str(int(time.time()) + 1)
    headers = {
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Reset": reset,
    }
    body = {"message": "API rate limit exceeded for user ID 1."}
    server.fail_next("GET", r"/repos/acme/r/branches/main", 403, headers=headers, body=body)
    assert source.resolve(ref).revision == repo.sha
    assert 0 < source.scheduler.waited_s <= 3.0


def test_threads_get_their_own_answers(server: FakeGitHub) -> None:
    for i in range(40):
        server.add_repo(f"acme/r{i:02d}", files={"n": str(i)})
    server.latency_s = 0.005
    source = _source(server, concurrency=8)
    refs = source.list_repos()
    with ThreadPoolExecutor(8) as pool:
        resolved = list(pool.map(source.resolve, refs))
    assert all(r.revision == server.repos[r.name].sha for r in resolved)


# -- the scheduler alone -----------------------------------------------------------------
class _Clock:
    """A fake clock whose sleep advances time, so waits are checked without waiting."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def _scheduler(clock: _Clock, **kwargs: object) -> Scheduler:
    def classify(exc: BaseException) -> Failure | None:
        return exc.args[0] if isinstance(exc, RuntimeError) else None

    options: dict[str, object] = {
        "classify": classify, "clock": clock.time, "wall": clock.time, "sleep": clock.sleep,
        "seed": 1, **kwargs,
    }  # fmt: skip
    return Scheduler(**options)  # type: ignore[arg-type]


def test_requests_are_spaced_and_spread_when_the_quota_runs_low() -> None:
    clock = _Clock()
    sched = _scheduler(clock, requests_per_minute=600.0)
    starts = []
    for _ in range(5):
        sched.call(lambda: starts.append(clock.now))
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [0.1] * 4
    sched.observe({"X-RateLimit-Remaining": "10", "X-RateLimit-Limit": "5000",
                   "X-RateLimit-Reset": str(int(clock.now) + 100)})  # fmt: skip
    starts.clear()
    for _ in range(3):
        sched.call(lambda: starts.append(clock.now))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(g >= 9.0 for g in gaps)  # ~100 s over the 10 left, not 0.1 s
    assert 25.0 <= sched.waited_s <= 40.0  # charged to the budget
    far = _scheduler(clock, max_wait_s=50.0)  # a reset beyond the budget: full pace
    far.observe({"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": str(int(clock.now) + 100)})
    starts.clear()
    for _ in range(3):
        far.call(lambda: starts.append(clock.now))
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [0.1] * 2


def test_unclassified_errors_propagate_untouched() -> None:
    sched = _scheduler(_Clock())
    with pytest.raises(KeyError):
        sched.call(lambda: {}["x"])
    assert sched.retries == 0


def test_secondary_limit_without_retry_after_backs_off_exponentially() -> None:
    clock = _Clock()
    sched = _scheduler(clock, max_wait_s=3000.0)
    failures = iter([Failure(status=403, message="You have exceeded a secondary rate limit")] * 4)

    def request() -> str:
        failure = next(failures, None)
        if failure:
            raise RuntimeError(failure)
        return "ok"

    start = clock.now
    assert sched.call(request) == "ok"
    assert sched.secondary_hits == 4 and sched.retries == 4
    # GitHub's docs: at least a minute, then exponentially longer (jittered, doubling)
    assert 60 + 120 + 240 + 480 <= clock.now - start <= 120 + 240 + 480 + 900
    assert sched.waited_s == pytest.approx(clock.now - start, abs=0.5)


def test_a_retry_after_over_the_budget_stops_the_source() -> None:
    clock = _Clock()
    sched = _scheduler(
        clock, max_wait_s=30.0, progress=lambda: "stopping after 7 of 9 repositories"
    )

    def request() -> None:
        raise RuntimeError(Failure(status=429, headers={"Retry-After": "120"}))

    with pytest.raises(SourceExhausted, match=r"asked to wait 120s.*30s wait budget.*7 of 9"):
        sched.call(request)
    with pytest.raises(SourceExhausted):
        sched.call(lambda: None)


def test_parallel_waits_are_charged_to_the_budget_once() -> None:
    clock = _Clock()
    sched = _scheduler(clock, max_wait_s=100.0, sleep=lambda s: None)  # both wait at once
    sched._pause(10.0)
    sched._pause(5.0)  # inside the first pause: costs nothing more
    assert sched.waited_s == pytest.approx(10.0)


# -- end to end: `opsgrade org scan --github-org` ----------------------------------------
def _org_scan(
    gh: FakeGitHub, tmp_path: Path, *extra: str
) -> tuple[int, str, dict[str, dict[str, object]]]:
    env = {
        **os.environ,
        "GITHUB_API_URL": gh.url,
        "GITHUB_TOKEN": TOKEN,
        "OPSGRADE_GITHUB_REQUESTS_PER_MINUTE": "60000",
        "NO_COLOR": "1",
    }
    args = ["org", "scan", "--github-org", "acme", "--db", str(tmp_path / "org.db")]
    args += ["--out", str(tmp_path / "out"), "--jobs", "2", "--today", "2026-01-01", *extra]
    cmd = [sys.executable, "-m", "opsgrade.engine", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    report = json.loads((tmp_path / "out" / "report.json").read_bytes())
    return proc.returncode, proc.stderr, {r["name"]: r for r in report["repos"]}


def test_org_scan_fetches_changed_repositories_only(server: FakeGitHub, tmp_path: Path) -> None:
    files = {"Dockerfile": "FROM python:3.12-slim\nUSER app\n", "opsgrade.yml": "owner: team-a\n"}
    repos = [server.add_repo(f"acme/svc-{i}", files=files) for i in range(3)]
    server.add_repo("acme/broken", files=files)
    server.truncate_tarball("acme/broken")
    tarballs = r"/repos/acme/[^/]+/tarball/[0-9a-f]{40}"

    code, err, first = _org_scan(server, tmp_path)
    assert code == 0, err
    assert {n: r["status"] for n, r in first.items()} == {
        "acme/broken": "failed", "acme/svc-0": "scanned", "acme/svc-1": "scanned",
        "acme/svc-2": "scanned",
    }  # fmt: skip
    assert first["acme/broken"]["error"] == "truncated archive"
    assert first["acme/svc-0"]["revision"] == repos[0].sha
    assert first["acme/svc-0"]["url"] == f"{server.root}/acme/svc-0"
    assert "GitHub: " in err and " 0 secondary-limit answers" in err
    assert server.count("GET", tarballs) == 4

    del server.repos["acme/broken"]
    server.requests.clear()
    code, err, second = _org_scan(server, tmp_path)
    assert code == 0, err
    assert {r["status"] for r in second.values()} == {"reused"} and len(second) == 3
    assert server.count("GET", tarballs) == 0
    assert server.count("GET", r"/_codeload/.*") == 0

    repos[1].set_files({**files, "README.md": "# svc-1\n"})
    server.requests.clear()
    code, err, third = _org_scan(server, tmp_path)
    assert code == 0, err
    assert {n: r["status"] for n, r in third.items()} == {
        "acme/svc-0": "reused", "acme/svc-1": "scanned", "acme/svc-2": "reused",
    }  # fmt: skip
    assert third["acme/svc-1"]["revision"] == repos[1].sha
    assert server.count("GET", tarballs) == 1


def test_org_scan_stops_at_the_rate_limit_and_resumes(server: FakeGitHub, tmp_path: Path) -> None:
    for i in range(6):
        server.add_repo(f"acme/svc-{i}", files={"README.md": f"# {i}\n"})
    server.core_limit = 8  # the org, one page, then 6 requests for 6 repositories
    code, err, first = _org_scan(server, tmp_path)
    assert code == 1, err
    assert re.search(
        r"the run stopped early \(rate limit: 0 requests left, resets at \d\d:\d\d UTC; "
        r"stopping after \d of 6 repositories\); run the same command with --resume",
        err,
    ), err
    assert len(first) < 6  # the fetch threads may resolve ahead of any finished scan
    assert server.abuse_count == 0 and server.count("GET", r"/repos/.*") <= 6

    server.core_limit = 5000  # the hour turned
    server.requests.clear()
    code, err, second = _org_scan(server, tmp_path, "--resume")
    assert code == 0, err
    assert sorted(second) == [f"acme/svc-{i}" for i in range(6)]
    assert {r["status"] for r in second.values()} == {"scanned"}
    assert server.count("GET", r"/repos/acme/[^/]+/tarball/.*") == 6 - len(first)
