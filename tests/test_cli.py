"""The `opsgrade` command end to end: exit codes, outputs, colour, determinism.

Every test runs the real CLI in a subprocess (`python -m opsgrade.engine`) on a small
temporary repository with a small pack, so what is asserted is what a user sees.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from gitutil import git

from opsgrade.engine import __version__

TODAY = "2025-03-01"

PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: clitest, version: 2.1.0}
levels: [bronze, silver, gold]
categories: [ownership, docs]
rules:
  - id: OWN001
    title: Service names an owner
    level: bronze
    category: ownership
    check: {descriptor: {path: owner, exists: true}}
    fix: Set `owner:` in opsgrade.yml.
    help: Every service needs an owner.
  - id: OWN002
    title: Service is tier 1
    level: silver
    category: ownership
    check: {descriptor: {path: tier, one_of: [1]}}
    fix: "Set `tier: 1` once the service is critical."
    help: Tier.
  - id: DOC001
    title: Service has a README
    level: silver
    category: docs
    check: {file: {exists: [README.md]}}
    fix: Add a README.md at the service root.
    help: A README.
"""


def clean_env(**extra: str) -> dict[str, str]:
    # Without GITHUB_ACTIONS: inside Actions the default format is `github`, not `text`.
    drop = ("NO_COLOR", "FORCE_COLOR", "GITHUB_ACTIONS")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


def opsgrade(
    *args: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsgrade.engine", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=dict(env) if env is not None else clean_env(),
        cwd=cwd,
        check=False,
        timeout=120,
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    path = tmp_path / "pack.yml"
    path.write_text(PACK, encoding="utf-8")
    return path


def make_repo(root: Path, descriptor: str, files: Mapping[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "opsgrade.yml").write_text(descriptor, encoding="utf-8")
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def bronze_repo(tmp_path: Path) -> Path:
    """Owner set (bronze passes), tier 3 on line 3 (silver fails), README present."""
    return make_repo(
        tmp_path / "payments",
        "name: payments\nowner: team-pay\ntier: 3\n",
        {"README.md": "# payments\n"},
    )


@pytest.fixture
def no_level_repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "orphan", "name: orphan\ntier: 1\n", {"README.md": "# o\n"})


# --------------------------------------------------------------------------- exit codes


def test_exit_0_at_the_default_lowest_level(bronze_repo: Path, pack: Path) -> None:
    proc = opsgrade("scan", bronze_repo, "--pack", pack, "--today", TODAY)
    assert proc.returncode == 0, proc.stderr
    assert "passed" in proc.stdout
    assert proc.stderr == ""


def test_exit_1_below_the_default_lowest_level(no_level_repo: Path, pack: Path) -> None:
    proc = opsgrade("scan", no_level_repo, "--pack", pack, "--today", TODAY)
    assert proc.returncode == 1, proc.stderr
    assert "below bronze" in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("level", "code"), [("bronze", 0), ("silver", 1), ("gold", 1)])
def test_fail_below(bronze_repo: Path, pack: Path, level: str, code: int) -> None:
    proc = opsgrade("scan", bronze_repo, "--pack", pack, "--today", TODAY, "--fail-below", level)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_repo_config_required_level(bronze_repo: Path, pack: Path) -> None:
    config = bronze_repo / ".opsgrade" / "config.yml"
    config.parent.mkdir()
    config.write_text("apiVersion: opsgrade/v1\nkind: Config\nrequired_level: silver\n")
    proc = opsgrade("scan", bronze_repo, "--pack", pack, "--today", TODAY)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "below silver" in proc.stdout
    # The flag wins over the repo config.
    proc = opsgrade("scan", bronze_repo, "--pack", pack, "--today", TODAY, "--fail-below", "bronze")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_repo_config_with_unknown_required_level_is_a_usage_error(
    bronze_repo: Path, pack: Path
) -> None:
    config = bronze_repo / ".opsgrade" / "config.yml"
    config.parent.mkdir()
    config.write_text("apiVersion: opsgrade/v1\nkind: Config\nrequired_level: platinum\n")
    proc = opsgrade("scan", bronze_repo, "--pack", pack, "--today", TODAY)
    assert_clean_error(proc, "platinum", ".opsgrade/config.yml:3")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--no-such-flag"], "--no-such-flag"),
        (["--format", "xml"], "xml"),
        (["--format", "json="], "json="),
        (["--format", "text", "--format", "json"], "stdout"),
        (["--today", "2025-13-45"], "2025-13-45"),
        (["--today", "yesterday"], "yesterday"),
        (["--fail-below", "platinum"], "platinum"),
        (["--pack", "no-such-pack"], "no-such-pack"),
    ],
)
def test_usage_errors_exit_2_without_traceback(
    bronze_repo: Path, pack: Path, args: list[str], needle: str
) -> None:
    proc = opsgrade("scan", bronze_repo, "--pack", pack, "--today", TODAY, *args)
    assert_clean_error(proc, needle)


