"""The `code` primitive: tree-sitter queries compiled when a pack loads, run over files.

Checks are compiled through the real pack loader (a pack written to a file, so its
queries compile eagerly) and evaluated on small repositories written to `tmp_path`.
"""

from __future__ import annotations

import re
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from opsgrade.engine import specs
from opsgrade.engine.checks import Outcome
from opsgrade.engine.errors import ConfigError
from opsgrade.engine.facts import EvalContext, FactError
from opsgrade.engine.globs import GlobSet
from opsgrade.engine.packs import PackSource, builtin_names, file_source, load_packs
from opsgrade.engine.packtest import materialize
from opsgrade.engine.primitives import code
from opsgrade.engine.repoview import WorkTreeView
from opsgrade.engine.services import anchor_for, assign_files, discover
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import load_document

HEALTH = (
    "((call arguments: (argument_list . (string (string_content) @route)))"
    ' (#eq? @route "/healthz"))'
)


def pack(tmp_path: Path, check: str) -> Path:
    """A one-rule pack whose check is `check` (YAML, indented under `check:`)."""
    body = textwrap.indent(textwrap.dedent(check).strip("\n"), " " * 6)
    path = tmp_path / "pack.yml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "apiVersion: opsgrade/v1\nkind: RulePack\nmetadata: {name: t}\nrules:\n"
        "  - id: T1\n    title: t\n    level: bronze\n    category: c\n    help: h. h.\n"
        f"    check:\n{body}\n",
        "utf-8",
    )
    return path


def compiled(tmp_path: Path, check: str) -> Any:
    return load_packs([file_source(str(pack(tmp_path, check)))]).rules[0].check


