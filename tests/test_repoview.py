"""RepoView: what the engine may read of a repository, and what it must never read.

WorkTreeView reads a folder on disk; GitRevisionView reads a commit from the object
store without touching the work tree, HEAD or the index. Both list repo-relative paths,
never follow a symlink out of their root, refuse binary and oversized files with a
note, and decode text tolerantly.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from gitutil import git

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.packs import PackSource
from opsgrade.engine.repoview import (
    DEFAULT_MAX_FILE_SIZE,
    GitRevisionView,
    Unreadable,
    WorkTreeView,
    decode_text,
    open_view,
)
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.reporters import RenderOptions, get_reporter

MARKER = "OPSGRADE_LEAK_MARKER_7f3a9c"

needs_symlinks = pytest.mark.skipif(
    sys.platform == "win32", reason="symlink semantics under test are POSIX ones"
)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def noted(view: WorkTreeView | GitRevisionView) -> dict[str, str]:
    return {n.path: n.message for n in view.notes()}


def finishes(fn: Callable[[], object], seconds: float = 20.0) -> object:
    """Run `fn` in a daemon thread; fail (instead of hanging the suite) if it never ends."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not finish within {seconds} s"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


# --------------------------------------------------------------------------- listing


def test_lists_files_sorted_and_repo_relative(tmp_path: Path) -> None:
    for rel in ("z.txt", "a/b.txt", "A.txt", "a/c/d.txt", ".github/workflows/ci.yml", "b"):
        write(tmp_path / rel, "x\n")
    view = WorkTreeView(tmp_path)
    files = list(view.files())
    assert files == sorted(files)
    assert files == [".github/workflows/ci.yml", "A.txt", "a/b.txt", "a/c/d.txt", "b", "z.txt"]
    assert view.name == tmp_path.name
    assert view.revision is None
    assert view.notes() == []


def test_prunes_vcs_and_dependency_folders_at_any_depth(tmp_path: Path) -> None:
    write(tmp_path / "keep.txt", "x")
    write(tmp_path / ".git" / "config", "[core]\n")
    write(tmp_path / "node_modules" / "left-pad" / "index.js", "x")
    write(tmp_path / "svc" / "node_modules" / "dep" / "package.json", "{}")
    write(tmp_path / "svc" / ".venv" / "lib" / "site.py", "x")
    write(tmp_path / "svc" / "main.py", "x")
    # A file (not a folder) that happens to be named like a pruned folder is kept.
    write(tmp_path / "docs" / "node_modules", "a file, not a folder")
    assert list(WorkTreeView(tmp_path).files()) == ["docs/node_modules", "keep.txt", "svc/main.py"]


def test_not_a_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        WorkTreeView(tmp_path / "missing")
    with pytest.raises(ConfigError):
        WorkTreeView(write(tmp_path / "file.txt", "x"))


def test_path_not_listed_is_unreadable(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "x")
    view = WorkTreeView(tmp_path)
    with pytest.raises(Unreadable):
        view.read_text("missing.txt")
    with pytest.raises(Unreadable):
        view.read_text("../etc/passwd")


# --------------------------------------------------------------------------- symlinks


@pytest.fixture
def escape(tmp_path: Path) -> tuple[Path, Path]:
    """A repository folder and, beside it, a secret file holding MARKER."""
    root = tmp_path / "repo"
    outside = tmp_path / "outside"
    write(outside / "secret.txt", f"token: {MARKER}\n")
    write(root / "README.md", "# service\n")
    return root, outside / "secret.txt"


@needs_symlinks
@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_symlink_out_of_root_is_noted_not_listed_not_read(
    escape: tuple[Path, Path], kind: str
) -> None:
    root, secret = escape
    target = str(secret) if kind == "absolute" else "../outside/secret.txt"
    os.symlink(target, root / "leak.txt")
    view = WorkTreeView(root)
    assert "leak.txt" not in view.files()
    assert "outside the repository" in noted(view)["leak.txt"]
    with pytest.raises(Unreadable):
        view.read_text("leak.txt")


