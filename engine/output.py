"""Write rendered reports to stdout or files; a file is replaced atomically."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from opsgrade.engine.errors import ConfigError
from opsgrade.engine.gate import Verdict
from opsgrade.engine.model import RunResult
from opsgrade.reporters import RenderOptions, get_reporter


def write_atomic(path: Path, text: str) -> None:
    import tempfile

    folder = path.parent if str(path.parent) else Path()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    try:
        # mkstemp creates the file 0600; a report gets the mode `open()` would give it.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None


def write_outputs(
    run: RunResult,
    formats: Sequence[tuple[str, str | None]],
    required: str,
    verdict: Verdict,
    color: bool,
) -> None:
    rendered: list[tuple[str | None, str]] = []
    for name, target in formats:
        options = RenderOptions(
            color=color and target is None, required_level=required, verdict=verdict
        )
        rendered.append((target, get_reporter(name).render(run, options)))
    # Files first: an unwritable path fails before anything reaches stdout.
    for target, text in rendered:
        if target is not None:
            write_atomic(Path(target), text)
    for target, text in rendered:
        if target is None:
            sys.stdout.write(text)
            sys.stdout.flush()
