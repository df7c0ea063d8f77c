"""Short reads on the event loop's own connection (``storage/inline_reads.py``, issue 14).

A read function runs on a reader first; once its runs have been short it runs at once on
the loop's thread, with no trip to a reader. One that runs past the budget there is
interrupted and answered by a reader, and goes to the readers from then on. Reads with a
time limit, reads marked ``inline=False`` and a store opened with ``inline=False`` never
run on the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from crispin.storage import Store, inline_reads
from crispin.storage.errors import Busy

from .helpers import FAST_N

# A statement that runs far past the budget (tens of ms of SQLite work) and then answers.
LONG_SQL = ("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?)"
            " SELECT count(*) FROM c")


def recorder(sql: str = "SELECT 7", args: tuple[object, ...] = ()
             ) -> tuple[Callable[[sqlite3.Connection], int], list[int]]:
    """A read function that notes the thread of each of its runs."""
    threads: list[int] = []

    def read(conn: sqlite3.Connection) -> int:
        threads.append(threading.get_ident())
        return int(conn.execute(sql, args).fetchone()[0])

    return read, threads


async def test_a_short_read_runs_on_a_reader_first_then_on_the_loop(store: Store) -> None:
    db = store.database
    assert db.inline is not None
    read, threads = recorder()
    loop_thread = threading.get_ident()
    runs = db.inline.runs
    assert await db.read(read) == 7
    assert threads[0] != loop_thread  # not seen yet: measured on a reader
    for _ in range(3):
        assert await db.read(read) == 7
    assert threads[1:] == [loop_thread] * 3
    assert db.inline.runs == runs + 3


async def test_a_read_on_the_loop_sees_the_last_write(store: Store) -> None:
    db = store.database
    await db.write(lambda c: c.execute("CREATE TABLE t (v INTEGER)"))
    read, threads = recorder("SELECT coalesce(max(v), 0) FROM t")
    await db.read(read)
    for v in range(1, 4):
        await db.write(lambda c, v=v: c.execute("INSERT INTO t VALUES (?)", (v,)))
        assert await db.read(read) == v
    assert threads[-1] == threading.get_ident()


async def test_a_read_past_the_budget_is_answered_by_a_reader(store: Store) -> None:
    db = store.database
    assert db.inline is not None
    n = [1]

    def read(conn: sqlite3.Connection) -> int:
        threads.append(threading.get_ident())
        return int(conn.execute(LONG_SQL, (n[0],)).fetchone()[0])

    threads: list[int] = []
    await db.read(read)
    assert await db.read(read) == 1  # short: on the loop
    assert threads[-1] == threading.get_ident()
    handed_on = db.inline.handed_on
    n[0] = 3_000_000  # well past 4 ms of SQLite work on any machine here
    assert await db.read(read) == 3_000_000  # the right answer, from a reader
    assert threads[-2] == threading.get_ident() and threads[-1] != threading.get_ident()
    assert db.inline.handed_on == handed_on + 1
    # Its mean is now past TYPICAL: the next run goes straight to a reader.
    n[0] = 1
    runs = len(threads)
    assert await db.read(read) == 1
    assert len(threads) == runs + 1 and threads[-1] != threading.get_ident()


async def test_a_function_back_to_short_runs_comes_back_to_the_loop(store: Store) -> None:
    db = store.database
    assert db.inline is not None
    read, threads = recorder()
    db.inline.note(inline_reads.kind(read), 10 * inline_reads.TYPICAL)
    for _ in range(30):
        await db.read(read)
        if threads[-1] == threading.get_ident():
            break
    assert threads[0] != threading.get_ident()
    assert threads[-1] == threading.get_ident()


async def test_an_error_of_a_read_on_the_loop_is_raised_as_from_a_reader(store: Store) -> None:
    db = store.database
    calls: list[int] = []

    def read(conn: sqlite3.Connection) -> int:
        calls.append(threading.get_ident())
        if len(calls) > 1:
            conn.execute("SELECT * FROM no_such_table")
        return 1

    assert await db.read(read) == 1
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await db.read(read)
    assert calls[-1] == threading.get_ident()
    assert len(calls) == 2  # not tried again elsewhere


async def test_a_busy_database_sends_the_read_to_a_reader(store: Store) -> None:
    db = store.database
    calls: list[int] = []

    def read(conn: sqlite3.Connection) -> int:
        calls.append(threading.get_ident())
        if len(calls) == 2:
            raise Busy("database is locked")
        return len(calls)

    assert await db.read(read) == 1
    assert await db.read(read) == 3  # tried on the loop, busy, answered by a reader
    assert calls[1] == threading.get_ident() and calls[2] != threading.get_ident()


async def test_reads_that_never_run_on_the_loop(store: Store) -> None:
    db = store.database
    read, threads = recorder()
    for _ in range(3):
        await db.read(read, inline=False)
        await db.read(read, time_limit=5.0)
    assert threading.get_ident() not in threads


async def test_a_store_opened_without_inline_reads(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "d", scrypt_n=FAST_N, inline=False)
    try:
        db = store.database
        assert db.inline is None
        read, threads = recorder()
        for _ in range(3):
            assert await db.read(read) == 7
        assert threading.get_ident() not in threads
    finally:
        await store.close()


async def test_reads_on_the_loop_and_on_readers_at_once(store: Store) -> None:
    """Many reads in flight, some on the loop and some on readers, each get their own
    answer."""
    db = store.database

    def square(k: int) -> Callable[[sqlite3.Connection], int]:
        return lambda conn: int(conn.execute("SELECT ? * ?", (k, k)).fetchone()[0])

    await db.read(square(0))
    results = await asyncio.gather(*(db.read(square(k), inline=k % 2 == 0)
                                     for k in range(100)))
    assert results == [k * k for k in range(100)]


def test_a_wrapped_read_is_known_by_what_it_wraps() -> None:
    """``with_alongside`` wraps reads of every cost in closures of one ``def``: each is
    measured as the function it wraps, partials unwrapped too."""
    from functools import partial

    from crispin.storage.alongside import Alongside, with_alongside

    def cheap(conn: sqlite3.Connection) -> int:
        return 1

    def dear(conn: sqlite3.Connection, n: int) -> int:
        return n

    also = Alongside(1)
    assert inline_reads.kind(with_alongside(cheap, also)) is cheap.__code__
    assert inline_reads.kind(with_alongside(partial(dear, n=2), also)) is dear.__code__
    assert inline_reads.kind(with_alongside(cheap, None)) is cheap.__code__
