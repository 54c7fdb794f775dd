"""Write rendered reports to stdout or files; a file is replaced atomically."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.model import RunResult
from opsgrade.reporters import RenderOptions, get_reporter


def write_atomic(path: Path, text: str) -> None:
    folder = path.parent if str(path.parent) else Path()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None


def write_outputs(
    run: RunResult, formats: Sequence[tuple[str, str | None]], required: str, color: bool
) -> None:
    rendered: list[tuple[str | None, str]] = []
    for name, target in formats:
        options = RenderOptions(color=color and target is None, required_level=required)
        rendered.append((target, get_reporter(name).render(run, options)))
    for target, text in rendered:
        if target is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            write_atomic(Path(target), text)
