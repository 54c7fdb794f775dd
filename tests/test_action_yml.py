"""action.yml: its shape, its steps run by bash in a simulated runner, and its linters.

The composite steps are executed the way the runner executes them: each `run:` with
`bash -e {0}`-style invocation, its `env:` evaluated first (the `${{ }}` expressions
this file uses are `inputs.*`, `steps.*.outputs.*` and `github.token`), a fresh
GITHUB_OUTPUT file per step whose records become `steps.<id>.outputs`. Only
`actions/setup-python` is stood in for, by a shim Python whose venv's `pip install`
makes an `opsgrade` that runs this checkout, so the last step runs the real command.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_action import parse_outputs

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
WORKFLOWS = sorted((ROOT / "examples" / "workflows").glob("*.yml"))

SHIM = """\
#!/usr/bin/env bash
# Stands in for the interpreter actions/setup-python installs.
set -eu
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && exit 0
fi
if [ "$1" = -m ] && [ "$2" = pip ] && [ "$3" = install ]; then
  printf '%s\\n' "$*" >> "$SHIM_LOG"
  printf '#!/bin/sh\\nexec "%s" -m opsgrade.engine "$@"\\n' "$REAL_PYTHON" \\
    > "$(dirname "$0")/opsgrade"
  chmod +x "$(dirname "$0")/opsgrade" && exit 0
