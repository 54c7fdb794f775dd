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

A case's repository is given inline (`files:`) or as a folder beside the tests file
(`repo: cases/hardened/`, copied, then `files:` laid over it). In a repository of
several services, `service: NAME` says whose result is meant. One repository can also
be checked against many rules at once, under `cases:`:

```yaml
cases:
  - name: hardened service
    repo: cases/hardened/
    expect: {SEC001: pass, SEC002: fail}      # the one service's results
    services:                                 # or per service, by name
      payments: {SEC003: not_applicable}
```

Each case is written to a temporary folder and scanned like any repository, with only
the pack under test, so a case exercises the same path a user's scan takes. Cases run
on a fixed date (`today:`, else DEFAULT_TODAY), so waiver expiry and `enforce_after`
give the same verdict on every day the tests run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import shutil
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
from opsgrade.engine.model import CheckResult, RunResult, Status
from opsgrade.engine.packs import PackSet, PackSource, file_source, load_packs
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
CASES_KEY = "cases"
# A case folder (`repo:`) is the pack author's own fixture, yet still bounded.
MAX_REPO_FILES = 2000
MAX_REPO_BYTES = 20 * 1024 * 1024
_PACK_KIND = re.compile(r"^kind:\s*['\"]?RulePack\b", re.M)

_RULE_ID_TYPE: Any = specs.RuleId
StatusName = Literal["pass", "fail", "waived", "error", "not_applicable"]
CaseFiles = Annotated[dict[specs.NonEmpty, str], Meta(max_length=MAX_CASE_FILES)]


class CaseSpec(Struct, forbid_unknown_fields=True, kw_only=True):
    """One case of one rule, as written under the rule's id."""

    name: specs.NonEmpty
    expect: StatusName
    files: CaseFiles = {}
    repo: specs.NonEmpty | None = None
    service: specs.NonEmpty | None = None
    line: Annotated[int, Meta(ge=1)] | None = None
    path: specs.NonEmpty | None = None
    today: dt.date | None = None


class MultiCaseSpec(Struct, forbid_unknown_fields=True, kw_only=True):
    """One repository checked against several rules, as written under `cases:`."""

    name: specs.NonEmpty
    expect: dict[specs.RuleId, StatusName] = {}
    services: dict[specs.NonEmpty, dict[specs.RuleId, StatusName]] = {}
    files: CaseFiles = {}
    repo: specs.NonEmpty | None = None
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
    service: str | None = None  # whose result; None: the repository's one service
    repo: Path | None = None  # a folder copied in before `files` are written
    group: int = 0  # cases of one group share one repository, scanned once

    @property
    def id(self) -> str:
        return f"{self.rule}: {self.name}"

    @property
    def subject(self) -> str:
        return f"{self.rule} @ {self.service}" if self.service else self.rule


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


def _entry_point_file(pack: PackSource) -> Path | None:
    """An installed pack's file, when the package is installed as files (not zipped)."""
    from opsgrade.engine.packs import _entry_point_target

    target = _entry_point_target(pack.location)
    return target if isinstance(target, Path) and target.is_file() else None


def read_tests(pack: PackSource) -> tuple[str, str]:
    """The label and text of the tests file beside `pack`; ConfigError when it is missing."""
    if pack.kind == "entrypoint":
        on_disk = _entry_point_file(pack)
        if on_disk is not None:
            return read_tests(file_source(str(on_disk)))
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
    if pack.kind == "git":
        # Its location is a URL, not a path to look beside; and a fetched pack's cases
        # could trust the pack themselves and run its commands unasked.
        raise ConfigError(
            f"{pack.label}: the cases of a pack fetched from git are not run; clone the "
            "repository at that ref and test the pack file"
        )
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


def tests_dir(pack: PackSource, label: str) -> Path | None:
    """The folder on disk holding the tests file, where `repo:` folders are found."""
    if pack.kind == "file" or Path(label).is_file():
        return Path(label).resolve().parent
    if pack.kind in ("builtin", "entrypoint"):
        module, _, rel = label.partition(":")[2].partition("/")
        folder = Path(str(resources.files(module))).joinpath(*PurePosixPath(rel).parts[:-1])
        return folder if folder.is_dir() else None
    return None


