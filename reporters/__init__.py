"""Reporters: one module per output format behind one Protocol.

`REPORTERS` maps a format name to the class that renders it; it also feeds the CLI's
`--format` choices. Reporters receive one immutable RunResult and only render it.
Modules are imported on demand, so a format's heavy dependencies (Jinja2 for HTML and
Markdown) cost nothing to a scan that does not ask for it.
"""

from __future__ import annotations

import importlib
from typing import Protocol

import msgspec

from opsgrade.engine.gate import Verdict
from opsgrade.engine.model import RunResult


class RenderOptions(msgspec.Struct, frozen=True):
    color: bool = False
    required_level: str | None = None  # the gate's bar, when the CLI sets one
    verdict: Verdict | None = None  # the gate's decision, computed by the engine


class Reporter(Protocol):
    def render(self, run: RunResult, options: RenderOptions) -> str: ...


# Format name -> "module:Class". The order is the order `--help` lists them.
REPORTERS: dict[str, str] = {
    "text": "opsgrade.reporters.text:TextReporter",
    "json": "opsgrade.reporters.json_report:JsonReporter",
    "sarif": "opsgrade.reporters.sarif:SarifReporter",
    "markdown": "opsgrade.reporters.markdown:MarkdownReporter",
    "github": "opsgrade.reporters.github:GithubReporter",
    "junit": "opsgrade.reporters.junit:JunitReporter",
    "csv": "opsgrade.reporters.csv_report:CsvReporter",
}


def get_reporter(name: str) -> Reporter:
    module_name, _, class_name = REPORTERS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    reporter: Reporter = cls()
    return reporter
