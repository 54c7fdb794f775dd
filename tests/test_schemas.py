"""The published JSON Schemas: current, accepting every shipped document, and in
agreement with the loader — a document the loader rejects, the schema rejects too, and
the loader's error names the line and key path of the problem.

The reference implementation (`jsonschema`, draft 2020-12, with format checking) stands
in for the editors that read these schemas.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator

from opsgrade.engine import schemagen as schemas
from opsgrade.engine import specs
from opsgrade.engine.descriptors import opsgrade as opsgrade_descriptor
from opsgrade.engine.errors import ConfigError, OpsgradeError
from opsgrade.engine.packs import PackSource, load_packs
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import load_document, load_documents

ROOT = Path(__file__).resolve().parents[1]
PACK_SCHEMA = "rulepack.schema.json"
CONFIG_SCHEMA = "config.schema.json"
DESCRIPTOR_SCHEMA = "descriptor.schema.json"
MARK = "# <-"


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        schemas.load(name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def as_json(data: Any) -> Any:
    """What an editor sees: YAML 1.2 has no date type, so dates are strings."""
    if isinstance(data, dict):
        return {str(k) if isinstance(k, dt.date) else k: as_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [as_json(v) for v in data]
    if isinstance(data, dt.date):
        return data.isoformat()
    return data


def schema_errors(name: str, text: str) -> list[str]:
    data = load_document(text, "doc.yml").data
    return [e.message for e in validator(name).iter_errors(as_json(data))]


# -- the schemas themselves ------------------------------------------------------------


def test_checked_in_schemas_are_current() -> None:
    for name, text in schemas.generate().items():
        shipped = ROOT / "engine" / "schemas" / name
        assert shipped.is_file(), f"missing {shipped}; run `python -m opsgrade.engine.schemagen`"
        assert shipped.read_text("utf-8") == text, (
            f"{shipped} is stale; run `python -m opsgrade.engine.schemagen`"
        )


@pytest.mark.parametrize("name", sorted(schemas.SCHEMAS))
def test_schema_is_valid_draft_2020_12_with_identity(name: str) -> None:
    schema = schemas.load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://opsgrade.dev/schemas/v1/{name}"
    assert schema["title"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False


def test_generation_is_deterministic() -> None:
    first, second = schemas.generate(), schemas.generate()
    assert first == second
    for text in first.values():
        assert text.endswith("}\n")


def test_check_mode_finds_stale_files_and_write_mode_fixes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schemas.main(["--out", str(tmp_path), "--check"]) == 1
    assert not list(tmp_path.iterdir())  # --check writes nothing
    assert schemas.main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(schemas.SCHEMAS)
    assert schemas.main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / PACK_SCHEMA).write_text("{}\n", "utf-8")
    capsys.readouterr()
    assert schemas.main(["--out", str(tmp_path), "--check"]) == 1
    assert PACK_SCHEMA in capsys.readouterr().out


def test_field_docs_name_real_fields() -> None:
    for struct, key in schemas.FIELD_DOCS:
        names = {f.encode_name for f in msgspec.structs.fields(struct)}
        assert key in names, f"{struct.__name__} has no field {key!r}"


# -- every shipped document validates -------------------------------------------------


def builtin_packs() -> list[Path]:
    return sorted(p for p in (ROOT / "rules").glob("*.yml") if not p.name.endswith(".tests.yml"))


@pytest.mark.parametrize("path", builtin_packs(), ids=lambda p: p.name)
def test_builtin_pack_validates_against_schema_and_loader(path: Path) -> None:
    text = path.read_text("utf-8")
    errors = [e.message for e in validator(PACK_SCHEMA).iter_errors(as_json(_data(text)))]
    assert errors == []
    load_packs([PackSource("file", str(path))])


def _data(text: str) -> Any:
    return load_document(text, "doc.yml").data


def _fixture_documents() -> list[tuple[str, Path]]:
    """(schema, path) of every descriptor, config and pack under fixtures/."""
    base = ROOT / "fixtures"
    if not base.is_dir():
        return []
    found: list[tuple[str, Path]] = []
    for path in sorted(base.rglob("*")):
        if not path.is_file() or path.suffix not in (".yml", ".yaml"):
            continue
        if path.stem == "opsgrade":
            found.append((DESCRIPTOR_SCHEMA, path))
        elif path.parent.name == ".opsgrade" and path.stem == "config":
            found.append((CONFIG_SCHEMA, path))
        elif not path.name.endswith((".tests.yml", ".tests.yaml")) and _is_pack(path):
            found.append((PACK_SCHEMA, path))
    return found


def _is_pack(path: Path) -> bool:
    try:
        data = load_document(path.read_text("utf-8", errors="replace"), str(path)).data
    except OpsgradeError:
        return False
    return isinstance(data, dict) and data.get("kind") == "RulePack"


def _fixture_params() -> list[Any]:
    found = _fixture_documents()
    if not found:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason="no fixture documents"))]
    return [pytest.param(s, p, id=str(p.relative_to(ROOT))) for s, p in found]


LOADERS: dict[str, type[Any]] = {
    PACK_SCHEMA: specs.RulePack,
    CONFIG_SCHEMA: specs.RepoConfig,
    DESCRIPTOR_SCHEMA: specs.Descriptor,
}


@pytest.mark.parametrize(("schema", "path"), _fixture_params())
def test_fixture_document_schema_agrees_with_loader(schema: str, path: Path) -> None:
    """Fixtures may be broken on purpose: then both reject; otherwise both accept."""
    text = path.read_text("utf-8", errors="replace")
    try:
        doc = load_document(text, str(path))
    except OpsgradeError:
        pytest.skip("not YAML the loader can read; nothing for a schema to say")
    loader_error: ConfigError | None = None
    try:
        if not isinstance(doc.data, dict):
            raise ConfigError("not a mapping")
        convert(doc, doc.data, LOADERS[schema])
    except ConfigError as exc:
        loader_error = exc
    errors = [e.message for e in validator(schema).iter_errors(as_json(doc.data))]
    if loader_error is None:
        assert errors == [], f"schema rejects what the loader accepts: {errors}"
    else:
        assert errors, f"schema accepts what the loader rejects: {loader_error}"


# -- documents both accept --------------------------------------------------------------

PACK_HEAD = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: demo, version: 1.0.0}
levels: [bronze, silver, gold]
categories: [ownership]
"""


