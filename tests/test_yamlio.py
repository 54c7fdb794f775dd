"""YAML from untrusted repositories: bounded, located errors, lines for key paths."""

from __future__ import annotations

import pytest
import yaml

from opsgrade.engine.errors import ParseError
from opsgrade.engine.yamlio import (
    MAX_EXPANDED_NODES,
    check_expansion,
    line_of,
    load_document,
    load_documents,
)


def compose(text: str) -> yaml.Node:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    assert node is not None
    return node


def parse_error(text: str, path: str = "svc/opsgrade.yml") -> ParseError:
    with pytest.raises(ParseError) as info:
        load_documents(text, path)
    assert info.value.where is not None
    assert info.value.where.file == path
    return info.value


def billion_laughs(levels: int = 9, fanout: int = 9) -> str:
    lines = ["lol0: &lol0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * fanout) + "]")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- alias bombs


def test_billion_laughs_is_refused_with_a_located_error() -> None:
    text = billion_laughs()
    err = parse_error(text)
    assert "alias bomb" in err.message
    assert f"{MAX_EXPANDED_NODES}" in err.message
    # Located at the first node whose expansion passes the bound, not at line 0.
    assert err.where is not None
    assert 1 <= err.where.line <= text.count("\n")


def test_expansion_is_measured_without_expanding() -> None:
    # 9 levels of 9-fold aliases: about 9**10 nodes once expanded, a few dozen composed.
    node = compose(billion_laughs())
    with pytest.raises(ParseError):
        check_expansion(node, "bomb.yml")
    # The exact count is returned below the bound, and it counts aliases as copies.
    small = compose(billion_laughs(levels=2, fanout=3))
    # lol0: 1 + 3; lol1: 1 + 3 * 4; lol2: 1 + 3 * 13; plus the 3 keys and the mapping.
    assert check_expansion(small, "small.yml") == 1 + 3 + (1 + 3) + (1 + 12) + (1 + 39)


def test_expansion_limit_is_a_parameter() -> None:
    node = compose("a: &a [1, 2, 3]\nb: [*a, *a, *a]\n")
    total = check_expansion(node, "x.yml")
    assert total == 1 + 1 + 4 + 1 + (1 + 3 * 4)
    assert check_expansion(node, "x.yml", limit=total) == total
    with pytest.raises(ParseError) as info:
        check_expansion(node, "x.yml", limit=total - 1)
    assert info.value.where is not None
    assert info.value.where.file == "x.yml"


def test_bomb_below_the_bound_still_loads() -> None:
    docs = load_documents("base: &b [1, 2]\nuse: [*b, *b]\n", "ok.yml")
    assert docs[0].data == {"base": [1, 2], "use": [[1, 2], [1, 2]]}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("&a [*a]\n", 1),
        ("top: &a\n  child: *a\n", 1),
        ("x: 1\nouter: &o\n  - inner:\n      - *o\n", 2),
        ("a: &a {k: [1, {deep: *a}]}\n", 1),
    ],
)
def test_recursive_alias_is_refused(text: str, line: int) -> None:
    err = parse_error(text, "loop.yml")
    assert "refers to itself" in err.message
    assert err.where is not None
    assert err.where.line >= line


def test_shared_but_acyclic_aliases_are_not_mistaken_for_cycles() -> None:
    text = "a: &a [1]\nb: &b [*a, *a]\nc: [*b, *a, *b]\n"
    (doc,) = load_documents(text, "dag.yml")
    assert doc.data["c"] == [[[1], [1]], [1], [[1], [1]]]


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        "{a: " * 50_000 + "1" + "}" * 50_000,
        "".join(" " * i + "k:\n" for i in range(5_000)),
        "".join(" " * i + "- \n" for i in range(5_000)),
    ],
    ids=["flow-seq", "flow-map", "block-map", "block-seq"],
)
def test_deep_nesting_is_refused_with_a_located_error(text: str) -> None:
    err = parse_error(text, "deep.yml")
    assert err.where is not None
    assert err.where.file == "deep.yml"
    assert err.where.line >= 1
    assert "nest" in err.message or "deep" in err.message


