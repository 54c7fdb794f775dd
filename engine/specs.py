"""The published file formats, declared once: rule packs, the repo config, `opsgrade.yml`.

These msgspec Structs are the validators (fast enough for the scan path, with key paths
in their errors) and the source of the JSON Schemas shipped in `schemas/`
(`python -m opsgrade.engine.schemagen` regenerates them; a test keeps them current).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

API_VERSION = "opsgrade/v1"

NonEmpty = Annotated[str, Meta(min_length=1)]
RuleId = Annotated[
    str,
    Meta(
        pattern=r"^[A-Z][A-Z0-9]*(?:[-_][A-Z0-9]+)*$",
        max_length=64,
        description="Stable rule id, upper case: OWN001, DOCKER-USER.",
    ),
]
PackName = Annotated[
    str, Meta(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100, description="Pack name.")
]
Globs = Annotated[list[NonEmpty], Meta(min_length=1)]
StrOrList = str | list[str]
IntOrList = int | list[int]


class _Strict(Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


def _exactly_one(obj: Struct, names: tuple[str, ...], what: str) -> None:
    present = [n for n in names if getattr(obj, n) is not None]
    if len(present) != 1:
        spelled = ", ".join(f"`{n.rstrip('_')}`" for n in names)
        raise ValueError(f"{what} needs exactly one of {spelled}; found {len(present)}")


class FileCheck(_Strict):
    """Files matched by globs relative to the service root (`**` allowed).

    `exists`: some file matches. `absent`: no file matches. With `exists`, `contains`
    needs some matching file to contain the RE2 regex and `not_contains` needs every
    matching file to be free of it."""

    exists: Globs | None = None
    absent: Globs | None = None
    contains: NonEmpty | None = None
    not_contains: NonEmpty | None = None
    ignore_case: bool = False

    def __post_init__(self) -> None:
        _exactly_one(self, ("exists", "absent"), "file check")
        if self.contains is not None and self.not_contains is not None:
            raise ValueError("file check takes `contains` or `not_contains`, not both")
        if self.absent is not None and (self.contains or self.not_contains):
            raise ValueError("`contains`/`not_contains` go with `exists`, not `absent`")


class _Assertion(_Strict, kw_only=True):
    """With none of `exists`, `equals`, `one_of`, `matches`, the value must be truthy."""

    exists: bool | None = None
    equals: Any | UnsetType = UNSET
    one_of: Annotated[list[Any], Meta(min_length=1)] | None = None
    matches: NonEmpty | None = None

    def __post_init__(self) -> None:
        given = [
            name
            for name, unset in (
                ("exists", None),
                ("equals", UNSET),
                ("one_of", None),
                ("matches", None),
            )
            if getattr(self, name) is not unset
        ]
        if len(given) > 1:
            found = ", ".join(given)
            raise ValueError(f"give at most one of exists, equals, one_of, matches; found {found}")


class DescriptorCheck(_Assertion):
    """A value of the normalized service descriptor, by dotted path (`owner`, `tools.0.url`)."""

    path: NonEmpty


class FactsCheck(_Assertion):
    """A JMESPath query over the facts extracted for the service."""

    query: NonEmpty


Ecosystem = Literal["python", "node", "go", "ruby", "java", "rust", "dotnet"]
CodeLanguage = Literal[
    "python", "go", "javascript", "typescript", "tsx", "ruby", "java", "hcl", "bash", "dockerfile"
]


class DependencyCheck(_Strict):
    """A package among the service's declared dependencies (every manifest of it)."""

    name: NonEmpty
    ecosystem: Ecosystem | None = None
    present: bool = True
    version: NonEmpty | None = None  # a constraint in the ecosystem's own syntax
    include_dev: bool = True

    def __post_init__(self) -> None:
        if not self.present and self.version is not None:
            raise ValueError("`version` goes with a present dependency, not `present: false`")


class RuntimeCheck(_Strict):
    """The language runtime the service declares (manifests, version files, images)."""

    language: Ecosystem
    at_least: NonEmpty | None = None
    declared: bool | None = None

    def __post_init__(self) -> None:
        if (self.at_least is None) == (self.declared is None):
            raise ValueError("runtime check needs exactly one of `at_least`, `declared`")


class CodeCheck(_Strict):
    """A tree-sitter query over the service's source files of one language."""

    language: CodeLanguage
    query: NonEmpty
    expect: Literal["present", "absent"] = "present"
    paths: Globs | None = None


CommandArg = Annotated[str, Meta(min_length=1, max_length=4096)]


class CommandCheck(_Strict):
    """A program the pack ships, run in the repository root (argv, never a shell).

    It prints a JSON verdict on stdout: `{"status": "pass"|"fail", "message": ...,
    "locations": [{"path": ..., "line": ...}]}`. Runs only for packs the repository
    trusts (`trusted_packs` in its config); see docs/rule-packs.md."""

    run: Annotated[list[CommandArg], Meta(min_length=1, max_length=100)]
    timeout: Annotated[float, Meta(gt=0, le=300)] = 10.0
    max_output: Annotated[int, Meta(ge=1024, le=16 * 1024 * 1024)] = 1024 * 1024