def pack_with_rule(*lines: str, check: str = "{descriptor: {path: owner, exists: true}}") -> str:
    """A pack with one rule; `lines` are extra keys of the rule, written as YAML."""
    rule = [
        "rules:",
        "  - id: OWN001",
        "    title: Has an owner",
        "    level: bronze",
        "    category: ownership",
        "    help: Set `owner`.",
        f"    check: {check}" if not check.startswith("\n") else "    check:" + check,
        *(f"    {line}" for line in lines),
    ]
    return PACK_HEAD + "\n".join(rule) + "\n"


VALID_PACKS = {
    "minimal": "apiVersion: opsgrade/v1\nkind: RulePack\nmetadata: {name: x}\n",
    "every-rule-field": pack_with_rule(
        "severity: warning",
        "fix: Add an owner.",
        "when: {tier: [1, 2], lifecycle: production, tags: [pci], name: 'pay*'}",
        "enforce_after: 2027-03-01",
        "weight: 2.5",
        "see_also: [OpsLevel Has Owner]",
        "tags: [ownership]",
        "aliases: [OWNER-1]",
    ),
    "file-contains": pack_with_rule(check="{file: {exists: [Dockerfile], contains: '^USER '}}"),
    "file-not-contains": pack_with_rule(
        check="{file: {exists: ['**/*.py'], not_contains: 'eval\\(', ignore_case: true}}"
    ),
    "file-absent": pack_with_rule(check="{file: {absent: ['**/*.pem']}}"),
    # `null` counts as not given, in the loader and so in the schema.
    "null-beside-a-primitive": pack_with_rule(
        check="{file: null, descriptor: {path: owner, equals: null}}"
    ),
    "absent-with-null-contains": pack_with_rule(check="{file: {absent: [a], contains: null}}"),
    "facts-one-of": pack_with_rule(check="{facts: {query: 'service.tier', one_of: [1, 2]}}"),
    "composition": pack_with_rule(
        check="""
      all:
        - any:
            - file: {exists: [README.md]}
            - descriptor: {path: description}
        - not: {facts: {query: "files[?ends_with(@, '.pem')]"}}
"""
    ),
    "overrides-and-disable": PACK_HEAD
    + "overrides:\n  OWN001: {level: silver, weight: 3, enforce_after: 2027-01-01}\n"
    + "disable:\n  OWN002: not for us\n",
}


