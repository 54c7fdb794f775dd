"""`opsgrade packs docs`: one Markdown page per pack, an index, examples from the cases.

That the built-in packs' checked-in pages are current is tested in test_rule_cases.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgrade.engine import docgen
from opsgrade.engine.cli import run
from opsgrade.engine.packs import PackSource

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "examples" / "acme-security-pack" / "src" / "acme_security_pack"

PACK = """\
apiVersion: opsgrade/v1
kind: RulePack
metadata: {name: mini, version: 2.1.0, description: "Small | pack."}
rules:
  - id: MINI001
    title: README has no code fences
    level: silver
    category: documentation
    severity: warning
    tags: [docs]
    enforce_after: 2027-01-01
    see_also: ["https://example.com/readme"]
    check: {file: {exists: [README.md], not_contains: '```'}}
    help: Fences confuse the portal. Use indented code.
    fix: Indent code blocks instead.
"""

TESTS = """\
MINI001:
  - {name: plain README, expect: pass, files: {README.md: "# mini\\n"}}
  - name: a fence
    expect: fail
    path: README.md
    line: 2
    files: {README.md: "# mini\\n```\\ncode\\n```\\n"}
"""


def _pack(tmp_path: Path, tests: bool = True) -> Path:
    pack = tmp_path / "mini.yml"
    pack.write_text(PACK)
    if tests:
        (tmp_path / "mini.tests.yml").write_text(TESTS)
    return pack


def test_page_shows_every_field_and_both_examples(tmp_path: Path) -> None:
    page = docgen.render_pack(PackSource("file", str(_pack(tmp_path))), "test").page
    for expected in (
        "# Pack `mini` (version 2.1.0)",
        "### MINI001: README has no code fences",
        "- **Level:** silver",
        "- **Category:** documentation",
        "- **Severity:** warning",
        "- **Counts from:** 2027-01-01",
        "- **Tags:** docs",
        "- **See also:** https://example.com/readme",
        "Fences confuse the portal. Use indented code.",
        "**Fix:** Indent code blocks instead.",
        "**Example: passes** — plain README",
        "**Example: fails at `README.md` line 2** — a fence",
    ):
        assert expected in page, expected
    # The example holds ``` itself: its fence is longer, so the page stays well formed.
    assert "````markdown\n# mini\n```\ncode\n```\n````" in page


def test_pack_without_tests_renders_without_examples(tmp_path: Path) -> None:
    page = docgen.render_pack(PackSource("file", str(_pack(tmp_path, tests=False))), "t").page
    assert "### MINI001" in page and "Example" not in page


def test_cli_writes_pages_and_index_deterministically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _pack(src)
    out = tmp_path / "out"
    assert run(["packs", "docs", str(src), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["index.md", "mini.md"]
    index = (out / "index.md").read_text()
    assert "| [`mini`](mini.md) | 1 | Small \\| pack. |" in index
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run(["packs", "docs", str(src), "--out", str(out)]) == 0
    assert first == {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert run(["packs", "docs", str(src / "mini.yml")]) == 0
    assert capsys.readouterr().out == first["mini.md"].decode()


def test_example_pack_docs_include_a_folder_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["packs", "docs", str(ACME)]) == 0
    page = capsys.readouterr().out
    assert page.count("\n### ACME-SEC") == 6
    assert page.count("**Example: passes**") == 6 and page.count("**Example: fails") == 6


def test_two_packs_with_one_name_collide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _pack(tmp_path)
    (tmp_path / "copy.yml").write_text(PACK)
    assert run(["packs", "docs", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "two packs are named mini" in capsys.readouterr().err


def test_bad_pack_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = tmp_path / "mini.yml"
    pack.write_text(PACK.replace("level: silver", "level: platinum"))
    assert run(["packs", "docs", str(pack)]) == 2
    assert "mini.yml:7: rules[0].level" in capsys.readouterr().err
