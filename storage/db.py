"""The SQLite database: one writer with group commit, a few readers.

DESIGN.md "Storage" and "Speed": every public storage operation is ONE plain function
``fn(conn) -> result`` that does all its reads and writes on the database thread, so a
command costs one thread hop, not one per query.

Writes
    ``Database.write(fn)`` queues ``fn`` for the single writer task.  The writer takes every
    queued function (up to ``max_batch``), and runs them on its own thread inside one
    ``BEGIN IMMEDIATE`` transaction, each inside a SAVEPOINT: a function that raises is
    rolled back alone and its caller gets the exception; the others commit together, with
    one fsync (``synchronous=FULL`` in WAL mode).  While a batch commits, new writes queue
    up and form the next batch, so under load many sessions share one fsync, and a lone
    write is not delayed by any timer.  ``write`` returns only after COMMIT: everything
    answered OK is on disk.

    ``BEGIN IMMEDIATE`` plus ``busy_timeout`` make several ``Store`` objects or processes on
    one file safe (the CLI adding a user while the server runs): they queue on SQLite's
    write lock instead of failing at the first conflict.

Reads
    ``Database.read(fn)`` runs ``fn`` in a read transaction (one consistent WAL snapshot) on
    a small pool of ``query_only`` connections, in parallel with the writer.  A read issued
    after a ``write`` returned sees that write.

Threads
    Each connection is an ``aiosqlite.Connection``: its worker thread owns the sqlite3
    connection and runs queued work in order.  Storage hands it whole functions (through
    aiosqlite's function queue) instead of awaiting one query at a time, which is what
    DESIGN.md asks: one thread hop per operation.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from .errors import Busy, StorageError, TimeLimitExceeded
from .migrations import migrate

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
_Outcome = tuple[bool, Any]

DEFAULT_BUSY_TIMEOUT = 10.0
"""Seconds a connection waits for another process's lock before ``Busy``."""

PROGRESS_STEPS = 10000
"""SQLite virtual-machine instructions between two checks of a read's time limit (well under
a millisecond of work, so the check costs nothing and the limit is kept closely)."""


