"""The reader pool (``storage/readers.py``): one shared queue, outcomes handed back in
batches. Every read gets its own outcome, in any order the threads finish them; a failing
read fails alone; reads queued before ``close`` are answered before the connections go."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from crispin.storage import Store

from .helpers import FAST_N


async def test_many_reads_in_flight_each_get_their_own_answer(store: Store) -> None:
    db = store.database

    def square(k: int) -> Callable[[sqlite3.Connection], int]:
        return lambda conn: int(conn.execute("SELECT ? * ?", (k, k)).fetchone()[0])

    results = await asyncio.gather(*(db.read(square(k)) for k in range(200)))
    assert results == [k * k for k in range(200)]


async def test_a_failing_read_fails_alone(store: Store) -> None:
    db = store.database

    def bad(conn: sqlite3.Connection) -> int:
        conn.execute("SELECT * FROM no_such_table")
        return 0

    ok1 = db.read(lambda c: int(c.execute("SELECT 1").fetchone()[0]))
    failing = db.read(bad)
    ok2 = db.read(lambda c: int(c.execute("SELECT 2").fetchone()[0]))
    out = await asyncio.gather(ok1, failing, ok2, return_exceptions=True)
    assert out[0] == 1 and out[2] == 2
    assert isinstance(out[1], sqlite3.OperationalError)


async def test_a_cancelled_read_leaves_the_pool_working(store: Store) -> None:
    db = store.database
    release = threading.Event()
    started = threading.Event()

    def slow(conn: sqlite3.Connection) -> int:
        started.set()
        release.wait(30)
        return 5

    task = asyncio.ensure_future(db.read(slow))
    await asyncio.to_thread(started.wait, 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    # The cancelled read's outcome is dropped; the next reads are answered.
    assert await asyncio.gather(*(db.read(lambda c: 3) for _ in range(10))) == [3] * 10


async def test_close_answers_the_reads_already_queued(data_dir: Path) -> None:
    s = await Store.open(data_dir, scrypt_n=FAST_N)
    release = threading.Event()
    started = threading.Event()

    def slow(conn: sqlite3.Connection) -> int:
        started.set()
        release.wait(30)
        return int(conn.execute("SELECT 9").fetchone()[0])

    reads = [asyncio.ensure_future(s.database.read(slow)) for _ in range(6)]
    await asyncio.to_thread(started.wait, 30)
    closing = asyncio.ensure_future(s.close())
    release.set()
    await closing
    assert [await r for r in reads] == [9] * 6
