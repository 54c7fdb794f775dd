"""The CI extractor on the inputs that break naive parsers, and end to end through a scan.

The rule cases in rules/ci.tests.yml show each rule passing and failing; these tests
pin down the facts themselves: YAML 1.1's `on: true`, matrices, reusable workflows,
docker and local actions, composite actions, GitLab's `!reference`, malformed files,
alias bombs, a 5,000-step workflow, and that a hard-coded secret never reaches output.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from opsgrade.engine.extractors import ci_github
from opsgrade.engine.extractors.ci import find_test_runner
from opsgrade.engine.extractors.ci_expressions import analyze, is_untrusted
from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.model import CheckResult, RunResult, Status
from opsgrade.engine.packs import PackSource
from opsgrade.engine.packtest import materialize
from opsgrade.engine.repoview import open_view
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.engine.services import anchor_for, assign_files, discover

TODAY = dt.date(2026, 11, 26)
WF = ".github/workflows/ci.yml"


def contexts(tmp_path: Path, files: dict[str, str]) -> list[EvalContext]:
    """One EvalContext per service of a repository made of `files`, sharing parses."""
    materialize(files, tmp_path / "repo")
    view = open_view(tmp_path / "repo", None)
    found = discover(view, "repo")
    visible = assign_files(found.services, view.files())
    shared: dict[Any, Any] = {}
    return [
        EvalContext(s, visible[s.root], view, anchor_for(s, visible[s.root]), None, shared)
        for s in found.services
    ]


def facts(tmp_path: Path, files: dict[str, str], key: str) -> Any:
    return contexts(tmp_path, files)[0].facts.get(key)


def workflow(tmp_path: Path, text: str) -> dict[str, Any]:
    (found,) = facts(tmp_path, {WF: text}, "github_workflows")
    assert isinstance(found, dict)
    return found


def ci_scan(tmp_path: Path, files: dict[str, str]) -> RunResult:
    materialize(files, tmp_path / "repo")
    return scan(ScanRequest(tmp_path / "repo", packs=[PackSource("builtin", "ci")], today=TODAY))


def result(run: RunResult, rule: str) -> CheckResult:
    return next(r for r in run.services[0].results if r.rule == rule)


# -- GitHub Actions: shapes YAML allows ---------------------------------------------------


@pytest.mark.parametrize(
    ("on", "events"),
    [
        ("on: push", ["push"]),
        ('"on": [push, pull_request]', ["push", "pull_request"]),
        (
            "on:\n  pull_request_target:\n    types: [opened]\n"
            "  schedule:\n    - cron: '0 3 * * *'",
            ["pull_request_target", "schedule"],
        ),
        ("true: workflow_run", ["workflow_run"]),
    ],
)
def test_on_key_read_as_boolean_or_text(tmp_path: Path, on: str, events: list[str]) -> None:
    found = workflow(tmp_path, f"{on}\njobs: {{}}\n")
    assert found["events"] == events
    assert found["triggers"][0]["line"] >= 1
    dangerous = [e for e in events if e in ci_github.DANGEROUS_TRIGGERS]
    assert found["dangerous_triggers"] == dangerous


def test_trigger_lines(tmp_path: Path) -> None:
    found = workflow(tmp_path, "name: x\non:\n  push:\n  pull_request_target:\njobs: {}\n")
    assert [(t["event"], t["line"]) for t in found["triggers"]] == [
        ("push", 3),
        ("pull_request_target", 4),
    ]


@pytest.mark.parametrize(
    ("block", "kind", "writes"),
    [
        ("", "missing", []),
        ("permissions: write-all\n", "write-all", []),
        ("permissions: read-all\n", "read-all", []),
        ("permissions: {}\n", "none", []),
        ("permissions:\n  contents: write\n  issues: read\n", "map", ["contents"]),
        ("permissions: admin\n", "invalid", []),
    ],
)
def test_permissions_kinds(tmp_path: Path, block: str, kind: str, writes: list[str]) -> None:
    found = workflow(tmp_path, f"on: push\n{block}jobs:\n  a:\n    runs-on: x\n")
    assert found["permissions"]["kind"] == kind
    assert found["permissions"]["writes"] == writes
    (job,) = found["jobs"]
    assert job["effective_permissions"]["kind"] == kind
    assert job["effective_permissions"]["inherited"] is True
    assert job["effective_permissions"]["line"] == job["line"]


def test_matrix_and_expression_matrix(tmp_path: Path) -> None:
    found = workflow(
        tmp_path,
        """\