@needs_symlinks
def test_symlink_chain_that_ends_outside_is_not_followed(escape: tuple[Path, Path]) -> None:
    root, secret = escape
    os.symlink(str(secret), root / "hop2")
    os.symlink("hop2", root / "hop1")  # in-root link to an in-root link to the outside
    view = WorkTreeView(root)
    assert "hop1" not in view.files()
    assert "hop2" not in view.files()
    assert {"hop1", "hop2"} <= set(noted(view))


@needs_symlinks
def test_escaping_symlink_content_never_reaches_scan_output(
    escape: tuple[Path, Path], tmp_path: Path
) -> None:
    root, secret = escape
    os.symlink(str(secret), root / "abs-leak.env")
    (root / "conf").mkdir()
    os.symlink("../../outside/secret.txt", root / "conf" / "rel-leak.env")
    os.symlink("../outside", root / "outdir")
    # The rule passes only if some file's text matches the marker; its regex does not
    # spell the marker, so the marker can only reach the output through the file.
    pack = write(
        tmp_path / "pack.yml",
        f"""\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {{name: leak, version: 1.0.0}}
levels: [bronze]
rules:
  - id: LEAK1
    title: Some file holds the marker
    level: bronze
    category: security
    check: {{file: {{exists: ["**"], contains: "{MARKER[:-6]}[0-9a-f]{{6}}"}}}}
    help: Fails unless the secret was read.
""",
    )
    run = scan(ScanRequest(root, packs=[PackSource("file", str(pack))], today=dt.date(2025, 1, 1)))
    (report,) = run.services
    (result,) = report.results
    assert result.rule == "LEAK1"
    assert result.status == "fail"
    noted_paths = {n.path for n in run.notes}
    assert {"abs-leak.env", "conf/rel-leak.env", "outdir"} <= noted_paths
    for fmt in ("text", "json"):
        out = get_reporter(fmt).render(run, RenderOptions(color=False))
        assert MARKER not in out
        assert "abs-leak.env" in out  # the note is there, the content is not


@needs_symlinks
def test_in_root_symlink_to_a_file_is_listed_and_readable(tmp_path: Path) -> None:
    write(tmp_path / "real" / "a.txt", "hello\n")
    os.symlink("real/a.txt", tmp_path / "alias.txt")
    os.symlink(str(tmp_path / "real" / "a.txt"), tmp_path / "abs-alias.txt")
    view = WorkTreeView(tmp_path)
    assert list(view.files()) == ["abs-alias.txt", "alias.txt", "real/a.txt"]
    assert view.read_text("alias.txt") == "hello\n"
    assert view.read_text("abs-alias.txt") == "hello\n"
    assert view.notes() == []


@needs_symlinks
def test_in_root_symlink_into_git_or_pruned_folder_is_not_followed(tmp_path: Path) -> None:
    # actions/checkout keeps the job's token in .git/config: a committed link must not
    # turn it into a file that rules read.
    write(tmp_path / ".git" / "config", f"[http]\n\textraheader = AUTHORIZATION: {MARKER}\n")
    write(tmp_path / "node_modules" / "dep" / "index.js", "x")
    write(tmp_path / "README.md", "# r\n")
    os.symlink(".git/config", tmp_path / "Dockerfile")
    os.symlink("node_modules/dep/index.js", tmp_path / "dep.js")
    view = WorkTreeView(tmp_path)
    assert list(view.files()) == ["README.md"]
    notes = noted(view)
    assert "skipped folder" in notes["Dockerfile"]
    assert "skipped folder" in notes["dep.js"]
    with pytest.raises(Unreadable):
        view.read_text("Dockerfile")


@needs_symlinks
def test_symlink_to_a_folder_is_not_followed(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "f.txt", "x")
    os.symlink("sub", tmp_path / "linked")
    os.symlink(".", tmp_path / "self")  # followed, it would list every file again
    assert list(WorkTreeView(tmp_path).files()) == ["sub/f.txt"]


@needs_symlinks
def test_symlink_loops_do_not_hang(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "x")
    os.symlink("loop2", tmp_path / "loop1")
    os.symlink("loop1", tmp_path / "loop2")
    os.symlink("me", tmp_path / "me")
    write(tmp_path / "d" / "e.txt", "y")
    os.symlink("..", tmp_path / "d" / "up")
    view = finishes(lambda: WorkTreeView(tmp_path))
    assert isinstance(view, WorkTreeView)
    assert list(view.files()) == ["a.txt", "d/e.txt"]