@pytest.mark.parametrize("text", VALID_PACKS.values(), ids=VALID_PACKS.keys())
def test_valid_pack_accepted_by_schema_and_loader(text: str) -> None:
    assert schema_errors(PACK_SCHEMA, text) == []
    doc = load_document(text, "pack.yml")
    convert(doc, doc.data, specs.RulePack)


def test_valid_config_and_descriptor_accepted() -> None:
    config = textwrap.dedent(
        """\
        apiVersion: opsgrade/v1
        kind: Config
        name: payments
        packs: [readiness, .opsgrade/packs/extra.yml]
        required_level: silver
        exclude: ["vendor/**"]
        max_file_size: 2097152
        overrides: {OWN001: {severity: warning}}
        disable: {DOC001: generated docs}
        """
    )
    descriptor = textwrap.dedent(
        """\
        name: payments
        description: Takes payments.
        owner: team-payments
        tier: 1
        lifecycle: production
        language: python
        framework: django
        system: checkout
        tags: [pci]
        tools: [{category: runbook, url: "https://wiki/runbook", name: Runbook}]
        dependencies: [ledger]
        waivers:
          - {rule: OWN001, reason: migrating, expires: 2027-01-31, approved_by: cto}
        """
    )
    assert schema_errors(CONFIG_SCHEMA, config) == []
    assert schema_errors(DESCRIPTOR_SCHEMA, descriptor) == []
    convert(load_document(config, "c.yml"), _data(config), specs.RepoConfig)
    opsgrade_descriptor.read(load_documents(descriptor, "opsgrade.yml"), "opsgrade.yml", "")


# -- documents both reject, located -----------------------------------------------------


def marked(text: str) -> tuple[str, int]:
    """The text without its `# <-` marker, and the 1-based line the marker was on."""
    lines = text.splitlines()
    line = next(i for i, t in enumerate(lines, 1) if t.rstrip().endswith(MARK))
    return "\n".join(t.split(MARK)[0].rstrip() for t in lines) + "\n", line


def rule_case(*lines: str, check: str | None = None) -> str:
    if check is None:
        return pack_with_rule(*lines)
    return pack_with_rule(*lines, check=check)