def test_moderate_nesting_loads() -> None:
    depth = 200
    (doc,) = load_documents("[" * depth + "1" + "]" * depth, "ok.yml")
    value = doc.data
    for _ in range(depth):
        assert isinstance(value, list)
        value = value[0]
    assert value == 1


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: svc\nowner: team\n  tier: 1\n", 3),
        ("name: svc\ntags: [a, b\nowner: team\n", 3),
        ('name: svc\ndescription: "unterminated\n', 3),
        ("name: svc\n\towner: team\n", 2),
        ("name: svc\nowner: *undefined\n", 2),
        ("name: svc\n- item\n", 2),
        ("name: svc\nowner: a: b\n", 2),
        ("a: 1\n---\nb: [\n", 4),
    ],
)
def test_syntax_errors_are_located_at_the_right_line(text: str, line: int) -> None:
    err = parse_error(text)
    assert err.message.startswith("invalid YAML")
    assert err.where is not None
    assert err.where.line == line
    assert str(err).startswith(f"svc/opsgrade.yml:{line}: ")
    assert "\n" not in str(err)


def test_error_in_second_document_is_located_in_the_file() -> None:
    text = "a: 1\n---\nb: 2\nc: [\n"
    err = parse_error(text)
    assert err.where is not None
    assert err.where.line > 2


# --------------------------------------------------------------------------- documents


def test_multiple_documents() -> None:
    text = "name: one\n---\nname: two\n---\n- x\n"
    docs = load_documents(text, "multi.yml")
    assert [d.data for d in docs] == [{"name": "one"}, {"name": "two"}, ["x"]]
    assert [d.path for d in docs] == ["multi.yml"] * 3
    # Each document maps keys back to lines of the whole file.
    assert docs[1].line_of(["name"]) == 3
    assert docs[2].line_of([0]) == 5


def test_load_document_refuses_several_documents() -> None:
    with pytest.raises(ParseError) as info:
        load_document("a: 1\n---\nb: 2\n", "one.yml")
    assert info.value.where is not None
    assert info.value.where.file == "one.yml"
    assert "several" in info.value.message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_has_no_documents_and_one_empty_document(text: str) -> None:
    assert load_documents(text, "e.yml") == []
    doc = load_document(text, "e.yml")
    assert doc.data is None
    assert doc.node is None
    assert doc.line_of(["anything"]) == 1


def test_explicit_empty_document() -> None:
    (doc,) = load_documents("---\n", "e.yml")
    assert doc.data is None
    assert load_document("---\n", "e.yml").data is None


def test_safe_loader_refuses_python_tags() -> None:
    err = parse_error("!!python/object/apply:os.system ['echo hi']\n", "evil.yml")
    assert err.where is not None
    assert err.where.line == 1


# --------------------------------------------------------------------------- line_of


NESTED = """\
name: svc
tools:
  - category: runbook
    url: https://wiki/runbook
  - category: logs
    url: https://logs
meta:
  owner:
    team: payments
  tags: [a, b,
         c]
"""


@pytest.mark.parametrize(
    ("keys", "line"),
    [
        ([], 1),
        (["name"], 1),
        (["tools"], 2),
        (["tools", 0], 3),
        (["tools", 0, "url"], 4),
        (["tools", 1], 5),
        (["tools", 1, "url"], 6),
        (["meta", "owner", "team"], 9),
        (["meta", "tags", 2], 11),
        # Missing keys stop at the deepest key that exists.
        (["meta", "owner", "missing"], 8),
        (["tools", 7], 2),
        (["tools", -1], 2),
        (["tools", "0"], 2),  # a string is a mapping key, never a list index
        (["nope", "deeper"], 1),
        (["name", "below-a-scalar"], 1),
    ],
)
def test_line_of_nested_keys_and_list_indexes(keys: list[str | int], line: int) -> None:
    doc = load_document(NESTED, "svc.yml")
    assert doc.line_of(keys) == line
    assert line_of(doc.node, keys) == line


def test_line_of_numeric_mapping_keys() -> None:
    doc = load_document("codes:\n  404: missing\n  500: broken\n", "c.yml")
    assert doc.data == {"codes": {404: "missing", 500: "broken"}}
    assert doc.line_of(["codes", 500]) == 3


def test_line_of_without_a_node() -> None:
    assert line_of(None, ["a", 1]) == 1