fi
echo "shim: unexpected arguments: $*" >&2
exit 3
"""


def test_shape() -> None:
    assert ACTION["runs"]["using"] == "composite"
    for name, spec in ACTION["inputs"].items():
        assert spec.get("description"), name
        assert "default" in spec, f"{name}: every input has a default"
    text = (ROOT / "action.yml").read_text(encoding="utf-8")
    for step in STEPS:
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
            line = next(x for x in text.splitlines() if step["uses"] in x)
            assert re.search(r"# v\d+\.\d+\.\d+$", line), f"{line}: a version comment"
        else:
            assert step["shell"] == "bash"
            assert "${{" not in step["run"], f"{step['name']}: inputs go through env:"
    wired = " ".join(str(v) for s in STEPS for v in (s.get("env") or {}).values())
    wired += " ".join(str(v) for s in STEPS for v in (s.get("with") or {}).values())
    for name in ACTION["inputs"]:
        assert f"${{{{ inputs.{name} }}}}" in wired, f"input {name} reaches no step"
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}", name
    setup = next(s for s in STEPS if "setup-python" in s.get("uses", ""))
    assert setup["with"]["cache"] == "pip"


class Runner:
    """Runs the composite steps in order, as the runner would, with `inputs`."""

    def __init__(self, tmp: Path, workspace: Path, inputs: Mapping[str, str]) -> None:
        tmp.mkdir()
        self.tmp = tmp
        self.workspace = workspace
        self.inputs = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
        self.inputs["github-token"] = "ghs_not_used"
        self.inputs.update(inputs)
        self.outputs: dict[str, dict[str, str]] = {}
        self.summary = tmp / "summary.md"
        self.summary.write_text("")
        (tmp / "runner").mkdir()
        self.shim = tmp / "shim-python"
        self.shim.write_text(SHIM)
        self.shim.chmod(0o755)
        self.log = tmp / "shim.log"

    def evaluate(self, value: Any) -> str:
        def one(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("inputs."):
                return self.inputs[expr.removeprefix("inputs.")]
            if expr.startswith("steps."):
                step_id, _, name = expr.removeprefix("steps.").split(".", 2)
                return self.outputs.get(step_id, {}).get(name, "")
            if expr == "github.token":
                return "ghs_not_used"
            raise AssertionError(f"expression the simulation does not know: {expr}")

        return EXPRESSION.sub(one, str(value))

    def base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "OPSGRADE_", "RUNNER_", "INPUT_"))
        }
        env.update(
            GITHUB_ACTIONS="true",
            GITHUB_ACTION_PATH=str(ROOT),
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_EVENT_NAME="push",
            GITHUB_REPOSITORY="acme/shop",
            GITHUB_RUN_ID="77",
            GITHUB_RUN_ATTEMPT="1",
            GITHUB_STEP_SUMMARY=str(self.summary),
            RUNNER_TEMP=str(self.tmp / "runner"),
            SHIM_LOG=str(self.log),
            REAL_PYTHON=sys.executable,
        )
        return env

    def run(self) -> subprocess.CompletedProcess[str]:
        last: subprocess.CompletedProcess[str] | None = None
        for index, step in enumerate(STEPS):
            if "uses" in step:  # actions/setup-python
                self.outputs[step["id"]] = {"python-path": str(self.shim)}
                continue
            output = self.tmp / f"output-{index}.txt"
            output.write_text("")
            env = self.base_env()
            env.update({k: self.evaluate(v) for k, v in (step.get("env") or {}).items()})
            env["GITHUB_OUTPUT"] = str(output)
            script = self.tmp / f"step-{index}.sh"
            script.write_text(step["run"])
            last = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=self.workspace,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            self.outputs[step["id"]] = parse_outputs(output.read_text())
            if last.returncode != 0:
                break
        assert last is not None
        return last

    def action_outputs(self) -> dict[str, str]:
        return {name: self.evaluate(spec["value"]) for name, spec in ACTION["outputs"].items()}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "shop"
    (ws / "svc").mkdir(parents=True)
    (ws / "svc" / "opsgrade.yml").write_text("name: shop\nowner: team-shop\n")
    return ws


def test_steps_install_and_run_opsgrade(tmp_path: Path, workspace: Path) -> None:
    runner = Runner(tmp_path / "sim", workspace, {"formats": "json=report.json"})
    proc = runner.run()
    assert proc.returncode in (0, 1), proc.stderr
    # The pip cache key file was copied in for setup-python, and removed again.
    key = runner.outputs["key"]["file"]
    assert key.startswith(".opsgrade-action-pyproject-") and not (workspace / key).exists()
    assert sorted(p.name for p in workspace.iterdir()) == ["opsgrade.sarif", "report.json", "svc"]
    [install] = runner.log.read_text().splitlines()
    assert install.endswith(f"install --quiet --disable-pip-version-check {ROOT}")
    outputs = runner.action_outputs()
    assert outputs["passed"] in ("true", "false") and outputs["sarif-file"] == "opsgrade.sarif"
    assert outputs["levels"].startswith('{"shop":')
    assert "opsgrade" in runner.summary.read_text()


def test_inputs_are_never_shell_code(tmp_path: Path, workspace: Path) -> None:
    hostile = {
        "packs": "$(touch pwned-1) `touch pwned-2`",
        "fail-below": '"; touch pwned-3; echo "',
        "sarif-category": "x'; touch pwned-4; '",
    }
    runner = Runner(tmp_path / "sim", workspace, hostile)
    proc = runner.run()
    assert proc.returncode == 2  # an unknown pack: a configuration error, as text
    assert "Traceback" not in proc.stderr
    assert not list(workspace.glob("pwned*")) and not list(Path.cwd().glob("pwned*"))


def _lint_tree(tmp_path: Path) -> Path:
    """A repository whose workflows are the examples plus one that uses this action
    (`./`) with every input and output, so actionlint checks action.yml's metadata."""
    root = tmp_path / "lint"
    flows = root / ".github" / "workflows"
    flows.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)  # actionlint's project root
    shutil.copy(ROOT / "action.yml", root / "action.yml")
    for flow in WORKFLOWS:
        shutil.copy(flow, flows / flow.name)
    with_inputs = "\n".join(f"          {name}: ''" for name in ACTION["inputs"])
    env = "\n".join(
        f"          OUT_{i}: ${{{{ steps.og.outputs.{name} }}}}"
        for i, name in enumerate(ACTION["outputs"])
    )
    (flows / "uses-local.yml").write_text(
        "name: uses-local\non: pull_request\npermissions: {}\njobs:\n  check:\n"
        "    runs-on: ubuntu-latest\n    steps:\n      - id: og\n        uses: ./\n"
        f"        with:\n{with_inputs}\n      - run: env\n        env:\n{env}\n"
    )
    return root


def test_actionlint_and_zizmor_are_clean(tmp_path: Path) -> None:
    assert any(f.name == "pr-gate.yml" for f in WORKFLOWS)
    bindir = Path(sys.executable).parent
    actionlint = shutil.which("actionlint", path=str(bindir)) or shutil.which("actionlint")
    zizmor = shutil.which("zizmor", path=str(bindir)) or shutil.which("zizmor")
    assert actionlint and zizmor, "the test extra installs both"
    root = _lint_tree(tmp_path)
    lint = subprocess.run([actionlint], cwd=root, capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = subprocess.run(
        [zizmor, "--offline", "--min-severity", "high", str(ROOT / "action.yml"), *WORKFLOWS],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_the_pre_commit_example_names_the_hooks_this_repository_offers() -> None:
    example = ROOT / "examples" / "pre-commit-config.yaml"
    check = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", str(example)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    offered = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    [repo] = yaml.safe_load(example.read_text())["repos"]
    assert repo["repo"] == "https://github.com/opsgrade/opsgrade"
    assert {h["id"] for h in repo["hooks"]} == offered
