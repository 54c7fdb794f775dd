"""Composition across sources: `extends` from a local pack into git packs and back to
built-ins, cycles naming the whole chain, `requires` version constraints, overrides and
`disable` of inherited rules, one rule id defined twice, and located errors inside a
git pack."""

from __future__ import annotations

from pathlib import Path

import pytest
from packrepos import PackRepo, opsgrade, pack_yaml, rule_yaml, use_cache

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import Severity
from opsgrade.engine.packs import PackSet, file_source, load_packs

SECURITY = pack_yaml("acme-security", "2.1.0", rule_yaml("SEC1"), extends=("./base.yml",))
BASE = pack_yaml("acme-base", "1.0.0", rule_yaml("BASE1"))


@pytest.fixture
def upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackRepo:
    use_cache(tmp_path, monkeypatch)
    repo = PackRepo(tmp_path / "upstream")
    repo.commit({"security.yml": SECURITY, "base.yml": BASE}, tag="v2")
    return repo


def _team(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "team.yml"
    path.write_text(text, "utf-8")
    return path


def _load(path: Path) -> PackSet:
    return load_packs([file_source(str(path))])


def _error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _load(path)
    return caught.value


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_local_pack_extends_a_git_pack_that_extends_a_builtin(
    upstream: PackRepo, tmp_path: Path
) -> None:
    upstream.commit({"base.yml": pack_yaml("acme-base", "1.1.0", extends=("readiness",))}, "v3")
    team = _team(
        tmp_path,
        pack_yaml("team", rules=rule_yaml("TEAM1"), extends=(upstream.url("v3", "security.yml"),)),
    )
    packset = _load(team)
    assert [p.name for p in packset.packs] == ["readiness", "acme-base", "acme-security", "team"]
    assert packset.rule("OWN001") is not None and packset.rule("SEC1") is not None


def test_a_cycle_across_sources_names_the_whole_chain(upstream: PackRepo, tmp_path: Path) -> None:
    a_url = upstream.url("v5", "a.yml")
    upstream.commit(
        {
            "a.yml": pack_yaml("a", extends=("./b.yml",)),
            "b.yml": pack_yaml("b", extends=(a_url,)),
        },
        tag="v5",
    )
    team = _team(tmp_path, pack_yaml("team", extends=(a_url,)))
    error = _error(team)
    b_url = upstream.url("v5", "b.yml")
    assert error.message == (f"`extends` forms a cycle: {team} -> {a_url} -> {b_url} -> {a_url}")
    assert error.where is not None and (error.where.file, error.where.key) == (b_url, "extends[0]")


@pytest.mark.parametrize(
    ("constraint", "says"),
    [
        (">=2,<3", None),
        ("~=2.1", None),
        (">=3,<4", "pack team requires acme-security >=3,<4, but acme-security is 2.1.0 ({url})"),
        ("two or more", "'two or more' is not a PEP 440 version specifier"),
    ],
)
def test_requires_checks_the_version_of_an_extended_pack(
    constraint: str, says: str | None, upstream: PackRepo, tmp_path: Path
) -> None:
    url = upstream.url("v2", "security.yml")
    team = _team(
        tmp_path,
        pack_yaml("team", extends=(url,), body=f"requires:\n  acme-security: '{constraint}'\n"),
    )
    if says is None:
        assert _load(team).packs[-1].name == "team"
        return
    error = _error(team)
    assert error.message == says.format(url=url)
    assert error.where is not None
    assert (error.where.file, error.where.line, error.where.key) == (
        str(team),
        _line_of(team, "acme-security:"),
        "requires.acme-security",
    )


def test_requires_names_a_pack_missing_from_the_set_and_a_version_that_is_not_pep440(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base.yml"
    base.write_text(pack_yaml("base", "latest"), "utf-8")
    team = _team(
        tmp_path,
        pack_yaml("team", extends=("./base.yml",), body="requires: {base: '>=1', other: '>=1'}\n"),
    )
    assert "base's version 'latest'" in _error(team).message
    base.write_text(pack_yaml("base", "1.0"), "utf-8")
    code, _, err = opsgrade(capsys, "rules", "list", "--pack", str(team))
    assert code == 2
    assert err == (
        f"opsgrade: error: {team}:{_line_of(team, 'requires:')}: requires.other: pack team "
        "requires pack other, which it does not extend\n"
    )


def test_overrides_and_disable_reach_rules_of_a_git_pack(
    upstream: PackRepo, tmp_path: Path
) -> None:
    team = _team(
        tmp_path,
        pack_yaml(
            "team",
            extends=(upstream.url("v2", "security.yml"),),
            body="overrides:\n  SEC1: {level: silver, severity: warning}\n"
            "disable:\n  BASE1: Our services have no licence file by policy.\n",
        ),
    )
    packset = _load(team)
    sec1 = packset.rule("SEC1")
    assert sec1 is not None
    assert (sec1.info.level, sec1.info.severity) == ("silver", Severity.WARNING)
    assert packset.rule("BASE1") is None
    assert [(d.rule, d.by) for d in packset.disabled] == [("BASE1", str(team))]


def test_one_rule_id_defined_differently_names_both_packs(
    upstream: PackRepo, tmp_path: Path
) -> None:
    url = upstream.url("v2", "security.yml")
    team = _team(tmp_path, pack_yaml("team", rules=rule_yaml("SEC1", level="gold"), extends=(url,)))
    error = _error(team)
    assert error.message == (
        f"rule SEC1 is defined differently by pack acme-security ({url}) and pack team ({team})"
    )
    assert error.where is not None
    assert (error.where.line, error.where.key) == (_line_of(team, "- id: SEC1"), "rules[0].id")


def test_one_pack_reached_through_two_sources_is_a_harmless_diamond(
    upstream: PackRepo, tmp_path: Path
) -> None:
    """acme-security (git) extends its base.yml; the team also extends a vendored copy of
    that base: the same rules, the same pack name, the same `disable`: nothing conflicts."""
    base = pack_yaml(
        "acme-base",
        "1.0.0",
        rule_yaml("BASE1"),
        extends=("readiness",),
        body="disable: {OWN006: Not here.}\n",
    )
    upstream.commit({"base.yml": base}, tag="v2")
    vendored = tmp_path / "vendor" / "base.yml"
    vendored.parent.mkdir()
    vendored.write_text(base, "utf-8")
    team = _team(
        tmp_path,
        pack_yaml("team", extends=("./vendor/base.yml", upstream.url("v2", "security.yml"))),
    )
    packset = _load(team)
    assert [p.name for p in packset.packs].count("acme-base") == 2
    assert packset.rule("BASE1") is not None and packset.rule("SEC1") is not None
    assert [d.rule for d in packset.disabled] == ["OWN006"]
    # The same name but another definition is a conflict, not a diamond.
    vendored.write_text(base.replace("level: bronze", "level: silver"), "utf-8")
    assert "rule BASE1 is defined differently by pack acme-base" in _error(team).message


@pytest.mark.parametrize(
    ("rules", "key", "says"),
    [
        ("rules:\n  - id: X1\n    titel: x\n", "rules[0].titel", "did you mean `title`?"),
        (rule_yaml("X1", level="platinum"), "rules[0].level", "level 'platinum' is not one of"),
        (rule_yaml("X1", category="secuirty"), "rules[0].category", "did you mean 'security'?"),
    ],
)
def test_a_bad_rule_in_a_git_pack_is_located_in_that_pack(
    rules: str,
    key: str,
    says: str,
    upstream: PackRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = pack_yaml("broken", body="categories: [security, docs]\n")
    text += rules if rules.startswith("rules:") else "rules:\n" + rules
    upstream.commit({"broken.yml": text}, tag="v7")
    url = upstream.url("v7", "broken.yml")
    field = key.rpartition(".")[2]
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.strip().startswith(field))
    code, _, err = opsgrade(capsys, "scan", str(tmp_path), "--pack", url)
    assert code == 2
    assert err.startswith(f"opsgrade: error: {url}:{line}: {key}: ") and says in err, err
