"""Rule cases as data: every built-in rule's passing and failing cases, plus meta-tests.

The cases live beside each pack (`rules/NAME.tests.yml`) and are run by the same
library code as `opsgrade packs test NAME`: one parametrized test below, one test id
per (pack, rule, case). The meta-tests keep the catalogue healthy: every rule has
help, a fix and both kinds of case; ids are unique and well formed; the generated
rule reference is current.
"""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from opsgrade.engine import docgen, packtest, specs
from opsgrade.engine.model import Status
from opsgrade.engine.packs import PackSource, builtin_names, load_packs
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import load_document

ROOT = Path(__file__).resolve().parent.parent
CLI_TIMEOUT = 120

BUILTINS = [PackSource("builtin", name) for name in builtin_names()]
PACK_TESTS = {source.location: packtest.load_pack_tests(source) for source in BUILTINS}
RULE_ID = re.compile(typing.get_args(specs.RuleId)[1].pattern)


def _pack_spec(source: PackSource) -> specs.RulePack:
    """The pack as written (before defaults such as `fix` falling back to the help)."""
    doc = load_document(source.read(), source.label)
    return convert(doc, doc.data, specs.RulePack)


PACK_SPECS = {source.location: _pack_spec(source) for source in BUILTINS}
RULES = [
    pytest.param(rule, id=f"{pack}/{rule.id}")
    for pack, spec in PACK_SPECS.items()
    for rule in spec.rules
]
CASES = [
    pytest.param(tests.pack, case, id=f"{pack}/{case.rule}/{case.name}")
    for pack, tests in PACK_TESTS.items()
    for case in tests.cases
]


@pytest.mark.parametrize(("pack", "case"), CASES)
def test_rule_case(pack: PackSource, case: packtest.Case) -> None:
    outcome = packtest.run_case(pack, case)
    assert outcome.passed, packtest.describe_failure(outcome)


# -- meta-tests: the catalogue ------------------------------------------------------


def test_every_builtin_pack_has_cases() -> None:
    assert BUILTINS, "no built-in pack found"
    for name, tests in PACK_TESTS.items():
        assert tests.cases, f"{name}.tests.yml holds no case"


def _sentences(markdown: str) -> int:
    """Sentences outside code blocks; one ending in `:` introduces an example."""
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    return len(re.findall(r"[.!?:](?=\s|$)", prose))


@pytest.mark.parametrize("rule", RULES)
def test_rule_has_help_and_fix(rule: specs.Rule) -> None:
    assert rule.help.strip(), f"{rule.id} has no help"
    count = _sentences(rule.help)
    assert count >= 2, f"{rule.id}: help has {count} sentence(s); say why it matters and how"
    assert rule.fix and rule.fix.strip(), f"{rule.id} has no `fix`"


@pytest.mark.parametrize("rule", RULES)
def test_rule_has_passing_and_failing_cases(rule: specs.Rule) -> None:
    expected = {c.expect for t in PACK_TESTS.values() for c in t.cases if c.rule == rule.id}
    assert Status.PASS in expected, f"{rule.id} has no `pass` case"
    assert Status.FAIL in expected, f"{rule.id} has no `fail` case"


def test_rule_ids_are_unique_across_builtin_packs() -> None:
    seen: dict[str, str] = {}
    for pack, spec in PACK_SPECS.items():
        for rule in spec.rules:
            for taken in (rule.id, *rule.aliases):
                assert taken not in seen, f"{taken} in {pack} is already used in {seen[taken]}"
                seen[taken] = pack


def test_rule_ids_match_the_id_pattern() -> None:
    bad = [
        taken
        for spec in PACK_SPECS.values()
        for rule in spec.rules
        for taken in (rule.id, *rule.aliases)
        if not RULE_ID.fullmatch(taken)
    ]
    assert not bad


def test_every_case_refers_to_a_rule_of_its_pack() -> None:
    for pack, tests in PACK_TESTS.items():
        known = {rule.id for rule in load_packs([tests.pack]).rules}
        unknown = sorted({case.rule for case in tests.cases} - known)
        assert not unknown, f"{pack}.tests.yml has cases for unknown rules {unknown}"


def test_rule_reference_is_current() -> None:
    stale = docgen.stale(docgen.builtin_files(ROOT), ROOT / docgen.DEFAULT_PAGES)
    assert not stale, f"{stale} stale; run `{docgen.COMMAND}` from the repository root"


# -- the library's edge cases -------------------------------------------------------