class _Parser:
    """Turns a tests file into cases; every error names the file, line and key path."""

    def __init__(self, doc: YamlDocument, packset: PackSet, base: Path | None) -> None:
        self.doc = doc
        self.packset = packset
        self.base = base
        self.cases: list[Case] = []
        self.groups = 0

    def error(self, message: str, *keys: str | int) -> ConfigError:
        path = list(keys)
        return ConfigError(
            message, Located(self.doc.path, self.doc.line_of(path), format_key_path(path))
        )

    def rule_id(self, key: object, *where: str | int) -> str:
        try:
            rule_id: str = msgspec.convert(key, _RULE_ID_TYPE)
        except msgspec.ValidationError:
            raise self.error(
                f"{key!r} is not a rule id (nor `{TODAY_KEY}` or `{CASES_KEY}`)", *where
            ) from None
        rule = self.packset.rule(rule_id)
        if rule is None:
            close = difflib.get_close_matches(rule_id, [r.id for r in self.packset.rules], n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise self.error(f"the pack has no rule {rule_id}{hint}", *where)
        return rule.id

    def repository(
        self, files: Mapping[str, str], repo: str | None, *where: str | int
    ) -> Path | None:
        for path in files:
            problem = _case_path_problem(path)
            if problem:
                raise self.error(f"file {path!r} {problem}", *where, "files", path)
        if repo is None:
            return None
        problem = _case_path_problem(repo.rstrip("/"))
        if problem:
            raise self.error(f"folder {repo!r} {problem}", *where, "repo")
        if self.base is None:
            raise self.error("`repo:` needs a tests file on disk", *where, "repo")
        folder = self.base.joinpath(*PurePosixPath(repo).parts)
        if not folder.is_dir():
            raise self.error(f"no folder {repo!r} beside the tests file", *where, "repo")
        return folder

    def rule_cases(self, key: object, raw: object, today: dt.date) -> None:
        rule_id = self.rule_id(key, str(key))
        written = convert(self.doc, raw, list[CaseSpec], base=[rule_id])
        if not written:
            raise self.error("give at least one case", rule_id)
        seen: set[str] = set()
        for i, spec in enumerate(written):
            if spec.name in seen:
                raise self.error(f"case name {spec.name!r} is used twice", rule_id, i, "name")
            seen.add(spec.name)
            repo = self.repository(spec.files, spec.repo, rule_id, i)
            self.groups += 1
            self.cases.append(
                Case(
                    rule=rule_id,
                    name=spec.name,
                    expect=Status(spec.expect),
                    files=dict(spec.files),
                    today=spec.today or today,
                    where=Located(self.doc.path, self.doc.line_of([rule_id, i])),
                    line=spec.line,
                    path=spec.path,
                    service=spec.service,
                    repo=repo,
                    group=self.groups,
                )
            )

    def multi_cases(self, raw: object, today: dt.date) -> None:
        written = convert(self.doc, raw, list[MultiCaseSpec], base=[CASES_KEY])
        seen: set[str] = set()
        for i, spec in enumerate(written):
            if spec.name in seen:
                raise self.error(f"case name {spec.name!r} is used twice", CASES_KEY, i, "name")
            seen.add(spec.name)
            if not spec.expect and not spec.services:
                raise self.error("give `expect` or `services`", CASES_KEY, i)
            repo = self.repository(spec.files, spec.repo, CASES_KEY, i)
            self.groups += 1
            wanted = [(None, spec.expect, ("expect",))] + [
                (name, statuses, ("services", name)) for name, statuses in spec.services.items()
            ]
            for service, statuses, keys in wanted:
                for rule_key, status in statuses.items():
                    rule_id = self.rule_id(rule_key, CASES_KEY, i, *keys, rule_key)
                    self.cases.append(
                        Case(
                            rule=rule_id,
                            name=spec.name,
                            expect=Status(status),
                            files=dict(spec.files),
                            today=spec.today or today,
                            where=Located(self.doc.path, self.doc.line_of([CASES_KEY, i])),
                            service=service,
                            repo=repo,
                            group=self.groups,
                        )
                    )


def parse_tests(
    text: str, label: str, pack: PackSource, packset: PackSet, base: Path | None = None
) -> PackTests:
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
    parser = _Parser(doc, packset, base)
    for key, raw in doc.data.items():
        if key == TODAY_KEY:
            continue
        if key == CASES_KEY:
            parser.multi_cases(raw, today)
        else:
            parser.rule_cases(key, raw, today)
    return PackTests(pack, label, tuple(parser.cases))


def load_pack_tests(pack: PackSource) -> PackTests:
    """The cases for `pack`; ConfigError when the pack or its tests file is missing or invalid."""
    packset = load_packs([pack])
    label, text = read_tests(pack)
    return parse_tests(text, label, pack, packset, tests_dir(pack, label))


def pack_files(folder: Path) -> list[Path]:
    """The rule packs directly in `folder` (YAML with `kind: RulePack`, tests files aside)."""
    found: list[Path] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix not in (".yml", ".yaml"):
            continue
        if path.name.endswith((f"{TESTS_SUFFIX}.yml", f"{TESTS_SUFFIX}.yaml")):
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(MAX_TESTS_SIZE)
        if _PACK_KIND.search(head):
            found.append(path)
    return found


def sources_for(ref: str) -> list[PackSource]:
    """`packs test|docs|lint` argument: a folder of packs, a pack file, or a pack's name."""
    from opsgrade.engine.packs import cli_source

    path = Path(ref)
    if path.is_dir():
        found = pack_files(path)
        if not found:
            raise ConfigError(f"no rule pack (YAML with `kind: RulePack`) in folder {ref}")
        return [file_source(str(p)) for p in found]
    return [cli_source(ref)]


# -- running ------------------------------------------------------------------------


def materialize(files: Mapping[str, str], root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        target = root.joinpath(*PurePosixPath(rel).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8"))


def _copy_repo(source: Path, root: Path) -> None:
    """Copy a case folder; links are copied as links (the scan decides about them)."""
    count = size = 0
    for _dirpath, _dirs, names in os.walk(source):
        count += len(names)
        size += sum(os.lstat(os.path.join(_dirpath, n)).st_size for n in names)
        if count > MAX_REPO_FILES or size > MAX_REPO_BYTES:
            raise OSError(0, f"more than {MAX_REPO_FILES} files or {MAX_REPO_BYTES} bytes")
    shutil.copytree(source, root, symlinks=True)


def _scan_case(case: Case, pack: PackSource) -> RunResult | str:
    with tempfile.TemporaryDirectory(prefix="opsgrade-case-") as tmp:
        root = Path(tmp) / CASE_REPO_NAME
        try:
            if case.repo is not None:
                _copy_repo(case.repo, root)
            materialize(case.files, root)
        except OSError as exc:
            return f"cannot write the case's files: {exc.strerror}"
        try:
            return scan(ScanRequest(path=root, packs=[pack], today=case.today))
        except OpsgradeError as exc:
            return f"scan failed: {exc}"


def _result_in(run: RunResult, case: Case) -> CheckResult | str:
    if case.service is not None:
        services = [s for s in run.services if s.service.name == case.service]
        if not services:
            names = ", ".join(s.service.name for s in run.services)
            return f"no service {case.service!r} in the case (found: {names})"
    else:
        services = list(run.services)
        if len(services) != 1:
            names = ", ".join(s.service.name for s in services)
            return (
                f"a case holds exactly one service, or names one with `service:`; "
                f"found {len(services)} ({names})"
            )
    found = [r for r in services[0].results if r.rule == case.rule]
    if not found:
        return f"no result for {case.rule} (disabled by the case's config?)"
    return found[0]


def _judge(case: Case, got: CheckResult | str) -> CaseOutcome:
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


def run_case(pack: PackSource, case: Case) -> CaseOutcome:
    run = _scan_case(case, pack)
    return _judge(case, run if isinstance(run, str) else _result_in(run, case))


def run_pack_tests(tests: PackTests) -> list[CaseOutcome]:
    """Every case's outcome, in file order; a repository shared by cases is scanned once."""
    runs: dict[int, RunResult | str] = {}
    outcomes: list[CaseOutcome] = []
    for case in tests.cases:
        if case.group not in runs:
            runs[case.group] = _scan_case(case, tests.pack)
        run = runs[case.group]
        outcomes.append(_judge(case, run if isinstance(run, str) else _result_in(run, case)))
    return outcomes


# -- reporting ----------------------------------------------------------------------


def describe_failure(outcome: CaseOutcome) -> str:
    case = outcome.case
    return f"{case.where}: {case.subject} {case.name!r}: {'; '.join(outcome.problems)}"


def _expected_line(case: Case) -> str:
    where = ""
    if case.path is not None or case.line is not None:
        where = f" at {case.path or '*'}:{case.line or '*'}"
    return f"{case.subject}: {case.expect.value}{where}"


def _actual_line(outcome: CaseOutcome) -> str:
    case = outcome.case
    if outcome.status is None:
        return f"{case.subject}: (no result) {outcome.message}"
    where = ""
    if case.path is not None or case.line is not None:
        where = f" at {outcome.path or 'none'}:{outcome.line}"
    return f"{case.subject}: {outcome.status.value}{where}"


def failure_report(outcomes: Sequence[CaseOutcome]) -> list[str]:
    """For each case that missed: one line per missed expectation, then a diff of the
    case's expected results against the actual ones."""
    lines: list[str] = []
    groups: dict[int, list[CaseOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.case.group, []).append(outcome)
    for group in groups.values():
        failed = [o for o in group if not o.passed]
        if not failed:
            continue
        lines += [describe_failure(o) for o in failed]
        diff = difflib.unified_diff(
            [_expected_line(o.case) for o in group],
            [_actual_line(o) for o in group],
            "expected",
            "actual",
            lineterm="",
            n=len(group),
        )
        lines += [f"    {line}" for line in diff if not line.startswith("@@")]
    return lines


def summarize(outcomes: Sequence[CaseOutcome]) -> str:
    failed = sum(1 for o in outcomes if not o.passed)
    rules = len({o.case.rule for o in outcomes})
    return (
        f"{len(outcomes)} case(s) for {rules} rule(s): "
        f"{len(outcomes) - failed} passed, {failed} failed"
    )
