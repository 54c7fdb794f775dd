"""The fixture repositories: each one scanned and compared with its `expected.yml`.

`fixtures/repos/<case>/repo/` is copied to `tmp_path/<case>` (so a repository without a
descriptor is one service named after the case), the files listed under `generate:` are
created in the copy, and the copy is scanned twice over: in process, where every result
listed in `expected.yml` is compared, and through the real CLI, where the exit code,
a clean stderr and byte-identical JSON on a second run are checked. fixtures/README.md
documents the keys of `expected.yml`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsgrade.engine.model import Note, RunResult, ServiceReport
from opsgrade.engine.packs import PackSource, cli_source, is_path_ref
from opsgrade.engine.scan import ScanRequest, scan

REPOS = Path(__file__).resolve().parent.parent / "fixtures" / "repos"
CASES = sorted(p.name for p in REPOS.iterdir() if (p / "expected.yml").is_file())

REQUIRED_TOP_KEYS = {"today", "exit_code", "services"}
TOP_KEYS = REQUIRED_TOP_KEYS | {"packs", "generate", "notes", "errors", "max_seconds"}
REQUIRED_SERVICE_KEYS = {"root", "level", "categories", "results"}
SERVICE_KEYS = REQUIRED_SERVICE_KEYS | {"locations", "blockers", "score", "fields"}
GENERATE_KINDS = ("size", "text", "symlink")
DEFAULT_MAX_SECONDS = 10.0
CLI_TIMEOUT = 120
FILLER = "generated filler line, large enough to matter and boring enough to skip\n"


# -- expected.yml -------------------------------------------------------------------------


def load_expected(case: str) -> dict[str, Any]:
    """The case's expected.yml, with its keys checked so a typo cannot skip a check."""
    data = yaml.safe_load((REPOS / case / "expected.yml").read_text("utf-8"))
    assert isinstance(data, dict), f"{case}/expected.yml: expected a mapping"
    unknown = set(data) - TOP_KEYS
    assert not unknown, f"{case}/expected.yml: unknown keys {sorted(unknown)}"
    missing = REQUIRED_TOP_KEYS - set(data)
    assert not missing, f"{case}/expected.yml: missing keys {sorted(missing)}"
    assert isinstance(data["today"], dt.date), f"{case}/expected.yml: `today` is a date"
    assert data["exit_code"] in (0, 1, 2), f"{case}/expected.yml: `exit_code` is 0, 1 or 2"
    for name, svc in data["services"].items():
        unknown = set(svc) - SERVICE_KEYS
        assert not unknown, f"{case}/expected.yml: service {name!r}: unknown keys {unknown}"
        missing = REQUIRED_SERVICE_KEYS - set(svc)
        assert not missing, f"{case}/expected.yml: service {name!r}: missing keys {missing}"
    return data


def pack_refs(case: str, expected: dict[str, Any]) -> list[str]:
    """Pack references with paths made absolute (they are relative to the case folder)."""
    return [
        str(REPOS / case / ref) if is_path_ref(ref) else ref for ref in expected.get("packs", [])
    ]


# -- preparing the copy -------------------------------------------------------------------