# id -> (schema, text with the bad line marked, expected key path, message fragment)
INVALID: dict[str, tuple[str, str, str, str]] = {
    "unknown-top-level-key": (
        PACK_SCHEMA,
        PACK_HEAD + "rulez: []  # <-\n",
        "rulez",
        "did you mean `rules`",
    ),
    "two-assertions-in-descriptor-check": (
        PACK_SCHEMA,
        rule_case(
            check="\n      descriptor:  # <-\n        path: owner\n"
            "        exists: true\n        equals: x"
        ),
        "rules[0].check.descriptor",
        "at most one of",
    ),
    "equals-null-and-matches-in-facts-check": (
        PACK_SCHEMA,
        rule_case(
            check="\n      facts:  # <-\n        query: service.owner\n"
            "        equals: null\n        matches: x"
        ),
        "rules[0].check.facts",
        "at most one of",
    ),
    "unknown-rule-key": (
        PACK_SCHEMA,
        rule_case("titel: Typo  # <-"),
        "rules[0].titel",
        "did you mean `title`",
    ),
    "unknown-key-in-file-check": (
        PACK_SCHEMA,
        rule_case(check="\n      file:\n        exist: [a]  # <-"),
        "rules[0].check.file.exist",
        "did you mean `exists`",
    ),
    "missing-api-version": (
        PACK_SCHEMA,
        "kind: RulePack  # <-\nmetadata: {name: x}\n",
        "",
        "`apiVersion`",
    ),
    "missing-rule-help": (
        PACK_SCHEMA,
        PACK_HEAD
        + "rules:\n  - id: OWN001  # <-\n    title: t\n    level: bronze\n"
        + "    category: ownership\n    check: {file: {exists: [a]}}\n",
        "rules[0]",
        "missing required key `help`",
    ),
    "wrong-api-version": (
        PACK_SCHEMA,
        "apiVersion: opsgrade/v2  # <-\nkind: RulePack\nmetadata: {name: x}\n",
        "apiVersion",
        "expected one of 'opsgrade/v1'",
    ),
    "wrong-kind": (
        PACK_SCHEMA,
        "apiVersion: opsgrade/v1\nkind: Config  # <-\nmetadata: {name: x}\n",
        "kind",
        "expected one of 'RulePack'",
    ),
    "levels-not-a-list": (
        PACK_SCHEMA,
        "apiVersion: opsgrade/v1\nkind: RulePack\nmetadata: {name: x}\nlevels: gold  # <-\n",
        "levels",
        "expected `array`",
    ),
    "no-levels": (
        PACK_SCHEMA,
        "apiVersion: opsgrade/v1\nkind: RulePack\nmetadata: {name: x}\nlevels: []  # <-\n",
        "levels",
        "length >= 1",
    ),
    "bad-pack-name": (
        PACK_SCHEMA,
        "apiVersion: opsgrade/v1\nkind: RulePack\nmetadata:\n  name: My Pack  # <-\n",
        "metadata.name",
        "regex",
    ),
    "weight-wrong-type": (
        PACK_SCHEMA,
        rule_case("weight: heavy  # <-"),
        "rules[0].weight",
        "expected `float`, got `str`",
    ),
    "negative-weight": (
        PACK_SCHEMA,
        rule_case("weight: -1  # <-"),
        "rules[0].weight",
        "> 0",
    ),
    "bad-rule-id": (
        PACK_SCHEMA,
        PACK_HEAD
        + "rules:\n  - id: own-1  # <-\n    title: t\n    level: bronze\n"
        + "    category: ownership\n    help: h\n    check: {file: {exists: [a]}}\n",
        "rules[0].id",
        "regex",
    ),
    "bad-alias-id": (
        PACK_SCHEMA,
        rule_case("aliases: [ok1]  # <-"),
        "rules[0].aliases[0]",
        "regex",
    ),
    "impossible-date": (
        PACK_SCHEMA,
        rule_case("enforce_after: 2027-13-01  # <-"),
        "rules[0].enforce_after",
        "date",
    ),
    "not-a-date": (
        PACK_SCHEMA,
        rule_case("enforce_after: next week  # <-"),
        "rules[0].enforce_after",
        "date",
    ),
    "unknown-severity": (
        PACK_SCHEMA,
        rule_case("severity: eror  # <-"),
        "rules[0].severity",
        "expected one of 'error', 'warning', 'note'; did you mean 'error'?",
    ),
    "when-tier-not-int": (
        PACK_SCHEMA,
        rule_case("when: {tier: one}  # <-"),
        "rules[0].when.tier",
        "expected",
    ),
    "unknown-when-key": (
        PACK_SCHEMA,
        rule_case("when: {teir: 1}  # <-"),
        "rules[0].when.teir",
        "did you mean `tier`",
    ),
    "two-check-primitives": (
        PACK_SCHEMA,
        rule_case(check="{file: {exists: [a]}, descriptor: {path: owner}}  # <-"),
        "rules[0].check",
        "exactly one of",
    ),
    "no-check-primitive": (
        PACK_SCHEMA,
        rule_case(check="{}  # <-"),
        "rules[0].check",
        "exactly one of",
    ),
    "exists-and-absent": (
        PACK_SCHEMA,
        rule_case(check="\n      file: {exists: [a], absent: [b]}  # <-"),
        "rules[0].check.file",
        "exactly one of `exists`, `absent`",
    ),
    "contains-with-absent": (
        PACK_SCHEMA,
        rule_case(check="\n      file: {absent: [a], contains: secret}  # <-"),
        "rules[0].check.file",
        "go with `exists`",
    ),
    "contains-and-not-contains": (
        PACK_SCHEMA,
        rule_case(check="\n      file: {exists: [a], contains: x, not_contains: y}  # <-"),
        "rules[0].check.file",
        "not both",
    ),
    "empty-glob-list": (
        PACK_SCHEMA,
        rule_case(check="\n      file:\n        exists: []  # <-"),
        "rules[0].check.file.exists",
        "length >= 1",
    ),
    "empty-all": (
        PACK_SCHEMA,
        rule_case(check="\n      all: []  # <-"),
        "rules[0].check.all",
        "length >= 1",
    ),
    "nested-two-primitives": (
        PACK_SCHEMA,
        rule_case(
            check="\n      all:\n        - file: {exists: [a]}\n"
            "        - not:\n            file: {exists: [a], absent: [b]}  # <-"
        ),
        "rules[0].check.all[1].not.file",
        "exactly one of",
    ),
    "facts-without-query": (
        PACK_SCHEMA,
        rule_case(check="\n      facts: {equals: 1}  # <-"),
        "rules[0].check.facts",
        "missing required key `query`",
    ),
    "override-unknown-key": (
        PACK_SCHEMA,
        PACK_HEAD + "overrides:\n  OWN001:\n    levle: gold  # <-\n",
        "overrides.OWN001.levle",
        "did you mean `level`",
    ),
    "override-bad-id": (
        PACK_SCHEMA,
        PACK_HEAD + "overrides:\n  OWN001: {level: gold}\n  own2: {level: gold}  # <-\n",
        "overrides.own2",
        "invalid key",
    ),
    "override-negative-weight": (
        PACK_SCHEMA,
        PACK_HEAD + "overrides:\n  OWN001: {weight: -2}  # <-\n",
        "overrides.OWN001.weight",
        "> 0",
    ),
    "disable-without-reason": (
        PACK_SCHEMA,
        PACK_HEAD + "disable:\n  OWN001: ''  # <-\n",
        "disable.OWN001",
        "length >= 1",
    ),
    "config-unknown-key": (
        CONFIG_SCHEMA,
        "apiVersion: opsgrade/v1\nkind: Config\npack: [readiness]  # <-\n",
        "pack",
        "did you mean `packs`",
    ),
    "config-wrong-kind": (
        CONFIG_SCHEMA,
        "apiVersion: opsgrade/v1\nkind: RulePack  # <-\n",
        "kind",
        "expected one of 'Config'",
    ),
    "config-tiny-max-file-size": (
        CONFIG_SCHEMA,
        "apiVersion: opsgrade/v1\nkind: Config\nmax_file_size: 10  # <-\n",
        "max_file_size",
        ">= 1024",
    ),
    "config-override-unknown-severity": (
        CONFIG_SCHEMA,
        "apiVersion: opsgrade/v1\nkind: Config\noverrides:\n  OWN001: {severity: fatal}  # <-\n",
        "overrides.OWN001.severity",
        "expected one of 'error', 'warning', 'note'",
    ),
    "descriptor-missing-name": (
        DESCRIPTOR_SCHEMA,
        "owner: team-a  # <-\n",
        "",
        "missing required key `name`",
    ),
    "descriptor-unknown-key": (
        DESCRIPTOR_SCHEMA,
        "name: api\nownr: team-a  # <-\n",
        "ownr",
        "did you mean `owner`",
    ),
    "descriptor-tier-out-of-range": (
        DESCRIPTOR_SCHEMA,
        "name: api\ntier: 9  # <-\n",
        "tier",
        "<= 5",
    ),
    "descriptor-tool-without-url": (
        DESCRIPTOR_SCHEMA,
        "name: api\ntools:\n  - {category: runbook}  # <-\n",
        "tools[0]",
        "missing required key `url`",
    ),
    "waiver-bad-date": (
        DESCRIPTOR_SCHEMA,
        "name: api\nwaivers:\n  - rule: OWN001\n    reason: soon\n    expires: 2027-02-30  # <-\n",
        "waivers[0].expires",
        "date",
    ),
    "waiver-bad-rule-id": (
        DESCRIPTOR_SCHEMA,
        "name: api\nwaivers:\n  - rule: own1  # <-\n    reason: r\n    expires: 2027-01-01\n",
        "waivers[0].rule",
        "regex",
    ),
}