def connect(path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> sqlite3.Connection:
    """Open a connection with Crispin's settings: autocommit mode (transactions are
    explicit), foreign keys on, ``synchronous=FULL`` (a commit is durable when it returns)."""
    conn = sqlite3.connect(
        str(path),
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=256,
    )
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def translate(exc: BaseException) -> BaseException:
    """Map SQLite lock timeouts to ``Busy``; leave other exceptions alone."""
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        err = Busy(str(exc))
        err.__cause__ = exc
        return err
    return exc


class Database:
    """Connections to one SQLite file, bound to the event loop that opened it."""

    def __init__(
        self,
        path: Path,
        *,
        readers: int = 2,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        max_batch: int = 256,
    ) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._max_batch = max_batch
        self._readers_wanted = readers
        self._writer: aiosqlite.Connection | None = None
        self._wconn: sqlite3.Connection | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._idle_readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        # Reads with a time limit are the expensive ones (SEARCH): they may hold all readers
        # but one, so that every other command still finds a reader at once.
        self._limited_reads = asyncio.Semaphore(max(1, readers - 1))
        self._pending: collections.deque[tuple[Op, asyncio.Future[Any]]] = collections.deque()
        self._wakeup = asyncio.Event()
        self._writer_task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0
        """Number of write transactions committed (for tests and benchmarks)."""

    @property
    def reader_count(self) -> int:
        """Reader connections (each on its own thread) serving ``read`` in parallel."""
        return len(self._readers)

    @classmethod
    async def open(cls, path: Path, **kwargs: Any) -> Database:
        """Create the file if needed (mode 0600), switch to WAL, run migrations."""
        db = cls(path, **kwargs)
        loop = asyncio.get_running_loop()
        try:
            db._writer = await db._start(db._open_writer)
            for _ in range(db._readers_wanted):
                reader = await db._start(db._open_reader)
                db._readers.append(reader)
                db._idle_readers.put_nowait(reader)
        except BaseException:
            await db._close_connections()
            raise
        db._writer_task = loop.create_task(db._writer_loop(), name="crispin-db-writer")
        return db

    async def _start(self, connector: Callable[[], sqlite3.Connection]) -> aiosqlite.Connection:
        """A started aiosqlite connection whose thread opened its sqlite3 connection with
        ``connector`` (so the pragmas and migrations run on that thread)."""
        conn = aiosqlite.Connection(connector, iter_chunk_size=64)
        # A Store nobody closed must not keep the process alive at exit (aiosqlite's worker
        # waits on its queue forever); stopping mid-transaction is a crash SQLite recovers
        # from, and nothing unanswered was promised.
        conn._thread.daemon = True
        return await conn

    @staticmethod
    async def _run(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the connection's own thread (aiosqlite's function queue)."""
        # aiosqlite's own queue of work for its thread (what its execute() uses), unannotated.
        result: T = await conn._execute(partial(fn, *args))  # type: ignore[no-untyped-call]
        return result

    def _open_reader(self) -> sqlite3.Connection:
        conn = connect(self.path, self._busy_timeout)
        conn.execute("PRAGMA query_only = ON")
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        # Pre-create the file so SQLite inherits mode 0600 for it and for -wal/-shm.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        conn = connect(self.path, self._busy_timeout)
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"cannot switch {self.path} to WAL mode (got {mode!r})")
            conn.execute("PRAGMA journal_size_limit = 67108864")
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        self._wconn = conn
        return conn

    # -- writes ---------------------------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in a write transaction; return its result once committed.

        If ``fn`` raises, its changes are rolled back and the exception propagates here.
        ``fn`` runs on the writer thread and must not touch the event loop.
        """
        if self._closed:
            raise StorageError("database is closed")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((fn, fut))
        self._wakeup.set()
        return await fut

    async def _writer_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch: list[tuple[Op, asyncio.Future[Any]]] = []
                while self._pending and len(batch) < self._max_batch:
                    job = self._pending.popleft()
                    if not job[1].cancelled():
                        batch.append(job)
                if not batch:
                    continue
                fns = [fn for fn, _ in batch]
                try:
                    assert self._writer is not None
                    outcomes = await self._run(self._writer, self._run_batch, fns)
                except asyncio.CancelledError:
                    # Loop shutdown: the batch may still commit on the thread, but nobody
                    # waits for it any more.  Never swallow the cancellation.
                    for _, fut in batch:
                        fut.cancel()
                    raise
                except Exception as exc:  # executor gone; should not happen
                    outcomes = [(False, StorageError(f"writer failed: {exc!r}"))] * len(batch)
                for (_, fut), (ok, value) in zip(batch, outcomes, strict=True):
                    if fut.done():
                        continue
                    if ok:
                        fut.set_result(value)
                    else:
                        fut.set_exception(value)
            if self._closed:
                return

    def _run_batch(self, fns: list[Op]) -> list[_Outcome]:
        """Writer thread: one transaction, one savepoint per operation, one commit."""
        conn = self._wconn
        assert conn is not None
        try:
            conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            return [(False, _fresh(translate(exc))) for _ in fns]
        outcomes: list[_Outcome] = []
        try:
            if len(fns) == 1:
                # Alone: no savepoint needed; a failure rolls back without any fsync.
                try:
                    outcomes.append((True, fns[0](conn)))
                except Exception as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    return [(False, translate(exc))]
            else:
                for fn in fns:
                    conn.execute("SAVEPOINT op")
                    try:
                        value = fn(conn)
                    except Exception as exc:
                        if not conn.in_transaction:  # SQLite aborted the whole batch
                            raise
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                        outcomes.append((False, translate(exc)))
                    else:
                        conn.execute("RELEASE op")
                        outcomes.append((True, value))
            conn.execute("COMMIT")
        except BaseException as exc:  # the whole transaction is lost: every operation fails
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            return [(False, _fresh(translate(exc))) for _ in fns]
        self.batches += 1
        return outcomes

    # -- reads ----------------------------------------------------------------------------

    async def read(self, fn: Callable[[sqlite3.Connection], T], *,
                   time_limit: float | None = None) -> T:
        """Run ``fn(conn)`` in one read transaction on an idle reader connection.

        With ``time_limit`` (seconds), SQLite itself interrupts ``fn``'s statements once the
        time is up (a progress handler) and ``TimeLimitExceeded`` is raised; such reads never
        occupy the last free reader, so a costly one delays nobody else's commands."""
        if self._closed:
            raise StorageError("database is closed")
        if time_limit is not None:
            async with self._limited_reads:
                return await self._read_on_reader(self._run_limited, fn, time_limit)
        return await self._read_on_reader(self._run_read, fn)

    async def _read_on_reader(self, runner: Callable[..., T], *args: Any) -> T:
        reader = await self._idle_readers.get()
        try:
            return await self._run(reader, runner, reader._conn, *args)
        finally:
            self._idle_readers.put_nowait(reader)

    @classmethod
    def _run_limited(cls, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T],
                     time_limit: float) -> T:
        deadline = time.monotonic() + time_limit
        conn.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
        try:
            return cls._run_read(conn, fn)
        except sqlite3.OperationalError as exc:
            if "interrupt" in str(exc):
                raise TimeLimitExceeded(f"read interrupted after {time_limit} s") from exc
            raise
        finally:
            conn.set_progress_handler(None, 0)

    @staticmethod
    def _run_read(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn.execute("BEGIN")
        try:
            return fn(conn)
        except sqlite3.OperationalError as exc:
            err = translate(exc)
            if err is exc:
                raise
            raise err from exc
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    # -- shutdown -------------------------------------------------------------------------

    async def close(self) -> None:
        """Finish queued writes, then close every connection.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wakeup.set()
        if self._writer_task is not None:
            await self._writer_task
        # Let reads already running finish before their connections close.
        for _ in self._readers:
            await self._idle_readers.get()
        await self._close_connections()

    async def _close_connections(self) -> None:
        for reader in self._readers:
            with contextlib.suppress(Exception):
                await reader.close()
        self._readers.clear()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer.close()  # the last connection checkpoints the WAL
            self._writer = None
            self._wconn = None


def _fresh(exc: BaseException) -> BaseException:
    """A separate exception per caller when one failure hits a whole batch."""
    if isinstance(exc, StorageError):
        err: BaseException = type(exc)(*exc.args)
    else:
        err = StorageError(f"write transaction failed: {exc}")
    err.__cause__ = exc
    return err
