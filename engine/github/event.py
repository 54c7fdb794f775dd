"""The workflow run the Action is in: environment, event payload, and the runner's files.

GitHub Actions describes the run in environment variables (`GITHUB_EVENT_NAME`,
`GITHUB_REPOSITORY`, ...) and in a JSON file (`GITHUB_EVENT_PATH`, the webhook payload
of the event that started the workflow), and takes results back through files
(`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`) and workflow commands on stdout
(docs.github.com, "Workflow commands for GitHub Actions"). Everything here is read once
into plain records; the payload is decoded into typed structs, so a malformed one is one
`EventError` naming the key, never a KeyError deep in the Action.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path

import msgspec

from opsgrade.engine.errors import OpsgradeError
from opsgrade.reporters.escape import command_data, command_property

PULL_REQUEST_EVENTS = frozenset({"pull_request", "pull_request_target"})
# A payload is a few hundred KB at most; anything far larger is not one.
MAX_PAYLOAD_BYTES = 25 * 1024 * 1024
# A commit id as the payload gives it: SHA-1, or SHA-256 for repositories that use it.
# Checked strictly: it becomes an argument of `git fetch`, where "-..." would be an option.
_COMMIT = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_SERVER_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~-]+)*/?")
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")


class EventError(OpsgradeError):
    """The event payload is missing or is not a pull_request payload."""


class _Repo(msgspec.Struct, frozen=True):
    full_name: str


class _Side(msgspec.Struct, frozen=True):
    sha: str
    ref: str = ""
    # null when the fork the pull request came from was deleted
    repo: _Repo | None = None


class _PullRequest(msgspec.Struct, frozen=True):
    number: int
    base: _Side
    head: _Side


class _Payload(msgspec.Struct, frozen=True):
    pull_request: _PullRequest


class PullRequest(msgspec.Struct, frozen=True):
    """What the Action needs from a pull_request payload."""

    number: int
    base_sha: str
    head_sha: str
    base_ref: str
    base_repo: str
    head_repo: str | None

    @property
    def from_fork(self) -> bool:
        """A fork's pull request: its `pull_request` workflows get a read-only token."""
        return self.head_repo != self.base_repo


class ActionEnv(msgspec.Struct, frozen=True):
    """The variables GitHub sets in every step, as the Action reads them."""

    event_name: str = ""
    event_path: str = ""
    repository: str = ""
    workspace: str = ""
    output: str = ""
    step_summary: str = ""
    api_url: str = "https://api.github.com"
    server_url: str = "https://github.com"
    run_id: str = ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ActionEnv:
        env = os.environ if environ is None else environ
        return cls(
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            event_path=env.get("GITHUB_EVENT_PATH", ""),
            repository=env.get("GITHUB_REPOSITORY", ""),
            workspace=env.get("GITHUB_WORKSPACE", ""),
            output=env.get("GITHUB_OUTPUT", ""),
            step_summary=env.get("GITHUB_STEP_SUMMARY", ""),
            api_url=env.get("GITHUB_API_URL") or "https://api.github.com",
            server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
            run_id=env.get("GITHUB_RUN_ID", ""),
        )

    @property
    def is_pull_request(self) -> bool:
        return self.event_name in PULL_REQUEST_EVENTS

    def run_url(self) -> str | None:
        """The link to this workflow run, when the environment names one."""
        if not (self.run_id.isdigit() and valid_repository(self.repository)):
            return None
        if not re.fullmatch(
            r"https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~-]+)*/?", self.server_url
        ):
            return None
        return f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"


def valid_repository(name: str) -> bool:
    return bool(_REPOSITORY.fullmatch(name))


def load_pull_request(path: str) -> PullRequest:
    """The pull request of a pull_request (or pull_request_target) payload at `path`."""
    if not path:
        raise EventError("GITHUB_EVENT_PATH is not set: no event payload to read")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_PAYLOAD_BYTES + 1)
    except OSError as exc:
        raise EventError(f"cannot read the event payload {path}: {exc.strerror}") from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise EventError(f"the event payload {path} is over {MAX_PAYLOAD_BYTES} bytes")
    try:
        payload = msgspec.json.decode(data, type=_Payload)
    except msgspec.DecodeError as exc:
        raise EventError(f"the event payload {path} is not a pull_request payload: {exc}") from None
    pr = payload.pull_request
    for side, value in (("base", pr.base.sha), ("head", pr.head.sha)):
        if not _COMMIT.fullmatch(value):
            raise EventError(
                f"the event payload {path}: pull_request.{side}.sha is not a commit id: "
                f"{value[:80]!r}"
            )
    if pr.base.repo is None:
        raise EventError(f"the event payload {path}: pull_request.base.repo is null")
    return PullRequest(
        number=pr.number,
        base_sha=pr.base.sha,
        head_sha=pr.head.sha,
        base_ref=pr.base.ref,
        base_repo=pr.base.repo.full_name,
        head_repo=pr.head.repo.full_name if pr.head.repo else None,
    )


# -- talking back to the runner ----------------------------------------------------------


def workflow_command(kind: str, message: str, title: str = "opsgrade") -> str:
    """`::warning title=opsgrade::message`, escaped the way the runner decodes it."""
    return f"::{kind} title={command_property(title)}::{command_data(message)}"


def output_lines(outputs: Mapping[str, str]) -> str:
    """`GITHUB_OUTPUT` records in the multiline form `name<<DELIMITER`.

    The form is safe for any value: the delimiter is random and checked not to occur in
    the value (as actions/toolkit's `prepareKeyValueMessage` does).
    """
    out: list[str] = []
    for name, value in outputs.items():
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        while delimiter in value:  # pragma: no cover - a 122-bit random collision
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
        out.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return "".join(out)


def append_file(path: str, text: str) -> bool:
    """Append to a runner file (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY); False if unset or
    unwritable: outside Actions there is none, and a lost summary must not lose the gate."""
    if not path or not text:
        return False
    try:
        with Path(path).open("a", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
    except OSError:
        return False
    return True
