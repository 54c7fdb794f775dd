"""Regressions found by a user's QA pass over the Action, the org scan and pack publishing.

Each test reproduces one bug as a user met it (the command, the input), and checks the
behaviour the docs promise: one clear line, the documented exit code, no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from orgfolder import make_org, org_scan
from packrepos import opsgrade, use_cache

from opsgrade.engine.org.local import FolderSource
from opsgrade.engine.repoview import GitRevisionView, WorkTreeView

PAYMENTS = Path(__file__).resolve().parent.parent / "fixtures" / "repos" / "payments" / "repo"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=qa@example.com", "-c", "user.name=qa", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _bad_name_repo(root: Path) -> Path:
    """A repository with a file and a folder whose names are not UTF-8."""
    root.mkdir(parents=True)
    (root / "README.md").write_text("# svc\n")
    (Path(os.fsdecode(bytes(root) + b"/\xff\xfe.yml"))).write_text("a: 1\n")
    folder = Path(os.fsdecode(bytes(root) + b"/dir\xff"))
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM ubuntu\n")
    return root


# -- non-UTF-8 names: `opsgrade scan` and `org scan` crashed with UnicodeEncodeError -------


def test_a_non_utf8_file_name_is_skipped_with_a_note_not_a_crash(tmp_path: Path) -> None:
    repo = _bad_name_repo(tmp_path / "svc")
    view = WorkTreeView(repo)
    assert view.files() == ["README.md"]
    assert [(n.path, n.message) for n in view.notes()] == [
        ("\\xff\\xfe.yml", "the name is not UTF-8; skipped"),
        ("dir\\xff", "the name is not UTF-8; skipped"),
    ]


def test_scan_and_sarif_of_a_repo_with_non_utf8_names_succeed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _bad_name_repo(tmp_path / "svc")
    code, out, err = opsgrade(capsys, "scan", str(repo), "--format", "sarif")
    assert code in (0, 1), err
    assert "Traceback" not in err
    json.loads(out)  # valid JSON: no lone surrogate reached the output


def test_a_git_revision_with_a_non_utf8_file_name_is_skipped(tmp_path: Path) -> None:
    repo = _bad_name_repo(tmp_path / "svc")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    view = GitRevisionView(repo, "HEAD")
    try:
        assert view.files() == ["README.md"]
        assert "\\xff\\xfe.yml" in [n.path for n in view.notes()]
    finally:
        view.close()


def test_org_scan_skips_a_repository_folder_whose_name_is_not_utf8(tmp_path: Path) -> None:
    org = make_org(tmp_path / "org", ["payments"])
    _bad_name_repo(Path(os.fsdecode(bytes(org) + b"/bad\xffname")))
    _bad_name_repo(org / "weird-files")
    assert [r.name for r in FolderSource(org).list_repos()] == ["payments", "weird-files"]

    proc = org_scan(str(org), "--db", str(tmp_path / "org.db"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "bad\\xffname: the name is not UTF-8; skipped" in proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {r["name"]: r["status"] for r in report["repos"]} == {
        "payments": "scanned",
        "weird-files": "scanned",
    }


# -- pack URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref", ["ftp://example.com/packs@v1#path=a.yml", "https://example.com/packs@v1#path=a.yml"]
)
def test_a_pack_url_without_git_plus_is_refused_as_a_url(
    ref: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was read as a local path: `ftp:/example.com/...: cannot read pack`."""
    code, _, err = opsgrade(capsys, "rules", "list", "--pack", ref)
    assert code == 2
    assert err.strip() == (
        f"opsgrade: error: pack URL {ref!r}: a pack is fetched from git only, with a "
        "git+https://, git+ssh:// or git+file:// URL"
    )


def test_a_git_failure_shows_gits_own_reason_not_its_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """git ends with "...and the repository exists."; the error showed only that line."""
    use_cache(tmp_path, monkeypatch)
    missing = tmp_path / "no-such-repo"
    code, _, err = opsgrade(
        capsys, "rules", "list", "--pack", f"git+file://{missing}@v1#path=a.yml"
    )
    assert code == 2
    assert f"git ls-remote failed: fatal: '{missing}' does not appear to be a git repository" in err
    assert "repository exists" not in err


