"""Progress of an org scan on stderr: a bar on a terminal, plain lines in CI logs.

On a TTY one line is redrawn in place, at most ten times a second, so a fast scan does
not spend its time writing to the terminal. Elsewhere (CI logs, files) a redrawn line
is noise, so a plain line is written every `interval` seconds, and at each tenth of the
work when `min_gap` seconds have passed since the last line (a scan that takes a second
prints its summary alone). Both end with the same summary line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TextIO

from opsgrade.engine.org.model import RepoStatus

_REDRAW_S = 0.1
_BAR_WIDTH = 24
_GREEN, _RED, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[0m"


def _use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or stream.isatty()


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts repositories as they finish and shows how far the scan is."""

    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        tty: bool | None = None,
        interval: float = 10.0,
        min_gap: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.counts: dict[RepoStatus, int] = {"scanned": 0, "reused": 0, "failed": 0}
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._color = self._tty and _use_color(stream)
        self._interval = interval
        self._min_gap = min_gap
        self._clock = clock
        self._start = clock()
        self._last_draw = self._start
        self._last_tenth = 0
        self._drawn_width = 0  # the bar's visible width on screen, 0 when none is shown

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def advance(self, status: RepoStatus) -> None:
        self.counts[status] += 1
        now = self._clock()
        if self._tty:
            if now - self._last_draw >= _REDRAW_S or self.done == self.total:
                self._draw_bar(now)
            return
        tenth = self.done * 10 // self.total if self.total else 10
        since = now - self._last_draw
        if since >= self._interval or (tenth > self._last_tenth and since >= self._min_gap):
            self._last_tenth = tenth
            self._last_draw = now
            self._stream.write(self._status_text(now) + "\n")
            self._stream.flush()

    def message(self, text: str) -> None:
        """A line of its own (a note): the bar, if shown, is cleared and redrawn below."""
        self._clear_bar()
        self._stream.write(text + "\n")
        if self._tty and self.done:
            self._draw_bar(self._clock())
        self._stream.flush()

    def finish(self) -> str:
        """Write and return the summary line (ends the bar's line first)."""
        elapsed = max(self._clock() - self._start, 1e-9)
        counts = self.counts
        summary = (
            f"{self.done} repositories: {counts['scanned']} scanned, {counts['reused']} reused,"
            f" {counts['failed']} failed in {elapsed:.1f} s ({self.done / elapsed:.1f} repos/s)"
        )
        self._clear_bar()
        self._stream.write(summary + "\n")
        self._stream.flush()
        return summary

    def _clear_bar(self) -> None:
        if self._drawn_width:
            self._stream.write("\r" + " " * self._drawn_width + "\r")
            self._drawn_width = 0

    def _status_text(self, now: float) -> str:
        elapsed = max(now - self._start, 1e-9)
        rate = self.done / elapsed
        percent = self.done * 100 // self.total if self.total else 100
        text = f"{self.done}/{self.total} repositories ({percent}%), {rate:.1f} repos/s"
        if rate > 0 and self.done < self.total:
            text += f", ETA {_clock_text((self.total - self.done) / rate)}"
        failed = self.counts["failed"]
        return text + (f", {failed} failed" if failed else "")

    def _draw_bar(self, now: float) -> None:
        self._last_draw = now
        filled = self.done * _BAR_WIDTH // self.total if self.total else _BAR_WIDTH
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        text = self._status_text(now)
        visible = f"[{bar}] {text}"
        if self._color:
            tint = _RED if self.counts["failed"] else _GREEN
            line = f"[{tint}{bar}{_RESET}] {text}"
        else:
            line = visible
        pad = " " * max(self._drawn_width - len(visible), 0)
        self._stream.write("\r" + line + pad)
        self._stream.flush()
        self._drawn_width = len(visible)
