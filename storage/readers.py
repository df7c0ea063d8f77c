"""The read connections: N threads, each with its own sqlite3 connection, sharing one queue.

Every ``Database.read`` is one job, ``(future, function)``, put on ONE queue that all the
reader threads take from, and the outcomes come back to the event loop in batches (issue 14,
1,000 random ``UID FETCH u (BODY.PEEK[])``, 10 in flight; bench/README.md "Opening a big
folder"). Two costs of the earlier design (an idle reader taken from an ``asyncio.Queue``,
a queue per thread, one ``call_soon_threadsafe`` per outcome) go:

- a job is put where any reader takes it: a reader that has just finished one takes the
  next without sleeping, so a job queued while readers are busy costs no thread wake-up
  (a futex wake while the event loop holds the GIL);
- an outcome is appended to a deque, and the loop is woken (self-pipe write, epoll,
  ``_read_from_self``) only if no wake-up is already on its way: one wake-up answers every
  read that finished meanwhile.

Measured alone (4 readers, 10 reads in flight, a read by primary key): 98 µs of CPU per
read before, 42 µs after.

Reads with a time limit (SEARCH) are kept from holding every reader by ``Database``'s
semaphore before they are queued, as before. A job whose caller was cancelled still runs;
its outcome is dropped.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# A job, or the order to close: the future then resolves once this thread's connection is
# closed, and the thread ends (one order per thread: each takes exactly one).
_Job = tuple[asyncio.Future[Any], Callable[[sqlite3.Connection], Any] | None]


class ReaderPool:
    """``count`` threads, each opening its own connection with ``connector`` and then
    running jobs from the one shared queue."""

    def __init__(self, count: int, name: str) -> None:
        self._count = count
        self._name = name
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._done: collections.deque[tuple[asyncio.Future[Any], bool, Any]] = (
            collections.deque())
        self._lock = threading.Lock()
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads: list[threading.Thread] = []

    def __len__(self) -> int:
        return len(self._threads)

    async def open(self, connector: Callable[[], sqlite3.Connection]) -> None:
        """Start the threads; each opens its connection on itself. If one fails, those
        opened are closed again and the error is raised."""
        self._loop = asyncio.get_running_loop()
        opened: list[asyncio.Future[None]] = []
        for i in range(self._count):
            fut: asyncio.Future[None] = self._loop.create_future()
            # Daemon threads: a Store nobody closed does not keep a process alive at exit
            # (as the writer's ``_Worker``).
            thread = threading.Thread(target=self._serve, args=(connector, fut),
                                      name=f"{self._name}-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
            opened.append(fut)
        results = await asyncio.gather(*opened, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            # The threads whose open failed have ended; the others wait for jobs.
            self._threads = [t for t, r in zip(self._threads, results, strict=True)
                             if not isinstance(r, BaseException)]
            await self.close()
            raise failed[0]

    def run(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """``fn(conn)`` on whichever reader is free first; the future resolves on the loop.
        The job runs even if the future is cancelled meanwhile."""
        assert self._loop is not None, "readers not opened"
        fut: asyncio.Future[T] = self._loop.create_future()
        self._jobs.put((fut, fn))
        return fut

    async def close(self) -> None:
        """Let every queued job finish (the orders to close come after them), then close
        each connection on its own thread."""
        if self._loop is None:
            return
        closed: list[asyncio.Future[Any]] = []
        for _ in self._threads:
            fut: asyncio.Future[Any] = self._loop.create_future()
            self._jobs.put((fut, None))
            closed.append(fut)
        self._threads = []
        await asyncio.gather(*closed, return_exceptions=True)

    # -- on the reader threads ------------------------------------------------------------

    def _serve(self, connector: Callable[[], sqlite3.Connection],
               opened: asyncio.Future[None]) -> None:
        try:
            conn = connector()
        except BaseException as exc:
            self._settle(opened, False, exc)
            return
        self._settle(opened, True, None)
        while True:
            fut, fn = self._jobs.get()
            if fn is None:
                try:
                    conn.close()
                finally:
                    self._settle(fut, True, None)
                return
            try:
                outcome: tuple[bool, Any] = (True, fn(conn))
            except BaseException as exc:
                outcome = (False, exc)
            self._settle(fut, *outcome)

    def _settle(self, fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
        """Hand an outcome to the loop; wake it only if no wake-up is already on its way
        (the deque is appended to first, so the pending ``_deliver`` sees it)."""
        self._done.append((fut, ok, value))
        with self._lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop is closed: nobody waits for this any more
            pass

    # -- on the loop ----------------------------------------------------------------------

    def _deliver(self) -> None:
        with self._lock:
            # Cleared before the deque is emptied: an outcome appended after this point
            # either is taken below or schedules a new ``_deliver``.
            self._wake_pending = False
        done = self._done
        while done:
            fut, ok, value = done.popleft()
            if fut.done():  # cancelled while the thread worked
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
