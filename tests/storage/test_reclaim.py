"""Reclaiming expunged mail (storage/reclaim.py): bodies, blob files, tombstones and free
pages go; QRESYNC still learns what vanished (RFC 7162 §3.2.6, a superset once compacted)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import string
import threading
from pathlib import Path

import pytest

from crispin.storage import MailboxInfo, ReclaimPace, Store, User
from crispin.storage.search import TextContains

from .helpers import db_path, query

PARSED = {"envelope": b"NIL", "bodystructure": b"NIL", "body_simple": b"NIL",
          "text_headers": "subject: x", "text_body": "hello"}


async def inbox(store: Store, user: User) -> MailboxInfo:
    box = await store.get_mailbox(user.id, "INBOX")
    assert box is not None
    return box


async def append(store: Store, box: MailboxInfo, body: bytes, *flags: str) -> int:
    uid, _ = await store.append_message(box.id, body, flags, None, PARSED)
    return uid


def blob_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]


async def test_expunged_bodies_files_and_text_are_reclaimed(store: Store, user: User) -> None:
    box = await inbox(store, user)
    store.inline_max = 100
    big = [await append(store, box, b"Subject: %d\r\n\r\n" % i + b"x" * 1000, "\\Deleted")
           for i in range(3)]
    await append(store, box, b"Subject: small\r\n\r\nkept")
    assert len(blob_files(store.data_dir)) == 3
    gone, _ = await store.expunge(box.id)
    assert gone == big
    totals = await store.reclaim()
    assert (totals.messages, totals.files) == (3, 3)
    assert blob_files(store.data_dir) == []
    assert query(store.data_dir, "SELECT count(*) FROM messages") == [(1,)]
    for table in ("message_text", "message_headers"):
        assert query(store.data_dir, f"SELECT count(*) FROM {table}"
                     " WHERE message_id NOT IN (SELECT id FROM messages)") == [(0,)]
    assert (await store.reclaim()).messages == 0  # nothing left


async def test_body_shared_with_a_live_copy_stays(store: Store, user: User) -> None:
    box = await inbox(store, user)
    other = await store.create_mailbox(user.id, "Other")
    store.inline_max = 10
    uid = await append(store, box, b"Subject: s\r\n\r\n" + b"y" * 100, "\\Deleted")
    await store.copy_messages(box.id, [uid], other.id)
    await store.expunge(box.id)
    assert (await store.reclaim()).files == 0
    assert len(blob_files(store.data_dir)) == 1
    assert await store.message_body(other.id, 1) is not None


async def test_tombstones_compacted_and_vanished_is_a_superset(store: Store,
                                                               user: User) -> None:
    box = await inbox(store, user)
    uids = [await append(store, box, b"Subject: %d\r\n\r\nx" % i) for i in range(12)]
    start = (await store.changes_since(box.id, 0)).highest_modseq
    modseqs = []
    for uid in uids[:10]:  # ten expunges, one at a time
        await store.store_flags(box.id, [uid], "add", ["\\Deleted"])
        _, modseq = await store.expunge(box.id, [uid])
        modseqs.append(modseq)
    exact_before = (await store.changes_since(box.id, modseqs[5])).expunged
    assert exact_before == uids[6:10]

    totals = await store.reclaim(keep=4)
    assert totals.tombstones == 6
    assert query(store.data_dir, "SELECT count(*) FROM expunged") == [(4,)]
    # Still exact from a modseq at or after the compacted ones...
    assert (await store.changes_since(box.id, modseqs[5])).expunged == exact_before
    # ...and a superset (every UID not in the mailbox) from before: nothing is missed.
    old = await store.changes_since(box.id, start)
    assert old.expunged == uids[:10]
    older = await store.changes_since(box.id, modseqs[2])
    assert set(uids[3:10]) <= set(older.expunged)
    assert not set(older.expunged) & set(uids[10:])


async def test_free_pages_given_back(store: Store, user: User) -> None:
    box = await inbox(store, user)
    for i in range(300):
        await append(store, box, b"Subject: %d\r\n\r\n" % i + b"z" * 4000, "\\Deleted")
    size_full = db_path(store.data_dir).stat().st_size
    await store.expunge(box.id)
    totals = await store.reclaim()
    assert totals.pages > 0
    await store.database.write(lambda c: c.execute("SELECT 1"))
    assert query(store.data_dir, "PRAGMA freelist_count") == [(0,)]
    await store.close()  # checkpoints the WAL into the file
    assert db_path(store.data_dir).stat().st_size < size_full / 2


async def test_no_body_reclaimed_while_a_snapshot_is_open(store: Store, user: User) -> None:
    """A snapshot's rows name body files: restoring it must find them."""
    box = await inbox(store, user)
    store.inline_max = 10
    await append(store, box, b"Subject: s\r\n\r\n" + b"y" * 100, "\\Deleted")
    snapshot = await store.snapshot()
    await store.expunge(box.id)
    assert (await store.reclaim()).files == 0
    await store.restore(snapshot)
    assert await store.message_body(box.id, 1) is not None
    await store.expunge(box.id)
    snapshot.close()
    assert (await store.reclaim()).files == 1
    assert blob_files(store.data_dir) == []


