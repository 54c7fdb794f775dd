"""The pre-validated built-in packs (rules/_compiled.json) are current and equivalent."""

from __future__ import annotations

import os

import pytest

from opsgrade.engine import packcache, specs
from opsgrade.engine.packs import BUILTIN_DIR, PackSource, builtin_names, load_packs
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import load_document


def test_cache_is_current() -> None:
    assert packcache.main(["--check"]) == 0, "run `python -m opsgrade.engine.packcache`"


@pytest.mark.parametrize("name", builtin_names())
def test_cached_spec_is_the_yaml_spec(name: str) -> None:
    with open(os.path.join(BUILTIN_DIR, f"{name}.yml"), encoding="utf-8") as fh:
        text = fh.read()
    cached = packcache.lookup(BUILTIN_DIR, name, text)
    assert cached is not None
    doc = load_document(text, name)
    assert cached.spec == convert(doc, doc.data, specs.RulePack)
    for i in range(len(cached.spec.rules)):
        assert cached.lines[f"rules.{i}"] == doc.line_of(["rules", i])


def test_a_stale_cache_is_ignored() -> None:
    name = builtin_names()[0]
    with open(os.path.join(BUILTIN_DIR, f"{name}.yml"), encoding="utf-8") as fh:
        text = fh.read()
    assert packcache.lookup(BUILTIN_DIR, name, text + "\n# edited\n") is None


def test_rule_locations_match_the_yaml() -> None:
    # `rules explain` shows where a rule is defined: the cache keeps those lines.
    packset = load_packs([PackSource("builtin", n) for n in builtin_names()])
    for rule in packset.rules:
        name = rule.source.file.removeprefix("builtin:")
        with open(os.path.join(BUILTIN_DIR, f"{name}.yml"), encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        assert f"id: {rule.id}" in lines[rule.source.line - 1], rule.id
