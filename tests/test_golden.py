"""Every output format, byte for byte, against the golden files in tests/golden/.

The inputs and the rendering live in tests/regen_golden.py, which also rewrites the
golden files (`python tests/regen_golden.py`). The test is parametrized over
`REPORTERS`, so a newly registered format gets golden cases at once; a format whose
module does not exist yet is skipped with the reason.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from opsgrade.engine.model import RunResult, Status
from opsgrade.reporters import REPORTERS


def _load_regen() -> ModuleType:
    # Loaded by path: tests/ is not a package, and pytest's import mode may not put it
    # on sys.path.
    path = Path(__file__).with_name("regen_golden.py")
    spec = importlib.util.spec_from_file_location("regen_golden", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("regen_golden", module)
    spec.loader.exec_module(module)
    return module


regen = _load_regen()
HINT = f"if the change is intended, run `{regen.REGEN_COMMAND}` and review the diff"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    built: dict[str, object] = regen.build_inputs(tmp_path_factory.mktemp("golden"))
    return built


def _shown_diff(expected: bytes, actual: bytes, name: str, limit: int = 60) -> str:
    lines = list(
        difflib.unified_diff(
            expected.decode("utf-8", "replace").splitlines(keepends=True),
            actual.decode("utf-8", "replace").splitlines(keepends=True),
            f"golden/{name}",
            "rendered",
        )
    )
    if not lines and expected != actual:
        return "(the difference is in line ends or invisible characters)\n"
    shown = "".join(repr(line.rstrip("\n"))[1:-1] + "\n" for line in lines[:limit])
    return shown + (f"... {len(lines) - limit} more diff lines\n" if len(lines) > limit else "")


@pytest.mark.parametrize("fmt", list(REPORTERS))
@pytest.mark.parametrize("name", regen.INPUTS)
def test_golden(name: str, fmt: str, inputs: dict[str, object]) -> None:
    reason = regen.unavailable(fmt)
    if reason is not None:
        pytest.skip(f"format {fmt!r}: {reason}; its golden files come with it")
    path = regen.golden_path(name, fmt)
    rendered = regen.render(inputs[name], fmt).encode("utf-8")
    assert regen.render(inputs[name], fmt).encode("utf-8") == rendered, "not deterministic"
    if not path.exists():
        pytest.fail(f"no golden file {path.name} for format {fmt!r}; {HINT}", pytrace=False)
    expected = path.read_bytes()
    if rendered != expected:
        pytest.fail(
            f"--format {fmt} of input {name!r} differs from tests/golden/{path.name}:\n"
            f"{_shown_diff(expected, rendered, path.name)}{HINT}",
            pytrace=False,
        )


def test_no_stale_golden_files() -> None:
    stale = [p.name for p in regen.golden_files() if regen.stale(p)]
    assert not stale, f"golden files of no known input or format: {stale}; {HINT}"


def test_the_inputs_cover_what_reporters_distinguish(inputs: dict[str, object]) -> None:
    """Each status, a not-yet-counting result, configuration errors, notes and a
    comparison with a regression and a fix appear in some input, so the golden files
    show how every format renders them."""
    seen: set[str] = set()
    for item in inputs.values():
        run: RunResult = item.run  # type: ignore[attr-defined]
        for report in run.services:
            for result in report.results:
                seen.add(result.status.value)
                if not result.counting:
                    seen.add("not counting")
        if run.config_errors:
            seen.add("config errors")
        if run.notes:
            seen.add("notes")
        if run.comparison is not None and run.comparison.regressed:
            seen.add("regression")
        if run.comparison is not None and any(s.fixed for s in run.comparison.services):
            seen.add("fix")
    wanted = {s.value for s in Status} | {"not counting", "config errors", "notes"}
    assert seen >= wanted | {"regression", "fix"}