on: push
jobs:
  static:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu-latest, windows-latest]
        node: [20, 22]
        include: [{os: macos-latest, node: 22}]
        exclude: [{os: windows-latest, node: 20}]
    steps:
      - uses: actions/setup-node@v4
        with: {node-version: "${{ matrix.node }}"}
  dynamic:
    runs-on: ubuntu-latest
    strategy:
      matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
    steps: [{run: "echo ${{ matrix.target }}"}]
""",
    )
    static, dynamic = found["jobs"]
    assert static["matrix"] == {"expression": False, "keys": ["os", "node"]}
    assert static["runs_on"] == "${{ matrix.os }}"
    assert dynamic["matrix"] == {"expression": True, "keys": []}
    assert dynamic["steps"][0]["expressions"][0]["contexts"] == ["matrix.target"]
    assert dynamic["steps"][0]["untrusted"] == []


def test_uses_of_every_kind(tmp_path: Path) -> None:
    sha = "11bd71901bbe5b1630ceea73d27597364c9af683"
    found = workflow(
        tmp_path,
        f"""\
on: push
jobs:
  local:
    uses: ./.github/workflows/reusable.yml
  remote:
    uses: acme/pipelines/.github/workflows/build.yml@v2
  steps:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@{sha}
      - uses: github/codeql-action/init@v3
      - uses: some/action@main
      - uses: docker://ghcr.io:443/acme/tool:1.2
      - uses: docker://alpine@sha256:{"a" * 64}
      - uses: docker://alpine
      - uses: ./.github/actions/setup
""",
    )
    shown = [
        (u["uses"], u["kind"], u["ref_kind"], u["first_party"], u["pinned"]) for u in found["uses"]
    ]
    assert shown == [
        ("./.github/workflows/reusable.yml", "local", None, False, True),
        ("acme/pipelines/.github/workflows/build.yml@v2", "repository", "tag", False, False),
        (f"actions/checkout@{sha}", "repository", "sha", True, True),
        ("github/codeql-action/init@v3", "repository", "tag", True, False),
        ("some/action@main", "repository", "branch", False, False),
        ("docker://ghcr.io:443/acme/tool:1.2", "docker", "tag", False, False),
        (f"docker://alpine@sha256:{'a' * 64}", "docker", "digest", False, True),
        ("docker://alpine", "docker", "none", False, False),
        ("./.github/actions/setup", "local", None, False, True),
    ]
    reusable = found["jobs"][1]["uses"]
    assert (reusable["owner"], reusable["repo"], reusable["subpath"]) == (
        "acme",
        "pipelines",
        ".github/workflows/build.yml",
    )
    assert reusable["reusable"] is True and reusable["line"] == 6
    assert found["uses"][5]["image"] == "ghcr.io:443/acme/tool:1.2"
    assert all(u["path"] == WF and u["line"] >= 1 for u in found["uses"])


@pytest.mark.parametrize(
    ("ref", "kind"),
    [
        ("v4", "tag"),
        ("v4.2.1", "tag"),
        ("1.2.3-rc.1", "tag"),
        ("v1.x", "tag"),
        ("main", "branch"),
        ("release/v1", "branch"),
        ("a26af69", "branch"),
        ("11bd71901bbe5b1630ceea73d27597364c9af683", "sha"),
        ("", "none"),
    ],
)
def test_ref_classification(ref: str, kind: str) -> None:
    assert ci_github.classify_ref(ref) == kind


def test_composite_action_steps(tmp_path: Path) -> None:
    found = facts(
        tmp_path,
        {
            ".github/actions/setup/action.yml": """\
