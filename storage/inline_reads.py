"""Short reads on the event loop's own connection: no trip to a reader thread.

A read handed to a reader thread costs two thread hops: the reader wakes and takes the GIL
from the busy event loop, and its outcome waits for the loop's next turn. Under the
10-client mixed load of issue 14 that was 1.2 ms of waiting per read at the median (0.6 ms
each way) for reads that ran 0.07-0.4 ms, and every command made one or two (bench/README.md
"Short reads on the event loop"). So a read whose function has been short runs at once on
the loop's thread, on a connection of its own; the loop is held no longer than a hop would
have cost it in callbacks, and the command goes on without waiting for a turn.

What keeps the loop from being held long:

- Only functions known to be short run here: a running mean of each read function's time
  must stay under ``TYPICAL``. A function not seen yet runs on a reader first. On a reader
  its CPU time is counted (the thread's clock: not the time it waited for the GIL while the
  loop held it); here, the wall time the loop was held.
- A read function that waits on something else than SQLite (a file, another thread) says
  so (``Database.read(..., inline=False)``): neither clock nor budget would catch it.
- Each run here has a budget, ``BUDGET`` of wall time, checked by SQLite itself between
  virtual-machine steps (a progress handler): past it the statement is interrupted and the
  read is abandoned, and ``Database.read`` runs it again on a reader. Read functions have no
  side effects (DESIGN.md "Storage": plain functions of a snapshot), so running one twice is
  only the cost of the first try, and the overrun counts in the function's mean, which
  sends it to the readers next time.
- A busy database (another process recovering the WAL) is not waited for here: the read
  goes to a reader, whose connection waits as configured.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import Busy

T = TypeVar("T")

TYPICAL = 0.001
"""Seconds of CPU a read function may take on average to be run on the loop."""

BUDGET = 0.004
"""Wall seconds a read may hold the loop before it is interrupted and sent to a reader."""

WEIGHT = 0.25
"""Weight of the newest run in a function's running mean."""

PROGRESS_STEPS = 2000
"""SQLite virtual-machine instructions between two looks at the clock (a few microseconds
of work: the budget is kept to well under a millisecond)."""


def kind(fn: Callable[..., Any]) -> object:
    """What identifies a read function across calls: its code (closures made by the same
    ``def`` share it), under any ``functools.partial`` and any wrapper that names what it
    wraps (``__wrapped__``: ``alongside.with_alongside`` wraps reads of every cost)."""
    while True:
        if hasattr(fn, "func"):
            fn = fn.func
        elif hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        else:
            return getattr(fn, "__code__", None) or type(fn)


class InlineReads:
    """The loop's read connection and the running mean of each read function's cost."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._costs: dict[object, float] = {}
        self._deadline = 0.0
        self._overran = False
        conn.set_progress_handler(self._past_budget, PROGRESS_STEPS)
        self.runs = 0
        """Reads answered here (for tests and benchmarks)."""
        self.handed_on = 0
        """Reads tried here and abandoned for a reader (over budget, busy)."""

    def _past_budget(self) -> bool:
        if time.perf_counter() > self._deadline:
            self._overran = True
            return True
        return False

    def suits(self, key: object) -> bool:
        cost = self._costs.get(key)
        return cost is not None and cost < TYPICAL

    def note(self, key: object, seconds: float) -> None:
        """A run's seconds into ``key``'s running mean (also from reader threads: a lost
        update between two threads only delays the mean by one run)."""
        old = self._costs.get(key)
        self._costs[key] = seconds if old is None else old + WEIGHT * (seconds - old)

    def measured(self, key: object, runner: Callable[[sqlite3.Connection], T]
                 ) -> Callable[[sqlite3.Connection], T]:
        """``runner`` for a reader thread, its CPU time noted for ``key``."""
        def on_reader(conn: sqlite3.Connection) -> T:
            cpu = time.thread_time()
            try:
                return runner(conn)
            finally:
                self.note(key, time.thread_time() - cpu)

        return on_reader

    def run(self, key: object, runner: Callable[[sqlite3.Connection], T]) -> tuple[bool, T | None]:
        """``(True, runner(conn))``, or ``(False, None)`` if the read must go to a reader.
        An exception of the read itself is raised as it would be on a reader."""
        self._overran = False
        start = time.perf_counter()
        self._deadline = start + BUDGET
        try:
            value = runner(self.conn)
        except Busy:
            self.handed_on += 1
            return False, None
        except Exception:
            self.note(key, time.perf_counter() - start)
            if not self._overran:
                raise
            self.handed_on += 1
            return False, None
        self.note(key, time.perf_counter() - start)
        if self._overran:  # a read that swallowed the interruption is not trusted
            self.handed_on += 1
            return False, None
        self.runs += 1
        return True, value

    def close(self) -> None:
        self.conn.close()
