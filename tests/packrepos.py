"""Real git repositories of rule packs, reached by `git+file://` URLs, for the tests of
pack sources, the lock file and composition (no network: the bare repository is local)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from opsgrade.engine.cli import run

GIT_ID = ["-c", "user.name=Pack Author", "-c", "user.email=packs@example.com"]


def rule_yaml(rule_id: str, level: str = "bronze", category: str = "docs", **extra: str) -> str:
    """One rule as a `rules:` item; it passes when the service has a README.md."""
    lines = [
        f"  - id: {rule_id}",
        f"    title: Rule {rule_id}",
        f"    level: {level}",
        f"    category: {category}",
        f"    help: Help for {rule_id}.",
        "    check: {file: {exists: [README.md]}}",
        *(f"    {key}: {value}" for key, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


def pack_yaml(
    name: str,
    version: str = "1.0.0",
    rules: str = "",
    extends: tuple[str, ...] = (),
    body: str = "",
) -> str:
    head = "apiVersion: opsgrade/v1\nkind: RulePack\n"
    head += f"metadata: {{name: {name}, version: '{version}'}}\n"
    if extends:
        head += "extends:\n" + "".join(f"  - '{ref}'\n" for ref in extends)
    head += textwrap.dedent(body)
    return head + ("rules:\n" + rules if rules else "")


class PackRepo:
    """A work tree whose commits are pushed to a bare repository that URLs point at."""

    def __init__(self, root: Path) -> None:
        self.work = root / "work"
        self.bare = root / "packs.git"
        self.work.mkdir(parents=True)
        self._git("init", "-q", "-b", "main")
        subprocess.run(["git", "init", "-q", "--bare", str(self.bare)], check=True)

    def _git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *GIT_ID, *args], cwd=self.work, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def commit(self, files: dict[str, str], tag: str | None = None, annotated: bool = False) -> str:
        """Commit `files`, move `tag` to the commit, push; return the commit id."""
        for path, text in files.items():
            target = self.work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
        self._git("add", "-A")
        self._git("commit", "-q", "--allow-empty", "-m", f"commit {len(files)} file(s)")
        if tag:
            self._git("tag", "-f", *(["-a", "-m", tag] if annotated else []), tag)
        self._git("push", "-q", "--force", str(self.bare), "main", "--tags")
        return self._git("rev-parse", "HEAD")

    def url(self, ref: str, path: str, sha256: str = "") -> str:
        extra = f"&sha256={sha256}" if sha256 else ""
        return f"git+file://{self.bare}@{ref}#path={path}{extra}"


def use_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private pack cache for the test; returns the folder commits are stored in."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("OPSGRADE_CACHE_DIR", str(folder))
    return folder / "packs"


def no_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on the test has no `git` on PATH: any git process would fail loudly."""
    empty = tmp_path / "no-git-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))


def write_config(repo: Path, *packs: str, extra: str = "") -> Path:
    path = repo / ".opsgrade" / "config.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    listed = "".join(f"  - '{p}'\n" for p in packs)
    path.write_text(f"apiVersion: opsgrade/v1\nkind: Config\npacks:\n{listed}{extra}", "utf-8")
    return path


def service_repo(tmp_path: Path, name: str = "svc") -> Path:
    repo = tmp_path / name
    repo.mkdir()
    (repo / "README.md").write_text("# svc\n", "utf-8")
    return repo


def opsgrade(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process, as a user would from the shell."""
    capsys.readouterr()
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err