name: setup
inputs:
  version: {required: true}
runs:
  using: composite
  steps:
    - uses: actions/setup-python@v5
      with: {python-version: "${{ inputs.version }}"}
    - run: echo "${{ github.event.pull_request.title }}"
      shell: bash
""",
            ".github/actions/js/action.yaml": "name: js\nruns: {using: node20, main: i.js}\n",
            WF: "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n"
            "      - uses: ./.github/actions/setup\n        with: {version: '3.12'}\n",
        },
        "github_workflows",
    )
    assert [(w["path"], w["kind"]) for w in found] == [
        (WF, "workflow"),
        (".github/actions/js/action.yaml", "action"),
        (".github/actions/setup/action.yml", "action"),
    ]
    composite = found[2]
    assert composite["using"] == "composite"
    (job,) = composite["jobs"]
    assert job["effective_permissions"]["kind"] == "none"  # no token of its own
    assert [s["line"] for s in job["steps"]] == [7, 9]
    assert job["steps"][1]["untrusted"] == ["github.event.pull_request.title"]
    assert found[1]["jobs"] == []


def test_step_facts(tmp_path: Path) -> None:
    found = workflow(
        tmp_path,
        """\
on: pull_request_target
env:
  ACTIONS_ALLOW_UNSECURE_COMMANDS: "false"
jobs:
  build:
    runs-on: ubuntu-latest
    env: {ACTIONS_ALLOW_UNSECURE_COMMANDS: "${{ vars.LEGACY }}"}
    steps:
      - name: checkout head
        uses: actions/checkout@v4
        with:
          repository: ${{ github.event.pull_request.head.repo.full_name }}
          persist-credentials: "false"
      - id: greet
        run: |
          echo "${{ github.event.comment.body }}" "${{ secrets.NPM_TOKEN }}"
          git fetch origin "${{ github.event.pull_request.head.ref }}"
      - uses: actions/github-script@v7
        with:
          script: return "${{ github.event.review.body }}"
          github-token: ${{ secrets.BOT_TOKEN }}
""",
    )
    first, second, third = found["jobs"][0]["steps"]
    assert first["checkout"] == {
        "ref": None,
        "repository": "${{ github.event.pull_request.head.repo.full_name }}",
        "persist_credentials": False,
        "pr_head": True,
    }
    assert first["pr_head_checkout"] and second["pr_head_checkout"]
    assert second["id"] == "greet" and second["line"] == 14
    assert second["untrusted"] == [
        "github.event.comment.body",
        "github.event.pull_request.head.ref",
    ]
    assert [e["sink"] for e in third["expressions"]] == ["with.script"]
    assert third["untrusted"] == ["github.event.review.body"]
    assert [s["name"] for s in found["secrets"]] == ["BOT_TOKEN", "NPM_TOKEN"]
    # "false" disables insecure commands; an expression may enable them.
    assert [(i["scope"], i["line"]) for i in found["insecure_commands"]] == [("job", 7)]


@pytest.mark.parametrize(
    ("expression", "flows"),
    [
        ("github.event.issue.title", ["github.event.issue.title"]),
        ("contains(github.event.issue.title, 'x')", []),
        ("github.event.issue.title == 'x'", []),
        ("!github.event.issue.title", []),
        ("github.event.issue.title || 'none'", ["github.event.issue.title"]),
        ("github.event.issue.body && github.head_ref", ["github.head_ref"]),
        ("toJSON(github.event.commits[0].message)", ["github.event.commits.*.message"]),
        ("github.event['pull_request'].BODY", ["github.event.pull_request.body"]),
        ("format('{0}', github.event.pages[*].page_name)", ["github.event.pages.*.page_name"]),
        ("(github.event.issue.title)", ["github.event.issue.title"]),
        ("github.event.issue.title ) ((", ["github.event.issue.title"]),  # refused: all flow
    ],
)
def test_expression_dataflow(expression: str, flows: list[str]) -> None:
    assert analyze(expression)[1] == flows


def test_untrusted_contexts() -> None:
    assert is_untrusted("github.event.commits.*.author.email")
    assert not is_untrusted("github.event.pull_request.head.sha")
    assert not is_untrusted("github.actor")


# -- GitLab CI, CircleCI, dependency updates ----------------------------------------------


def test_gitlab_jobs_images_and_local_includes(tmp_path: Path) -> None:
    found = facts(
        tmp_path,
        {
            ".gitlab-ci.yml": """\