def _load_with_engine(schema: str, path: Path) -> None:
    text = path.read_text("utf-8")
    if schema == PACK_SCHEMA:
        load_packs([PackSource("file", str(path))])
    elif schema == CONFIG_SCHEMA:
        doc = load_document(text, str(path))
        convert(doc, doc.data, specs.RepoConfig)
    else:
        opsgrade_descriptor.read(load_documents(text, str(path)), str(path), "")


FILE_NAMES: dict[str, str] = {
    PACK_SCHEMA: "pack.yml",
    CONFIG_SCHEMA: "config.yml",
    DESCRIPTOR_SCHEMA: "opsgrade.yml",
}


@pytest.mark.parametrize(("schema", "text", "key", "fragment"), INVALID.values(), ids=INVALID)
def test_invalid_document_rejected_by_both_and_located(
    schema: str, text: str, key: str, fragment: str, tmp_path: Path
) -> None:
    clean, line = marked(text)
    assert schema_errors(schema, clean), "the JSON Schema accepts it"
    path = tmp_path / FILE_NAMES[schema]
    path.write_text(clean, "utf-8")
    with pytest.raises(ConfigError) as caught:
        _load_with_engine(schema, path)
    error = caught.value
    assert error.where is not None
    assert (error.where.file, error.where.line, error.where.key) == (str(path), line, key)
    assert fragment in error.message
    assert "\n" not in str(error)


