"""The published JSON Schemas, generated from the Structs in `specs.py` (and the org
report's from `org/model.py`).

`python -m opsgrade.engine.schemagen` writes them next to this module (`schemas/`), where
they ship as package data; `--check` exits 1 when a checked-in copy is stale, and
`--out DIR` writes them elsewhere (to vendor them for an editor). A test keeps the
shipped copies current.

msgspec emits every field of a Struct; what its `__post_init__` enforces (exactly one
check primitive, `contains` only with `exists`...) is added here, so that editors and
other JSON Schema validators reject what the loader rejects.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from opsgrade.engine import specs
from opsgrade.engine.org import model as org_model

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_URL = "https://opsgrade.dev/schemas/v1/"
DIRECTORY = Path(__file__).resolve().parent / "schemas"

Schema = dict[str, Any]

# File name -> (root Struct, title).
SCHEMAS: dict[str, tuple[type[msgspec.Struct], str]] = {
    "rulepack.schema.json": (specs.RulePack, "opsgrade rule pack"),
    "config.schema.json": (specs.RepoConfig, "opsgrade repository configuration"),
    "descriptor.schema.json": (specs.Descriptor, "opsgrade service descriptor"),
    "org-report.schema.json": (
        org_model.OrgReport,
        f"opsgrade org report (report.json), schema_version {org_model.SCHEMA_VERSION}",
    ),
}

# Documents opsgrade writes rather than reads, by file name -> the module defining them.
# The writer emits every field and nothing else, so their schemas require every field
# and reject unknown ones: a consumer can validate a report strictly.
OUTPUTS: dict[str, str] = {"org-report.schema.json": "engine/org/model.py"}

# Hover text for editors: (Struct, key as written) -> description. Kept short; the
# authoring guide (docs/rule-packs.md) is the long form.
FIELD_DOCS: dict[tuple[type[msgspec.Struct], str], str] = {
    (specs.RulePack, "apiVersion"): "Always `opsgrade/v1`.",
    (specs.RulePack, "levels"): "Ordered levels, lowest first. Every pack in a set agrees.",
    (specs.RulePack, "categories"): "Categories rules may use; when given, the only ones.",
    (specs.RulePack, "extends"): "Packs loaded before this one: built-in or installed "
    "names, or paths relative to this file.",
    (specs.RulePack, "overrides"): "Rule id (or alias) -> fields to change on an inherited rule.",
    (specs.RulePack, "disable"): "Rule id (or alias) -> why the rule is switched off.",
    (specs.Rule, "id"): "Stable, unique id; never reused. A renamed rule keeps the old id "
    "in `aliases`.",
    (specs.Rule, "level"): "One of the pack's `levels`.",
    (specs.Rule, "category"): "One of the pack's `categories` (when it declares any).",
    (specs.Rule, "severity"): "How a failure is reported: error, warning or note.",
    (specs.Rule, "help"): "Why the rule matters and how to fix it (Markdown).",
    (specs.Rule, "fix"): "One line saying what to do; defaults to the first line of `help`.",
    (specs.Rule, "when"): "The rule applies only to services matching every given field.",
    (specs.Rule, "enforce_after"): "Reported before this date; counts for levels from it.",
    (specs.Rule, "weight"): "Weight in the score (default 1).",
    (specs.Rule, "aliases"): "Former ids of this rule; overrides, disable and waivers "
    "may use them.",
    (specs.FileCheck, "exists"): "Globs relative to the service root: some file must match.",
    (specs.FileCheck, "absent"): "Globs relative to the service root: no file may match.",
    (specs.FileCheck, "contains"): "RE2 regex (multi-line): some matching file contains it.",
    (specs.FileCheck, "not_contains"): "RE2 regex (multi-line): no matching file contains it.",
    (specs.FileCheck, "ignore_case"): "Match globs case-insensitively.",
    (specs.DescriptorCheck, "path"): "Dotted path in the normalized service: owner, "
    "tools.0.url, raw.<key>.",
    (specs.FactsCheck, "query"): "JMESPath over the facts document (service, files, repo, ...).",
    (specs.RepoConfig, "packs"): "Packs to evaluate: names, or repo-relative paths.",
    (specs.RepoConfig, "required_level"): "The level `scan` requires when no "
    "`--fail-below` is given.",
    (specs.RepoConfig, "exclude"): "Globs of repo paths the scan ignores.",
    (specs.RepoConfig, "max_file_size"): "Files larger than this many bytes are skipped.",
    (specs.Descriptor, "name"): "The service's name, unique in the repository.",
    (specs.Descriptor, "owner"): "The owning team.",
    (specs.Descriptor, "tier"): "Criticality, 0 (most critical) to 5.",
    (specs.Descriptor, "waivers"): "Rules this service is excused from until a date.",
    (specs.WaiverSpec, "expires"): "Date (YYYY-MM-DD) after which the waiver stops waiving.",
}

for _assertion in (specs.DescriptorCheck, specs.FactsCheck):
    FIELD_DOCS[(_assertion, "exists")] = "true: the value is set (not null or empty); false: unset."
    FIELD_DOCS[(_assertion, "equals")] = "The value equals this."
    FIELD_DOCS[(_assertion, "one_of")] = "The value equals one of these."
    FIELD_DOCS[(_assertion, "matches")] = "The value is a string the RE2 regex matches."


def _encode_name(struct: type[msgspec.Struct], attr: str) -> str:
    return next(f.encode_name for f in msgspec.structs.fields(struct) if f.name == attr)


def _set(key: str) -> Schema:
    """`key` is given and not null (how `__post_init__` counts a field as present)."""
    return {"required": [key], "properties": {key: {"not": {"type": "null"}}}}


def _unset(*keys: str) -> Schema:
    return {"properties": {key: {"type": "null"} for key in keys}}


def _exactly_one(keys: Sequence[str]) -> Schema:
    return {"oneOf": [_set(key) for key in keys]}


def _at_most_one(keys: Sequence[str]) -> Schema:
    # "Given" means present (even as null, for `equals`), except where null means unset.
    def given(key: str) -> Schema:
        return {"required": [key]} if key == "equals" else _set(key)

    pairs = [{"allOf": [given(a), given(b)]} for i, a in enumerate(keys) for b in keys[i + 1 :]]
    return {"not": {"anyOf": pairs}}


def _constraints() -> dict[str, Schema]:
    """What each Struct's `__post_init__` enforces, as JSON Schema, by `$defs` name."""
    check_keys = [_encode_name(specs.Check, k) for k in specs.CHECK_KINDS]
    assertion = _at_most_one(["exists", "equals", "one_of", "matches"])
    return {
        "DescriptorCheck": assertion,
        "FactsCheck": assertion,
        "Check": _exactly_one(check_keys),
        "FileCheck": {
            "allOf": [
                _exactly_one(["exists", "absent"]),
                {"not": {"allOf": [_set("contains"), _set("not_contains")]}},
                {"if": _set("absent"), "then": _unset("contains", "not_contains")},
            ]
        },
    }