spec:
  inputs:
    env: {default: dev}
---
stages: [build, test]
include:
  - local: /.gitlab/ci/test.yml
  - project: acme/templates
    file: /docker.yml
    ref: v1
  - remote: https://example.com/ci.yml
  - template: Security/SAST.gitlab-ci.yml
default:
  image: python:3.12
.setup:
  script: [pip install -e .]
variables: {X: "1"}
build:
  stage: build
  image: {name: "docker:27", entrypoint: [""]}
  services: ["docker:27-dind"]
  script:
    - !reference [.setup, script]
    - make build
""",
            ".gitlab/ci/test.yml": "unit:\n  script: [pytest -q]\n",
        },
        "gitlab_ci",
    )
    assert found["files"] == [".gitlab-ci.yml", ".gitlab/ci/test.yml"]
    assert found["stages"] == ["build", "test"]
    assert [j["name"] for j in found["jobs"]] == ["build", "unit"]
    assert [(i["image"], i["where"], i["job"]) for i in found["images"]] == [
        ("python:3.12", "default.image", None),
        ("docker:27", "image", "build"),
        ("docker:27-dind", "services", "build"),
    ]
    assert [i["kind"] for i in found["include"]] == ["local", "project", "remote", "template"]
    assert found["jobs"][0]["script"] == [".setup", "script", "make build"]
    assert found["jobs"][1]["path"] == ".gitlab/ci/test.yml"


def test_circleci_orbs_and_images(tmp_path: Path) -> None:
    found = facts(
        tmp_path,
        {
            ".circleci/config.yml": """\
version: 2.1
orbs:
  node: circleci/node@5.2.0
  aws: circleci/aws-cli@4
  slack: circleci/slack@volatile
  local:
    commands: {hi: {steps: [{run: echo hi}]}}
executors:
  py:
    docker: [{image: cimg/python:3.12}]
jobs:
  test:
    executor: py
    steps:
      - checkout
      - run: {name: tests, command: pytest}
      - node/test
  build:
    docker:
      - image: cimg/base:2024.01
      - image: cimg/postgres:16.1
    steps: [checkout, {run: make}]
workflows:
  main: {jobs: [test, build]}
""",
        },
        "circleci",
    )
    assert [(o["alias"], o["pinned"]) for o in found["orbs"]] == [
        ("node", True),
        ("aws", False),
        ("slack", False),
        ("local", True),
    ]
    assert [i["image"] for i in found["images"]] == [
        "cimg/python:3.12",
        "cimg/base:2024.01",
        "cimg/postgres:16.1",
    ]
    assert found["jobs"][0]["executor"] == "py"
    assert found["workflows"] == ["main"]


def test_dependency_update_tools(tmp_path: Path) -> None:
    found = facts(
        tmp_path,
        {
            ".github/dependabot.yaml": """\
version: 2
updates:
  - package-ecosystem: npm
    directories: ["/web", "/admin"]
    schedule: {interval: daily}
  - package-ecosystem: github-actions
    directory: /
    schedule: {interval: weekly}
