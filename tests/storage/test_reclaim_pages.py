"""Free pages given back by the reclaimer (storage/reclaim.py, issue 10 "Resources over
time"): incremental steps that really return what they count, one ``VACUUM`` instead once
the free pages outnumber the used ones, and a background share that grows with the backlog."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from functools import partial

import pytest

from crispin.storage import MailboxInfo, ReclaimPace, Store, User, reclaim

from .helpers import query

PARSED = {"envelope": b"NIL", "bodystructure": b"NIL", "body_simple": b"NIL",
          "text_headers": "subject: x", "text_body": "hello"}


async def churn(store: Store, user: User, n: int, kept: int = 5) -> MailboxInfo:
    """``n`` messages of ~6 KB (each on pages of its own), all but ``kept`` expunged."""
    box = await store.get_mailbox(user.id, "INBOX")
    assert box is not None
    store.inline_max = 1 << 20  # bodies in the database, where their pages are counted
    for i in range(n):
        flags = ("\\Deleted",) if i >= kept else ()
        await store.append_message(box.id, b"Subject: %d\r\n\r\n" % i + bytes([65 + i % 26]) * 6000,
                                   flags, None, PARSED)
    await store.expunge(box.id)
    return box


def free_pages(store: Store) -> int:
    [(free,)] = query(store.data_dir, "PRAGMA freelist_count")
    return int(free)


async def test_an_incremental_step_gives_back_every_page_it_counts(store: Store,
                                                                     user: User) -> None:
    """``PRAGMA incremental_vacuum(50)`` through Python's sqlite3 gave back ONE page (the
    pragma's empty result row ends the statement after its first step); the step counted
    50 all the same."""
    await churn(store, user, 60)
    await store.database.write(partial(reclaim.reclaim_step, vacuum_pages=0))
    before = free_pages(store)
    assert before > 100
    step = await store.database.write(partial(reclaim.reclaim_step, vacuum_pages=50))
    assert step.pages == 50
    assert free_pages(store) == before - 50


async def test_many_free_pages_are_given_back_by_one_vacuum(
        store: Store, user: User, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Once free pages are many and outnumber the used ones, no incremental step (each
    page costs a search of the free list, hours for millions) but one ``VACUUM``."""
    monkeypatch.setattr(reclaim, "FULL_VACUUM_MIN_PAGES", 20)
    given_back: list[int] = []
    real = reclaim.give_back
    monkeypatch.setattr(reclaim, "give_back",
                        lambda conn, pages: given_back.append(real(conn, pages)) or given_back[-1])
    box = await churn(store, user, 200)
    [(pages_before,)] = query(store.data_dir, "PRAGMA page_count")
    with caplog.at_level(logging.INFO, logger="crispin.storage"):
        totals = await store.reclaim(pace=ReclaimPace())
    assert totals.messages == 195
    assert sum(given_back) == 0  # no page by page
    assert totals.pages > 0
    assert free_pages(store) == 0
    [(pages_after,)] = query(store.data_dir, "PRAGMA page_count")
    assert pages_after < pages_before / 4
    assert pages_before - pages_after == totals.pages
    assert "VACUUM" in caplog.text
    assert (store.data_dir / "crispin.db-wal").stat().st_size == 0  # emptied after it
    # The live mail is intact.
    assert query(store.data_dir, "SELECT uid FROM mailbox_messages WHERE mailbox_id = ?"
                 " ORDER BY uid", (box.id,)) == [(1,), (2,), (3,), (4,), (5,)]
    assert query(store.data_dir, "PRAGMA integrity_check") == [("ok",)]


