"""`command` checks: a real program run by a real scan, trusted or not, in every failure mode."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from opsgrade.engine import specs
from opsgrade.engine.checks import Site
from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import CheckResult, Status
from opsgrade.engine.packs import PackSource
from opsgrade.engine.primitives import command
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.engine.yamlio import load_document

TODAY = dt.date(2026, 11, 26)

# One program, many behaviours: the mode is its first argument.
PROGRAM = """\
import json, os, sys, time
mode = sys.argv[1]
with open(os.path.join(os.environ.get("HOME", "."), "ran"), "a") as fh:
    fh.write(mode + "\\n")
if mode == "pass":
    print(json.dumps({"status": "pass", "message": "all good in " + os.getcwd()}))
elif mode == "fail":
    print(json.dumps({"status": "fail", "message": "secret found",
                      "locations": [{"path": "app/config.py", "line": 2}]}))
elif mode == "env":
    print(json.dumps({"status": "pass", "message": json.dumps(dict(os.environ))}))
elif mode == "args":
    print(json.dumps({"status": "pass", "message": json.dumps(sys.argv[2:])}))
elif mode == "sleep":
    time.sleep(30)
elif mode == "exit":
    print("boom: config missing", file=sys.stderr)
    sys.exit(3)
elif mode == "silent":
    pass
elif mode == "garbage":
    print("not json")
elif mode == "shape":
    print(json.dumps({"status": "maybe"}))
elif mode == "flood":
    sys.stdout.write("x" * 3_000_000)
elif mode == "elsewhere":
    print(json.dumps({"status": "fail", "locations": [{"path": "../etc/passwd", "line": 1}]}))