""",
            ".renovaterc.json5": "{extends: ['config:recommended']}",
            "package.json": '{"renovate": {"extends": ["local>acme/renovate"]}}',
        },
        "dependency_updates",
    )
    assert found["configured"] is True
    dependabot, json5, package = found["tools"]
    assert dependabot["ecosystems"] == ["github-actions", "npm"]
    assert dependabot["updates"][0]["directories"] == ["/web", "/admin"]
    assert dependabot["updates"][1]["line"] == 6
    assert (json5["path"], json5["valid"]) == (".renovaterc.json5", False)
    assert package["extends"] == ["local>acme/renovate"]


# -- summary: which scripts run tests -----------------------------------------------------


@pytest.mark.parametrize(
    ("script", "runner"),
    [
        ("python -m pytest -q", "pytest"),
        ("uv run pytest tests/", "pytest"),
        ("tox -e py312", "tox"),
        ("go vet ./... && go test ./...", "go_test"),
        ("npm run test:unit", "npm_test"),
        ("pnpm test", "npm_test"),
        ("./mvnw -B verify", "maven"),
        ("mvn test", "maven"),
        ("./gradlew :app:test", "gradle"),
        ("cargo +nightly test --all", "cargo_test"),
        ("bundle exec rspec", "rspec"),
        ("dotnet test --no-build", "dotnet_test"),
        ("make -C service check", "make_test"),
        ("cd build\nctest --output-on-failure", "ctest"),
    ],
)
def test_test_runners(script: str, runner: str) -> None:
    found = find_test_runner(script)
    assert found is not None and found[0] == runner


@pytest.mark.parametrize(
    "script",
    [
        "pip install pytest",
        "# pytest is run by the next job",
        'echo "run make test locally"',
        "mvn -B package -DskipTests",
        "./gradlew build -x test",
        "npm ci && npm run build",
        "make " + "x " * 5000,  # long, no test target: linear time, no match
    ],
)
def test_not_test_runners(script: str) -> None:
    assert find_test_runner(script) is None


def test_summary(tmp_path: Path) -> None:
    found = facts(
        tmp_path,
        {
            WF: "on: push\njobs:\n  t:\n    runs-on: x\n    steps:\n      - run: make lint\n",
            ".gitlab-ci.yml": "unit:\n  stage: test\n  script: [./run-tests.sh]\n",
            "Jenkinsfile": "node {\n  sh 'make'\n  sh 'go test ./...'\n}\n",
        },
        "ci",
    )
    assert found["systems"] == ["github_actions", "gitlab_ci", "jenkins"]
    assert found["runs_tests"] is True
    assert [(t["path"], t["line"], t["runner"]) for t in found["test_steps"]] == [
        (".gitlab-ci.yml", 1, "stage:test"),
        ("Jenkinsfile", 3, "go_test"),
    ]


# -- bad input ----------------------------------------------------------------------------


def test_malformed_workflow_is_a_located_error_for_every_reading_rule(tmp_path: Path) -> None:
    run = ci_scan(
        tmp_path,
        {WF: "on: push\njobs:\n  a:\n    steps: [\n", ".github/workflows/ok.yml": "on: push\n"},
    )
    for rule in ("CI001", "CI002", "GHA001", "GHA005", "GHA007"):
        found = result(run, rule)
        assert found.status == Status.ERROR, (rule, found.message)
        assert (found.path, found.line) == (WF, 5)
        assert "invalid YAML" in found.message
    assert result(run, "CI003").status == Status.FAIL  # reads no workflow


def test_non_mapping_workflow_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FactError) as info:
        facts(tmp_path, {WF: "- on: push\n"}, "github_workflows")
    assert info.value.location is not None
    assert (info.value.location.path, info.value.location.line) == (WF, 1)


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    started = time.monotonic()
    run = ci_scan(tmp_path, {WF: "\n".join(lines) + "\non: push\njobs: {}\n"})
    assert time.monotonic() - started < 10
    found = result(run, "GHA001")
    assert found.status == Status.ERROR and "alias bomb" in found.message
    assert found.path == WF


@pytest.mark.parametrize(
    "script",
    [
        "${{ " * 200_000,  # many openings, nothing closed
        "git " * 200_000 + "refs/pull/",  # one long line for the checkout heuristics
        "make " * 200_000,
    ],
)
def test_hostile_scripts_take_linear_time(tmp_path: Path, script: str) -> None:
    text = f"on: issues\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: '{script}'\n"
    started = time.monotonic()
    found = workflow(tmp_path, text)
    find_test_runner(script)
    assert time.monotonic() - started < 5
    assert found["jobs"][0]["steps"][0]["line"] == 6


def test_binary_workflow_is_skipped_with_a_note(tmp_path: Path) -> None:
    materialize({"README.md": "# x\n"}, tmp_path / "repo")
    (tmp_path / "repo" / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / "repo" / WF).write_bytes(b"on: push\x00\x01\x02")
    run = scan(ScanRequest(tmp_path / "repo", packs=[PackSource("builtin", "ci")], today=TODAY))
    assert result(run, "GHA001").status == Status.PASS
    assert any(n.path == WF for n in run.notes)


def test_five_thousand_steps(tmp_path: Path) -> None:
    steps = "".join(
        f"      - name: step {i}\n        uses: acme/act@v{i % 7}\n"
        f'        run: echo "${{{{ github.event.issue.title }}}}" {i}\n'
        for i in range(5000)
    )
    text = "on: issues\njobs:\n  big:\n    runs-on: x\n    steps:\n" + steps
    started = time.monotonic()
    run = ci_scan(tmp_path, {WF: text})
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"{elapsed:.1f}s"
    injected = result(run, "GHA001")
    assert injected.status == Status.FAIL
    assert len(injected.locations) == 50  # capped, the first ones first
    assert injected.locations[1].line == 9


# -- output and waivers, end to end -------------------------------------------------------


def test_hard_coded_secret_never_reaches_output(tmp_path: Path) -> None:
    secret = "Zq8-not-a-real-password-Zq8"
    files = {
        WF: f"""\
