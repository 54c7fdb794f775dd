"""Rule-pack loading: `extends`, overrides, disable, aliases, and located errors; and
the CLI's handling of bad packs, bad flags and `validate`, run as a user runs it."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import Severity, Status
from opsgrade.engine.packs import PackSet, PackSource, file_source, load_packs
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.engine.specs import When

MARK = "# <-"


def pack_text(name: str, body: str = "", levels: str = "[bronze, silver, gold]") -> str:
    head = f"apiVersion: opsgrade/v1\nkind: RulePack\nmetadata: {{name: {name}}}\n"
    head += f"levels: {levels}\n"
    return head + textwrap.dedent(body)


def rule(rule_id: str, *extra: str, check: str = "{file: {exists: [README.md]}}") -> str:
    """One rule as a `rules:` list item (indented two spaces)."""
    lines = [
        f"  - id: {rule_id}",
        f"    title: Rule {rule_id}",
        "    level: bronze",
        "    category: docs",
        f"    help: Help for {rule_id}.",
        f"    check: {check}",
        *(f"    {line}" for line in extra),
    ]
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> tuple[Path, int]:
    """Write `text` without its `# <-` marker; return the path and the marked line (or 0)."""
    lines = text.splitlines()
    marked = [i for i, t in enumerate(lines, 1) if t.rstrip().endswith(MARK)]
    clean = "\n".join(t.split(MARK)[0].rstrip() for t in lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(clean, "utf-8")
    return path, marked[0] if marked else 0


def load(*paths: Path) -> PackSet:
    return load_packs([file_source(str(p)) for p in paths])


def load_error(*paths: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(*paths)
    return caught.value


def assert_located(error: ConfigError, path: Path, line: int, key: str) -> None:
    assert error.where is not None, error
    assert (error.where.file, error.where.line, error.where.key) == (str(path), line, key), error


# -- extends ---------------------------------------------------------------------------


def test_extends_a_builtin_pack_by_name(tmp_path: Path) -> None:
    path, _ = write(
        tmp_path / "team.yml",
        pack_text("team", "extends: [readiness]\ncategories: [docs]\nrules:\n" + rule("TEAM1")),
    )
    packset = load(path)
    assert [p.name for p in packset.packs] == ["readiness", "team"]
    assert packset.rule("OWN001") is not None
    assert packset.rule("TEAM1") is not None


def test_extends_by_relative_path(tmp_path: Path) -> None:
    write(tmp_path / "shared" / "base.yml", pack_text("base", "rules:\n" + rule("BASE1")))
    path, _ = write(
        tmp_path / "team" / "pack.yml",
        pack_text("team", "extends: [../shared/base.yml]\nrules:\n" + rule("TEAM1")),
    )
    packset = load(path)
    assert [r.id for r in packset.rules] == ["BASE1", "TEAM1"]
    assert [p.name for p in packset.packs] == ["base", "team"]


def test_extends_cycle_names_the_chain_at_the_extends_entry(tmp_path: Path) -> None:
    a, _ = write(tmp_path / "a.yml", pack_text("a", "extends: [b.yml]\n"))
    b, line = write(tmp_path / "b.yml", pack_text("b", "extends:\n  - ./a.yml  # <-\n"))
    error = load_error(a)
    assert_located(error, b, line, "extends[0]")
    assert "cycle" in error.message
    chain = error.message.split(": ", 1)[1].split(" -> ")
    assert [Path(p).name for p in chain] == ["a.yml", "b.yml", "a.yml"]


def test_cycle_through_a_roundabout_path_is_still_a_cycle(tmp_path: Path) -> None:
    folder = tmp_path / "x"
    a, _ = write(folder / "a.yml", pack_text("a", "extends: [b.yml]\n"))
    b, line = write(folder / "b.yml", pack_text("b", "extends: [../x/a.yml]  # <-\n"))
    error = load_error(a)
    assert_located(error, b, line, "extends[0]")
    assert "cycle" in error.message
    assert len(error.message) < 500


def test_self_extension_is_a_cycle(tmp_path: Path) -> None:
    a, line = write(tmp_path / "a.yml", pack_text("a", "extends: [a.yml]  # <-\n"))
    assert_located(load_error(a), a, line, "extends[0]")


def test_diamond_extends_loads_the_shared_pack_once(tmp_path: Path) -> None:
    write(tmp_path / "d.yml", pack_text("d", "rules:\n" + rule("D1")))
    write(tmp_path / "b.yml", pack_text("b", "extends: [d.yml]\nrules:\n" + rule("B1")))
    write(tmp_path / "c.yml", pack_text("c", "extends: [./d.yml]\nrules:\n" + rule("C1")))
    a, _ = write(tmp_path / "a.yml", pack_text("a", "extends: [b.yml, c.yml]\n"))
    packset = load(a)
    assert [p.name for p in packset.packs] == ["d", "b", "c", "a"]
    assert [r.id for r in packset.rules] == ["B1", "C1", "D1"]


def test_missing_extended_pack_is_located_at_the_extends_entry(tmp_path: Path) -> None:
    a, line = write(tmp_path / "a.yml", pack_text("a", "extends:\n  - bsae.yml  # <-\n"))
    error = load_error(a)
    assert_located(error, a, line, "extends[0]")
    assert "bsae.yml" in error.message


def test_unknown_pack_name_in_extends_suggests(tmp_path: Path) -> None:
    a, line = write(tmp_path / "a.yml", pack_text("a", "extends: [readines]  # <-\n"))
    error = load_error(a)
    assert_located(error, a, line, "extends[0]")
    assert "did you mean 'readiness'" in error.message


def test_levels_mismatch_between_packs(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", levels="[low, high]"))
    a, line = write(
        tmp_path / "a.yml",
        pack_text("a", "extends: [base.yml]\n", levels="[bronze, silver, gold]  # <-"),
    )
    error = load_error(a)
    assert_located(error, a, line, "levels")
    assert "['low', 'high']" in error.message
    assert "base.yml" in error.message


def test_duplicate_levels_are_rejected(tmp_path: Path) -> None:
    a, line = write(tmp_path / "a.yml", pack_text("a", levels="[gold, gold]  # <-"))
    assert_located(load_error(a), a, line, "levels")


# -- overrides and disable -------------------------------------------------------------

BASE_RULES = "categories: [docs, security]\nrules:\n" + rule("DOC1") + rule("SEC1", "weight: 2")


def test_overrides_change_level_severity_weight_enforce_after_and_when(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", BASE_RULES))
    team, _ = write(
        tmp_path / "team.yml",
        pack_text(
            "team",
            """\
            extends: [base.yml]
            overrides:
              DOC1:
                level: gold
                severity: note
                weight: 5
                enforce_after: 2030-01-01
                when: {tier: [1, 2]}
            """,
        ),
    )
    packset = load(team)
    doc1 = packset.rule("DOC1")
    assert doc1 is not None
    assert (doc1.info.level, doc1.info.severity, doc1.info.weight) == ("gold", Severity.NOTE, 5)
    assert doc1.info.enforce_after == dt.date(2030, 1, 1)
    assert doc1.when == When(tier=[1, 2])
    sec1 = packset.rule("SEC1")
    assert sec1 is not None
    assert (sec1.info.level, sec1.info.severity, sec1.info.weight) == ("bronze", "error", 2)


def test_override_level_must_be_a_pack_level(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", BASE_RULES))
    team, line = write(
        tmp_path / "team.yml",
        pack_text("team", "extends: [base.yml]\noverrides:\n  DOC1:\n    level: platinum  # <-\n"),
    )
    error = load_error(team)
    assert_located(error, team, line, "overrides.DOC1.level")
    assert "'platinum' is not one of" in error.message


def test_overriding_an_unknown_rule_suggests_the_closest_id(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", BASE_RULES))
    team, line = write(
        tmp_path / "team.yml",
        pack_text("team", "extends: [base.yml]\noverrides:\n  SEC2: {level: gold}  # <-\n"),
    )
    error = load_error(team)
    assert_located(error, team, line, "overrides.SEC2")
    assert "did you mean SEC1?" in error.message


def test_disable_removes_the_rule_and_records_why(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", BASE_RULES))
    team, _ = write(
        tmp_path / "team.yml",
        pack_text("team", "extends: [base.yml]\ndisable:\n  SEC1: covered by our scanner\n"),
    )
    packset = load(team)
    assert [r.id for r in packset.rules] == ["DOC1"]
    assert len(packset.disabled) == 1
    disabled = packset.disabled[0]
    assert (disabled.rule, disabled.reason) == ("SEC1", "covered by our scanner")
    assert disabled.by.endswith("team.yml")


def test_disabling_an_unknown_rule_is_located_and_suggests(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", BASE_RULES))
    team, line = write(
        tmp_path / "team.yml",
        pack_text("team", "extends: [base.yml]\ndisable:\n  DOC2: not ours  # <-\n"),
    )
    error = load_error(team)
    assert_located(error, team, line, "disable.DOC2")
    assert "did you mean DOC1?" in error.message


def test_duplicate_rule_id_across_packs_is_located_at_the_second(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", BASE_RULES))
    team, line = write(
        tmp_path / "team.yml",
        pack_text(
            "team", "extends: [base.yml]\nrules:\n" + rule("SEC1").replace("\n", "  # <-\n", 1)
        ),
    )
    error = load_error(team)
    assert_located(error, team, line, "rules[0].id")
    assert "rule SEC1 is defined differently by pack base" in error.message
    assert "base.yml" in error.message


def test_rule_id_clashing_with_an_alias_is_a_duplicate(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", "rules:\n" + rule("NEW1", "aliases: [OLD1]")))
    team, line = write(
        tmp_path / "team.yml",
        pack_text(
            "team", "extends: [base.yml]\nrules:\n" + rule("OLD1").replace("\n", "  # <-\n", 1)
        ),
    )
    assert_located(load_error(team), team, line, "rules[0].id")


def test_two_packs_given_side_by_side_with_one_id(tmp_path: Path) -> None:
    one, _ = write(tmp_path / "one.yml", pack_text("one", "rules:\n" + rule("X1")))
    two, line = write(
        tmp_path / "two.yml", pack_text("two", "rules:\n" + rule("X1").replace("\n", "  # <-\n", 1))
    )
    assert_located(load_error(one, two), two, line, "rules[0].id")


# -- aliases ---------------------------------------------------------------------------

ALIASED = "rules:\n" + rule("NEW1", "aliases: [OLD1]", check="{file: {exists: [MISSING.md]}}")


def test_alias_resolves_for_overrides(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", ALIASED))
    team, _ = write(
        tmp_path / "team.yml",
        pack_text("team", "extends: [base.yml]\noverrides:\n  OLD1: {severity: warning}\n"),
    )
    packset = load(team)
    new1 = packset.rule("NEW1")
    assert new1 is not None and new1.info.severity == Severity.WARNING
    assert packset.rule("OLD1") is new1


def test_alias_resolves_for_disable(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", ALIASED))
    team, _ = write(
        tmp_path / "team.yml",
        pack_text("team", "extends: [base.yml]\ndisable:\n  OLD1: renamed and retired\n"),
    )
    packset = load(team)
    assert packset.rules == ()
    assert packset.disabled[0].rule == "NEW1"


def test_alias_resolves_for_descriptor_waivers(tmp_path: Path) -> None:
    pack, _ = write(tmp_path / "pack.yml", pack_text("base", ALIASED))
    repo = tmp_path / "repo"
    write(
        repo / "opsgrade.yml",
        "name: api\nwaivers:\n  - {rule: OLD1, reason: migrating, expires: 2099-01-01}\n",
    )
    run = scan(ScanRequest(path=repo, packs=[file_source(str(pack))], today=dt.date(2026, 1, 1)))
    (service,) = run.services
    (result,) = service.results
    assert (result.rule, result.status, result.waiver) == ("NEW1", Status.WAIVED, "migrating")


# -- rule content errors, located ------------------------------------------------------


def test_undeclared_category_suggests_a_declared_one(tmp_path: Path) -> None:
    body = "categories: [docs, security]\nrules:\n" + rule("DOC1").replace(
        "category: docs", "category: secuirty  # <-"
    )
    path, line = write(tmp_path / "p.yml", pack_text("p", body))
    error = load_error(path)
    assert_located(error, path, line, "rules[0].category")
    assert "did you mean 'security'?" in error.message


def test_rule_level_must_be_a_pack_level(tmp_path: Path) -> None:
    body = "rules:\n" + rule("DOC1").replace("level: bronze", "level: bronz  # <-")
    path, line = write(tmp_path / "p.yml", pack_text("p", body))
    error = load_error(path)
    assert_located(error, path, line, "rules[0].level")


def test_a_level_named_none_is_refused(tmp_path: Path) -> None:
    path, _ = write(tmp_path / "p.yml", pack_text("p", "rules: []", levels="[none, gold]"))
    error = load_error(path)
    assert "'none' means no level" in error.message and error.where is not None
    assert error.where.key == "levels"
    from opsgrade.engine.org.model import NO_LEVEL
    from opsgrade.engine.packs import RESERVED_LEVEL

    assert RESERVED_LEVEL == NO_LEVEL


@pytest.mark.parametrize(
    ("regex", "reason"),
    [
        (r"(a)\1", "backreference"),
        ("(?<=a)b", "lookbehind"),
        ("(?=a)", "lookahead"),
        ("[z-a]", "bad range"),
    ],
)
def test_regex_outside_re2_is_rejected_and_located(tmp_path: Path, regex: str, reason: str) -> None:
    check = f"\n      file:\n        exists: ['*.txt']\n        contains: '{regex}'  # <-"
    path, line = write(tmp_path / "p.yml", pack_text("p", "rules:\n" + rule("R1", check=check)))
    error = load_error(path)
    assert_located(error, path, line, "rules[0].check.file.contains")
    assert "invalid RE2 regex" in error.message, reason
    # What Python's re has and RE2 lacks by design gets a hint; a plain mistake does not.
    assert ("no backreferences or lookaround" in error.message) == (reason != "bad range")


def test_descriptor_matches_regex_is_compiled_and_located(tmp_path: Path) -> None:
    check = "\n      descriptor:\n        path: owner\n        matches: '(?<!x)team'  # <-"
    path, line = write(tmp_path / "p.yml", pack_text("p", "rules:\n" + rule("R1", check=check)))
    assert_located(load_error(path), path, line, "rules[0].check.descriptor.matches")


def test_catastrophic_looking_regex_is_accepted_and_linear(tmp_path: Path) -> None:
    check = "{file: {exists: [big.txt], contains: '(a+)+$'}}"
    pack, _ = write(tmp_path / "p.yml", pack_text("p", "rules:\n" + rule("R1", check=check)))
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "big.txt").write_text("a" * 100_000 + "!", "utf-8")
    started = time.perf_counter()
    run = scan(ScanRequest(path=repo, packs=[file_source(str(pack))]))
    elapsed = time.perf_counter() - started
    (result,) = run.services[0].results
    assert result.status == Status.FAIL
    assert elapsed < 2.0, f"took {elapsed:.2f}s"


@pytest.mark.parametrize(
    ("glob", "key"),
    [
        ("/etc/passwd", "rules[0].check.file.exists[0]"),
        ("../secrets/*", "rules[0].check.file.exists[0]"),
        ("src/../../x", "rules[0].check.file.exists[0]"),
        ("a" * 600, "rules[0].check.file"),
    ],
    ids=["absolute", "parent", "parent-inside", "too-long"],
)
def test_invalid_glob_is_located(tmp_path: Path, glob: str, key: str) -> None:
    check = f"\n      file:\n        exists:\n          - '{glob}'  # <-"
    path, line = write(tmp_path / "p.yml", pack_text("p", "rules:\n" + rule("R1", check=check)))
    if key == "rules[0].check.file":
        line -= 2  # the `file:` line
    error = load_error(path)
    assert_located(error, path, line, key)
    assert "glob" in error.message


def test_invalid_when_name_glob_is_located_at_load_time(tmp_path: Path) -> None:
    body = "rules:\n" + rule("R1", "when:", "  name: ''  # <-")
    path, line = write(tmp_path / "p.yml", pack_text("p", body))
    error = load_error(path)
    assert_located(error, path, line, "rules[0].when.name")
    assert "invalid glob" in error.message


def test_invalid_when_name_glob_in_an_override_is_located(tmp_path: Path) -> None:
    write(tmp_path / "base.yml", pack_text("base", BASE_RULES))
    team, line = write(
        tmp_path / "team.yml",
        pack_text("team", "extends: [base.yml]\noverrides:\n  DOC1:\n    when: {name: ''}  # <-\n"),
    )
    assert_located(load_error(team), team, line, "overrides.DOC1.when.name")


@pytest.mark.parametrize("query", ["service.[owner", "files[?", "`unterminated", "a ||| b"])
def test_invalid_jmespath_is_located(tmp_path: Path, query: str) -> None:
    check = f"\n      facts:\n        query: '{query}'  # <-"
    path, line = write(tmp_path / "p.yml", pack_text("p", "rules:\n" + rule("R1", check=check)))
    error = load_error(path)
    assert_located(error, path, line, "rules[0].check.facts.query")
    assert error.message.startswith("invalid JMESPath query")
    assert "\n" not in error.message


def test_errors_inside_a_nested_check_name_the_nested_path(tmp_path: Path) -> None:
    check = (
        "\n      any:\n        - file: {exists: [a]}\n        - not:\n"
        "            facts: {query: 'service.[x'}  # <-"
    )
    path, line = write(tmp_path / "p.yml", pack_text("p", "rules:\n" + rule("R1", check=check)))
    assert_located(load_error(path), path, line, "rules[0].check.any[1].not.facts.query")


def test_pack_that_is_not_a_mapping(tmp_path: Path) -> None:
    path, _ = write(tmp_path / "p.yml", "- just\n- a list\n")
    error = load_error(path)
    assert error.where is not None and error.where.line == 1


def test_pack_with_broken_yaml_is_located(tmp_path: Path) -> None:
    path, _ = write(tmp_path / "p.yml", pack_text("p", "rules: [\n  {id: X\n"))
    error = load_error(path)
    assert error.where is not None and error.where.file == str(path) and error.where.line > 0


def test_builtin_pack_source_by_name() -> None:
    packset = load_packs([PackSource("builtin", "readiness")])
    assert packset.packs[0].origin == "builtin:readiness"


# -- CLI, as a subprocess --------------------------------------------------------------


def opsgrade(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "opsgrade.engine", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def good_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    write(repo / "opsgrade.yml", "name: api\nowner: team-api\ndescription: The API.\n")
    write(repo / "README.md", "# api\n")
    return repo


def test_cli_invalid_pack_exits_2_with_one_located_line(tmp_path: Path, good_repo: Path) -> None:
    pack, line = write(
        tmp_path / "bad.yml", pack_text("bad", "rules:\n" + rule("R1", "severity: fatal  # <-"))
    )
    proc = opsgrade("scan", good_repo, "--pack", pack, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"bad.yml:{line}" in lines[0]
    assert "rules[0].severity" in lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_cli_unknown_pack_name_suggests(tmp_path: Path, good_repo: Path) -> None:
    proc = opsgrade("scan", good_repo, "--pack", "readines", cwd=tmp_path)
    assert proc.returncode == 2
    assert "did you mean 'readiness'" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1


def test_cli_validate_reports_every_broken_descriptor(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo / "services" / "a" / "opsgrade.yml", "name: a\nownr: team-a\n")
    write(repo / "services" / "b" / "opsgrade.yml", "name: b\ntier: 9\n")
    write(repo / "services" / "c" / "catalog-info.yaml", "kind: Component\nmetadata: {}\n")
    write(repo / "services" / "d" / "opsgrade.yml", "name: d\nowner: team-d\n")
    proc = opsgrade("validate", repo, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "services/a/opsgrade.yml:2: ownr" in proc.stderr
    assert "services/b/opsgrade.yml:2: tier" in proc.stderr
    assert "services/c/catalog-info.yaml:2: metadata" in proc.stderr
    assert "services/d/" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == "3 problem(s) in 4 file(s)"


def test_cli_validate_good_repo_exits_0(tmp_path: Path, good_repo: Path) -> None:
    proc = opsgrade("validate", good_repo, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout
    assert proc.stderr == ""


def test_cli_validate_checks_local_packs(tmp_path: Path, good_repo: Path) -> None:
    write(
        good_repo / ".opsgrade" / "packs" / "team.yml",
        pack_text("team", "rules:\n" + rule("R1", check="{facts: {query: 'a ||| b'}}")),
    )
    proc = opsgrade("validate", good_repo, cwd=tmp_path)
    assert proc.returncode == 2
    assert ".opsgrade/packs/team.yml:" in proc.stderr
    assert "rules[0].check.facts.query" in proc.stderr


def test_cli_unknown_format_exits_2(tmp_path: Path, good_repo: Path) -> None:
    proc = opsgrade("scan", good_repo, "--pack", "readiness", "--format", "yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown format 'yaml'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_fail_below_unknown_level_exits_2(tmp_path: Path, good_repo: Path) -> None:
    proc = opsgrade(
        "scan", good_repo, "--pack", "readiness", "--fail-below", "platinum", cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "platinum" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_rules_explain(tmp_path: Path) -> None:
    proc = opsgrade("rules", "explain", "OWN001", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OWN001: ")
    assert "level: bronze" in proc.stdout
    assert "defined at:" in proc.stdout


def test_cli_rules_explain_unknown_rule_exits_2(tmp_path: Path) -> None:
    proc = opsgrade("rules", "explain", "NOPE01", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no rule NOPE01" in proc.stderr
    assert "Traceback" not in proc.stderr