def index_bytes(data_dir: Path) -> int:
    """Bytes of the full-text index's segments (SQLite ``dbstat``)."""
    [(size,)] = query(data_dir, "SELECT coalesce(sum(pgsize), 0) FROM dbstat"
                                " WHERE name = 'message_text_fts_data'")
    return int(size)


def words(seed: int, n: int = 300) -> str:
    """Distinct text per message, so each adds its own trigrams to the index."""
    rng = random.Random(seed)
    return " ".join("".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9)))
                    for _ in range(n))


async def test_full_text_index_of_expunged_mail_is_merged_away(store: Store,
                                                                 user: User) -> None:
    """FTS5 keeps a deleted document's entries (and writes a delete marker) until segments
    are merged; the reclaimer merges once many were deleted, and the pages come back."""
    live = await store.create_mailbox(user.id, "Live")
    box = await inbox(store, user)
    for i in range(40):
        await store.append_message(live.id, b"Subject: live %d\r\n\r\nx" % i, (), None,
                                   {**PARSED, "text_body": words(i)})
    await store.index_text_backlog(1000)  # what the server does after the commits
    live_index = index_bytes(store.data_dir)
    for i in range(400):
        await store.append_message(box.id, b"Subject: churn %d\r\n\r\ny" % i, ("\\Deleted",),
                                   None, {**PARSED, "text_body": words(1000 + i)})
    await store.index_text_backlog(1000)
    full_index = index_bytes(store.data_dir)
    [(full_pages,)] = query(store.data_dir, "PRAGMA page_count")
    await store.expunge(box.id)

    totals = await store.reclaim()
    assert totals.messages == 400
    assert totals.merges > 0
    assert query(store.data_dir, "SELECT deleted, merge_left FROM fts_garbage") == [(0, 0)]
    after = index_bytes(store.data_dir)
    # Without the merge the 400 documents' entries stay, and their delete markers add more.
    assert full_index > 5 * live_index
    assert after <= live_index * 1.2, (live_index, full_index, after)
    await store.database.write(lambda c: c.execute("SELECT 1"))
    assert query(store.data_dir, "PRAGMA freelist_count") == [(0,)]
    [(pages,)] = query(store.data_dir, "PRAGMA page_count")
    assert pages < full_pages / 4
    # The live mail is still found through the merged index.
    needle = " ".join(words(7).split()[5:7])
    assert await store.search(live.id, TextContains("body", needle)) == [8]