MINI_PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: mini}
rules:
  - id: MINI001
    title: Has a README
    level: bronze
    category: documentation
    check: {file: {exists: [README.md], not_contains: TODO}}
    help: A README helps. Write one.
"""


def _mini(tmp_path: Path, tests: str | None) -> Path:
    pack = tmp_path / "mini.yml"
    pack.write_text(MINI_PACK)
    if tests is not None:
        (tmp_path / "mini.tests.yml").write_text(tests)
    return pack


def _outcomes(tmp_path: Path, tests: str) -> list[packtest.CaseOutcome]:
    pack = _mini(tmp_path, tests)
    return packtest.run_pack_tests(packtest.load_pack_tests(PackSource("file", str(pack))))


def test_line_and_path_are_compared(tmp_path: Path) -> None:
    tests = """\
MINI001:
  - name: right place
    expect: fail
    path: README.md
    line: 2
    files: {README.md: "# x\\nTODO\\n"}
  - name: wrong line
    expect: fail
    line: 1
    files: {README.md: "# x\\nTODO\\n"}
  - name: wrong path
    expect: fail
    path: docs/README.md
    files: {README.md: "# x\\nTODO\\n"}
"""
    right, wrong_line, wrong_path = _outcomes(tmp_path, tests)
    assert right.passed
    assert wrong_line.problems == ("expected line 1, got 2",)
    assert wrong_path.problems == ("expected path docs/README.md, got README.md",)


def test_a_case_with_two_services_fails(tmp_path: Path) -> None:
    tests = """\
MINI001:
  - name: two services
    expect: pass
    files: {a/opsgrade.yml: "name: a\\n", b/opsgrade.yml: "name: b\\n"}
"""
    (outcome,) = _outcomes(tmp_path, tests)
    assert outcome.status is None
    assert "exactly one service" in outcome.problems[0]


@pytest.mark.parametrize(
    ("tests", "message"),
    [
        ("MINI002:\n  - {name: a, expect: pass}\n", "the pack has no rule MINI002"),
        ("MINI001:\n  - {name: a, expect: passes}\n", "MINI001[0].expect"),
        ("MINI001:\n  - {name: a, expect: pass, files: {../x: ''}}\n", "`..` segment"),
        ("MINI001:\n  - {name: a, expect: pass}\n  - {name: a, expect: fail}\n", "used twice"),
        ("MINI001: []\n", "at least one case"),
        ("today: someday\nMINI001:\n  - {name: a, expect: pass}\n", "today"),
        ("- not a mapping\n", "maps rule ids"),
    ],
)
def test_invalid_tests_file_is_a_located_error(tmp_path: Path, tests: str, message: str) -> None:
    pack = _mini(tmp_path, tests)
    with pytest.raises(packtest.ConfigError) as info:
        packtest.load_pack_tests(PackSource("file", str(pack)))
    assert message in str(info.value)
    assert info.value.where is not None
    assert info.value.where.file.endswith("mini.tests.yml")


def test_tests_file_names() -> None:
    assert packtest.tests_names("x.yml") == ["x.tests.yml"]
    assert packtest.tests_names("x.yaml") == ["x.tests.yaml", "x.tests.yml"]


# -- the command --------------------------------------------------------------------


def _packs_test(ref: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opsgrade.engine", "packs", "test", ref],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def test_cli_builtin_pack_passes() -> None:
    proc = _packs_test("readiness")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\d+ passed, 0 failed$", proc.stdout.strip())


def test_cli_reports_a_wrong_case(tmp_path: Path) -> None:
    tests = """\
MINI001:
  - name: README present
    expect: pass
    files: {README.md: "# mini\\n"}
  - name: deliberately wrong
    expect: pass
    files: {main.py: ""}
"""
    proc = _packs_test(str(_mini(tmp_path, tests)))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "mini.tests.yml:5: MINI001 'deliberately wrong': expected pass, got fail" in lines[0]
    assert lines[1:] == [
        "    --- expected",
        "    +++ actual",
        "    -MINI001: pass",
        "    +MINI001: fail",
        "2 case(s) for 1 rule(s): 1 passed, 1 failed",
    ]


def test_cli_missing_tests_file(tmp_path: Path) -> None:
    proc = _packs_test(str(_mini(tmp_path, None)))
    assert proc.returncode == 2
    assert "mini.tests.yml" in proc.stderr


def test_cli_invalid_tests_file(tmp_path: Path) -> None:
    proc = _packs_test(str(_mini(tmp_path, "MINI9:\n  - {name: a, expect: pass}\n")))
    assert proc.returncode == 2
    assert "mini.tests.yml:1" in proc.stderr
