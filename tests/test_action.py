"""`opsgrade action` end to end, in a simulated GitHub Actions environment.

Each test runs the real command in a subprocess, as action.yml does, against:
- a git remote (a bare repository) and a shallow `file://` clone of a pull request's
  head, so the base commit is really missing and really fetched;
- a `pull_request` payload shaped like GitHub's webhook payload, in GITHUB_EVENT_PATH;
- GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files;
- the local GitHub API (tests/ghserver.py) at GITHUB_API_URL.

What is asserted is what a workflow sees: the exit code, the step outputs, the summary,
the annotations in the log, the SARIF file and the comments on the pull request.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from ghserver import FakeGitHub
from gitutil import git
from test_diff import BASE_FILES, CONFIG, PACK  # the same small repository as `diff`'s tests
from test_sarif import validated  # the official schema plus GitHub's own rules

from opsgrade.reporters.markdown import MARKER

TODAY = "2026-11-26"
REPO = "acme/shop"
PR = 42
TOKEN = "ghs_actions_token"

BASE = BASE_FILES  # a local pack and config; the service `svc` is silver (HYG002 fails)
# Pull requests against BASE, by branch name.
BRANCHES: dict[str, dict[str, str | None]] = {
    "pass": {"CHANGELOG.md": "- nothing that matters\n"},
    "regress": {"README.md": None},
    # Drops the README and, to get away with it, lowers the bar and removes the rule.
    "weaken": {
        "README.md": None,
        ".opsgrade/config.yml": CONFIG.replace("silver", "bronze"),
        ".opsgrade/packs/team.yml": PACK.split("  - id: DOC001")[0],
    },
}


def write(root: Path, files: Mapping[str, str | None]) -> None:
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


class Origin:
    """A bare remote with `main` (the base) and one branch per pull request."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "origin.git"
        work = root / "author"
        work.mkdir(parents=True)
        git(root, "init", "-q", "--bare", "-b", "main", str(self.bare))
        git(work, "init", "-q", "-b", "main")
        write(work, BASE)
        git(work, "add", "-A")
        git(work, "commit", "-q", "-m", "base")
        self.base = git(work, "rev-parse", "HEAD")
        git(work, "remote", "add", "origin", self.bare.as_uri())
        git(work, "push", "-q", "origin", "main")
        self.heads: dict[str, str] = {}
        for branch, files in BRANCHES.items():
            git(work, "checkout", "-q", "-b", branch, "main")
            write(work, files)
            git(work, "add", "-A")
            git(work, "commit", "-q", "-m", branch)
            self.heads[branch] = git(work, "rev-parse", "HEAD")
            git(work, "push", "-q", "origin", branch)
        # The base branch moves on after the event (it loses its README), and GitHub's
        # merge commit for `pass` (refs/pull/N/merge) is made on that newer base.
        git(work, "checkout", "-q", "-b", "main-moved", "main")
        write(work, {"README.md": None})
        git(work, "commit", "-q", "-am", "base moves on")
        self.moved_base = git(work, "rev-parse", "HEAD")
        git(work, "merge", "-q", "--no-ff", "-m", "merge pass", "pass")
        git(work, "push", "-q", "origin", "HEAD:refs/heads/merge-pass")

    def clone(self, dest: Path, branch: str) -> Path:
        """What actions/checkout leaves in `dest/shop`: one commit, no history, no base."""
        dest.mkdir(parents=True)
        git(dest, "clone", "-q", "--depth=1", "--branch", branch, self.bare.as_uri(), "shop")
        return dest / "shop"


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Origin:
    return Origin(tmp_path_factory.mktemp("origin"))


def payload(origin: Origin, branch: str, *, fork: bool = False, number: int = PR) -> dict[str, Any]:
    """A `pull_request` webhook payload (the fields GitHub sends that matter here)."""
    base_repo = {"id": 1, "name": "shop", "full_name": REPO, "private": False, "fork": False}
    head_repo = (
        {"id": 2, "name": "shop", "full_name": "mallory/shop", "private": False, "fork": True}
        if fork
        else base_repo
    )
    user = {"login": "octocat", "id": 583231, "type": "User"}
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
            "id": 1000 + number,
            "number": number,
            "state": "open",
            "title": f"Change {branch}",
            "user": user,
            "head": {
                "label": f"octocat:{branch}",
                "ref": branch,
                "sha": origin.heads[branch],
                "user": user,
                "repo": head_repo,
            },
            "base": {
                "label": "acme:main",
                "ref": "main",
                "sha": origin.base,
                "user": {"login": "acme", "id": 1, "type": "Organization"},
                "repo": base_repo,
            },
        },
        "repository": base_repo,
        "sender": user,
    }