CHECK_KINDS = (
    "file",
    "descriptor",
    "facts",
    "dependency",
    "runtime",
    "code",
    "command",
    "all",
    "any",
    "not_",
)


class Check(_Strict):
    """Exactly one check primitive, or a composition of checks."""

    file: FileCheck | None = None
    descriptor: DescriptorCheck | None = None
    facts: FactsCheck | None = None
    dependency: DependencyCheck | None = None
    runtime: RuntimeCheck | None = None
    code: CodeCheck | None = None
    command: CommandCheck | None = None
    all: Annotated[list[Check], Meta(min_length=1)] | None = None
    any: Annotated[list[Check], Meta(min_length=1)] | None = None
    not_: Check | None = field(default=None, name="not")

    def __post_init__(self) -> None:
        _exactly_one(self, CHECK_KINDS, "check")

    def kind(self) -> str:
        return next(n for n in CHECK_KINDS if getattr(self, n) is not None)


class When(_Strict):
    """Filter on service fields; a rule applies when every given field matches."""

    tier: IntOrList | None = None
    lifecycle: StrOrList | None = None
    language: StrOrList | None = None
    framework: StrOrList | None = None
    tags: StrOrList | None = None
    name: StrOrList | None = None


Level = Annotated[str, Meta(min_length=1, max_length=40)]
Severity = Literal["error", "warning", "note"]
Weight = Annotated[float, Meta(gt=0, le=1000)]


class Rule(_Strict):
    """One rule: metadata, where it applies, and its check."""

    id: RuleId
    title: NonEmpty
    level: Level
    category: NonEmpty
    check: Check
    help: NonEmpty
    severity: Severity = "error"
    fix: NonEmpty | None = None
    when: When | None = None
    enforce_after: dt.date | None = None
    weight: Weight = 1.0
    see_also: list[NonEmpty] = []
    tags: list[NonEmpty] = []
    aliases: list[RuleId] = []


class Override(_Strict):
    """Change an inherited rule without copying it."""

    level: Level | None = None
    severity: Severity | None = None
    weight: Weight | None = None
    enforce_after: dt.date | None = None
    when: When | None = None


class Metadata(_Strict):
    name: PackName
    version: NonEmpty = "0.0.0"
    description: str = ""


DEFAULT_LEVELS = ["bronze", "silver", "gold"]


class RulePack(_Strict):
    """A rule pack (`kind: RulePack`)."""

    apiVersion: Literal["opsgrade/v1"]
    kind: Literal["RulePack"]
    metadata: Metadata
    levels: Annotated[list[Level], Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_LEVELS)
    )
    categories: list[NonEmpty] = []
    extends: list[NonEmpty] = []
    # Pack name -> a PEP 440 specifier (">=2,<3") its version must meet.
    requires: dict[PackName, NonEmpty] = {}
    overrides: dict[RuleId, Override] = {}
    disable: dict[RuleId, NonEmpty] = {}
    rules: list[Rule] = []


class RepoConfig(_Strict):
    """The repository's own configuration (`.opsgrade/config.yml`)."""

    apiVersion: Literal["opsgrade/v1"]
    kind: Literal["Config"]
    name: NonEmpty | None = None
    packs: list[NonEmpty] = []
    required_level: Level | None = None
    exclude: list[NonEmpty] = []
    max_file_size: Annotated[int, Meta(ge=1024, le=100 * 1024 * 1024)] | None = None
    overrides: dict[RuleId, Override] = {}
    disable: dict[RuleId, NonEmpty] = {}
    # Packs whose `command` checks may run: a pack name (local, installed or built-in
    # source), or for a pack fetched from a git URL, that URL exactly as written.
    trusted_packs: list[NonEmpty] = []


class ToolSpec(_Strict):
    category: NonEmpty
    url: NonEmpty
    name: str | None = None
    environment: str | None = None


class WaiverSpec(_Strict):
    rule: RuleId
    reason: NonEmpty
    expires: dt.date
    approved_by: str | None = None


Name = Annotated[str, Meta(min_length=1, max_length=200)]


class Descriptor(_Strict):
    """A service descriptor (`opsgrade.yml`); its folder is the service's root."""

    name: Name
    apiVersion: Literal["opsgrade/v1"] = "opsgrade/v1"
    kind: Literal["Service"] = "Service"
    description: str | None = None
    owner: NonEmpty | None = None
    tier: Annotated[int, Meta(ge=0, le=5)] | None = None
    lifecycle: NonEmpty | None = None
    language: NonEmpty | None = None
    framework: NonEmpty | None = None
    system: NonEmpty | None = None
    tags: list[NonEmpty] = []
    tools: list[ToolSpec] = []
    dependencies: list[NonEmpty] = []
    waivers: list[WaiverSpec] = []