@needs_symlinks
def test_file_replaced_by_symlink_after_listing_is_not_followed(
    escape: tuple[Path, Path],
) -> None:
    root, secret = escape
    view = WorkTreeView(root)
    assert "README.md" in view.files()
    (root / "README.md").unlink()
    os.symlink(str(secret), root / "README.md")  # swapped between listing and reading
    with pytest.raises(Unreadable):
        view.read_text("README.md")
    assert "README.md" in noted(view)


@needs_symlinks
def test_in_root_link_target_replaced_by_symlink_after_listing_is_not_followed(
    escape: tuple[Path, Path],
) -> None:
    root, secret = escape
    os.symlink("README.md", root / "alias.md")
    view = WorkTreeView(root)
    assert "alias.md" in view.files()
    (root / "README.md").unlink()
    os.symlink(str(secret), root / "README.md")
    with pytest.raises(Unreadable):
        view.read_text("alias.md")


# --------------------------------------------------------------------------- content bounds


def test_binary_file_is_unreadable_and_noted(tmp_path: Path) -> None:
    write(tmp_path / "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    view = WorkTreeView(tmp_path)
    assert view.files() == ["logo.png"]  # listed: file checks may still match its name
    with pytest.raises(Unreadable) as info:
        view.read_text("logo.png")
    assert info.value.path == "logo.png"
    assert "binary" in noted(view)["logo.png"]


def test_oversized_file_is_unreadable_and_noted(tmp_path: Path) -> None:
    write(tmp_path / "big.txt", "a" * 2000)
    write(tmp_path / "small.txt", "ok")
    view = WorkTreeView(tmp_path, max_file_size=1000)
    assert view.read_text("small.txt") == "ok"
    with pytest.raises(Unreadable) as info:
        view.read_text("big.txt")
    assert "1000" in info.value.reason
    assert "larger than 1000 bytes" in noted(view)["big.txt"]


def test_limit_file_size_changes_the_bound(tmp_path: Path) -> None:
    write(tmp_path / "big.txt", "a" * 2000)
    raised = WorkTreeView(tmp_path, max_file_size=1000)
    raised.limit_file_size(4096)
    assert raised.read_text("big.txt") == "a" * 2000
    assert raised.notes() == []

    lowered = WorkTreeView(tmp_path)
    assert DEFAULT_MAX_FILE_SIZE > 2000
    lowered.limit_file_size(100)
    with pytest.raises(Unreadable):
        lowered.read_text("big.txt")


def test_file_that_grew_past_the_bound_after_listing_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "log.txt", "short\n")
    view = WorkTreeView(tmp_path, max_file_size=1000)
    write(tmp_path / "log.txt", "x" * 5000)
    with pytest.raises(Unreadable):
        view.read_text("log.txt")  # never a silently truncated text
    assert "log.txt" in noted(view)


# --------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"\xef\xbb\xbfname: svc\n", "name: svc\n"),
        ("héllo\r\nwörld\r\n".encode("utf-16"), "héllo\nwörld\n"),
        (b"\xff\xfe" + "a\r\nb".encode("utf-16-le"), "a\nb"),
        (b"\xfe\xff" + "a\r\nb".encode("utf-16-be"), "a\nb"),
        (b"one\r\ntwo\r\n", "one\ntwo\n"),
        (b"one\rtwo\rthree", "one\ntwo\nthree"),
        (b"mixed\r\nlone\rnl\n", "mixed\nlone\nnl\n"),
        (b"caf\xe9 \xff\xfe ok\n", "caf\ufffd \ufffd\ufffd ok\n"),
        (b"", ""),
    ],
)
def test_decode_text(raw: bytes, text: str) -> None:
    assert decode_text(raw) == text