def _describe_fields(defs: dict[str, Schema]) -> None:
    for (struct, key), text in FIELD_DOCS.items():
        if struct.__name__ in defs:
            defs[struct.__name__]["properties"][key]["description"] = text


def _close_outputs(defs: dict[str, Schema], root: type[msgspec.Struct]) -> None:
    for schema in defs.values():
        if schema.get("type") == "object" and "properties" in schema:
            schema["required"] = list(schema["properties"])
            schema["additionalProperties"] = False
            for prop in schema["properties"].values():
                prop.pop("default", None)  # always written, so a default says nothing
    version = defs[root.__name__]["properties"].get("schema_version")
    if version is not None:
        version["const"] = org_model.SCHEMA_VERSION


def build(root: type[msgspec.Struct], file_name: str, title: str) -> Schema:
    generated = msgspec.json.schema(root)
    defs: dict[str, Schema] = generated["$defs"]
    for schema in defs.values():
        if "description" in schema:
            schema["description"] = inspect.cleandoc(schema["description"])
    if file_name in OUTPUTS:
        _close_outputs(defs, root)
    for name, extra in _constraints().items():
        if name in defs:
            defs[name].update(extra)
    _describe_fields(defs)
    top = defs.pop(root.__name__)
    description = top.pop("description", "")
    top.pop("title", None)
    return {
        "$schema": DIALECT,
        "$id": BASE_URL + file_name,
        "$comment": f"Generated from {OUTPUTS.get(file_name, 'engine/specs.py')} "
        "by `python -m opsgrade.engine.schemagen`.",
        "title": title,
        "description": description,
        **top,
        "$defs": defs,
    }


def render(schema: Schema) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """File name -> the text it should hold."""
    return {name: render(build(root, name, title)) for name, (root, title) in SCHEMAS.items()}


def load(file_name: str) -> Schema:
    """A shipped schema, read from the package."""
    from importlib import resources

    text = (resources.files("opsgrade.engine") / "schemas" / file_name).read_text("utf-8")
    loaded: Schema = json.loads(text)
    return loaded


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m opsgrade.engine.schemagen")
    parser.add_argument("--out", type=Path, default=DIRECTORY, help="folder to write to")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file is stale"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    stale = []
    for name, text in generate().items():
        target = out / name
        current = target.read_text("utf-8") if target.is_file() else None
        if current == text:
            continue
        stale.append(target)
        if not args.check:
            out.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
    verb = "stale" if args.check else "wrote"
    for target in stale:
        print(f"{verb}: {target}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
