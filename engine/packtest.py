"""Pack tests: every rule's passing and failing cases, kept as data beside its pack.

A pack `x.yml` is tested by `x.tests.yml` next to it (a built-in pack by
`opsgrade/rules/NAME.tests.yml`). The file maps rule ids to cases; a case is a tiny
repository (repo-relative path -> file content) and what the rule must say about the
one service in it:

```yaml
today: 2026-11-26          # optional: the date cases are evaluated on
OWN001:
  - name: owner set
    expect: pass           # pass | fail | waived | error | not_applicable
    files:
      opsgrade.yml: |
        name: payments
        owner: team-payments
  - name: owner missing
    expect: fail
    path: opsgrade.yml     # optional: the first failure location's file...
    line: 1                # ...and 1-based line
    files: {opsgrade.yml: "name: payments\n"}
```

Each case is written to a temporary folder and scanned like any repository, with only
the pack under test, so a case exercises the same path a user's scan takes. Cases run
on a fixed date (`today:`, else DEFAULT_TODAY), so waiver expiry and `enforce_after`
give the same verdict on every day the tests run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from opsgrade.engine import specs
from opsgrade.engine.errors import ConfigError, Located, OpsgradeError, ParseError
from opsgrade.engine.model import CheckResult, Status
from opsgrade.engine.packs import PackSet, PackSource, load_packs
from opsgrade.engine.repoview import Unreadable
from opsgrade.engine.scan import ScanRequest, scan
from opsgrade.engine.validation import convert, format_key_path
from opsgrade.engine.yamlio import YamlDocument, load_document

DEFAULT_TODAY = dt.date(2026, 11, 26)
TESTS_SUFFIX = ".tests"
MAX_TESTS_SIZE = 4 * 1024 * 1024
MAX_CASE_FILES = 100
# The folder a case's files are written to; a case without a descriptor is one
# service named after it.
CASE_REPO_NAME = "repo"
TODAY_KEY = "today"

_RULE_ID_TYPE: Any = specs.RuleId


class CaseSpec(Struct, forbid_unknown_fields=True, kw_only=True):
    """One case as written in a tests file."""

    name: specs.NonEmpty
    expect: Literal["pass", "fail", "waived", "error", "not_applicable"]
    files: Annotated[dict[specs.NonEmpty, str], Meta(max_length=MAX_CASE_FILES)] = {}
    line: Annotated[int, Meta(ge=1)] | None = None
    path: specs.NonEmpty | None = None
    today: dt.date | None = None


@dataclass(frozen=True)
class Case:
    """A validated case: the rule it tests, its repository and what it expects."""

    rule: str
    name: str
    expect: Status
    files: Mapping[str, str]
    today: dt.date
    where: Located
    line: int | None = None
    path: str | None = None

    @property
    def id(self) -> str:
        return f"{self.rule}: {self.name}"


@dataclass(frozen=True)
class PackTests:
    pack: PackSource
    label: str  # where the cases were read from, for messages
    cases: tuple[Case, ...]


@dataclass(frozen=True)
class CaseOutcome:
    """What the scan said for a case; `problems` lists each way it missed the case."""

    case: Case
    status: Status | None  # None when the case's repository could not be scanned
    path: str | None
    line: int
    message: str
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.problems


# -- finding the tests file ---------------------------------------------------------


def tests_names(pack_file: str) -> list[str]:
    """File names that may hold the tests of the pack file `pack_file`, preferred first."""
    for suffix in (".yml", ".yaml"):
        if pack_file.endswith(suffix):
            stem = pack_file.removesuffix(suffix) + TESTS_SUFFIX
            return [stem + suffix] if suffix == ".yml" else [stem + ".yaml", stem + ".yml"]
    return [pack_file + TESTS_SUFFIX + ".yml"]


def _missing(pack: PackSource, tried: Sequence[str]) -> ConfigError:
    return ConfigError(f"no tests for pack {pack.label}: expected {' or '.join(tried)}")


def read_tests(pack: PackSource) -> tuple[str, str]:
    """The label and text of the tests file beside `pack`; ConfigError when it is missing."""
    if pack.kind in ("builtin", "entrypoint"):
        if pack.kind == "builtin":
            module, rel = "opsgrade.rules", f"{pack.location}.yml"
        else:
            module, _, rel = pack.location.partition(":")
        folder, _, base = rel.rpartition("/")
        prefix = f"{folder}/" if folder else ""
        tried = [f"{prefix}{name}" for name in tests_names(base)]
        for candidate in tried:
            resource = resources.files(module).joinpath(candidate)
            if resource.is_file():
                label = f"{pack.kind}:{module}/{candidate}"
                return label, resource.read_text("utf-8")
        raise _missing(pack, [f"{module}/{t}" for t in tried])
    if pack.kind == "repo":
        assert pack.view is not None
        folder, _, base = pack.location.rpartition("/")
        tried = [f"{folder}/{n}" if folder else n for n in tests_names(base)]
        present = set(pack.view.files())
        for candidate in tried:
            if candidate in present:
                try:
                    return candidate, pack.view.read_text(candidate)
                except Unreadable as exc:
                    raise ConfigError(f"cannot read: {exc.reason}", Located(candidate)) from None
        raise _missing(pack, tried)
    path = Path(pack.location)
    beside = [path.with_name(n) for n in tests_names(path.name)]
    for tests_path in beside:
        if tests_path.is_file():
            return str(tests_path), _read_file(tests_path)
    raise _missing(pack, [str(p) for p in beside])


def _read_file(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_TESTS_SIZE:
            raise ConfigError(f"tests file larger than {MAX_TESTS_SIZE} bytes", Located(str(path)))
        return path.read_text("utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", Located(str(path))) from None


# -- parsing ------------------------------------------------------------------------


def _case_path_problem(path: str) -> str | None:
    if path.startswith("/") or "\\" in path:
        return "is not a relative POSIX path"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, `.` or `..` segment"
    if ".git" in parts:
        return "is inside .git"
    return None


def parse_tests(text: str, label: str, pack: PackSource, packset: PackSet) -> PackTests:
    """Validate a tests file against the pack it tests; errors name file, line and key."""
    try:
        doc = load_document(text, label)
    except ParseError as exc:
        raise ConfigError(exc.message, exc.where) from None
    if not isinstance(doc.data, dict) or not doc.data:
        raise ConfigError("a tests file maps rule ids to lists of cases", Located(label, 1))
    today = DEFAULT_TODAY
    if TODAY_KEY in doc.data:
        today = convert(doc, doc.data[TODAY_KEY], dt.date, base=[TODAY_KEY])
    cases: list[Case] = []
    for key, raw in doc.data.items():
        if key == TODAY_KEY:
            continue
        cases.extend(_rule_cases(doc, key, raw, packset, today))
    return PackTests(pack, label, tuple(cases))


def _rule_cases(
    doc: YamlDocument, key: object, raw: object, packset: PackSet, today: dt.date
) -> list[Case]:
    def error(message: str, *keys: str | int) -> ConfigError:
        path = [str(key), *keys]
        return ConfigError(message, Located(doc.path, doc.line_of(path), format_key_path(path)))

    try:
        rule_id: str = msgspec.convert(key, _RULE_ID_TYPE)
    except msgspec.ValidationError:
        raise error(f"{key!r} is not a rule id (nor `{TODAY_KEY}`)") from None
    rule = packset.rule(rule_id)
    if rule is None:
        close = difflib.get_close_matches(rule_id, [r.id for r in packset.rules], n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise error(f"the pack has no rule {rule_id}{hint}")
    written = convert(doc, raw, list[CaseSpec], base=[rule_id])
    if not written:
        raise error("give at least one case")
    cases: list[Case] = []
    seen: set[str] = set()
    for i, spec in enumerate(written):
        if spec.name in seen:
            raise error(f"case name {spec.name!r} is used twice", i, "name")
        seen.add(spec.name)
        for path in spec.files:
            problem = _case_path_problem(path)
            if problem:
                raise error(f"file {path!r} {problem}", i, "files", path)
        cases.append(
            Case(
                rule=rule.id,
                name=spec.name,
                expect=Status(spec.expect),
                files=dict(spec.files),
                today=spec.today or today,
                where=Located(doc.path, doc.line_of([rule_id, i])),
                line=spec.line,
                path=spec.path,
            )
        )
    return cases


def load_pack_tests(pack: PackSource) -> PackTests:
    """The cases for `pack`; ConfigError when the pack or its tests file is missing or invalid."""
    packset = load_packs([pack])
    label, text = read_tests(pack)
    return parse_tests(text, label, pack, packset)


# -- running ------------------------------------------------------------------------


def materialize(files: Mapping[str, str], root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        target = root.joinpath(*PurePosixPath(rel).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8"))


def _result_for(case: Case, pack: PackSource) -> CheckResult | str:
    with tempfile.TemporaryDirectory(prefix="opsgrade-case-") as tmp:
        root = Path(tmp) / CASE_REPO_NAME
        try:
            materialize(case.files, root)
        except OSError as exc:
            return f"cannot write the case's files: {exc.strerror}"
        try:
            run = scan(ScanRequest(path=root, packs=[pack], today=case.today))
        except OpsgradeError as exc:
            return f"scan failed: {exc}"
    if len(run.services) != 1:
        names = ", ".join(s.service.name for s in run.services)
        return f"a case holds exactly one service; found {len(run.services)} ({names})"
    found = [r for r in run.services[0].results if r.rule == case.rule]
    if not found:
        return f"no result for {case.rule} (disabled by the case's config?)"
    return found[0]


def run_case(pack: PackSource, case: Case) -> CaseOutcome:
    got = _result_for(case, pack)
    if isinstance(got, str):
        return CaseOutcome(case, None, None, 0, got, (got,))
    problems: list[str] = []
    if got.status != case.expect:
        problems.append(f"expected {case.expect.value}, got {got.status.value}: {got.message}")
    if case.path is not None and got.path != case.path:
        problems.append(f"expected path {case.path}, got {got.path or 'none'}")
    if case.line is not None and got.line != case.line:
        problems.append(f"expected line {case.line}, got {got.line}")
    return CaseOutcome(case, got.status, got.path, got.line, got.message, tuple(problems))


def run_pack_tests(tests: PackTests) -> list[CaseOutcome]:
    return [run_case(tests.pack, case) for case in tests.cases]


def describe_failure(outcome: CaseOutcome) -> str:
    case = outcome.case
    return f"{case.where}: {case.rule} {case.name!r}: {'; '.join(outcome.problems)}"


def summarize(outcomes: Sequence[CaseOutcome]) -> str:
    failed = sum(1 for o in outcomes if not o.passed)
    rules = len({o.case.rule for o in outcomes})
    return (
        f"{len(outcomes)} case(s) for {rules} rule(s): "
        f"{len(outcomes) - failed} passed, {failed} failed"
    )