class Run:
    """One `opsgrade action` step: its process, outputs, summary and workspace."""

    def __init__(self, proc: subprocess.CompletedProcess[str], home: Path, workspace: Path):
        self.proc = proc
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.summary = (home / "summary.md").read_text(encoding="utf-8")
        self.outputs = parse_outputs((home / "output.txt").read_text(encoding="utf-8"))
        self.workspace = workspace

    def sarif(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.workspace / "opsgrade.sarif").read_text())
        return data


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT as the runner reads it: `name=value` or `name<<DELIM` ... `DELIM`."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            name, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
            i += 1
        else:
            i += 1
    return out


def run_action(
    workspace: Path,
    home: Path,
    *,
    event: str = "pull_request",
    event_json: dict[str, Any] | str | None = None,
    api_url: str = "",
    token: str | None = TOKEN,
    extra_env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Run:
    home.mkdir(parents=True, exist_ok=True)
    event_path = home / "event.json"
    if isinstance(event_json, dict):
        event_path.write_text(json.dumps(event_json), encoding="utf-8")
    elif isinstance(event_json, str):
        event_path.write_text(event_json, encoding="utf-8")
    (home / "summary.md").write_text("", encoding="utf-8")
    (home / "output.txt").write_text("", encoding="utf-8")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "OPSGRADE_", "GIT_", "INPUT_", "RUNNER_"))
    }
    env.update(
        GITHUB_ACTIONS="true",
        GITHUB_EVENT_NAME=event,
        GITHUB_EVENT_PATH=str(event_path),
        GITHUB_REPOSITORY=REPO,
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_OUTPUT=str(home / "output.txt"),
        GITHUB_STEP_SUMMARY=str(home / "summary.md"),
        GITHUB_API_URL=api_url or "http://127.0.0.1:9",
        GITHUB_SERVER_URL="https://github.example.com",
        GITHUB_RUN_ID="123456",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        **(extra_env or {}),
    )
    if token is not None:
        env["GITHUB_TOKEN"] = token
    proc = subprocess.run(
        [sys.executable, "-m", "opsgrade.engine", "action", "--today", TODAY, *args],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(proc, home, workspace)


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        server.add_token(TOKEN)  # github-actions[bot]
        server.add_repo(REPO)
        yield server


def pull_request(origin: Origin, tmp_path: Path, branch: str, gh: FakeGitHub, **kwargs: Any) -> Run:
    workspace = origin.clone(tmp_path / f"ws-{branch}", branch)
    event = payload(origin, branch, fork=kwargs.pop("fork", False))
    return run_action(
        workspace, tmp_path / f"home-{branch}", event_json=event, api_url=gh.url, **kwargs
    )


def our_comments(gh: FakeGitHub) -> list[dict[str, Any]]:
    return [c for c in gh.comments(REPO, PR) if str(c["body"]).startswith(MARKER)]


# -- pull requests --------------------------------------------------------------------------


def test_passing_pull_request_fetches_the_base_and_comments_once(
    origin: Origin, tmp_path: Path, gh: FakeGitHub
) -> None:
    workspace = origin.clone(tmp_path / "ws", "pass")
    with pytest.raises(subprocess.CalledProcessError):
        git(workspace, "cat-file", "-e", f"{origin.base}^{{commit}}")  # shallow: no base
    run = run_action(
        workspace, tmp_path / "home", event_json=payload(origin, "pass"), api_url=gh.url
    )
    assert run.code == 0, run.stderr
    git(workspace, "cat-file", "-e", f"{origin.base}^{{commit}}")  # fetched
    assert run.outputs["passed"] == "true"
    assert json.loads(run.outputs["levels"]) == {"svc": "silver"}
    assert run.outputs["sarif-file"] == "opsgrade.sarif"
    [made] = our_comments(gh)
    assert made["user"]["login"] == "github-actions[bot]"
    assert "opsgrade: passed" in made["body"]
    assert f"compared with `{origin.base[:12]}`" in made["body"]
    assert "https://github.example.com/acme/shop/actions/runs/123456" in made["body"]
    assert run.outputs["comment-url"] == made["html_url"]
    assert run.summary.startswith(MARKER) and "opsgrade: passed" in run.summary
    assert run.sarif()["runs"][0]["automationDetails"]["id"] == "opsgrade/shop/"
    # The work tree was not touched: the head is still checked out, nothing added.
    assert git(workspace, "status", "--porcelain") == "?? opsgrade.sarif"


def test_second_push_updates_the_same_comment_on_page_3(
    origin: Origin, tmp_path: Path, gh: FakeGitHub
) -> None:
    """250 comments, ours on page 3, a person and another bot with the marker text."""
    for i in range(249):
        if i == 30:
            gh.add_comment(REPO, PR, f"{MARKER}\nfake by a person", login="mallory")
        elif i == 60:
            gh.add_comment(REPO, PR, f"{MARKER}\nfake by a bot", login="x[bot]", user_type="Bot")
        elif i == 220:
            gh.add_comment(
                REPO, PR, f"{MARKER}\nold run", login="github-actions[bot]", user_type="Bot"
            )
        else:
            gh.add_comment(REPO, PR, f"comment {i}", login=f"user{i % 5}")
    ours_id = next(c["id"] for c in gh.comments(REPO, PR) if c["body"].endswith("old run"))
    gh.fail_next("GET", "/user", 403, body={"message": "Resource not accessible by integration"})
    first = pull_request(origin, tmp_path, "pass", gh)
    assert first.code == 0, first.stderr
    second = pull_request(origin, tmp_path, "regress", gh)  # the PR's next push
    assert second.code == 1
    comments = gh.comments(REPO, PR)
    assert len(comments) == 249  # updated in place, twice; nothing created
    mine = [c for c in comments if c["user"]["login"] == "github-actions[bot]"]
    assert [c["id"] for c in mine] == [ours_id]
    assert "opsgrade: failed" in mine[0]["body"]
    assert sum(1 for c in comments if c["body"].startswith(MARKER)) == 3  # fakes untouched
    assert gh.count("POST", r"/repos/acme/shop/issues/\d+/comments") == 0
    assert gh.count("PATCH", rf"/repos/acme/shop/issues/comments/{ours_id}") == 2


def test_the_merge_commit_is_compared_with_the_base_it_was_made_on(
    origin: Origin, tmp_path: Path, gh: FakeGitHub
) -> None:
    """The payload's base.sha is stale; the merge commit's first parent is the base that
    merging adds to. The README the base lost since is not this pull request's doing."""
    workspace = origin.clone(tmp_path / "ws", "merge-pass")
    run = run_action(
        workspace, tmp_path / "home", event_json=payload(origin, "pass"), api_url=gh.url
    )
    assert run.code == 0, run.stdout
    [made] = our_comments(gh)
    assert f"compared with `{origin.moved_base[:12]}`" in made["body"]
    assert json.loads(run.outputs["levels"]) == {"svc": "bronze"}  # as the base is now


def test_regression_fails_the_gate(origin: Origin, tmp_path: Path, gh: FakeGitHub) -> None:
    run = pull_request(origin, tmp_path, "regress", gh)
    assert run.code == 1, run.stderr
    assert run.outputs["passed"] == "false"
    assert json.loads(run.outputs["levels"]) == {"svc": "bronze"}
    assert "::error file=opsgrade.yml,line=1,title=DOC001" in run.stdout
    [made] = our_comments(gh)
    assert "opsgrade: failed" in made["body"] and "DOC001" in made["body"]
    assert "silver → bronze" in made["body"]
    results = run.sarif()["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"DOC001"}


def test_a_pull_request_cannot_weaken_its_own_gate(
    origin: Origin, tmp_path: Path, gh: FakeGitHub
) -> None:
    """The head lowers required_level and deletes the rule it breaks: the base's rules judge."""
    run = pull_request(origin, tmp_path, "weaken", gh)
    assert run.code == 1, run.stderr
    assert run.outputs["passed"] == "false"
    [made] = our_comments(gh)
    assert "This change edits `.opsgrade/`" in made["body"]
    assert "judged by the base revision's configuration" in made["body"]
    assert "DOC001" in made["body"]
    assert "required level: **silver**" in made["body"]


def test_fork_pull_request_gets_a_notice_not_a_failure(
    origin: Origin, tmp_path: Path, gh: FakeGitHub
) -> None:
    gh.add_token("ghs_fork_token", can_write=False)
    run = pull_request(origin, tmp_path, "pass", gh, fork=True, token="ghs_fork_token")
    assert run.code == 0, run.stderr
    notice = [line for line in run.stdout.splitlines() if line.startswith("::notice")]
    assert len(notice) == 1
    assert "Resource not accessible by integration" in notice[0] and "fork" in notice[0]
    assert run.stderr == ""  # no PyGithub request log next to the notice
    assert gh.comments(REPO, PR) == []
    assert "opsgrade: passed" in run.summary and "read-only token" in run.summary
    assert run.outputs["passed"] == "true" and "comment-url" not in run.outputs
    # ...and a failing fork PR still fails by its gate, not by the comment.
    failing = pull_request(origin, tmp_path, "regress", gh, fork=True, token="ghs_fork_token")
    assert failing.code == 1


def test_a_server_error_is_retried(origin: Origin, tmp_path: Path, gh: FakeGitHub) -> None:
    gh.fail_next("GET", rf"/repos/acme/shop/issues/{PR}/comments", 502)
    run = pull_request(origin, tmp_path, "pass", gh)
    assert run.code == 0, run.stderr
    assert len(our_comments(gh)) == 1
    assert "::warning" not in run.stdout
    assert gh.count("GET", rf"/repos/acme/shop/issues/{PR}/comments") == 2


def test_exhausted_retries_warn_and_keep_the_gate(
    origin: Origin, tmp_path: Path, gh: FakeGitHub
) -> None:
    gh.fail_next("GET", rf"/repos/acme/shop/issues/{PR}/comments", 503, times=20)
    run = pull_request(origin, tmp_path, "regress", gh)
    assert run.code == 1  # the gate's verdict, whatever happened to the comment
    [warning] = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert "could not update the pull-request comment" in warning
    assert "could not update the pull-request comment" in run.summary
    assert "opsgrade: failed" in run.summary
    assert run.sarif()["runs"][0]["results"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_api_down_warns_and_exits_by_the_gate(origin: Origin, tmp_path: Path) -> None:
    workspace = origin.clone(tmp_path / "ws", "pass")
    run = run_action(
        workspace,
        tmp_path / "home",
        event_json=payload(origin, "pass"),
        api_url=f"http://127.0.0.1:{closed_port()}/api/v3",
    )
    assert run.code == 0, run.stderr
    [warning] = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert "GitHub API unreachable" in warning
    assert run.stderr == ""
    assert "opsgrade: passed" in run.summary and "GitHub API unreachable" in run.summary
    assert run.outputs["passed"] == "true"
    assert (workspace / "opsgrade.sarif").is_file()


def test_missing_token_skips_the_comment(origin: Origin, tmp_path: Path, gh: FakeGitHub) -> None:
    run = pull_request(origin, tmp_path, "pass", gh, token=None)
    assert run.code == 0, run.stderr
    assert "no GitHub token" in run.stdout and "no GitHub token" in run.summary
    assert gh.requests == []


def test_comment_false_makes_no_api_call(origin: Origin, tmp_path: Path, gh: FakeGitHub) -> None:
    run = pull_request(origin, tmp_path, "regress", gh, extra_env={"OPSGRADE_COMMENT": "false"})
    assert run.code == 1
    assert gh.requests == []
    assert "opsgrade: failed" in run.summary


@pytest.mark.parametrize(
    ("event_json", "message"),
    [
        (None, "cannot read the event payload"),
        ("{not json", "is not a pull_request payload"),
        ('{"pull_request": {"number": 42}}', "is not a pull_request payload"),
        (
            '{"pull_request": {"number": 42, "base": {"sha": "--upload-pack=touch /tmp/x"},'
            ' "head": {"sha": "' + "b" * 40 + '"}}}',
            "pull_request.base.sha is not a commit id",
        ),
    ],
    ids=["missing", "not-json", "no-base", "option-injection"],
)
def test_bad_event_payload_falls_back_to_a_plain_scan(
    origin: Origin, tmp_path: Path, gh: FakeGitHub, event_json: str | None, message: str
) -> None:
    workspace = origin.clone(tmp_path / "ws", "regress")
    run = run_action(workspace, tmp_path / "home", event_json=event_json, api_url=gh.url)
    # A plain scan of the head: below the head's own required level (silver) -> 1.
    assert run.code == 1, run.stderr
    [warning] = [line for line in run.stdout.splitlines() if line.startswith("::warning")]
    assert message in warning and "plain scan" in warning
    assert message in run.summary.replace("\\", "")  # Markdown-escaped there
    assert run.outputs["passed"] == "false"
    assert gh.requests == []
    assert (workspace / "opsgrade.sarif").is_file()


def test_unfetchable_base_is_a_configuration_error(
    origin: Origin, tmp_path: Path, gh: FakeGitHub
) -> None:
    workspace = origin.clone(tmp_path / "ws", "pass")
    event = payload(origin, "pass")
    event["pull_request"]["base"]["sha"] = "0" * 40
    run = run_action(workspace, tmp_path / "home", event_json=event, api_url=gh.url)
    assert run.code == 2
    assert f"cannot fetch the base commit {'0' * 40} from origin" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout.startswith("::error title=opsgrade::")
    assert "cannot fetch the base commit" in run.summary
    assert run.outputs["passed"] == "false"


def test_a_pull_request_without_a_checkout_says_so(origin: Origin, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write(workspace, BASE)
    run = run_action(workspace, tmp_path / "home", event_json=payload(origin, "pass"))
    assert run.code == 2
    assert "is not a git checkout: run actions/checkout before opsgrade" in run.stderr
    assert "not a git checkout" in run.summary and run.outputs["passed"] == "false"


# -- other events -------------------------------------------------------------------------


def test_push_event_is_a_plain_scan_with_valid_sarif(
    origin: Origin, tmp_path: Path, gh: FakeGitHub
) -> None:
    workspace = origin.clone(tmp_path / "ws", "main")
    run = run_action(
        workspace,
        tmp_path / "home",
        event="push",
        event_json={"ref": "refs/heads/main", "after": origin.base},
        api_url=gh.url,
        extra_env={
            "OPSGRADE_SARIF_CATEGORY": "opsgrade/backend",
            "OPSGRADE_FORMATS": "json=r.json",
        },
    )
    assert run.code == 0, run.stderr
    assert gh.requests == []  # no comment, no API at all
    assert json.loads(run.outputs["levels"]) == {"svc": "silver"}
    doc = validated((workspace / "opsgrade.sarif").read_text(encoding="utf-8"))
    assert doc["runs"][0]["automationDetails"]["id"] == "opsgrade/backend/"
    assert {r["ruleId"] for r in doc["runs"][0]["results"]} == {"HYG002"}
    report = json.loads((workspace / "r.json").read_text())
    assert report["services"][0]["level"] == "silver"
    assert "opsgrade: passed" in run.summary


def test_levels_output_is_json_for_any_service_name(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write(
        workspace,
        {
            "a/opsgrade.yml": 'name: "we\\"ird\\nname"\nowner: x\n',
            "b/opsgrade.yml": "name: plain\n",
        },
    )
    run = run_action(workspace, tmp_path / "home", event="schedule", event_json={})
    levels = json.loads(run.outputs["levels"])
    assert set(levels) == {'we"ird\nname', "plain"}
    assert all(v is None or isinstance(v, str) for v in levels.values())


def test_inputs_reach_the_command(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    write(workspace, {"opsgrade.yml": "name: s\nowner: x\n"})
    inputs = {
        "OPSGRADE_SARIF_FILE": "",  # cleared: no SARIF
        "OPSGRADE_PACKS": " readiness,docker ",
        "OPSGRADE_FORMATS": "json=out/r.json\ncsv=r.csv",
        "OPSGRADE_FAIL_BELOW": "gold",
    }
    (workspace / "out").mkdir()
    run = run_action(workspace, tmp_path / "home", event="push", extra_env=inputs)
    assert not (workspace / "opsgrade.sarif").exists()
    assert run.outputs["sarif-file"] == ""
    report = json.loads((workspace / "out" / "r.json").read_text())
    assert sorted(p["name"] for p in report["packs"]) == ["docker", "readiness"]
    assert report["required_level"] == "gold" and run.code == 1  # `s` is below gold
    assert (workspace / "r.csv").is_file()
    bad = run_action(
        workspace, tmp_path / "home2", event="push", extra_env={"OPSGRADE_FORMATS": "json"}
    )
    assert bad.code == 2 and "give a file" in bad.stderr


def test_a_plain_scan_does_not_load_pygithub(tmp_path: Path) -> None:
    """Only a pull request's comment needs PyGithub (and requests): push runs stay light."""
    workspace = tmp_path / "ws"
    write(workspace, {"opsgrade.yml": "name: s\nowner: x\n"})
    probe = (
        "import sys\n"
        "from opsgrade.engine.cli import run\n"
        "code = run(['action', '--today', '2026-11-26'])\n"
        "print(code, sorted(m for m in ('github', 'requests', 'jwt') if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "OPSGRADE_"))}
    env.update(GITHUB_EVENT_NAME="push", GITHUB_TOKEN=TOKEN)
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=workspace, env=env, capture_output=True, text=True
    )
    assert proc.stdout.splitlines()[-1] in ("0 []", "1 []"), proc.stderr
