"""Reads with a time limit (issue 11 point 3): interrupted inside SQLite once the time is up,
and never holding the last free reader, so other reads go on meanwhile."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from crispin.storage import Store, TimeLimitExceeded

ENDLESS = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)"
           " SELECT count(*) FROM n")


async def test_a_read_past_its_time_limit_is_interrupted(store: Store) -> None:
    def endless(conn: sqlite3.Connection) -> int:
        return int(conn.execute(ENDLESS).fetchone()[0])

    with pytest.raises(TimeLimitExceeded):
        await store.database.read(endless, time_limit=0.05)
    # The reader is usable afterwards, without the limit.
    assert await store.database.read(lambda c: c.execute("SELECT 7").fetchone()[0]) == 7


async def test_limited_reads_leave_a_reader_for_the_others(store: Store) -> None:
    """Two costly reads at once: the second waits for the first; an ordinary read goes
    through on the reader left free, while both wait."""
    release = threading.Event()
    started = threading.Event()
    order: list[str] = []

    def costly(conn: sqlite3.Connection) -> str:
        started.set()
        release.wait(30)
        order.append("costly")
        return "costly"

    db = store.database
    first = asyncio.ensure_future(db.read(costly, time_limit=60))
    second = asyncio.ensure_future(db.read(costly, time_limit=60))
    await asyncio.to_thread(started.wait, 30)
    # Both costly reads are queued or running, yet a plain read is answered now.
    assert await db.read(lambda c: c.execute("SELECT 1").fetchone()[0]) == 1
    assert order == []
    release.set()
    assert await asyncio.gather(first, second) == ["costly", "costly"]
