"""The one way tests and benches run git: isolated from the user's and the system's git
configuration (and from GIT_* variables of the shell running them), with a fixed
identity, no commit signing, symlinks kept, and local `file://` remotes allowed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, **IDENTITY)
    env.update(extra)
    return env


def git(cwd: Path, *args: str) -> str:
    """Runs `git ARGS` in `cwd`; its stdout, stripped. A failure raises."""
    proc = subprocess.run(
        [
            "git",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.symlinks=true",
            "-c",
            "protocol.file.allow=always",
            *args,
        ],
        cwd=cwd,
        env=git_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()