def test_a_base_commit_that_cannot_be_fetched_names_gits_reason(tmp_path: Path) -> None:
    """`opsgrade action` said "cannot fetch the base commit ...: and the repository exists."."""
    from opsgrade.engine.errors import ConfigError
    from opsgrade.engine.github.checkout import ensure_commit

    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "head")
    _git(repo, "remote", "add", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(ConfigError) as caught:
        ensure_commit(repo, "a" * 40, timeout=30)
    message = caught.value.message
    assert "from origin: fatal: '" in message
    assert "does not appear to be a git repository" in message
    assert "repository exists" not in message


def test_packs_test_of_a_git_pack_says_so_instead_of_a_mangled_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said `expected git+file:/...@v1#path=p.tests.yml`, a path looked up on disk."""
    use_cache(tmp_path, monkeypatch)
    packs = tmp_path / "packs"
    packs.mkdir()
    (packs / "p.yml").write_text(
        "apiVersion: opsgrade/v1\nkind: RulePack\n"
        "metadata: {name: qa, version: 1.0.0, description: qa}\n"
        "levels: [bronze]\ncategories: [security]\n"
        "rules:\n  - {id: QA001, title: t, level: bronze, category: security,\n"
        "     check: {file: {exists: [README.md]}}, help: h, fix: f}\n"
    )
    (packs / "p.tests.yml").write_text("QA001: []\n")
    _git(packs, "init", "-q")
    _git(packs, "add", "-A")
    _git(packs, "commit", "-qm", "v1")
    _git(packs, "tag", "v1")
    ref = f"git+file://{packs}@v1#path=p.yml"
    code, _, err = opsgrade(capsys, "packs", "test", ref)
    assert code == 2
    assert err.strip() == (
        f"opsgrade: error: {ref}: the cases of a pack fetched from git are not run; clone the "
        "repository at that ref and test the pack file"
    )


def test_an_unknown_key_is_never_suggested_as_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check: {file: {path: ...}}` said "unknown key `path`; did you mean `path`?": the
    hint came from every struct of the pack, and `path` is a key elsewhere."""
    pack = tmp_path / "p.yml"
    rule = "  - {id: QA001, title: t, level: bronze, category: security, help: h, fix: f,\n"
    head = (
        "apiVersion: opsgrade/v1\nkind: RulePack\n"
        "metadata: {name: qa, version: 1.0.0, description: qa}\n"
        "levels: [bronze]\ncategories: [security]\nrules:\n" + rule
    )
    pack.write_text(head + "     check: {file: {path: README.md}}}\n")
    code, out, err = opsgrade(capsys, "packs", "lint", str(pack))
    out += err
    assert code == 2
    assert f"{pack}:8: rules[0].check.file.path: unknown key `path`\n" in out
    pack.write_text(head + "     check: {file: {exist: [README.md]}}}\n")
    code, out, err = opsgrade(capsys, "packs", "lint", str(pack))
    out += err
    assert "unknown key `exist`; did you mean `exists`?" in out


# -- `{pack_dir}` of a repository's own pack ---------------------------------------------

_CMD_PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: local-checks, version: 1.0.0, description: local}
levels: [bronze]
categories: [security]
rules:
  - id: LOC001
    title: the pack's own program decides
    level: bronze
    category: security
    check: {command: {run: ["{python}", "{pack_dir}/check.py"]}}
    help: h
    fix: f
"""


def _command_repo(root: Path, verdict: str) -> Path:
    (root / ".opsgrade" / "packs").mkdir(parents=True)
    (root / ".opsgrade" / "config.yml").write_text(
        "apiVersion: opsgrade/v1\nkind: Config\npacks: [.opsgrade/packs/local.yml]\n"
        "trusted_packs: [local-checks]\n"
    )
    (root / ".opsgrade" / "packs" / "local.yml").write_text(_CMD_PACK)
    (root / ".opsgrade" / "packs" / "check.py").write_text(
        f'print(\'{{"status": "{verdict}", "message": "from {root.name}"}}\')\n'
    )
    return root


def test_a_repository_packs_pack_dir_is_in_the_repository_not_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opsgrade scan ../repo` resolved `{pack_dir}` against the current folder: an error
    ("needs pack local-checks to be a file on disk"), or, where the current folder has the
    same path, that folder's program deciding the rule."""
    repo = _command_repo(tmp_path / "repo", "fail")
    decoy = _command_repo(tmp_path / "decoy", "pass")
    monkeypatch.chdir(decoy)
    code, out, err = opsgrade(capsys, "scan", str(repo), "--format", "json")
    assert code == 1, err
    (result,) = [r for s in json.loads(out)["services"] for r in s["results"]]
    assert (result["status"], result["message"]) == ("fail", "from repo")