def test_view_decodes_bom_utf16_newlines_and_invalid_utf8(tmp_path: Path) -> None:
    write(tmp_path / "bom.yml", b"\xef\xbb\xbfname: svc\r\n")
    write(tmp_path / "wide.txt", "naïve\r\nline\r\n".encode("utf-16"))
    write(tmp_path / "mac.txt", b"a\rb\r")
    write(tmp_path / "latin1.txt", b"caf\xe9\n")
    view = WorkTreeView(tmp_path)
    assert view.read_text("bom.yml") == "name: svc\n"
    assert view.read_text("wide.txt") == "naïve\nline\n"
    assert view.read_text("mac.txt") == "a\nb\n"
    assert view.read_text("latin1.txt") == "caf\ufffd\n"
    assert view.notes() == []


# --------------------------------------------------------------------------- git revisions


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def two_commits(tmp_path: Path) -> tuple[Path, str, str]:
    repo = init_repo(tmp_path / "repo")
    write(repo / "a.txt", "old\n")
    write(repo / "gone.txt", "deleted later\n")
    write(repo / "svc" / "main.py", "print('v1')\n")
    first = commit_all(repo, "one")
    write(repo / "a.txt", "new\n")
    (repo / "gone.txt").unlink()
    write(repo / "added.txt", "added\n")
    second = commit_all(repo, "two")
    return repo, first, second


def _state(repo: Path) -> dict[str, object]:
    """Everything a read-only view must leave as it was."""
    mtimes = {
        str(p.relative_to(repo)): p.stat().st_mtime_ns
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }
    index = repo / ".git" / "index"
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "symbolic-ref", "HEAD"),
        "index": (index.read_bytes(), index.stat().st_mtime_ns),
        "mtimes": mtimes,
        "contents": {rel: (repo / rel).read_bytes() for rel in mtimes},
    }


def test_git_revision_sees_old_content_and_leaves_repo_untouched(
    two_commits: tuple[Path, str, str],
) -> None:
    repo, first, _second = two_commits
    # A dirty work tree and a staged change: neither may be disturbed.
    write(repo / "a.txt", "uncommitted\n")
    write(repo / "staged.txt", "staged\n")
    git(repo, "add", "staged.txt")
    status_before = git(repo, "status", "--porcelain")
    before = _state(repo)

    view = GitRevisionView(repo, "HEAD~1")
    try:
        assert view.revision == first
        assert list(view.files()) == ["a.txt", "gone.txt", "svc/main.py"]
        assert view.read_text("a.txt") == "old\n"
        assert view.read_text("gone.txt") == "deleted later\n"
        with pytest.raises(Unreadable):
            view.read_text("added.txt")
    finally:
        view.close()

    assert _state(repo) == before
    assert git(repo, "status", "--porcelain") == status_before


def test_git_head_sees_committed_not_work_tree(two_commits: tuple[Path, str, str]) -> None:
    repo, _first, second = two_commits
    write(repo / "a.txt", "uncommitted\n")
    write(repo / "untracked.txt", "x\n")
    view = open_view(repo, "HEAD")
    assert isinstance(view, GitRevisionView)
    assert view.revision == second
    assert view.name == "repo"
    assert list(view.files()) == ["a.txt", "added.txt", "svc/main.py"]
    assert view.read_text("a.txt") == "new\n"
    view.close()


@needs_symlinks
def test_git_symlink_out_of_repo_is_noted_not_followed(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo / "README.md", "# r\n")
    os.symlink("../../etc/passwd", repo / "passwd")
    (repo / "deep" / "er").mkdir(parents=True)
    os.symlink("../../../outside.txt", repo / "deep" / "er" / "up")
    os.symlink("/etc/hostname", repo / "abs")
    commit_all(repo, "links")
    view = GitRevisionView(repo, "HEAD")
    notes = noted(view)
    for rel in ("passwd", "deep/er/up", "abs"):
        assert rel not in view.files()
        assert "outside the repository" in notes[rel]
        with pytest.raises(Unreadable):
            view.read_text(rel)
    assert list(view.files()) == ["README.md"]
    view.close()