def test_table_covers_every_check_constraint() -> None:
    """Each `__post_init__` rule in specs.py has a case above (they are hand-mirrored)."""
    messages = " ".join(fragment for _, _, _, fragment in INVALID.values())
    for needed in ("exactly one of", "go with `exists`", "not both", "at most one of"):
        assert needed in messages


@pytest.mark.parametrize("kind", [k.rstrip("_") for k in specs.CHECK_KINDS])
def test_each_check_kind_alone_is_accepted_and_paired_is_rejected(kind: str) -> None:
    samples: dict[str, Any] = {
        "file": {"exists": ["a"]},
        "descriptor": {"path": "owner"},
        "facts": {"query": "service.owner"},
        "dependency": {"name": "structlog", "ecosystem": "python"},
        "runtime": {"language": "ruby", "at_least": "3.2"},
        "code": {"language": "python", "query": "(function_definition) @f"},
        "command": {"run": ["true"]},
        "all": [{"file": {"exists": ["a"]}}],
        "any": [{"file": {"exists": ["a"]}}],
        "not": {"file": {"exists": ["a"]}},
    }
    check_validator = validator(PACK_SCHEMA)
    defs = check_validator.schema["$defs"]
    check = Draft202012Validator(
        {"$defs": defs, "$ref": "#/$defs/Check"},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    assert not list(check.iter_errors({kind: samples[kind]}))
    other = next(k for k in samples if k != kind)
    assert list(check.iter_errors({kind: samples[kind], other: samples[other]}))
    assert not list(check.iter_errors({kind: samples[kind], other: None}))
