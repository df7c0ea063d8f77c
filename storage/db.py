"""The SQLite database: one writer with group commit, a few readers.

DESIGN.md "Storage" and "Speed": every public storage operation is ONE plain function
``fn(conn) -> result`` that does all its reads and writes on the database thread, so a
command costs one thread hop, not one per query.

Writes
    ``Database.write(fn)`` queues ``fn`` for the single writer task.  The writer takes every
    queued function (up to ``max_batch``), and runs them on its own thread inside one
    ``BEGIN IMMEDIATE`` transaction, each inside a SAVEPOINT: a function that raises is
    rolled back alone and its caller gets the exception; the others commit together, with
    one fsync (``synchronous=FULL`` in WAL mode; see ``connect`` for NORMAL).  While a
    batch commits, new writes queue up and form the next batch, so under load many
    sessions share one fsync, and a lone write is not delayed by any timer.  ``write``
    returns only after COMMIT: everything answered OK is on disk.

    A write once queued is carried out even if its caller is cancelled meanwhile (a client
    that disconnects mid-command): the caller gets ``CancelledError``, the change commits
    all the same, as if the cancellation had come just after.  So "was it written?" never
    depends on the moment a task was cancelled.

    If the writer task ever stops other than by ``close()`` (a bug, the loop shutting down),
    its done-callback fails every queued write and every later one with ``StorageError``:
    writes fail loudly instead of waiting forever.

    After each COMMIT, subscribers get a report of what the transaction changed (see
    ``commits.py``).

    ``BEGIN IMMEDIATE`` plus ``busy_timeout`` make several ``Store`` objects or processes on
    one file safe (the CLI adding a user while the server runs): they queue on SQLite's
    write lock instead of failing at the first conflict.

Reads
    ``Database.read(fn)`` runs ``fn`` in a read transaction (one consistent WAL snapshot) on
    a small pool of ``query_only`` connections, in parallel with the writer.  A read issued
    after a ``write`` returned sees that write.  A read whose function has been short runs
    at once on the event loop's own ``query_only`` connection instead, with no thread hop
    (``inline_reads.py``).

Threads
    Each connection has its own thread that opens the sqlite3 connection and alone uses it
    (the writer's ``_Worker``; the readers' ``readers.ReaderPool``, whose threads share one
    queue of jobs and wake the loop once for all the outcomes ready).  Storage hands it
    whole functions: one thread hop per operation.  Only public APIs of the
    standard library are used (earlier versions borrowed aiosqlite's private worker queue,
    ``Connection._execute``/``_thread``/``_conn``, which does not exist in every release
    that pyproject allowed).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from . import commits, inline_reads
from .errors import Busy, StorageError, TimeLimitExceeded
from .migrations import migrate
from .readers import ReaderPool

log = logging.getLogger("crispin.storage")

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
_Outcome = tuple[bool, Any]

DEFAULT_BUSY_TIMEOUT = 10.0
"""Seconds a connection waits for another process's lock before ``Busy``."""

PROGRESS_STEPS = 10000
"""SQLite virtual-machine instructions between two checks of a read's time limit (well under
a millisecond of work, so the check costs nothing and the limit is kept closely)."""


SYNCHRONOUS = ("full", "normal")
"""``PRAGMA synchronous`` settings a store may use (``Database(synchronous=...)``)."""


def connect(path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
            synchronous: str = "full") -> sqlite3.Connection:
    """Open a connection with Crispin's settings: autocommit mode (transactions are
    explicit), foreign keys on, ``synchronous=FULL`` by default.

    In WAL mode (SQLite "PRAGMA synchronous", "WAL mode"): FULL fsyncs the WAL at every
    COMMIT, so a commit is durable when it returns, even against power loss (DESIGN.md
    "Storage").  NORMAL writes the WAL at COMMIT but fsyncs it only at checkpoints: a
    commit survives the process being killed (SIGKILL: the data is in the kernel's page
    cache, and the WAL is replayed at the next open) but the last commits may be lost if
    the machine loses power; the database stays consistent either way.  NORMAL is for a
    throw-away test mail server (``database.synchronous``); it saves one fsync per
    group-commit batch."""
    if synchronous not in SYNCHRONOUS:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS}, got {synchronous!r}")
    conn = sqlite3.connect(
        str(path),
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=256,
    )
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    return conn


def translate(exc: BaseException) -> BaseException:
    """Map SQLite lock timeouts to ``Busy``; leave other exceptions alone."""
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        err = Busy(str(exc))
        err.__cause__ = exc
        return err
    return exc