def test_unknown_command_exits_2(tmp_path: Path) -> None:
    assert_clean_error(opsgrade("frobnicate"), "frobnicate")


def test_missing_path_exits_2(tmp_path: Path, pack: Path) -> None:
    proc = opsgrade("scan", tmp_path / "missing", "--pack", pack)
    assert_clean_error(proc, "missing")


@pytest.mark.parametrize(
    ("descriptor", "needle"),
    [
        ("name: svc\nowner: team\ntier: high\n", "opsgrade.yml:3"),
        ("name: svc\nownr: team\n", "ownr"),
        ("name: svc\nowner: [team\n", "opsgrade.yml"),
        ("- just\n- a list\n", "opsgrade.yml"),
    ],
)
def test_invalid_descriptor_exits_2(
    tmp_path: Path, pack: Path, descriptor: str, needle: str
) -> None:
    repo = make_repo(tmp_path / "svc", descriptor, {"README.md": "# x\n"})
    proc = opsgrade("scan", repo, "--pack", pack, "--today", TODAY)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert needle in proc.stdout + proc.stderr
    assert "configuration errors" in proc.stdout


def test_invalid_pack_exits_2(bronze_repo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(PACK.replace("level: silver", "level: platinum", 1), encoding="utf-8")
    proc = opsgrade("scan", bronze_repo, "--pack", bad, "--today", TODAY)
    assert_clean_error(proc, "platinum", "bad.yml:")
    assert len(proc.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- outputs


def test_json_to_file_and_text_to_stdout(bronze_repo: Path, pack: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "result.json"
    out.parent.mkdir()
    proc = opsgrade(
        "scan",
        bronze_repo,
        "--pack",
        pack,
        "--today",
        TODAY,
        "--format",
        f"json={out}",
        "--format",
        "text",
    )
    assert proc.returncode == 0, proc.stderr
    assert "payments" in proc.stdout
    assert not proc.stdout.lstrip().startswith("{")
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["services"][0]["name"] == "payments"
    assert sorted(p.name for p in out.parent.iterdir()) == ["result.json"]  # no temp file left


def test_report_file_gets_ordinary_permissions(
    bronze_repo: Path, pack: Path, tmp_path: Path
) -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX permissions")
    out = tmp_path / "result.json"
    proc = opsgrade("scan", bronze_repo, "--pack", pack, "--format", f"json={out}")
    assert proc.returncode == 0, proc.stderr
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


def test_report_file_is_replaced(bronze_repo: Path, pack: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    out.write_text("stale", encoding="utf-8")
    proc = opsgrade("scan", bronze_repo, "--pack", pack, "--format", f"json={out}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["schema_version"] == 1


@pytest.mark.parametrize("where", ["missing-folder", "a-folder"])
def test_unwritable_output_path_exits_2(
    bronze_repo: Path, pack: Path, tmp_path: Path, where: str
) -> None:
    target = tmp_path / "nope" / "out.json" if where == "missing-folder" else tmp_path
    proc = opsgrade("scan", bronze_repo, "--pack", pack, "--format", f"json={target}")
    assert_clean_error(proc, "cannot write", str(target))
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nope").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files


def test_force_color_gives_ansi(bronze_repo: Path, pack: Path) -> None:
    proc = opsgrade("scan", bronze_repo, "--pack", pack, env=clean_env(FORCE_COLOR="1"))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" in proc.stdout


@pytest.mark.parametrize(
    "env",
    [{}, {"NO_COLOR": "1"}, {"NO_COLOR": "1", "FORCE_COLOR": "1"}],
    ids=["piped", "no-color", "no-color-wins"],
)
def test_no_color_when_piped_or_no_color(
    bronze_repo: Path, pack: Path, env: dict[str, str]
) -> None:
    proc = opsgrade("scan", bronze_repo, "--pack", pack, env=clean_env(**env))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout
    assert "\x1b" not in proc.stderr


def test_colour_never_goes_to_a_file(bronze_repo: Path, pack: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    proc = opsgrade(
        "scan",
        bronze_repo,
        "--pack",
        pack,
        "--format",
        f"text={out}",
        env=clean_env(FORCE_COLOR="1"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in out.read_text(encoding="utf-8")


def test_text_shows_blockers_with_location_and_fix(bronze_repo: Path, pack: Path) -> None:
    proc = opsgrade("scan", bronze_repo, "--pack", pack, "--today", TODAY)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "payments" in out
    assert "bronze" in out
    assert "to reach silver" in out
    lines = out.splitlines()
    (blocker,) = [i for i, line in enumerate(lines) if "OWN002" in line]
    assert "opsgrade.yml:3" in lines[blocker]  # the `tier:` line
    assert "Service is tier 1" in lines[blocker]
    assert any("fix: Set `tier: 1` once the service is critical." in ln for ln in lines[blocker:])
    assert "DOC001" not in out  # passing rules are not listed as blockers


def run_json(repo: Path, pack: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return opsgrade("scan", repo, "--pack", pack, "--today", TODAY, "--format", "json", *extra)


def test_json_is_byte_identical_across_runs(bronze_repo: Path, pack: Path) -> None:
    first, second = run_json(bronze_repo, pack), run_json(bronze_repo, pack)
    assert first.returncode == second.returncode == 0
    assert first.stdout.encode() == second.stdout.encode()
    assert first.stdout.endswith("\n")


def test_json_has_the_documented_shape(bronze_repo: Path, pack: Path) -> None:
    proc = run_json(bronze_repo, pack)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema_version"] == 1
    assert data["levels"] == ["bronze", "silver", "gold"]
    assert data["evaluated_on"] == TODAY
    assert data["revision"] is None
    (svc,) = data["services"]
    for key in ("name", "root", "owner", "level", "categories", "score", "results"):
        assert key in svc
    assert svc["name"] == "payments"
    assert svc["root"] == ""
    assert svc["owner"] == "team-pay"
    assert svc["level"] == "bronze"
    assert svc["categories"] == {"docs": "gold", "ownership": "bronze"}
    assert svc["score"] == pytest.approx(2 / 3, abs=1e-4)
    assert svc["blockers"] == ["OWN002"]
    results = {r["rule"]: r for r in svc["results"]}
    assert set(results) == {"OWN001", "OWN002", "DOC001"}
    for r in results.values():
        assert {"rule", "status", "severity", "path", "line", "message"} <= set(r)
    failing = results["OWN002"]
    assert failing["status"] == "fail"
    assert failing["severity"] == "error"
    assert (failing["path"], failing["line"]) == ("opsgrade.yml", 3)
    assert failing["message"]
    assert results["OWN001"]["status"] == "pass"


def test_json_written_to_a_file_equals_stdout(
    bronze_repo: Path, pack: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    to_file = opsgrade(
        "scan", bronze_repo, "--pack", pack, "--today", TODAY, "--format", f"json={out}"
    )
    assert to_file.returncode == 0
    assert out.read_text(encoding="utf-8") == run_json(bronze_repo, pack).stdout


# --------------------------------------------------------------------------- git revisions


def test_rev_scans_an_older_commit(tmp_path: Path, pack: Path) -> None:
    repo = make_repo(tmp_path / "svc", "name: svc\ntier: 1\n", {"README.md": "# svc\n"})
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "no owner")
    old = git(repo, "rev-parse", "HEAD").strip()
    (repo / "opsgrade.yml").write_text("name: svc\nowner: team\ntier: 1\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "owner")
    (repo / "README.md").unlink()  # uncommitted: the revisions must not see it
    status = git(repo, "status", "--porcelain")

    head = run_json(repo, pack, "--rev", "HEAD")
    assert head.returncode == 0, head.stderr
    assert json.loads(head.stdout)["services"][0]["level"] == "gold"

    older = run_json(repo, pack, "--rev", "HEAD~1")
    assert older.returncode == 1, older.stderr
    data = json.loads(older.stdout)
    assert data["revision"] == old
    assert data["services"][0]["level"] is None
    assert data["services"][0]["blockers"] == ["OWN001"]

    text = opsgrade("scan", repo, "--pack", pack, "--rev", "HEAD~1")
    assert old[:12] in text.stdout

    worktree = run_json(repo, pack)
    assert json.loads(worktree.stdout)["services"][0]["level"] == "bronze"  # README gone
    assert git(repo, "status", "--porcelain") == status


def test_unknown_rev_exits_2(tmp_path: Path, pack: Path) -> None:
    repo = make_repo(tmp_path / "svc", "name: svc\nowner: t\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    assert_clean_error(opsgrade("scan", repo, "--pack", pack, "--rev", "nope"), "nope")


# --------------------------------------------------------------------------- misc


def test_version() -> None:
    proc = opsgrade("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"opsgrade, version {__version__}"


def test_help_exits_0() -> None:
    proc = opsgrade("scan", "--help")
    assert proc.returncode == 0
    assert "--fail-below" in proc.stdout
