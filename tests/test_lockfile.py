"""`opsgrade.lock`: `packs update` writes it; a scan uses exactly the locked packs (git
packs at the locked commit, from the cache, with no git process) and stops with exit 2
when a pack changed underneath; `diff` reads the lock of the base revision."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from packrepos import (
    GIT_ID,
    PackRepo,
    no_git,
    opsgrade,
    pack_yaml,
    rule_yaml,
    service_repo,
    use_cache,
    write_config,
)

from opsgrade.engine import lockfile

TEAM = pack_yaml("team", "0.1.0", rule_yaml("TEAM1"), extends=("readiness",))


@pytest.fixture
def upstream(tmp_path: Path) -> PackRepo:
    repo = PackRepo(tmp_path / "upstream")
    security = pack_yaml("acme-security", "2.1.0", rule_yaml("SEC1"), extends=("./base.yml",))
    base = pack_yaml("acme-base", "1.0.0", rule_yaml("BASE1"))
    repo.commit({"security.yml": security, "base.yml": base}, tag="v2")
    return repo


def _locked_repo(tmp_path: Path, upstream: PackRepo) -> Path:
    repo = service_repo(tmp_path)
    (repo / ".opsgrade" / "packs").mkdir(parents=True)
    (repo / ".opsgrade" / "packs" / "team.yml").write_text(TEAM, "utf-8")
    write_config(repo, upstream.url("v2", "security.yml"), ".opsgrade/packs/team.yml")
    return repo


@pytest.fixture
def locked(
    upstream: PackRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    """A service repository whose config names a git pack and a local pack, locked."""
    use_cache(tmp_path, monkeypatch)
    repo = _locked_repo(tmp_path, upstream)
    code, _, err = opsgrade(capsys, "packs", "update", str(repo))
    assert code == 0, err
    return repo


def _json_scan(capsys: pytest.CaptureFixture[str], repo: Path) -> dict[str, object]:
    code, out, err = opsgrade(capsys, "scan", str(repo), "--format", "json")
    assert code in (0, 1), err
    result: dict[str, object] = json.loads(out)
    return result


def test_update_writes_every_resolved_pack_deterministically(
    locked: Path, upstream: PackRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = locked
    (repo / "opsgrade.lock").unlink()
    code, out, _ = opsgrade(capsys, "packs", "update", str(repo))
    assert code == 0 and out.rstrip().endswith(f"wrote {repo / 'opsgrade.lock'}")
    first = (repo / "opsgrade.lock").read_bytes()
    lock = lockfile.decode(first, "opsgrade.lock")
    commit = subprocess.run(
        ["git", "rev-parse", "v2^{commit}"],
        cwd=upstream.bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert lock.packs == [upstream.url("v2", "security.yml"), ".opsgrade/packs/team.yml"]
    assert [(p.name, p.kind, p.commit) for p in lock.resolved] == [
        ("acme-base", "git", commit),
        ("acme-security", "git", commit),
        ("readiness", "builtin", ""),
        ("team", "repo", ""),
    ]
    assert lock.resolved[3].sha256 == hashlib.sha256(TEAM.encode()).hexdigest()
    code, out, _ = opsgrade(capsys, "packs", "update", str(repo))
    assert code == 0 and out.rstrip().endswith("is up to date")
    assert (repo / "opsgrade.lock").read_bytes() == first


def test_a_scan_uses_the_locked_commit_until_the_lock_is_updated(
    locked: Path,
    upstream: PackRepo,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = locked
    # The tag moves upstream: a new version with a rule the service fails.
    moved = pack_yaml(
        "acme-security",
        "2.2.0",
        rule_yaml("SEC1") + rule_yaml("SEC2").replace("README.md", "SECURITY.md"),
        extends=("./base.yml",),
    )
    upstream.commit({"security.yml": moved}, tag="v2")
    result = _json_scan(capsys, repo)
    versions = {p["name"]: p["version"] for p in result["packs"]}  # type: ignore[attr-defined]
    assert versions["acme-security"] == "2.1.0"
    assert "SEC2" not in result["rules"]  # type: ignore[operator]
    opsgrade(capsys, "packs", "update", str(repo))
    result = _json_scan(capsys, repo)
    assert "SEC2" in result["rules"]  # type: ignore[operator]


def test_a_locked_cached_git_pack_needs_no_git_and_a_wiped_cache_refetches_the_commit(
    locked: Path,
    upstream: PackRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cache, repo = tmp_path / "cache" / "packs", locked
    upstream.commit({"base.yml": pack_yaml("acme-base", "9.0.0")}, tag="v2")  # moved: unused
    shutil.rmtree(cache)
    _json_scan(capsys, repo)  # fetches the locked commit, not the tag
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 1
    path = monkeypatch.context()
    with path as patch:
        no_git(tmp_path, patch)
        result = _json_scan(capsys, repo)
    assert {p["name"]: p["version"] for p in result["packs"]}["acme-base"] == "1.0.0"  # type: ignore[attr-defined]


def test_a_pack_changed_since_the_lock_stops_the_scan(
    locked: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = locked
    locked = lockfile.decode((repo / "opsgrade.lock").read_bytes(), "x").resolved[3].sha256
    team = repo / ".opsgrade" / "packs" / "team.yml"
    team.write_text(TEAM.replace("Rule TEAM1", "Rule TEAM1, renamed"), "utf-8")
    now = hashlib.sha256(team.read_bytes()).hexdigest()
    code, _, err = opsgrade(capsys, "scan", str(repo))
    assert code == 2
    assert err == (
        "opsgrade: error: pack team (.opsgrade/packs/team.yml) changed since opsgrade.lock: "
        f"sha256 {now} != {locked}; run `opsgrade packs update`\n"
    )


def test_a_lock_for_other_packs_stops_the_scan_but_not_an_explicit_pack(
    locked: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = locked
    write_config(repo, ".opsgrade/packs/team.yml")
    code, _, err = opsgrade(capsys, "scan", str(repo))
    assert code == 2
    assert "opsgrade.lock is for packs [" in err and "asks for ['.opsgrade/packs/team.yml']" in err
    code, _, err = opsgrade(capsys, "scan", str(repo), "--pack", "docker")
    assert code in (0, 1), err


def test_a_pack_missing_from_the_lock_is_never_fetched(
    locked: Path,
    upstream: PackRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = locked
    path = repo / "opsgrade.lock"
    data = json.loads(path.read_text())
    data["resolved"] = [p for p in data["resolved"] if p["kind"] != "git"]
    path.write_text(json.dumps(data))
    no_git(tmp_path, monkeypatch)
    code, _, err = opsgrade(capsys, "scan", str(repo))
    assert code == 2
    assert f"pack {upstream.url('v2', 'security.yml')} is not in opsgrade.lock" in err


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "opsgrade.lock: not a valid lock file"),
        ('{"lock_version": 99, "packs": [], "resolved": []}', "lock_version 99 is not supported"),
        ('{"lock_version": 1, "packs": [], "resolved": [], "x": 1}', "unknown field `x`"),
        ('{"lock_version": 1, "packs": "readiness", "resolved": []}', "Expected `array`"),
        ("[]", "opsgrade.lock: not a lock file"),
        (
            '{"lock_version": 1, "packs": [], "resolved": [{"source": "x", "kind": "git", '
            f'"name": "x", "version": "1", "sha256": "{"0" * 64}", "commit": "../../../etc"}}]}}',
            "`$.resolved[0].commit`",  # a lock is repository content: no path in the cache
        ),
    ],
)
def test_a_broken_lock_file_is_exit_2_at_the_lock(
    text: str, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = service_repo(tmp_path)
    (repo / "opsgrade.lock").write_text(text, "utf-8")
    code, _, err = opsgrade(capsys, "scan", str(repo))
    assert code == 2 and says in err and "run `opsgrade packs update`" in err, err


def test_builtin_packs_are_locked_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = service_repo(tmp_path)
    opsgrade(capsys, "packs", "update", str(repo))
    lock = lockfile.decode((repo / "opsgrade.lock").read_bytes(), "x")
    assert lock.packs == [f"builtin:{p.name}" for p in lock.resolved]
    data = json.loads((repo / "opsgrade.lock").read_text())
    data["resolved"][0]["sha256"] = "0" * 64  # as if opsgrade had been upgraded since
    (repo / "opsgrade.lock").write_text(json.dumps(data))
    code, _, err = opsgrade(capsys, "scan", str(repo))
    assert code == 2 and "changed since opsgrade.lock: sha256 " in err and "0" * 64 in err


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *GIT_ID, *args], cwd=repo, check=True, capture_output=True)


def test_diff_reads_the_lock_of_the_base_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = service_repo(tmp_path)
    (repo / ".opsgrade" / "packs").mkdir(parents=True)
    team = repo / ".opsgrade" / "packs" / "team.yml"
    team.write_text(TEAM, "utf-8")
    write_config(repo, ".opsgrade/packs/team.yml")
    opsgrade(capsys, "packs", "update", str(repo))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    # The change edits the pack and its lock: neither is used to judge it.
    team.write_text(TEAM.replace("level: bronze", "level: gold"), "utf-8")
    (repo / "opsgrade.lock").write_text("{broken", "utf-8")
    code, _, err = opsgrade(capsys, "diff", str(repo), "--base", "HEAD")
    assert code == 0, err
    # A base whose own lock is stale is refused, whatever the head says.
    opsgrade(capsys, "packs", "update", str(repo))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "new lock")
    team.write_text(TEAM.replace("Rule TEAM1", "Rule TEAM1 again"), "utf-8")
    _git(repo, "commit", "-q", "-am", "pack edited, lock stale")
    code, _, err = opsgrade(capsys, "diff", str(repo), "--base", "HEAD")
    assert code == 2 and "pack team (.opsgrade/packs/team.yml) changed since" in err


def test_a_locked_scan_loads_nothing_it_does_not_need(locked: Path, tmp_path: Path) -> None:
    """A fresh process, no git on PATH: a scan with a lock and cached git packs imports
    neither subprocess machinery nor package metadata nor `packaging`."""
    import os
    import sys

    code = (
        "import sys\n"
        "from opsgrade.engine.cli import run\n"
        f"assert run(['scan', {str(locked)!r}]) in (0, 1)\n"
        "heavy = ('subprocess', 'tempfile', 'shutil', 'packaging', 'importlib.metadata')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    empty = tmp_path / "bin-without-git"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "OPSGRADE_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
