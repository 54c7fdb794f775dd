"""Fingerprints keep a finding's identity across edits that do not touch it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from opsgrade.engine.diff import compare
from opsgrade.engine.model import RunResult
from opsgrade.engine.packs import cli_source
from opsgrade.engine.scan import ScanRequest, scan

TODAY = dt.date(2026, 11, 26)


def run(repo: Path) -> RunResult:
    return scan(ScanRequest(path=repo, packs=[cli_source("readiness")], today=TODAY))


def prints(result: RunResult, rule: str) -> list[str]:
    found = next(r for r in result.services[0].results if r.rule == rule)
    return [loc.fingerprint for loc in found.locations]


def test_a_service_level_finding_survives_an_edit_of_the_descriptors_first_line(
    tmp_path: Path,
) -> None:
    descriptor = tmp_path / "opsgrade.yml"
    descriptor.write_text("name: payments\ndescription: d\n")
    before = run(tmp_path)
    descriptor.write_text(
        "# yaml-language-server: $schema=x.json\nname: payments\ndescription: d\n"
    )
    after = run(tmp_path)
    assert prints(before, "OWN001") and prints(before, "OWN001") == prints(after, "OWN001")
    comparison = compare(before, after, "base")
    assert not comparison.regressed


def test_a_line_finding_follows_its_line_not_its_number(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    (tmp_path / "opsgrade.yml").write_text("name: payments\n")
    readme.write_text("# Payments\n\nTODO: write this\n")
    before = run(tmp_path)
    readme.write_text("# Payments\n\nIntro.\n\nMore intro.\n\nTODO: write this\n")
    after = run(tmp_path)
    assert prints(before, "DOC004") == prints(after, "DOC004")
    readme.write_text("# Payments\n\nTBD: write that\n")
    edited = run(tmp_path)
    assert prints(edited, "DOC004") != prints(before, "DOC004")
