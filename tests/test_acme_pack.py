"""examples/acme-security-pack: installed with pip as a user would, then used by name.

pip installs a copy of the example (so no build files land in the checkout) into a
temporary `--target` folder; opsgrade runs in a subprocess with that folder on
PYTHONPATH, so the test environment itself is never modified.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "acme-security-pack"
TIMEOUT = 180
TOKEN = "ghp_" + "0123456789abcdefghij" + "ABCDEFGHIJKLMNOP"  # the shape, not a token


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("acme")
    source = work / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    installed = work / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(installed), str(source)],
        check=False, capture_output=True, text=True, timeout=TIMEOUT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return installed


def _opsgrade(
    target: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "opsgrade.engine", *args],
        capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=cwd, check=False,
    )  # fmt: skip


def test_installed_pack_is_listed(target: Path) -> None:
    proc = _opsgrade(target, "packs", "list")
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if "acme-security" in ln)
    assert "1.0.0" in line


def test_installed_pack_tests_and_lints_clean_by_name(target: Path) -> None:
    tested = _opsgrade(target, "packs", "test", "acme-security")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.strip().endswith("23 case(s) for 6 rule(s): 23 passed, 0 failed")
    linted = _opsgrade(target, "packs", "lint", "acme-security")
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert linted.stdout.strip() == "1 pack(s), 6 rule(s): no problems"


def _repo(root: Path, trusted: bool) -> Path:
    (root / "deploy").mkdir(parents=True)
    (root / "opsgrade.yml").write_text("name: payments\nowner: team-payments\nlanguage: python\n")
    (root / "requirements.txt").write_text("pyyaml==5.3.1\n")
    (root / "deploy" / "release.py").write_text(f"import os\nTOKEN = '{TOKEN}'\n")
    if trusted:
        (root / ".opsgrade").mkdir()
        (root / ".opsgrade" / "config.yml").write_text(
            "apiVersion: opsgrade/v1\nkind: Config\ntrusted_packs: [acme-security]\n"
        )
    return root


def _statuses(proc: subprocess.CompletedProcess[str]) -> dict[str, tuple[str, str | None]]:
    report = json.loads(proc.stdout)
    (service,) = report["services"]
    return {r["rule"]: (r["status"], r.get("path")) for r in service["results"]}


@pytest.mark.parametrize("trusted", [True, False])
def test_scan_uses_the_installed_pack_by_name(target: Path, tmp_path: Path, trusted: bool) -> None:
    repo = _repo(tmp_path / "repo", trusted)
    proc = _opsgrade(target, "scan", str(repo), "--pack", "acme-security", "--format", "json")
    assert proc.returncode == 0, proc.stderr  # failures above bronze do not gate by default
    statuses = _statuses(proc)
    assert statuses["ACME-SEC004"] == ("fail", "requirements.txt")
    assert statuses["ACME-SEC001"][0] == "pass"
    # The command check runs the scanner shipped in the package, only when trusted.
    expected = ("fail", "deploy/release.py") if trusted else ("error", None)
    assert (statuses["ACME-SEC006"][0], statuses["ACME-SEC006"][1] if trusted else None) == expected
    assert TOKEN not in proc.stdout
