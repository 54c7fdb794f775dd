"""Make the pull request's base commit available in the Action's checkout.

`actions/checkout` fetches one commit by default (the pull request's merge commit), so
the base the gate compares with is usually missing. It is fetched on its own, shallow
(`git fetch --no-tags --depth=1 origin <sha>`), in bounded time, never prompting for
credentials. With `persist-credentials: false` (which we recommend) the checkout keeps
no token, so a private repository is fetched with the Action's token, passed the way
actions/checkout passes it (an `http.<server>/.extraheader`) but through git's
`GIT_CONFIG_*` environment variables: nothing is written to `.git/config` and nothing
shows in the process list.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.packsources import git_reason

_COMMIT = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
FETCH_TIMEOUT_S = 120.0
LOCAL_TIMEOUT_S = 30.0


def _git(
    path: Path,
    *args: str,
    timeout: float = LOCAL_TIMEOUT_S,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **(extra_env or {})}
    command = ["git", "-C", str(path), *args]
    # Its own session, killed as a group on timeout: `git fetch` runs `git remote-https`,
    # which would otherwise outlive git, still waiting on an unresponsive server.
    with subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=env,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def has_commit(path: Path, sha: str) -> bool:
    try:
        return _git(path, "cat-file", "-e", f"{sha}^{{commit}}").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _is_checkout(path: Path) -> bool:
    try:
        return _git(path, "rev-parse", "--git-dir").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _has_auth_header(path: Path) -> bool:
    """The checkout persisted its credentials: a second Authorization header would clash."""
    try:
        proc = _git(path, "config", "--get-regexp", r"^http\..*\.extraheader$")
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _auth_env(path: Path, token: str | None, server_url: str) -> dict[str, str]:
    if not token or not server_url.startswith("https://") or _has_auth_header(path):
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    count = os.environ.get("GIT_CONFIG_COUNT", "")
    index = int(count) if count.isdigit() else 0  # after any the job set itself
    return {
        "GIT_CONFIG_COUNT": str(index + 1),
        f"GIT_CONFIG_KEY_{index}": f"http.{server_url.rstrip('/')}/.extraheader",
        f"GIT_CONFIG_VALUE_{index}": f"AUTHORIZATION: basic {basic}",
    }


def merge_base_parent(path: Path, head_sha: str) -> str | None:
    """The base a merge commit at HEAD was made on, when HEAD merges `head_sha`.

    For `pull_request`, actions/checkout checks out the merge commit GitHub prepares
    (`refs/pull/N/merge`): its first parent is the base branch as GitHub merged it, which
    can be newer than the payload's `base.sha` when the base branch moved since the
    event. Comparing with that parent judges exactly what merging would add. A shallow
    clone lacks the parents but its commit object still names them.
    """
    try:
        proc = _git(path, "cat-file", "commit", "HEAD")
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    header = proc.stdout.split("\n\n", 1)[0].splitlines()
    parents = [line.split(" ", 1)[1].strip() for line in header if line.startswith("parent ")]
    if len(parents) == 2 and parents[1] == head_sha and _COMMIT.fullmatch(parents[0]):
        return parents[0]
    return None


def ensure_commit(
    path: Path,
    sha: str,
    *,
    token: str | None = None,
    server_url: str = "https://github.com",
    timeout: float = FETCH_TIMEOUT_S,
) -> bool:
    """Fetch `sha` from `origin` unless the repository at `path` has it; True if fetched.

    `sha` must already be validated as a commit id (it is an argument of git fetch).
    """
    if has_commit(path, sha):
        return False
    if not _is_checkout(path):
        raise ConfigError(
            f"{path} is not a git checkout: run actions/checkout before opsgrade, whose "
            "pull-request gate compares two commits"
        )
    args = ["fetch", "--no-tags", "--no-recurse-submodules", "--depth=1", "origin", sha]
    try:
        proc = _git(path, *args, timeout=timeout, extra_env=_auth_env(path, token, server_url))
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"fetching the base commit {sha} from origin took over {timeout:g}s; "
            "check out with `fetch-depth: 0` instead"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot run git to fetch the base commit: {exc.strerror}") from None
    if proc.returncode != 0 or not has_commit(path, sha):
        reason = git_reason(proc.stderr) or "no message"
        raise ConfigError(
            f"cannot fetch the base commit {sha} from origin: {reason} "
            "(give the job `contents: read`, or check out with `fetch-depth: 0`)"
        )
    return True