def load_error(tmp_path: Path, check: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        compiled(tmp_path, check)
    return caught.value


def context(root: Path, files: dict[str, str]) -> EvalContext:
    materialize(files, root)
    view = WorkTreeView(root)
    found = discover(view, "repo")
    service = found.services[0]
    own = assign_files(found.services, view.files())[service.root]
    return EvalContext(service, own, view, anchor_for(service, own))


def run(tmp_path: Path, check: str, files: dict[str, str]) -> tuple[Outcome, EvalContext]:
    rule_check = compiled(tmp_path, check)
    ctx = context(tmp_path / "repo", files)
    return rule_check.evaluate(ctx), ctx


def python_check(query: str = HEALTH, expect: str = "present", extra: str = "") -> str:
    return f"code:\n  language: python\n  expect: {expect}\n  query: '{query}'\n{extra}"


APP = 'from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get("/healthz")\ndef h(): ...\n'


# -- compile errors, located in the pack ------------------------------------------------


def test_syntax_error_in_a_block_query_points_at_its_line(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        """
        code:
          language: python
          query: |
            (call
              function: (identifier) @f
              arguments: (argument_list (string) @s)
            (#eq? @f "path"))
            (oops
        """,
    )
    assert err.where is not None
    assert err.where.file.endswith("pack.yml")
    # The query's text starts on line 14 of the pack; `(oops` is its fifth line.
    assert err.where.line == 18
    assert "(query line 5, column 2)" in err.message
    assert err.where.key == "rules[0].check.code.query"
    assert "invalid tree-sitter query" in err.message


def test_unknown_node_type_names_row_and_column(tmp_path: Path) -> None:
    err = load_error(tmp_path, "code: {language: go, query: '(functoin_declaration) @f'}")
    assert err.where is not None and err.where.line == 11
    assert "(query line 1, column 2)" in err.message
    assert "functoin_declaration" in err.message


def test_unknown_field_is_reported(tmp_path: Path) -> None:
    err = load_error(tmp_path, "code: {language: python, query: '(call callee: (identifier)) @c'}")
    assert "Invalid field name" in err.message


def test_unknown_predicate_is_rejected_rather_than_matching_everything(tmp_path: Path) -> None:
    # py-tree-sitter lets an unknown predicate hold for every node: a typo would pass.
    err = load_error(
        tmp_path, "code: {language: python, query: '((identifier) @i (#matches? @i \"x\"))'}"
    )
    assert "unknown predicate #matches?" in err.message
    assert "(query line 1, column 19)" in err.message


def test_pattern_without_capture_is_rejected(tmp_path: Path) -> None:
    err = load_error(tmp_path, "code: {language: python, query: '(call)'}")
    assert "must capture a node" in err.message


def test_predicate_outside_its_pattern_is_rejected(tmp_path: Path) -> None:
    # Written after the closing parenthesis, a predicate is a pattern of its own that
    # matches every node.
    err = load_error(tmp_path, "code: {language: python, query: '(identifier) @i (#eq? @i \"x\")'}")
    assert "must capture a node" in err.message


def test_invalid_regex_in_match_predicate(tmp_path: Path) -> None:
    err = load_error(
        tmp_path, "code: {language: python, query: '((identifier) @i (#match? @i \"[\"))'}"
    )
    assert "regular expression" in err.message


def test_paths_are_validated(tmp_path: Path) -> None:
    err = load_error(
        tmp_path, "code: {language: python, query: '(call) @c', paths: ['../outside/**']}"
    )
    assert "relative to the service root" in err.message
    assert err.where is not None and err.where.key == "rules[0].check.code.paths[0]"


def test_spec_rejects_unknown_language(tmp_path: Path) -> None:
    err = load_error(tmp_path, "code: {language: cobol, query: '(x) @x'}")
    assert "cobol" in err.message


# -- built-in packs: compiled on first use, so tested here ------------------------------


def _code_checks(check: specs.Check) -> list[specs.CodeCheck]:
    found = [check.code] if check.code is not None else []
    for child in [*(check.all or []), *(check.any or []), check.not_]:
        if child is not None:
            found += _code_checks(child)
    return found


def _builtin_rules(name: str) -> list[specs.Rule]:
    doc = load_document(PackSource("builtin", name).read(), name)
    return convert(doc, doc.data, specs.RulePack).rules


BUILTIN_QUERIES = [
    pytest.param(c, id=f"{name}/{rule.id}/{c.language}")
    for name in builtin_names()
    for rule in _builtin_rules(name)
    for c in _code_checks(rule.check)
]


@pytest.mark.parametrize("spec", BUILTIN_QUERIES)
def test_builtin_queries_compile(spec: specs.CodeCheck) -> None:
    code.compile_query(spec.language, spec.query)


def test_builtin_pack_does_not_load_grammars_when_it_loads() -> None:
    code._QUERIES.clear()
    load_packs([PackSource("builtin", name) for name in builtin_names()])
    assert not code._QUERIES


# -- present / absent ----------------------------------------------------------------------


def test_present_passes_at_the_first_match(tmp_path: Path) -> None:
    out, _ = run(tmp_path, python_check(), {"README.md": "x\n", "src/app.py": APP})
    assert out.passed
    assert [(loc.path, loc.line) for loc in out.locations] == [("src/app.py", 6)]
    assert "src/app.py:6 matches the python code query" in out.message


def test_present_fails_at_the_anchor(tmp_path: Path) -> None:
    files = {"README.md": "x\n", "app.py": '@app.get("/other")\ndef h(): ...\n'}
    out, _ = run(tmp_path, python_check(), files)
    assert not out.passed
    assert [(loc.path, loc.line) for loc in out.locations] == [("README.md", 1)]
    assert "no match for the python code query in 1 file(s)" in out.message


def test_absent_fails_with_every_match(tmp_path: Path) -> None:
    query = '((call function: (identifier) @f) (#eq? @f "eval"))'
    files = {
        "a.py": "x = eval(s)\n",
        "pkg/b.py": "\n\ny = eval(t)\nz = eval(u)\n",
        "c.py": "print(1)\n",
    }
    out, _ = run(tmp_path, python_check(query, "absent"), files)
    assert not out.passed
    assert [(loc.path, loc.line) for loc in out.locations] == [
        ("a.py", 1),
        ("pkg/b.py", 3),
        ("pkg/b.py", 4),
    ]
    assert "(3 matches)" in out.message
    # Only where: the matched text (which may be a secret) is never echoed.
    assert "eval(" not in out.message


def test_absent_passes_without_match(tmp_path: Path) -> None:
    query = '((call function: (identifier) @f) (#eq? @f "eval"))'
    out, _ = run(tmp_path, python_check(query, "absent"), {"a.py": "print(1)\n"})
    assert out.passed


def test_no_files_of_the_language(tmp_path: Path) -> None:
    files = {"README.md": "x\n", "main.go": "package main\n"}
    present, _ = run(tmp_path, python_check(), files)
    assert not present.passed and present.message == "no python files"
    absent, _ = run(tmp_path / "b", python_check(expect="absent"), files)
    assert absent.passed


def test_not_turns_a_match_into_a_located_failure(tmp_path: Path) -> None:
    check = f"not:\n  code:\n    language: python\n    query: '{HEALTH}'\n"
    out, _ = run(tmp_path, check, {"app.py": APP})
    assert not out.passed
    assert [(loc.path, loc.line) for loc in out.locations] == [("app.py", 6)]


# -- predicates ------------------------------------------------------------------------------

PREDICATE_CASES = [
    ('((identifier) @i (#eq? @i "target"))', "other = target\n", True),
    ('((identifier) @i (#eq? @i "target"))', "other = targets\n", False),
    ('((identifier) @i (#not-eq? @i "x"))', "x = 1\n", False),
    ('((identifier) @i (#match? @i "^tar.et$"))', "target = 1\n", True),
    ('((identifier) @i (#match? @i "(?i)^TARGET$"))', "target = 1\n", True),
    ('((identifier) @i (#match? @i "^tar.et$"))', "targets = 1\n", False),
    ('((identifier) @i (#not-match? @i "^x"))', "x = xy\n", False),
    ('((identifier) @i (#any-of? @i "a" "b"))', "b = 1\n", True),
    ('((identifier) @i (#any-of? @i "a" "b"))', "c = 1\n", False),
]


@pytest.mark.parametrize(("query", "source", "matches"), PREDICATE_CASES)
def test_predicates(tmp_path: Path, query: str, source: str, matches: bool) -> None:
    out, _ = run(tmp_path, python_check(query), {"m.py": source})
    assert out.passed is matches, out.message


def test_optional_capture_predicate_does_not_filter_files(tmp_path: Path) -> None:
    # `@s` may be absent (the `?`), and then its #eq? holds: the pre-filter must not
    # skip a file that lacks the literal.
    query = (
        '((call function: (identifier) @f arguments: (argument_list (string) @s)?) (#eq? @s "zzz"))'
    )
    out, _ = run(tmp_path, python_check(query), {"m.py": "foo()\n"})
    assert out.passed


# -- every language ---------------------------------------------------------------------------

LANGUAGE_SAMPLES = {
    "python": ("src/m.py", "x = 1\n# marker\n", "(comment) @c"),
    "go": ("cmd/main.go", "package main\n// marker\n", "(comment) @c"),
    "javascript": ("web/a.mjs", "let x = 1\n// marker\n", "(comment) @c"),
    "typescript": ("src/a.ts", "let x: number = 1\n// marker\n", "(comment) @c"),
    "tsx": ("src/a.tsx", "const a = <div/>\n// marker\n", "(comment) @c"),
    "ruby": ("lib/a.rb", "x = 1\n# marker\n", "(comment) @c"),
    "java": ("src/A.java", "class A {}\n// marker\n", "(line_comment) @c"),
    "hcl": ("infra/main.tf", 'resource "a" "b" {}\n# marker\n', "(comment) @c"),
    "bash": ("bin/run.sh", "echo hi\n# marker\n", "(comment) @c"),
    "dockerfile": ("Dockerfile.prod", "FROM python:3.12\n# marker\n", "(comment) @c"),
}


def test_samples_cover_every_language() -> None:
    assert set(LANGUAGE_SAMPLES) == set(code.GLOBS)


@pytest.mark.parametrize("language", sorted(LANGUAGE_SAMPLES))
def test_each_language_parses_its_files(tmp_path: Path, language: str) -> None:
    path, source, query = LANGUAGE_SAMPLES[language]
    check = f"code: {{language: {language}, query: '{query}'}}"
    out, ctx = run(tmp_path, check, {path: source, "README.md": "x\n"})
    assert out.passed, out.message
    assert [(loc.path, loc.line) for loc in out.locations] == [(path, 2)]
    assert (f"ts:{language}", path) in ctx.shared


# -- which files --------------------------------------------------------------------------------


def test_paths_narrow_the_languages_files(tmp_path: Path) -> None:
    files = {"tests/test_app.py": APP, "src/other.py": "x = 1\n", "README.md": "x\n"}
    extra = "  paths: ['src/**']\n"
    out, _ = run(tmp_path, python_check(extra=extra), files)
    assert not out.passed
    wide, _ = run(tmp_path / "b", python_check(), files)
    assert wide.passed


def test_files_without_the_required_literal_are_not_parsed(tmp_path: Path) -> None:
    files = {"a.py": "x = 1\n", "b.py": APP}
    out, ctx = run(tmp_path, python_check(), files)
    assert out.passed
    assert ("ts:python", "b.py") in ctx.shared
    assert ("ts:python", "a.py") not in ctx.shared


def test_a_file_is_parsed_once_for_every_rule(tmp_path: Path) -> None:
    ctx = context(tmp_path / "repo", {"b.py": APP})
    first = compiled(tmp_path, python_check()).evaluate(ctx)
    tree = ctx.shared[("ts:python", "b.py")]
    query = '((string_content) @s (#eq? @s "/healthz"))'
    second = compiled(tmp_path, python_check(query)).evaluate(ctx)
    assert first.passed and second.passed
    assert ctx.shared[("ts:python", "b.py")] is tree


def test_large_files_are_skipped_and_said(tmp_path: Path) -> None:
    big = "# filler\n" * (code.MAX_FILE_CHARS // 9 + 1) + '@app.get("/healthz")\ndef h(): ...\n'
    out, _ = run(tmp_path, python_check(), {"big.py": big, "README.md": "x\n"})
    assert not out.passed
    assert "1 file(s) over 1024 KiB not searched" in out.message


def test_file_count_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code, "MAX_FILES", 3)
    files = {f"m{i}.py": "x = 1\n" for i in range(5)}
    files["z.py"] = APP  # sorted last: beyond the bound
    out, _ = run(tmp_path, python_check(), files)
    assert not out.passed
    assert "only the first 3 files searched" in out.message


def test_binary_file_is_skipped(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "bin.py").write_bytes(b'\x00\x01@app.get("/healthz")')
    ctx = context(root, {"a.py": APP})
    out = compiled(tmp_path, python_check()).evaluate(ctx)
    assert out.passed
    assert ("ts:python", "bin.py") not in ctx.shared


def test_ten_thousand_line_file_completes(tmp_path: Path) -> None:
    lines = [f"def handler_{i}(request):\n    return route('/orders/{i}')\n" for i in range(5000)]
    source = "".join(lines) + '@app.get("/healthz")\ndef h(): ...\n'
    assert source.count("\n") >= 10_000
    query = (
        "((call arguments: (argument_list . (string (string_content) @r)))"
        ' (#match? @r "^/orders/[0-9]+$"))'
    )
    start = time.perf_counter()
    out, _ = run(tmp_path, python_check(query, "absent"), {"big.py": source})
    elapsed = time.perf_counter() - start
    assert not out.passed
    assert len(out.locations) == 50  # the first MAX_LOCATIONS matches
    assert elapsed < 5.0


def test_invalid_builtin_style_query_errors_at_run_time(tmp_path: Path) -> None:
    # A built-in pack compiles on first use; a broken query is an `error` result
    # naming the pack, never a crash.
    check = code.CodeQueryCheck(
        language="python",
        source="(nonsense) @x",
        expect="present",
        matcher=GlobSet(code.GLOBS["python"]),
        paths=None,
        spelled="**/*.py",
        origin="builtin:demo:12",
    )
    ctx = context(tmp_path / "repo", {"a.py": "x = 1\n"})
    with pytest.raises(FactError) as caught:
        check.evaluate(ctx)
    assert "builtin:demo:12" in caught.value.message


# -- the literal pre-filter -------------------------------------------------------------------

REGEX_CASES = [
    # Minimal sets: a text holding `/healthz` holds `/health`.
    ("^/(health|healthz)$", {"/health"}),
    ("^/healthz?$", {"/health"}),
    ("^/(ready|health)z?$", {"/health", "/ready"}),
    ("log/slog", {"log/slog"}),
    ("^(a|b)+$", {"a", "b"}),
    ("^(a|b)*$", None),
    (r"\d+", None),
    ("x*", None),
    ("^(.+/)?(ready|live)(/.*)?$", {"ready", "live"}),
]


@pytest.mark.parametrize(("pattern", "strings"), REGEX_CASES)
def test_regex_requirement(pattern: str, strings: set[str] | None) -> None:
    found = code.regex_requirement(pattern)
    assert (found.strings if found else None) == (frozenset(strings) if strings else None)


FILTER_REGEXES = [
    "^/(.+/)?_?(healthz?|health[-_]?check|readyz?)(/.*)?$",
    "(?i)^X-(Request|Trace)-Id$",
    "ab(c|d)e+f?",
    "(?i:ping)",
    "^(path|re_path)$",
    "[ab]cd",
    "a(?=b)",
]
FILTER_TEXTS = [
    "/healthz",
    "/api/_health-check/x",
    "/readyz",
    "x-request-id",
    "X-TRACE-ID",
    "abceef",
    "abde",
    "PING",
    "re_path",
    "bcd",
    "ab",
    "nothing here",
]


@pytest.mark.parametrize("pattern", FILTER_REGEXES)
def test_regex_requirement_never_rejects_a_text_the_regex_matches(pattern: str) -> None:
    found = code.regex_requirement(pattern)
    assert found is not None
    for text in FILTER_TEXTS:
        if re.search(pattern, text):
            assert found.holds(f"..{text}..", []), (pattern, text)
