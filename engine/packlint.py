"""`opsgrade packs lint`: everything wrong with a pack, located, before anyone pins it.

Loading a pack stops at its first error, which is right for a scan and slow going for
an author. The linter validates each rule on its own, so one run lists every problem:
the pack's schema, unique rule ids (and aliases), a level and category the pack
declares, `help` and `fix` on every rule, every regex and glob compiled under RE2 (a
backreference or lookaround RE2 rejects is named at its rule, with the key path), the
`extends`/`overrides` chain, and at least one `pass` and one `fail` case per rule in
the pack's tests file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opsgrade.engine import packtest, specs
from opsgrade.engine.checks import RE2_HINT, RE2_UNSUPPORTED, Site, compile_check
from opsgrade.engine.errors import ConfigError, Located, ParseError
from opsgrade.engine.globs import GlobError, GlobSet
from opsgrade.engine.model import Status
from opsgrade.engine.packs import PackSource, load_packs
from opsgrade.engine.validation import convert
from opsgrade.engine.yamlio import YamlDocument, load_document


@dataclass
class PackLint:
    """The problems found in one pack, in file order."""

    source: PackSource
    rules: int = 0
    problems: list[ConfigError] = field(default_factory=list)


def _explained(problem: ConfigError) -> ConfigError:
    """A pattern RE2 rejects for a feature it lacks says so, not only RE2's parse error
    (compile_regex adds the hint; patterns checked elsewhere get it here)."""
    if RE2_UNSUPPORTED.search(problem.message) and RE2_HINT not in problem.message:
        return ConfigError(f"{problem.message} ({RE2_HINT})", problem.where)
    return problem


def _sorted(problems: Sequence[ConfigError]) -> list[ConfigError]:
    def key(p: ConfigError) -> tuple[str, int, str]:
        where = p.where or Located("")
        return where.file, where.line, p.message

    return sorted(problems, key=key)


class _Linter:
    def __init__(self, source: PackSource, doc: YamlDocument) -> None:
        self.source = source
        self.doc = doc
        self.problems: list[ConfigError] = []
        self.ids: dict[str, int] = {}

    def problem(self, message: str, *keys: str | int) -> None:
        self.problems.append(Site(self.doc, ()).error(message, *keys))

    def attempt(self, step: Any, *args: Any) -> Any:
        try:
            return step(*args)
        except ConfigError as exc:
            self.problems.append(exc)
            return None

    def header(self, data: dict[Any, Any]) -> specs.RulePack | None:
        rest = {key: value for key, value in data.items() if key != "rules"}
        pack: specs.RulePack | None = self.attempt(convert, self.doc, rest, specs.RulePack)
        if not isinstance(data.get("rules", []), list):
            self.problem("`rules` is a list of rules", "rules")
        return pack

    def rule(self, i: int, raw: object, pack: specs.RulePack | None) -> None:
        rule: specs.Rule | None = self.attempt(convert, self.doc, raw, specs.Rule, ["rules", i])
        if rule is None:
            return
        for n, taken in enumerate((rule.id, *rule.aliases)):
            keys: tuple[str | int, ...] = ("rules", i, "id") if n == 0 else ("rules", i, "aliases")
            if taken in self.ids:
                self.problem(f"rule id {taken} is already used at line {self.ids[taken]}", *keys)
            else:
                self.ids[taken] = self.doc.line_of(keys)
        levels = pack.levels if pack is not None else specs.DEFAULT_LEVELS
        if rule.level not in levels:
            self.problem(f"level {rule.level!r} is not one of {list(levels)}", "rules", i, "level")
        declared = pack.categories if pack is not None else []
        if declared and rule.category not in declared:
            self.problem(f"category {rule.category!r} is not declared", "rules", i, "category")
        if not rule.help.strip():
            self.problem(f"{rule.id} has an empty `help`", "rules", i, "help")
        if rule.fix is None or not rule.fix.strip():
            self.problem(f"{rule.id} has no `fix` (one line: what to do)", "rules", i)
        self.attempt(compile_check, rule.check, Site(self.doc, ("rules", i, "check")))
        if rule.when is not None and rule.when.name is not None:
            names = rule.when.name if isinstance(rule.when.name, list) else [rule.when.name]
            try:
                GlobSet(names)
            except GlobError as exc:
                self.problem(f"invalid glob: {exc}", "rules", i, "when", "name")

    def cases(self, rules: list[tuple[int, str]]) -> None:
        """Every rule has a `pass` and a `fail` case (only once the pack loads)."""
        try:
            tests = packtest.load_pack_tests(self.source)
        except ConfigError as exc:
            self.problems.append(exc)
            return
        seen: dict[str, set[Status]] = {}
        for case in tests.cases:
            seen.setdefault(case.rule, set()).add(case.expect)
        for i, rule_id in rules:
            for status in (Status.PASS, Status.FAIL):
                if status not in seen.get(rule_id, set()):
                    self.problem(
                        f"{rule_id} has no `{status.value}` case in {tests.label}",
                        "rules",
                        i,
                        "id",
                    )


def lint_pack(source: PackSource) -> PackLint:
    result = PackLint(source)
    try:
        text = source.read()
        doc = load_document(text, source.label)
    except ParseError as exc:
        result.problems.append(ConfigError(exc.message, exc.where))
        return result
    except ConfigError as exc:
        result.problems.append(exc)
        return result
    if not isinstance(doc.data, dict):
        result.problems.append(ConfigError("a rule pack is a YAML mapping", Located(doc.path, 1)))
        return result
    linter = _Linter(source, doc)
    pack = linter.header(doc.data)
    raw_rules = doc.data.get("rules", [])
    raw_rules = raw_rules if isinstance(raw_rules, list) else []
    for i, raw in enumerate(raw_rules):
        linter.rule(i, raw, pack)
    result.rules = len(raw_rules)
    if not linter.problems:
        # What only the whole chain shows: `extends`, overrides, ids clashing across packs.
        linter.attempt(load_packs, [source])
    if not linter.problems:
        ids = [(i, r.get("id")) for i, r in enumerate(raw_rules) if isinstance(r, dict)]
        linter.cases([(i, str(rule_id)) for i, rule_id in ids])
    result.problems = _sorted([_explained(p) for p in linter.problems])
    return result


def lint(sources: Sequence[PackSource]) -> list[PackLint]:
    return [lint_pack(source) for source in sources]
