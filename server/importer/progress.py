"""A terminal progress bar for long imports."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO


class Progress:
    """A progress bar on ``stream`` when it is a terminal; a one-line summary at close.

    On a TTY: ``\\rImporting  1234/5000 [#######.......] 25%  310 msg/s  ETA 0:12``,
    redrawn at most ten times a second, replaced at close by the summary
    ``Imported 5000 messages in 12.3 s``.  Elsewhere only the summary is written
    (``summary=False``: nothing at all).  ``stream`` defaults to sys.stderr at call time.
    """

    interval = 0.1

    def __init__(self, total: int | None, stream: TextIO | None = None,
                 label: str = "Importing", *, done_label: str = "Imported",
                 summary: bool = True, width: int = 30,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total if total and total > 0 else None
        self.stream = stream if stream is not None else sys.stderr
        self.label, self.done_label, self.summary, self.width = label, done_label, summary, width
        self.clock = clock
        self.count = 0
        self.start = clock()
        self.closed = False
        self._last_draw: float | None = None
        self._last_len = 0
        try:
            self.tty = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.tty = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def advance(self, n: int = 1) -> None:
        self.count += n
        if not self.tty or self.closed:
            return
        now = self.clock()
        if self._last_draw is None or now - self._last_draw >= self.interval:
            self._last_draw = now
            self._write(self.render(now))

    def render(self, now: float | None = None) -> str:
        elapsed = (self.clock() if now is None else now) - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        if self.total is None:
            return f"{self.label}  {self.count}  {rate:.0f} msg/s"
        frac = min(self.count / self.total, 1.0)
        filled = int(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        text = (f"{self.label}  {self.count:>{len(str(self.total))}}/{self.total} "
                f"[{bar}] {int(frac * 100)}%  {rate:.0f} msg/s")
        if rate > 0 and self.count < self.total:
            eta = int((self.total - self.count) / rate)
            text += f"  ETA {eta // 60}:{eta % 60:02d}"
        return text

    def _write(self, text: str) -> None:
        columns = self._columns()
        if columns:
            text = text[:columns - 1]
        pad = " " * max(0, self._last_len - len(text))
        self._last_len = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()

    def _columns(self) -> int | None:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, OSError, ValueError):
            return None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        elapsed = self.clock() - self.start
        plural = "" if self.count == 1 else "s"
        line = f"{self.done_label} {self.count} message{plural} in {elapsed:.1f} s"
        if self.tty:
            if self.summary:
                self._write(line)
                self.stream.write("\n")
            elif self._last_draw is not None:
                self.stream.write("\n")
        elif self.summary:
            self.stream.write(line + "\n")
        self.stream.flush()
