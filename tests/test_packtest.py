"""`opsgrade packs test`: case folders (`repo:`), many rules per case (`cases:`), services,
folders of packs, the diff of a failing case, and malformed tests files (exit 2, located).

The built-in packs' own cases run in tests/test_rule_cases.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgrade.engine import packtest
from opsgrade.engine.cli import run
from opsgrade.engine.errors import ConfigError
from opsgrade.engine.packs import PackSource

PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: mini}
rules:
  - id: MINI001
    title: Has a README
    level: bronze
    category: documentation
    check: {file: {exists: [README.md]}}
    help: A README helps. Write one.
    fix: Add a README.md.
  - id: MINI002
    title: Has no TODO file
    level: bronze
    category: documentation
    check: {file: {absent: [TODO]}}
    help: A TODO file rots. Use the tracker.
    fix: Move the items to the tracker.
"""

TWO_SERVICES = """\
    files:
      api/opsgrade.yml: "name: api\\n"
      api/README.md: "# api\\n"
      web/opsgrade.yml: "name: web\\n"
      web/TODO: "- everything\\n"
"""


def _write(folder: Path, tests: str, name: str = "mini") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pack = folder / f"{name}.yml"
    pack.write_text(PACK.replace("name: mini", f"name: {name}"))
    (folder / f"{name}.tests.yml").write_text(tests)
    return pack


def _outcomes(pack: Path) -> list[packtest.CaseOutcome]:
    return packtest.run_pack_tests(packtest.load_pack_tests(PackSource("file", str(pack))))


def test_case_from_a_folder_with_files_laid_over_it(tmp_path: Path) -> None:
    case = tmp_path / "cases" / "documented"
    case.mkdir(parents=True)
    (case / "README.md").write_text("# documented\n")
    (case / "TODO").write_text("- ship\n")
    pack = _write(
        tmp_path,
        """\
MINI001:
  - {name: from the folder, expect: pass, repo: cases/documented/}
MINI002:
  - {name: folder has a TODO, expect: fail, path: TODO, repo: cases/documented}
  - name: overlay replaces nothing it does not name
    expect: fail
    repo: cases/documented/
    files: {extra.txt: "x\\n"}
""",
    )
    outcomes = _outcomes(pack)
    assert [o.passed for o in outcomes] == [True, True, True]
    assert (case / "extra.txt").exists() is False  # the folder is copied, never written


def test_many_rules_per_case_and_per_service(tmp_path: Path) -> None:
    pack = _write(
        tmp_path,
        f"""\
cases:
  - name: one service, both rules
    files: {{README.md: "# x\\n"}}
    expect: {{MINI001: pass, MINI002: pass}}
  - name: two services
{TWO_SERVICES}
    services:
      api: {{MINI001: pass, MINI002: pass}}
      web: {{MINI001: fail, MINI002: fail}}
MINI002:
  - name: by service
    service: web
    expect: fail
    path: web/TODO
{TWO_SERVICES.replace("    ", "    ", 1)}""",
    )
    outcomes = _outcomes(pack)
    assert len(outcomes) == 7
    assert all(o.passed for o in outcomes), [packtest.describe_failure(o) for o in outcomes]
    assert {o.case.subject for o in outcomes} >= {"MINI001 @ api", "MINI002 @ web"}


def test_two_services_without_naming_one_is_a_failed_case(tmp_path: Path) -> None:
    pack = _write(tmp_path, f"MINI001:\n  - name: which one?\n    expect: pass\n{TWO_SERVICES}")
    (outcome,) = _outcomes(pack)
    assert (
        "exactly one service, or names one with `service:`; found 2 (api, web)"
        in (outcome.problems[0])
    )


def test_unknown_service_is_a_failed_case(tmp_path: Path) -> None:
    tests = f"MINI001:\n  - name: ghost\n    service: ghost\n    expect: pass\n{TWO_SERVICES}"
    (outcome,) = _outcomes(_write(tmp_path, tests))
    assert outcome.problems == ("no service 'ghost' in the case (found: api, web)",)


def test_failing_case_prints_a_diff_of_every_expectation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _write(
        tmp_path,
        """\
cases:
  - name: wrong about one rule
    files: {README.md: "# x\\n", TODO: "- a\\n"}
    expect: {MINI001: pass, MINI002: pass}
""",
    )
    assert run(["packs", "test", str(pack)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(
        "mini.tests.yml:2: MINI002 'wrong about one rule': expected pass, got fail: matches TODO"
    )
    assert out[1:] == [
        "    --- expected",
        "    +++ actual",
        "     MINI001: pass",
        "    -MINI002: pass",
        "    +MINI002: fail",
        "2 case(s) for 2 rule(s): 1 passed, 1 failed",
    ]


def test_a_folder_of_packs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = "MINI001:\n  - {name: ok, expect: pass, files: {README.md: x}}\n"
    _write(tmp_path, good, name="alpha")
    _write(tmp_path, good.replace("pass", "fail"), name="beta")
    (tmp_path / "notes.yml").write_text("just: data\n")  # not a pack: skipped
    assert run(["packs", "test", str(tmp_path)]) == 1
    summaries = [ln for ln in capsys.readouterr().out.splitlines() if " case(s) for " in ln]
    assert summaries[0].endswith("alpha.yml: 1 case(s) for 1 rule(s): 1 passed, 0 failed")
    assert summaries[1].endswith("beta.yml: 1 case(s) for 1 rule(s): 0 passed, 1 failed")


def test_a_folder_without_packs_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["packs", "test", str(tmp_path)]) == 2
    assert "no rule pack" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("tests", "where", "message"),
    [
        ("MINI001:\n  - {name: a, expect: pass, repo: cases/nope/}\n", ":2: MINI001[0].repo",
         "no folder 'cases/nope/' beside the tests file"),
        ("MINI001:\n  - {name: a, expect: pass, repo: ../x}\n", ":2: MINI001[0].repo",
         "`..` segment"),
        ("cases:\n  - {name: a, files: {}}\n", ":2: cases[0]", "give `expect` or `services`"),
        ("cases:\n  - name: a\n    expect: {MINI003: pass}\n", ":3: cases[0].expect.MINI003",
         "the pack has no rule MINI003; did you mean MINI002?"),
        ("cases:\n  - {name: a, expect: {MINI001: good}}\n", ":2: cases[0].expect.MINI001",
         "invalid value 'good'"),
        ("cases:\n  - {name: a, expect: {MINI001: pass}}\n  - {name: a, expect: {MINI001: pass}}\n",
         ":3: cases[1].name", "used twice"),
    ],
)  # fmt: skip
def test_malformed_tests_file_is_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], tests: str, where: str, message: str
) -> None:
    pack = _write(tmp_path, tests)
    with pytest.raises(ConfigError) as info:
        packtest.load_pack_tests(PackSource("file", str(pack)))
    assert f"mini.tests.yml{where}: " in str(info.value)
    assert message in str(info.value)
    assert run(["packs", "test", str(pack)]) == 2
    assert message in capsys.readouterr().err