on: push
jobs:
  a:
    runs-on: x
    container:
      image: x
      credentials: {{username: u, password: {secret}}}
    env: {{DB_PASSWORD: {secret}}}
    steps:
      - uses: acme/deploy@v1
        with: {{api-token: {secret}}}
        env: {{NPM_TOKEN: {secret}}}
""",
    }
    assert secret not in json.dumps(facts(tmp_path / "facts", files, "github_workflows"))
    materialize(files, tmp_path / "repo")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "opsgrade.engine",
            "scan",
            str(tmp_path / "repo"),
            "--pack",
            "ci",
            "--today",
            TODAY.isoformat(),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert secret not in proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    (gha004,) = [r for r in report["services"][0]["results"] if r["rule"] == "GHA004"]
    assert gha004["status"] == "fail"


def test_inline_waiver_covers_only_its_step(tmp_path: Path) -> None:
    run = ci_scan(
        tmp_path,
        {
            WF: """\
on: issues
jobs:
  a:
    runs-on: x
    steps:
      # opsgrade: ignore[GHA001] quoted into a heredoc (SEC-1)
      - run: echo "${{ github.event.issue.title }}"
      - run: echo "${{ github.event.issue.body }}"
      # opsgrade: ignore[GHA001]
      - run: echo "${{ github.event.comment.body }}"
""",
        },
    )
    found = result(run, "GHA001")
    assert found.status == Status.FAIL
    assert [loc.line for loc in found.locations] == [8, 10]
    assert any("without a reason" in n.message and n.line == 9 for n in run.notes)


def test_parse_is_shared_between_services(tmp_path: Path) -> None:
    ctxs = contexts(
        tmp_path,
        {
            WF: "on: push\njobs: {}\n",
            "a/opsgrade.yml": "name: a\n",
            "b/opsgrade.yml": "name: b\n",
        },
    )
    assert len(ctxs) == 2
    first, second = (c.facts.get("github_workflows") for c in ctxs)
    assert first[0] is second[0]
    assert [k for k in ctxs[0].shared if k[0] == "ci:github-workflow"] == [
        ("ci:github-workflow", WF)
    ]


def test_extractor_not_imported_without_ci_rules(tmp_path: Path) -> None:
    materialize({WF: "on: push\njobs: {}\n", "README.md": "# x\n"}, tmp_path / "repo")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from opsgrade.engine.packs import PackSource\n"
        "from opsgrade.engine.scan import ScanRequest, scan\n"
        f"scan(ScanRequest(Path({str(tmp_path / 'repo')!r}),"
        " packs=[PackSource('builtin', 'readiness')]))\n"
        "print('opsgrade.engine.extractors.ci' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "False"