async def test_background_leaves_a_big_rewrite_to_maintenance(
        store: Store, user: User, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Beyond ``AUTO_VACUUM_MAX_BYTES`` of live pages the background reclaimer does not
    hold the writer for the rewrite: it says so; ``crispin maintenance`` (no pace) does."""
    monkeypatch.setattr(reclaim, "FULL_VACUUM_MIN_PAGES", 20)
    monkeypatch.setattr(reclaim, "AUTO_VACUUM_MAX_BYTES", 0)
    await churn(store, user, 200)
    with caplog.at_level(logging.WARNING, logger="crispin.storage"):
        background = await store.reclaim(pace=ReclaimPace())
    assert background.messages == 195 and background.pages == 0
    assert free_pages(store) > 20
    assert "crispin maintenance" in caplog.text
    assert (await store.reclaim()).pages > 0
    assert free_pages(store) == 0


def test_the_share_grows_with_the_backlog() -> None:
    """A quarter of the writer with nothing waiting, half once as many bodies wait as are
    in use (bench/README: at a quarter, 372,000 bodies piled up under 100 APPENDs/s)."""
    pace = ReclaimPace(share=0.25)
    pace.behind(0, 1000)
    assert pace.after(0.1, contended=True) == pytest.approx(0.3)
    pace.behind(500, 1000)
    assert pace.share == pytest.approx(0.375)
    pace.behind(5000, 1000)
    assert pace.share == pytest.approx(0.5)
    assert pace.after(0.1, contended=True) == pytest.approx(0.1)
    pace.behind(0, 0)
    assert pace.share == pytest.approx(0.25)


async def test_write_alone_runs_outside_a_transaction_in_a_turn_of_its_own(
        store: Store) -> None:
    """``Database.write_alone`` (for ``VACUUM``, which SQLite refuses in a transaction):
    writes queued before and after it are not batched with it."""
    db = store.database
    gate, inside = threading.Event(), threading.Event()

    def busy(conn: sqlite3.Connection) -> None:
        inside.set()
        gate.wait(60)

    seen: list[tuple[str, bool]] = []
    blocker = asyncio.ensure_future(db.write(busy))
    await asyncio.to_thread(inside.wait, 60)
    batches = db.batches
    first = asyncio.ensure_future(db.write(lambda c: seen.append(("a", c.in_transaction))))
    alone = asyncio.ensure_future(db.write_alone(
        lambda c: seen.append(("alone", c.in_transaction))))
    last = asyncio.ensure_future(db.write(lambda c: seen.append(("c", c.in_transaction))))
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(blocker, first, alone, last)
    assert seen == [("a", True), ("alone", False), ("c", True)]
    assert db.batches - batches == 3  # blocker, a, c: the lone one is no transaction

    with pytest.raises(Exception, match="no such table"):
        await db.write_alone(lambda c: c.execute("SELECT * FROM nowhere"))
    assert await db.write(lambda c: c.execute("SELECT 1").fetchone()[0]) == 1


async def test_the_checkpoint_after_a_vacuum_outlasts_an_older_snapshot(
        store: Store, user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader holding an older snapshot makes ``wal_checkpoint(TRUNCATE)`` answer busy
    (no exception): the file kept its old size and the WAL the whole database, until the
    server stopped (bench/README "Full size, third try").  The checkpoint is tried again."""
    monkeypatch.setattr(reclaim, "FULL_VACUUM_MIN_PAGES", 20)
    await churn(store, user, 200)
    await store.database.write(partial(reclaim.reclaim_step, vacuum_pages=0))
    db_file = store.data_dir / "crispin.db"
    size_before = db_file.stat().st_size
    reader = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    cursor = reader.execute("SELECT id FROM messages")
    cursor.fetchone()  # part-read: the snapshot stays
    busy: list[int] = []

    def release() -> None:
        busy.append(1)
        cursor.close()
        reader.execute("COMMIT")

    await store.database.write_alone(lambda c: c.execute("PRAGMA busy_timeout = 50").fetchall())
    pages = await store.database.write_alone(partial(reclaim.vacuum, on_busy=release))
    reader.close()
    assert busy == [1] and pages > 0
    assert (store.data_dir / "crispin.db-wal").stat().st_size == 0
    assert db_file.stat().st_size < size_before / 4


async def test_a_wal_left_full_by_a_held_snapshot_is_emptied_later(
        store: Store, user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """The full-size run (bench/README "Full size, fourth try") ended with the file back at
    323 MB but the WAL still holding the whole rewritten database (325 MB): the checkpoint's
    tries after the VACUUM all met a reader, and an idle server writes nothing that would
    cut the WAL back.  ``Store.empty_wal`` empties it once the readers are gone, without
    waiting on them meanwhile."""
    monkeypatch.setattr(reclaim, "FULL_VACUUM_MIN_PAGES", 20)
    monkeypatch.setattr(reclaim, "CHECKPOINT_TRIES", 1)
    monkeypatch.setattr(reclaim, "WAL_BYTES_KEPT", 0)
    await churn(store, user, 200)
    await store.database.write(partial(reclaim.reclaim_step, vacuum_pages=0))
    reader = sqlite3.connect(store.data_dir / "crispin.db", isolation_level=None,
                             check_same_thread=False)
    reader.execute("BEGIN")
    cursor = reader.execute("SELECT id FROM messages")
    cursor.fetchone()  # part-read: the snapshot stays
    await store.database.write_alone(lambda c: c.execute("PRAGMA busy_timeout = 50").fetchall())
    assert await store.database.write_alone(reclaim.vacuum) > 0
    assert store.wal_bytes() > 0
    assert not await store.empty_wal(tries=2, retry_seconds=0.01)
    assert store.wal_bytes() > 0
    cursor.close()
    reader.execute("COMMIT")
    reader.close()
    assert await store.empty_wal(tries=2, retry_seconds=0.01)
    assert store.wal_bytes() == 0