"""


def _pack(folder: Path, mode: str, *extra: str, timeout: float = 10, name: str = "custom") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "check.py").write_text(PROGRAM)
    run = json.dumps(["{python}", "{pack_dir}/check.py", mode, *extra])
    pack = folder / "custom.yml"
    pack.write_text(
        "apiVersion: opsgrade/v1\n"
        "kind: RulePack\n"
        f"metadata: {{name: {name}}}\n"
        "rules:\n"
        "  - id: CUSTOM001\n"
        "    title: The custom program approves\n"
        "    level: bronze\n"
        "    category: security\n"
        f"    check: {{command: {{run: {run}, timeout: {timeout}}}}}\n"
        "    help: The team's own check. It runs the pack's program.\n"
    )
    return pack


def _repo(root: Path, trusted: list[str] | None) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "config.py").write_text("DEBUG = False\nKEY = 'x'\n")
    (root / "opsgrade.yml").write_text("name: shop\nowner: team-shop\n")
    if trusted is not None:
        (root / ".opsgrade").mkdir()
        (root / ".opsgrade" / "config.yml").write_text(
            f"apiVersion: opsgrade/v1\nkind: Config\ntrusted_packs: {json.dumps(trusted)}\n"
        )
    return root


def _result(repo: Path, pack: Path, rev: str | None = None) -> CheckResult:
    run = scan(ScanRequest(path=repo, rev=rev, packs=[PackSource("file", str(pack))], today=TODAY))
    (service,) = run.services
    (result,) = service.results
    return result


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME is passed to the program: it notes there that it ran."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


def _scan_mode(tmp_path: Path, mode: str, *extra: str, timeout: float = 10) -> CheckResult:
    pack = _pack(tmp_path / "pack", mode, *extra, timeout=timeout)
    return _result(_repo(tmp_path / "repo", ["custom"]), pack)


def test_trusted_pass_runs_in_the_repository_root(tmp_path: Path, home: Path) -> None:
    result = _scan_mode(tmp_path, "pass")
    assert result.status == Status.PASS
    assert result.message == f"all good in {(tmp_path / 'repo').resolve()}"
    assert (home / "ran").read_text() == "pass\n"


def test_trusted_fail_names_the_location(tmp_path: Path, home: Path) -> None:
    result = _scan_mode(tmp_path, "fail")
    assert result.status == Status.FAIL
    assert result.message == "secret found"
    assert (result.path, result.line) == ("app/config.py", 2)


@pytest.mark.parametrize("trusted", [None, [], ["other"]])
def test_untrusted_pack_starts_no_process(
    tmp_path: Path, home: Path, trusted: list[str] | None
) -> None:
    pack = _pack(tmp_path / "pack", "pass")
    result = _result(_repo(tmp_path / "repo", trusted), pack)
    assert result.status == Status.ERROR
    assert result.message == (
        "pack custom is not trusted to run commands; "
        "add it to trusted_packs in .opsgrade/config.yml"
    )
    assert not (home / "ran").exists()


def test_environment_is_minimal_and_holds_no_token(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("LANG", "C.UTF-8")
    result = _scan_mode(tmp_path, "env")
    env = json.loads(result.message)
    assert set(env) <= {"PATH", "HOME", "LANG", "OPSGRADE_SERVICE", "OPSGRADE_SERVICE_ROOT",
                        "OPSGRADE_TODAY", "LC_CTYPE"}  # fmt: skip
    assert env["OPSGRADE_SERVICE"] == "shop"
    assert env["OPSGRADE_SERVICE_ROOT"] == "."
    assert env["OPSGRADE_TODAY"] == "2026-11-26"
    assert "ghp_secret" not in result.message and "aws-secret" not in result.message


def test_arguments_reach_the_program_unchanged_without_a_shell(tmp_path: Path, home: Path) -> None:
    result = _scan_mode(tmp_path, "args", "a; touch pwned", "$HOME", "{service_root}")
    assert json.loads(result.message) == ["a; touch pwned", "$HOME", "."]
    assert not (tmp_path / "repo" / "pwned").exists()


@pytest.mark.parametrize(
    ("mode", "timeout", "message"),
    [
        ("sleep", 0.3, "check.py timed out after 0.3s"),
        ("exit", 10, "check.py exited with 3: boom: config missing"),
        ("silent", 10, "check.py printed no verdict on stdout"),
        ("garbage", 10, "check.py printed no valid verdict: JSON is malformed"),
        ("shape", 10, "check.py printed no valid verdict: Invalid enum value 'maybe'"),
        ("flood", 10, "check.py wrote more than 1048576 bytes"),
        ("elsewhere", 10, "check.py named '../etc/passwd', which is not a file of the repository"),
    ],
)
def test_program_failures_are_errors(
    tmp_path: Path, home: Path, mode: str, timeout: float, message: str
) -> None:
    result = _scan_mode(tmp_path, mode, timeout=timeout)
    assert result.status == Status.ERROR
    assert result.message.startswith(message), result.message


def test_missing_program_is_an_error(tmp_path: Path, home: Path) -> None:
    pack = _pack(tmp_path / "pack", "pass")
    pack.write_text(pack.read_text().replace("{python}", "no-such-program-here"))
    result = _result(_repo(tmp_path / "repo", ["custom"]), pack)
    assert result.status == Status.ERROR
    assert result.message.startswith("cannot run no-such-program-here: ")


def test_git_revision_needs_a_work_tree(tmp_path: Path, home: Path) -> None:
    repo = _repo(tmp_path / "repo", ["custom"])
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    result = _result(repo, _pack(tmp_path / "pack", "pass"), rev="HEAD")
    assert result.status == Status.ERROR
    assert result.message == "command checks need a work tree; this scan reads a git revision"
    assert not (home / "ran").exists()


def _compiled(label: str, trusted: list[str]) -> command.CommandCheck:
    doc = load_document("metadata: {name: acme}\n", label)
    spec = specs.CommandCheck(run=["true"])
    with command.trusting(trusted):
        return command.compile_check(spec, Site(doc, ("rules", 0, "check", "command")))


def test_a_pack_from_a_git_url_is_trusted_only_by_its_url() -> None:
    url = "git+https://example.com/acme/packs@v1#path=acme.yml"
    assert _compiled("acme.yml", ["acme"]).refused is None
    refused = _compiled(url, ["acme"]).refused
    assert refused is not None and f"fetched from {url}" in refused
    assert _compiled(url, [url]).refused is None


def test_invalid_command_spec_is_a_located_pack_error(tmp_path: Path) -> None:
    pack = _pack(tmp_path / "pack", "pass")
    pack.write_text(pack.read_text().replace("timeout: 10", "timeout: 0"))
    with pytest.raises(ConfigError) as e:
        _result(_repo(tmp_path / "repo", ["custom"]), pack)
    assert "custom.yml:9" in str(e.value) and "timeout" in str(e.value)