def generate(repo: Path, entries: list[dict[str, Any]]) -> None:
    """Create what `generate:` lists; a path may leave the copy, never `tmp_path`."""
    sandbox = repo.parent.resolve()
    for entry in entries:
        kinds = [k for k in GENERATE_KINDS if k in entry]
        assert len(kinds) == 1, f"generate entry {entry}: give one of {GENERATE_KINDS}"
        assert set(entry) <= {"path", "line", *GENERATE_KINDS}, f"generate entry {entry}"
        target = repo / entry["path"]
        assert Path(os.path.normpath(target)).is_relative_to(sandbox), entry["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        if "symlink" in entry:
            os.symlink(entry["symlink"], target)
        elif "text" in entry:
            target.write_bytes(entry["text"].encode("utf-8"))
        else:
            line = entry.get("line", FILLER).encode("utf-8")
            size = int(entry["size"])
            with target.open("wb") as fh:
                block = line * max(1, (1 << 20) // len(line))
                written = 0
                while written < size:
                    chunk = block[: size - written]
                    fh.write(chunk)
                    written += len(chunk)


def prepare(case: str, expected: dict[str, Any], tmp_path: Path) -> Path:
    repo = tmp_path / case
    shutil.copytree(REPOS / case / "repo", repo, symlinks=True)
    generate(repo, expected.get("generate", []))
    return repo


# -- what the scan found, in the shape of expected.yml ------------------------------------


def note_text(note: Note) -> str:
    return (
        f"{note.path}:{note.line}: {note.message}" if note.line else f"{note.path}: {note.message}"
    )


def location_text(report: ServiceReport, rule: str) -> str | None:
    result = next((r for r in report.results if r.rule == rule), None)
    if result is None or result.path is None:
        return None
    return f"{result.path}:{result.line}"


def actual_service(report: ServiceReport, wanted: dict[str, Any]) -> dict[str, Any]:
    """The report, restricted to the optional keys the expectation lists."""
    card = report.scorecard
    found: dict[str, Any] = {
        "root": report.service.root,
        "level": card.level,
        "categories": dict(card.categories),
        "results": {r.rule: r.status.value for r in report.results},
    }
    if "locations" in wanted:
        found["locations"] = {rule: location_text(report, rule) for rule in wanted["locations"]}
    if "blockers" in wanted:
        found["blockers"] = [b.rule for b in card.blockers]
    if "score" in wanted:
        found["score"] = card.score
    if "fields" in wanted:
        found["fields"] = {name: getattr(report.service, name) for name in wanted["fields"]}
    return found


def expected_service(wanted: dict[str, Any]) -> dict[str, Any]:
    out = dict(wanted)
    if "fields" in out:
        # YAML lists stand for the tuples the Service model holds.
        out["fields"] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in out["fields"].items()
        }
    return out


def match_all(kind: str, patterns: list[str], texts: list[str]) -> None:
    """Every pattern appears in some text, and every text is accounted for by a pattern."""
    unmatched = [p for p in patterns if not any(p in t for t in texts)]
    assert not unmatched, f"expected {kind} not found: {unmatched}\nactual {kind}: {texts}"
    unexpected = [t for t in texts if not any(p in t for p in patterns)]
    assert not unexpected, f"{kind} not listed in expected.yml: {unexpected}"


def differences(where: str, found: Any, wanted: Any) -> list[str]:
    """One line per value that differs, named by its key path."""
    if isinstance(found, dict) and isinstance(wanted, dict):
        out: list[str] = []
        for key in [*wanted, *(k for k in found if k not in wanted)]:
            if key not in found:
                out.append(f"{where}.{key}: expected {wanted[key]!r}, not in the results")
            elif key not in wanted:
                out.append(f"{where}.{key}: got {found[key]!r}, not in expected.yml")
            else:
                out.extend(differences(f"{where}.{key}", found[key], wanted[key]))
        return out
    return [] if found == wanted else [f"{where}: expected {wanted!r}, got {found!r}"]


def check_run(run: RunResult, expected: dict[str, Any]) -> None:
    services = {r.service.name: r for r in run.services}
    assert sorted(services) == sorted(expected["services"]), "the services differ"
    diffs: list[str] = []
    for name, wanted in expected["services"].items():
        found = actual_service(services[name], wanted)
        diffs += differences(name, found, expected_service(wanted))
    assert not diffs, "results differ from expected.yml:\n" + "\n".join(diffs)
    match_all("notes", expected.get("notes", []), [note_text(n) for n in run.notes])
    match_all("errors", expected.get("errors", []), [note_text(n) for n in run.config_errors])


# -- the CLI ------------------------------------------------------------------------------


def run_cli(
    repo: Path, today: dt.date, packs: list[str], *extra: str
) -> subprocess.CompletedProcess[bytes]:
    argv = [
        sys.executable,
        "-m",
        "opsgrade.engine",
        "scan",
        str(repo),
        "--today",
        today.isoformat(),
    ]
    for ref in packs:
        argv += ["--pack", ref]
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env.update(NO_COLOR="1", PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [*argv, *extra], capture_output=True, timeout=CLI_TIMEOUT, env=env, cwd=repo.parent
    )


def assert_clean_exit(proc: subprocess.CompletedProcess[bytes], expected: int, what: str) -> None:
    stderr = proc.stderr.decode("utf-8", errors="replace")
    assert "Traceback" not in stderr, f"{what}: traceback on stderr:\n{stderr}"
    assert proc.returncode == expected, f"{what}: exit {proc.returncode}, stderr:\n{stderr}"


# -- the tests ----------------------------------------------------------------------------


def test_there_are_at_least_ten_cases() -> None:
    assert len(CASES) >= 10, CASES
    for case in CASES:
        assert (REPOS / case / "repo").is_dir(), f"{case}: no repo/ folder"


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_fixture_repo(case: str, tmp_path: Path) -> None:
    expected = load_expected(case)
    today: dt.date = expected["today"]
    packs = pack_refs(case, expected)
    repo = prepare(case, expected, tmp_path)

    # In process: every result, level, note and error the expectation lists.
    sources: list[PackSource] = [cli_source(ref) for ref in packs]
    started = time.monotonic()
    run = scan(ScanRequest(path=repo, today=today, packs=sources))
    elapsed = time.monotonic() - started
    assert run.evaluated_on == today
    check_run(run, expected)
    limit = float(expected.get("max_seconds", DEFAULT_MAX_SECONDS))
    assert elapsed < limit, f"scan took {elapsed:.1f}s (bound {limit}s)"

    # The real CLI: its exit code, no traceback, and no raw control sequence reaching
    # the terminal whatever the repository holds.
    text = run_cli(repo, today, packs)
    assert_clean_exit(text, expected["exit_code"], "opsgrade scan")
    assert b"\x1b" not in text.stdout, "raw ESC in the text output"

    # JSON: byte-identical when run again, valid, and faithful to the in-process run:
    # repository text (names, owners, tags) comes back exactly as it was written.
    first = run_cli(repo, today, packs, "--format", "json")
    second = run_cli(repo, today, packs, "--format", "json")
    assert_clean_exit(first, expected["exit_code"], "opsgrade scan --format json")
    assert first.stdout == second.stdout, "JSON output differs between two runs"
    assert b"\x1b" not in first.stdout, "raw ESC in the JSON output"
    doc = json.loads(first.stdout.decode("utf-8"))
    assert json.loads(json.dumps(doc)) == doc
    by_name = {r.service.name: r for r in run.services}
    assert sorted(s["name"] for s in doc["services"]) == sorted(by_name)
    for svc in doc["services"]:
        report = by_name[svc["name"]]
        assert svc["level"] == report.scorecard.level
        assert svc["owner"] == report.service.owner
        assert svc["tags"] == list(report.service.tags)
        assert {r["rule"]: r["status"] for r in svc["results"]} == {
            r.rule: r.status.value for r in report.results
        }
