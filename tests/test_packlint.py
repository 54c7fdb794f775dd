"""`opsgrade packs lint`: every problem of a pack listed and located, in one run."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgrade.engine import packlint
from opsgrade.engine.cli import run
from opsgrade.engine.packs import PackSource, builtin_names

ROOT = Path(__file__).resolve().parent.parent

BAD = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: bad}
categories: [security]
rules:
  - id: BAD001
    title: Backreference
    level: bronze
    category: security
    check: {file: {exists: ["*.py"], contains: '(a)\\1'}}
    help: Why. How.
    fix: Do it.
  - id: BAD001
    title: Lookahead, and more
    level: platinum
    category: secutiry
    check:
      all:
        - file: {exists: ["*.py"]}
        - file: {exists: ["*.py"], not_contains: 'foo(?=bar)'}
    help: Why. How.
  - id: BAD003
    title: Unknown key
    level: bronze
    category: security
    check: {file: {exist: ["*.py"]}}
    help: Why. How.
    fix: Do it.
  - id: BAD004
    title: Bad query
    level: bronze
    category: security
    check: {facts: {query: "dockerfiles[?"}}
    help: Why. How.
    fix: Do it.
"""

GOOD = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: good}
rules:
  - id: GOOD001
    title: Has a README
    level: bronze
    category: documentation
    check: {file: {exists: [README.md]}}
    help: A README helps. Write one.
    fix: Add a README.md.
  - id: GOOD002
    title: Has a license
    level: bronze
    category: documentation
    check: {file: {exists: [LICENSE]}}
    help: Users need to know. Add one.
    fix: Add a LICENSE.
"""


def _lint(tmp_path: Path, text: str, tests: str | None = None) -> list[str]:
    pack = tmp_path / "pack.yml"
    pack.write_text(text)
    if tests is not None:
        (tmp_path / "pack.tests.yml").write_text(tests)
    (result,) = packlint.lint([PackSource("file", str(pack))])
    return [str(p).removeprefix(str(tmp_path) + "/") for p in result.problems]


def test_every_problem_is_listed_and_located(tmp_path: Path) -> None:
    hint = f"({packlint.RE2_HINT})"
    assert _lint(tmp_path, BAD) == [
        f"pack.yml:10: rules[0].check.file.contains: invalid RE2 regex: "
        f"invalid escape sequence: \\1 {hint}",
        "pack.yml:13: rules[1]: BAD001 has no `fix` (one line: what to do)",
        "pack.yml:13: rules[1].id: rule id BAD001 is already used at line 6",
        "pack.yml:15: rules[1].level: level 'platinum' is not one of ['bronze', 'silver', 'gold']",
        "pack.yml:16: rules[1].category: category 'secutiry' is not declared",
        f"pack.yml:20: rules[1].check.all[1].file.not_contains: invalid RE2 regex: "
        f"invalid perl operator: (?= {hint}",
        "pack.yml:26: rules[2].check.file.exist: unknown key `exist`; did you mean `exists`?",
        "pack.yml:33: rules[3].check.facts.query: invalid JMESPath query: "
        "Invalid jmespath expression: Incomplete expression:",
    ]


def test_rules_need_a_passing_and_a_failing_case(tmp_path: Path) -> None:
    tests = """\
GOOD001:
  - {name: readme, expect: pass, files: {README.md: x}}
  - {name: none, expect: fail, files: {}}
GOOD002:
  - {name: license, expect: pass, files: {LICENSE: x}}
"""
    assert _lint(tmp_path, GOOD, tests) == [
        f"pack.yml:12: rules[1].id: GOOD002 has no `fail` case in {tmp_path}/pack.tests.yml",
    ]


def test_missing_tests_file_is_a_problem(tmp_path: Path) -> None:
    (problem,) = _lint(tmp_path, GOOD)
    assert problem.startswith("no tests for pack") and "pack.tests.yml" in problem


def test_pack_that_is_not_yaml(tmp_path: Path) -> None:
    (problem,) = _lint(tmp_path, "rules: [\n")
    assert problem.startswith("pack.yml:")


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yml").write_text(BAD)
    assert run(["packs", "lint", str(tmp_path / "bad.yml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 9
    assert err[-1] == "8 problem(s) in 1 pack(s)"


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_packs_lint_clean(name: str) -> None:
    (result,) = packlint.lint([PackSource("builtin", name)])
    assert not result.problems, [str(p) for p in result.problems]


def test_cli_builtin_folder_lints_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["packs", "lint", str(ROOT / "rules")]) == 0
    assert capsys.readouterr().out.startswith(f"{len(builtin_names())} pack(s), ")
