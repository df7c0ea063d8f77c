"""Counting operations the server acknowledged, so that a test can act (SIGKILL it) once N
were answered OK: an event read from the clients, not a guess at timing."""

from __future__ import annotations

import threading


class AckCounter:
    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    def add(self, n: int = 1) -> None:
        with self._cond:
            self._count += n
            self._cond.notify_all()

    @property
    def count(self) -> int:
        with self._cond:
            return self._count

    def wait_for(self, n: int, timeout: float = 120) -> None:
        """Until ``n`` acknowledgements arrived; AssertionError if the clients stalled."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._count >= n, timeout):
                raise AssertionError(f"only {self._count} of {n} operations acknowledged")
