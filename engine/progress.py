"""One progress display for every long command: a line on a terminal's stderr, redrawn a few
times a second, ended with a newline; nothing at all when stderr is piped or the command is quiet.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

REDRAW_SECONDS = 0.1  # at most ten redraws a second: drawing is not free on a slow terminal
RATE_AFTER_SECONDS = 0.5  # before that, a rate says more about the clock than about the work


class Progress:
    """`label: 12,345 of 100,000 rows (12%), 40,000 rows/s, 0:03` on one line of `stream`.

    `update(n)` adds n to the count, `show(done)` sets it; `total` may be unknown (None), and
    `note` is shown after the label (a file name, say). `start` is what was done before (an
    import resumed after 100,000 rows): it counts toward the total, not toward the rate. Used as a context manager, it ends its
    line with a newline when it drew anything, so whatever follows starts on a line of its own.
    """

    def __init__(self, label: str, total: int | None = None, unit: str = "rows", *,
                 start: int = 0, quiet: bool = False, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = sys.stderr if stream is None else stream
        self.active = not quiet and _is_terminal(self.stream)
        self.label, self.total, self.unit, self.clock = label, total, unit, clock
        self.note = ""
        self.done = self.start = start
        self.started = clock()
        self._drawn_at: float | None = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.show(self.done + n)

    def show(self, done: int, note: str | None = None) -> None:
        self.done = done
        if note is not None:
            self.note = note
        if not self.active:
            return
        now = self.clock()
        if self._drawn_at is None or now - self._drawn_at >= REDRAW_SECONDS:
            self._draw(now)

    def close(self) -> None:
        """Draw the final count and end the line (only if anything was drawn)."""
        if self.active and self._drawn_at is not None:
            self._draw(self.clock())
            self.stream.write("\n")
            self.stream.flush()
            self._drawn_at = None

    def line(self, now: float) -> str:
        """The text of the line at time `now` (seconds on `clock`)."""
        elapsed = max(now - self.started, 0.0)
        count = f"{self.done:,}"
        if self.total:
            count += f" of {self.total:,} {self.unit} ({100 * self.done / self.total:.0f}%)"
        else:
            count += f" {self.unit}"
        rate = (f", {(self.done - self.start) / elapsed:,.0f} {self.unit}/s"
                if elapsed >= RATE_AFTER_SECONDS else "")
        note = f" {self.note}" if self.note else ""
        minutes, seconds = divmod(int(elapsed), 60)
        return f"{self.label}{note}: {count}{rate}, {minutes}:{seconds:02d}"

    def _draw(self, now: float) -> None:
        self.stream.write(f"\r{self.line(now)}\033[K")
        self.stream.flush()
        self._drawn_at = now


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