async def test_reclaiming_waits_for_the_sessions_writes(store: Store, user: User) -> None:
    """A reclaim step (up to ~0.3 s of index merging) never goes before, or shares a
    transaction with, a session's write already waiting (``Database.quiet``)."""
    box = await inbox(store, user)
    for i in range(3):
        await append(store, box, b"Subject: %d\r\n\r\nx" % i, "\\Deleted")
    await store.expunge(box.id)
    gate, inside = threading.Event(), threading.Event()

    def busy(conn: sqlite3.Connection) -> None:
        inside.set()
        gate.wait(60)

    def session_write(conn: sqlite3.Connection) -> int:
        (left,) = conn.execute("SELECT count(*) FROM messages WHERE refcount <= 0").fetchone()
        return int(left)

    blocker = asyncio.ensure_future(store.database.write(busy))
    await asyncio.to_thread(inside.wait, 60)  # the writer is busy with the first write
    reclaiming = asyncio.ensure_future(store.reclaim())
    session = asyncio.ensure_future(store.database.write(session_write))
    await asyncio.sleep(0)  # both tasks start and queue (or wait) in this order
    gate.set()
    await blocker
    assert await session == 3  # it ran first: the bodies were all still there
    assert (await reclaiming).messages == 3


def test_pace_sizes_each_step_to_its_time_and_spaces_it_when_contended() -> None:
    """``Pace`` (issue 10, bench/README "Reclaiming expunged mail"): a step that took four
    times its target shrinks the next one fourfold; a quick one grows it at most twofold,
    up to the full sizes; under contention the pause leaves sessions ``1 - share`` of the
    writer, without it there is none."""
    pace = ReclaimPace(share=0.25, step_seconds=0.05)
    assert pace.sizes(2000, 100, 2000) == (200, 10, 200)  # starts at a tenth
    assert pace.after(0.2, contended=True) == pytest.approx(0.6)
    assert pace.sizes(2000, 100, 2000)[::2] == (50, 50)
    assert pace.after(0.001, contended=False) == 0.0
    assert pace.sizes(2000, 100, 2000)[::2] == (100, 100)  # doubled, not fifty times
    for _ in range(10):
        pace.after(0.001, contended=False)
    assert pace.sizes(2000, 100, 2000) == (2000, 100, 2000)
    for _ in range(50):
        pace.after(10.0, contended=True)
    assert pace.sizes(2000, 100, 2000) == (10, 1, 10)  # MIN_SCALE, never zero
    with pytest.raises(ValueError):
        ReclaimPace(share=0)


class RecordingPace(ReclaimPace):
    def __init__(self) -> None:
        super().__init__(share=0.5, step_seconds=0.001)
        self.steps: list[tuple[tuple[int, int, int], float, bool, float]] = []

    def after(self, seconds: float, contended: bool) -> float:
        sizes = self.sizes()
        pause = super().after(seconds, contended)
        self.steps.append((sizes, seconds, contended, pause))
        return pause


async def test_paced_reclaim_pauses_while_sessions_write(store: Store, user: User) -> None:
    """The background reclaimer's steps, while another session keeps writing: each step
    that shared the writer is followed by a pause as long as the step (share 0.5), and
    everything is still reclaimed; once the session stops, no more pauses."""
    box = await inbox(store, user)
    for i in range(300):
        await store.append_message(box.id, b"Subject: %d\r\n\r\nx" % i, ("\\Deleted",), None,
                                   {**PARSED, "text_body": words(i, 50)})
    await store.index_text_backlog(1000)
    await store.expunge(box.id)
    writing = True
    session_writes = 0

    async def session() -> None:
        nonlocal session_writes
        while writing:
            await store.database.write(lambda c: c.execute("SELECT 1"))
            session_writes += 1

    pace = RecordingPace()
    writer = asyncio.ensure_future(session())
    try:
        totals = await store.reclaim(pace=pace)
    finally:
        writing = False
        await writer
    assert totals.messages == 300
    assert query(store.data_dir, "SELECT count(*) FROM messages") == [(0,)]
    assert len(pace.steps) > 3 and session_writes > 0
    contended = [s for s in pace.steps if s[2]]
    assert contended, pace.steps
    for _, seconds, _, pause in contended:
        assert pause == pytest.approx(seconds)

    box2 = await store.create_mailbox(user.id, "Quiet")
    for i in range(50):
        await append(store, box2, b"Subject: q%d\r\n\r\nx" % i, "\\Deleted")
    await store.expunge(box2.id)
    quiet_pace = RecordingPace()
    assert (await store.reclaim(pace=quiet_pace)).messages == 50
    assert all(not contended and pause == 0 for _, _, contended, pause in quiet_pace.steps)