@needs_symlinks
def test_git_symlink_to_in_repo_file_resolves(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo / "docs" / "real.md", "real content\n")
    os.symlink("docs/real.md", repo / "README.md")
    (repo / "sub").mkdir()
    os.symlink("../docs/real.md", repo / "sub" / "link.md")
    os.symlink("docs", repo / "docs-link")  # a folder: not listed
    commit_all(repo, "links")
    view = GitRevisionView(repo, "HEAD")
    assert list(view.files()) == ["README.md", "docs/real.md", "sub/link.md"]
    assert view.read_text("README.md") == "real content\n"
    assert view.read_text("sub/link.md") == "real content\n"
    view.close()


@needs_symlinks
def test_git_view_of_a_subfolder_uses_the_prefix(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo / "top.txt", "top\n")
    write(repo / "svc" / "main.py", "v1\n")
    write(repo / "svc" / "pkg" / "mod.py", "mod\n")
    write(repo / "svc2" / "other.py", "other\n")
    os.symlink("../top.txt", repo / "svc" / "escape")  # outside the scanned folder
    os.symlink("pkg/mod.py", repo / "svc" / "alias.py")
    commit_all(repo, "one")
    write(repo / "svc" / "main.py", "v2\n")
    commit_all(repo, "two")

    view = GitRevisionView(repo / "svc", "HEAD~1")
    assert view.name == "svc"
    assert list(view.files()) == ["alias.py", "main.py", "pkg/mod.py"]
    assert view.read_text("main.py") == "v1\n"
    assert view.read_text("alias.py") == "mod\n"
    assert "outside the repository" in noted(view)["escape"]
    view.close()

    # The same folder as a work tree agrees on what is visible.
    tree = WorkTreeView(repo / "svc")
    assert list(tree.files()) == ["alias.py", "main.py", "pkg/mod.py"]
    assert "escape" in noted(tree)


@needs_symlinks
def test_git_view_lists_what_the_work_tree_view_lists(tmp_path: Path) -> None:
    """A PR gate compares a revision with the work tree: both must see the same files."""
    repo = init_repo(tmp_path / "repo")
    write(repo / "main.py", "x\n")
    write(repo / "node_modules" / "dep" / "index.js", "x\n")
    write(repo / "svc" / ".venv" / "lib" / "site.py", "x\n")
    write(repo / "svc" / "__pycache__" / "m.pyc", b"\x00")
    write(repo / "docs" / "node_modules", "a file named like a pruned folder\n")
    os.symlink("node_modules/dep/index.js", repo / "dep.js")
    git(repo, "add", "-A", "-f")
    git(repo, "commit", "-q", "-m", "vendored")
    tree = WorkTreeView(repo)
    rev = GitRevisionView(repo, "HEAD")
    assert list(rev.files()) == list(tree.files()) == ["docs/node_modules", "main.py"]
    assert noted(rev).keys() == noted(tree).keys() == {"dep.js"}
    rev.close()


def test_git_oversized_and_binary_blobs(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo / "big.txt", "a" * 3000)
    write(repo / "bin.dat", b"\x00\x01\x02")
    write(repo / "crlf.txt", b"\xef\xbb\xbfa\r\nb\r\n")
    commit_all(repo, "blobs")
    view = GitRevisionView(repo, "HEAD", max_file_size=1024)
    with pytest.raises(Unreadable):
        view.read_text("big.txt")
    with pytest.raises(Unreadable):
        view.read_text("bin.dat")
    assert view.read_text("crlf.txt") == "a\nb\n"
    assert set(noted(view)) == {"big.txt", "bin.dat"}
    view.limit_file_size(4096)
    assert view.read_text("big.txt") == "a" * 3000
    view.close()


def test_unknown_revision_is_a_config_error(two_commits: tuple[Path, str, str]) -> None:
    repo, _first, _second = two_commits
    for rev in ("nope", "HEAD~10", "--all", "-h"):
        with pytest.raises(ConfigError) as info:
            GitRevisionView(repo, rev)
        assert "unknown revision" in str(info.value)


def test_revision_outside_a_git_repository_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(ConfigError):
        GitRevisionView(plain, "HEAD")


def test_cli_unknown_revision_exits_2_without_traceback(
    two_commits: tuple[Path, str, str],
) -> None:
    repo, _first, _second = two_commits
    proc = subprocess.run(
        [sys.executable, "-m", "opsgrade.engine", "scan", str(repo), "--rev", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "unknown revision" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""