class _Worker:
    """One sqlite3 connection and the one thread that uses it.

    The thread takes ``(future, function)`` jobs from a queue, runs each, and hands the
    outcome back with ``loop.call_soon_threadsafe``: one hop to the thread, one back, and no
    more machinery (``loop.run_in_executor`` costs ~1.5x the CPU per call: chained
    concurrent and asyncio futures; bench/README.md "Database thread hops").  A daemon
    thread, so a Store nobody closed does not keep a process alive at exit (stopping
    mid-transaction is a crash SQLite recovers from, and nothing unanswered was promised).
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[asyncio.Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._conn: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "worker not opened"
        return self._conn

    async def open(self, connector: Callable[[], sqlite3.Connection]) -> None:
        """Open the connection on the worker's thread (pragmas and migrations run there)."""
        self._conn = await self.run(connector)

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(*args)`` on the worker's thread; the future resolves on the event loop.  The
        job runs even if the future is cancelled meanwhile."""
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.put((fut, partial(fn, *args)))
        return fut

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            fut, fn = job
            try:
                outcome: tuple[bool, Any] = (True, fn())
            except BaseException as exc:
                outcome = (False, exc)
            try:
                fut.get_loop().call_soon_threadsafe(_settle, fut, outcome)
            except RuntimeError:  # the loop is closed: nobody waits for this any more
                pass

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                await self.run(conn.close)
        finally:
            self._jobs.put(None)


class _Alone:
    """A ``Database.write_alone`` operation: run by itself, outside a transaction."""

    __slots__ = ("fn",)

    def __init__(self, fn: Op) -> None:
        self.fn = fn

    def __call__(self, conn: sqlite3.Connection) -> Any:
        return self.fn(conn)


def _settle(fut: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if fut.done():  # cancelled while the thread worked
        return
    ok, value = outcome
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class Database:
    """Connections to one SQLite file, bound to the event loop that opened it."""

    def __init__(
        self,
        path: Path,
        *,
        readers: int = 2,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        max_batch: int = 256,
        synchronous: str = "full",
        inline: bool = True,
    ) -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS}, got {synchronous!r}")
        self.path = path
        self._synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._max_batch = max_batch
        self._writer: _Worker | None = None
        self._readers = ReaderPool(readers, "crispin-db-reader")
        self._inline_wanted = inline
        self.inline: inline_reads.InlineReads | None = None
        """Short reads on the loop's own connection (None: every read goes to a reader)."""
        # Reads with a time limit are the expensive ones (SEARCH): they may hold all readers
        # but one, so that every other command still finds a reader at once.
        self._limited_reads = asyncio.Semaphore(max(1, readers - 1))
        # Each write with its origin (``commits.ORIGIN`` when it was queued).
        self._pending: collections.deque[tuple[Op, asyncio.Future[Any], object]] = (
            collections.deque())
        self._wakeup = asyncio.Event()
        # Set while no write is queued or running: background work (reclaiming) waits for
        # it, so that it never shares a transaction with, or delays, a session's write.
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._writer_task: asyncio.Task[None] | None = None
        self._closed = False
        self._dead: StorageError | None = None
        self._subscribers: list[commits.Subscriber] = []
        self.batches = 0
        """Number of write transactions committed (for tests and benchmarks)."""
        self.report_origins = False
        """Whether a batch of writes of several origins is reported one origin's run of
        writes at a time (set while somebody tells a session's own changes from others':
        NOTIFY, unsolicited METADATA); otherwise one report for the batch, whose origin is
        None unless its writes share one."""
        self.writes = 0
        """Number of ``write`` operations run (committed or failed): background work
        compares it before and after its own step to tell whether sessions wrote meanwhile."""

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
            db._writer = _Worker("crispin-db-writer")
            await db._writer.open(db._open_writer)
            await db._readers.open(db._open_reader)
            if db._inline_wanted:
                # No busy wait on the loop: a read that finds the file busy goes to a reader.
                db.inline = inline_reads.InlineReads(db._open_reader(busy_timeout=0.0))
        except BaseException:
            await db._close_connections()
            raise
        db._writer_task = loop.create_task(db._writer_loop(), name="crispin-db-writer")
        db._writer_task.add_done_callback(db._writer_stopped)
        return db

    def _open_reader(self, busy_timeout: float | None = None) -> sqlite3.Connection:
        conn = connect(self.path, self._busy_timeout if busy_timeout is None else busy_timeout,
                       self._synchronous)
        conn.execute("PRAGMA query_only = ON")
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        # Pre-create the file so SQLite inherits mode 0600 for it and for -wal/-shm.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        conn = connect(self.path, self._busy_timeout, self._synchronous)
        try:
            if conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] == 0:
                # A new database: free pages can be given back step by step (reclaim.py).
                # Only possible before the file is initialised (WAL mode does that).
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"cannot switch {self.path} to WAL mode (got {mode!r})")
            # After a checkpoint the WAL is cut back to 4 MiB (what the automatic
            # checkpoint lets it reach between two checkpoints anyway) rather than keeping
            # the size of the largest transaction ever (an EXPUNGE of 100,000 messages):
            # reclaimed space is given back (bench/README.md "Reclaiming expunged mail").
            conn.execute("PRAGMA journal_size_limit = 4194304")
            migrate(conn)
            commits.install(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    # -- commit reports ---------------------------------------------------------------------

    def on_commit(self, callback: commits.Subscriber) -> Callable[[], None]:
        """Call ``callback(report)`` on the event loop after every COMMIT that changed a
        mailbox (``commits.py``); returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    # -- writes ---------------------------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in a write transaction; return its result once committed.

        If ``fn`` raises, its changes are rolled back and the exception propagates here.
        ``fn`` runs on the writer thread and must not touch the event loop.  Once called,
        the write happens even if the caller is cancelled (see the module docstring).
        """
        if self._dead is not None:
            raise StorageError(str(self._dead))
        if self._closed:
            raise StorageError("database is closed")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # Nobody may be left to read the outcome of a cancelled caller's write.
        fut.add_done_callback(_consume)
        self._pending.append((fn, fut, commits.ORIGIN.get()))
        self._quiet.clear()
        self._wakeup.set()
        return await asyncio.shield(fut)

    @property
    def queued_writes(self) -> int:
        """Writes waiting for the writer (not counting the batch it is running)."""
        return len(self._pending)

    async def quiet(self) -> None:
        """Until no write is queued or running: what background writes (``Store.reclaim``)
        wait for first, so that sessions' writes go before them."""
        await self._quiet.wait()

    def _writer_stopped(self, task: asyncio.Task[None]) -> None:
        """Done-callback of the writer task: unless closed normally, fail every waiting and
        future write instead of letting them wait for a writer that is gone."""
        if task.cancelled():
            reason = "the database writer was cancelled"
        elif task.exception() is not None:
            reason = f"the database writer failed: {task.exception()!r}"
            log.error("database writer stopped", exc_info=task.exception())
        elif self._closed:
            return
        else:
            reason = "the database writer stopped"
        self._dead = StorageError(reason)
        self._quiet.set()  # nobody waits for a writer that is gone; their write fails
        while self._pending:
            _, fut, _ = self._pending.popleft()
            if not fut.done():
                fut.set_exception(StorageError(reason))

    async def write_alone(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the writer thread outside any transaction, in a turn of its
        own (no other write shares it): for what SQLite refuses inside a transaction
        (``VACUUM``).  ``fn`` manages its own transactions; no commit report follows."""
        return await self.write(_Alone(fn))

    def _take_batch(self) -> list[tuple[Op, asyncio.Future[Any], object]]:
        batch: list[tuple[Op, asyncio.Future[Any], object]] = []
        while self._pending and len(batch) < self._max_batch:
            alone = isinstance(self._pending[0][0], _Alone)
            if alone and batch:
                break
            batch.append(self._pending.popleft())
            if alone:
                break
        return batch

    async def _writer_loop(self) -> None:
        writer = self._writer
        assert writer is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._take_batch()
                self.writes += len(batch)
                fns = [fn for fn, _, _ in batch]
                origins = [origin for _, _, origin in batch]
                try:
                    outcomes, reports = await writer.run(self._run_batch, fns, origins)
                except asyncio.CancelledError:
                    # Loop shutdown: the batch may still commit on the thread, but nobody
                    # waits for it any more.  Never swallow the cancellation.
                    for _, fut, _ in batch:
                        fut.cancel()
                    raise
                except Exception as exc:  # executor gone; should not happen
                    outcomes = [(False, StorageError(f"writer failed: {exc!r}"))] * len(batch)
                    reports = []
                for (_, fut, _), (ok, value) in zip(batch, outcomes, strict=True):
                    if fut.done():
                        continue
                    if ok:
                        fut.set_result(value)
                    else:
                        fut.set_exception(value)
                for report in reports:
                    commits.deliver(self._subscribers, report)
            self._quiet.set()
            if self._closed:
                return

    def _run_batch(self, fns: list[Op], origins: list[object]
                   ) -> tuple[list[_Outcome], list[commits.CommitReport]]:
        """Writer thread: one transaction, one savepoint per operation, one commit; the
        reports of what it changed (none when nothing, or when it did not commit).

        With ``report_origins``, the log is drained after each run of writes of one origin,
        and each report says whose writes it describes (``commits.ORIGIN``): NOTIFY leaves
        out only the changes the session made itself, not another session's committed in
        the same batch (RFC 5465 §5).  Each drain costs a few queries on the writer, so
        without anyone to tell, the batch gets one report."""
        conn = self.writer_connection
        if isinstance(fns[0], _Alone):
            try:
                return [(True, fns[0].fn(conn))], []
            except Exception as exc:
                return [(False, translate(exc))], []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            return [(False, _fresh(translate(exc))) for _ in fns], []
        outcomes: list[_Outcome] = []
        reports: list[commits.CommitReport] = []
        split = self.report_origins
        try:
            if len(fns) == 1:
                # Alone: no savepoint needed; a failure rolls back without any fsync.
                try:
                    outcomes.append((True, fns[0](conn)))
                except Exception as exc:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    return [(False, translate(exc))], []
            else:
                for i, fn in enumerate(fns):
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
                    if split and i + 1 < len(fns) and origins[i + 1] is not origins[i]:
                        report = commits.drain(conn, origins[i])
                        if report is not None:
                            reports.append(report)
            last = origins[-1]
            if not split and any(origin is not last for origin in origins):
                last = None
            report = commits.drain(conn, last)
            if report is not None:
                reports.append(report)
            conn.execute("COMMIT")
        except BaseException as exc:  # the whole transaction is lost: every operation fails
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            return [(False, _fresh(translate(exc))) for _ in fns], []
        self.batches += 1
        return outcomes, reports

    @property
    def writer_connection(self) -> sqlite3.Connection:
        """The writer's sqlite3 connection: for functions already running on the writer
        thread only."""
        assert self._writer is not None
        return self._writer.conn

    # -- reads ----------------------------------------------------------------------------

    async def read(self, fn: Callable[[sqlite3.Connection], T], *,
                   time_limit: float | None = None, inline: bool = True) -> T:
        """Run ``fn(conn)`` in one read transaction on an idle reader connection, or at
        once on the loop's own connection if ``fn`` has been short (``inline_reads.py``).

        With ``time_limit`` (seconds), SQLite itself interrupts ``fn``'s statements once the
        time is up (a progress handler) and ``TimeLimitExceeded`` is raised; such reads never
        occupy the last free reader, so a costly one delays nobody else's commands.  They
        and reads with ``inline=False`` (``fn`` also waits on files or other threads) always
        go to a reader."""
        if self._closed:
            raise StorageError("database is closed")
        if time_limit is not None:
            async with self._limited_reads:
                return await self._read_on_reader(self._run_limited, fn, time_limit)
        here = self.inline
        if here is None or not inline:
            return await self._read_on_reader(self._run_read, fn)
        key = inline_reads.kind(fn)
        runner = partial(self._run_read, fn=fn)
        if here.suits(key):
            done, value = here.run(key, runner)
            if done:
                return value  # type: ignore[return-value]
        return await self._readers.run(here.measured(key, runner))

    async def _read_on_reader(self, runner: Callable[..., T], *args: Any) -> T:
        return await self._readers.run(lambda conn: runner(conn, *args))

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
        if self._writer_task is not None and not self._writer_task.done():
            await self._writer_task
        # Reads already queued finish before their connections close (``ReaderPool``).
        await self._close_connections()

    async def _close_connections(self) -> None:
        with contextlib.suppress(Exception):
            await self._readers.close()
        if self.inline is not None:
            with contextlib.suppress(Exception):
                self.inline.close()
            self.inline = None
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer.close()  # the last connection checkpoints the WAL
            self._writer = None


def _consume(fut: asyncio.Future[Any]) -> None:
    """Mark the outcome of a write as retrieved (its caller may have been cancelled)."""
    if not fut.cancelled():
        fut.exception()


def _fresh(exc: BaseException) -> BaseException:
    """A separate exception per caller when one failure hits a whole batch."""
    if isinstance(exc, StorageError):
        err: BaseException = type(exc)(*exc.args)
    else:
        err = StorageError(f"write transaction failed: {exc}")
    err.__cause__ = exc
    return err