def test_the_actions_pull_request_gate_runs_trusted_command_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Action compared the base with the git revision HEAD, where every `command`
    check is `error` ("command checks need a work tree"): a trusted pack's program never
    ran in a pull-request gate."""
    repo = _command_repo(tmp_path / "repo", "pass")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    (repo / "README.md").write_text("# svc\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "head")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    side = {"repo": {"full_name": "acme/svc"}}
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "pull_request": {
                    "number": 1,
                    "base": {"sha": base, "ref": "main", **side},
                    "head": {"sha": head, "ref": "feature", **side},
                }
            }
        )
    )
    for name in [k for k in os.environ if k.startswith(("GITHUB_", "OPSGRADE_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.chdir(repo)
    code, _, err = opsgrade(
        capsys, "action", "--no-comment", "--sarif-file", "", "--format", "json=run.json"
    )
    assert code == 0, err
    run = json.loads((repo / "run.json").read_text())
    (result,) = [r for s in run["services"] for r in s["results"]]
    assert (result["status"], result["message"]) == ("pass", "from repo")
    assert run["comparison"] is not None


def test_a_pull_request_cannot_rewrite_the_program_of_the_base_pack_that_judges_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The base revision's pack ran `{pack_dir}/check.py` from the work tree, so a change
    that edited check.py to print "pass" passed its own gate."""
    repo = _command_repo(tmp_path / "repo", "fail")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    (repo / ".opsgrade" / "packs" / "check.py").write_text(
        'print(\'{"status": "pass", "message": "rewritten"}\')\n'
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = opsgrade(capsys, "diff", str(repo), "--base", "HEAD", "--format", "json")
    assert code == 0, err  # failing on both sides: no regression, and not a pass either
    run = json.loads(out)
    (result,) = [r for s in run["services"] for r in s["results"]]
    assert (result["status"], result["message"]) == ("fail", "from repo")
    assert run["comparison"]["config_changed"] is True


def test_a_command_check_failing_on_both_sides_is_not_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The base (a git revision) cannot run a command check: `error`. The work-tree head
    runs it: `fail`. That was reported as a new failure, so every pull request of a repo
    with an open finding "regressed"."""
    repo = _command_repo(tmp_path / "repo", "fail")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    (repo / "README.md").write_text("# svc\n")
    code, out, err = opsgrade(capsys, "diff", str(repo), "--base", "HEAD", "--format", "json")
    assert code == 0, err
    (change,) = json.loads(out)["comparison"]["services"]
    assert change["new_failures"] == [] and change["fixed"] == []
    assert [r["rule"] for r in change["unchanged"]] == ["LOC001"]


def test_inline_python_is_named_as_such_in_messages() -> None:
    """`{python} -c CODE` that timed out said "-c timed out after 1s"."""
    import sys

    from opsgrade.engine.primitives.command import program_name

    assert program_name([sys.executable, "-c", "pass"]).endswith(" -c")
    assert program_name([sys.executable, "-m", "acme.check"]) == "acme.check"
    assert program_name([sys.executable, "/p/check.py"]) == "check.py"


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(entry.name))
    return found


def test_a_base_fetch_that_times_out_leaves_no_git_helper_behind(tmp_path: Path) -> None:
    """On timeout only `git` was killed; its `git remote-http` helper kept waiting on the
    unresponsive server after `opsgrade action` had given up."""
    import socket
    import time

    from opsgrade.engine.errors import ConfigError
    from opsgrade.engine.github.checkout import ensure_commit

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # accepts connections (the kernel does) and never answers
    url = f"http://127.0.0.1:{server.getsockname()[1]}/silent.git"
    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "remote", "add", "origin", url)
    try:
        with pytest.raises(ConfigError) as caught:
            ensure_commit(repo, "b" * 40, timeout=1)
        assert "took over 1s" in caught.value.message
        deadline = time.monotonic() + 5
        while _processes_mentioning(url) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_mentioning(url) == []
    finally:
        server.close()
