"""Commit reports (storage/commits.py): after each COMMIT, subscribers learn which mailboxes
changed, their new highest modseq and how (DESIGN.md "Storage reports, the server reacts")."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from crispin.storage import (
    ORIGIN,
    ChangeKind,
    CommitReport,
    MailboxChange,
    NotFound,
    Store,
    User,
)

from .helpers import raw_connect

PARSED = {"envelope": b"NIL", "bodystructure": b"NIL", "body_simple": b"NIL"}
K = ChangeKind


class Recorder:
    def __init__(self, store: Store) -> None:
        self.reports: list[CommitReport] = []
        self.unsubscribe = store.on_commit(self.reports.append)

    def take(self) -> list[MailboxChange]:
        changes = [c for r in self.reports for c in r.changes]
        self.reports.clear()
        return changes


@pytest.fixture
def rec(store: Store) -> Recorder:
    return Recorder(store)


async def inbox(store: Store, user: User) -> int:
    box = await store.get_mailbox(user.id, "INBOX")
    assert box is not None
    return box.id


async def test_each_message_change_reported_with_modseq(store: Store, user: User,
                                                         rec: Recorder) -> None:
    box = await inbox(store, user)
    other = (await store.create_mailbox(user.id, "Other")).id
    assert rec.take() == [MailboxChange(other, 1, frozenset({K.CREATED}))]

    uid, modseq = await store.append_message(box, b"Subject: a\r\n\r\nx\r\n", parsed=PARSED)
    assert rec.take() == [MailboxChange(box, modseq, frozenset({K.APPENDED}))]

    result = await store.store_flags(box, [uid], "add", ["\\Deleted"])
    assert rec.take() == [MailboxChange(box, result.highest_modseq, frozenset({K.FLAGS}))]
    await store.store_flags(box, [uid], "add", ["\\Deleted"])  # changes nothing
    assert rec.take() == []

    copied = await store.copy_messages(box, [uid], other)
    [change] = rec.take()
    assert change.mailbox_id == other and change.kinds == {K.APPENDED}
    assert copied.uid_map == [(uid, 1)]

    gone, highest = await store.expunge(box)
    assert gone == [uid]
    assert rec.take() == [MailboxChange(box, highest, frozenset({K.EXPUNGED}))]

    await store.move_messages(other, [1], box)
    changes = {c.mailbox_id: c.kinds for c in rec.take()}
    assert changes == {box: {K.APPENDED}, other: {K.EXPUNGED}}


async def test_mailbox_changes_reported(store: Store, user: User, rec: Recorder) -> None:
    created = await store.create_mailbox(user.id, "a/b")
    assert {c.kinds for c in rec.take()} == {frozenset({K.CREATED})}  # "a" and "a/b"
    await store.rename_mailbox(user.id, "a/b", "c")
    assert rec.take() == [MailboxChange(created.id, created.highest_modseq,
                                        frozenset({K.RENAMED}))]
    await store.set_private_flags(created.id, 0)
    [change] = rec.take()
    assert change.kinds == {K.SETTINGS}
    await store.delete_mailbox(user.id, "c")
    assert rec.take() == [MailboxChange(created.id, 0, frozenset({K.DELETED}))]
    await store.delete_user("alice")
    deleted = rec.take()
    assert deleted and all(c.kinds == {K.DELETED} and c.modseq == 0 for c in deleted)


async def test_private_flags_of_another_user_reported(store: Store, user: User,
                                                      rec: Recorder) -> None:
    bob = await store.create_user("bob", "pw")
    box = await inbox(store, user)
    uid, _ = await store.append_message(box, b"Subject: a\r\n\r\nx\r\n", parsed=PARSED)
    rec.take()
    await store.store_flags(box, [uid], "add", ["\\Seen"], viewer=bob.id)
    [change] = rec.take()
    assert change.mailbox_id == box and change.kinds == {K.FLAGS}


async def test_no_report_for_reads_failures_and_recent(store: Store, user: User,
                                                       rec: Recorder) -> None:
    box = await inbox(store, user)
    await store.append_message(box, b"Subject: a\r\n\r\nx\r\n", parsed=PARSED)
    rec.take()
    await store.claim_recent(box)  # a session's \Recent, not a change of the mailbox
    await store.list_messages(box)
    with pytest.raises(NotFound):
        await store.delete_mailbox(user.id, "nope")
    with pytest.raises(NotFound):
        await store.append_message(12345, b"x", parsed=PARSED)

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE mailbox_messages SET flags = 4, modseq = modseq + 1")
        raise NotFound("rolled back")

    # Alone, and in a batch with a write that succeeds: only committed work is reported.
    with pytest.raises(NotFound):
        await store.database.write(half_done)
    assert rec.take() == []
    results = await asyncio.gather(store.database.write(half_done),
                                   store.create_mailbox(user.id, "kept"),
                                   return_exceptions=True)
    assert isinstance(results[0], NotFound)
    assert [c.kinds for c in rec.take()] == [{K.CREATED}]


async def test_report_comes_after_commit(store: Store, user: User) -> None:
    """When a subscriber is called, another connection already sees the change."""
    seen: list[int] = []

    def check(report: CommitReport) -> None:
        conn = raw_connect(store.data_dir)
        try:
            for change in report.changes:
                row = conn.execute("SELECT highest_modseq FROM mailboxes WHERE id = ?",
                                   (change.mailbox_id,)).fetchone()
                seen.append(int(row[0]) - change.modseq)
        finally:
            conn.close()

    store.on_commit(check)
    box = await inbox(store, user)
    await store.append_message(box, b"Subject: a\r\n\r\nx\r\n", parsed=PARSED)
    assert seen == [0]


async def test_failing_subscriber_and_unsubscribe(store: Store, user: User,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    def broken(report: CommitReport) -> None:
        raise RuntimeError("subscriber bug")

    store.on_commit(broken)
    rec = Recorder(store)
    await store.create_mailbox(user.id, "x")  # the writer and the others carry on
    assert "subscriber bug" in caplog.text
    assert len(rec.take()) == 1
    rec.unsubscribe()
    await store.create_mailbox(user.id, "y")
    assert rec.take() == []


async def test_group_commit_is_one_report(store: Store, user: User, rec: Recorder) -> None:
    boxes = await asyncio.gather(*(store.create_mailbox(user.id, f"b{i}") for i in range(30)))
    changes = [c for r in rec.reports for c in r.changes]
    assert sorted(c.mailbox_id for c in changes) == sorted(b.id for b in boxes)
    assert len(rec.reports) < 30  # batched writes, one report per commit


async def _one_batch(store: Store, user: User, rec: Recorder,
                     writes: list[tuple[object, str]]) -> list[int]:
    """The writes (origin, name to create) queued behind a held writer: one batch."""
    db = store.database
    started, release = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        started.set()
        assert release.wait(30)

    async def create(origin: object, name: str) -> int:
        ORIGIN.set(origin)  # this task's context only
        return (await store.create_mailbox(user.id, name)).id

    held = asyncio.ensure_future(db.write(hold))
    assert await asyncio.to_thread(started.wait, 30)
    tasks = [asyncio.ensure_future(create(origin, name)) for origin, name in writes]
    while db.queued_writes < len(tasks):
        await asyncio.sleep(0.001)
    rec.reports.clear()
    release.set()
    await held
    return list(await asyncio.gather(*tasks))


async def test_a_batch_of_several_origins_is_reported_origin_by_origin(
        store: Store, user: User, rec: Recorder) -> None:
    """With ``report_origins`` (the server sets it while NOTIFY or METADATA listens), writes
    queued for several origins (``ORIGIN``: the server's sessions) commit in one batch but
    are reported one run of an origin's writes at a time, in order, each report naming its
    origin; one origin's writes, one report."""
    store.database.report_origins = True
    a, b = object(), object()
    ids = await _one_batch(store, user, rec, [(a, "a1"), (a, "a2"), (b, "b1"), (None, "n1"),
                                              (a, "a3")])
    assert [(r.origin, [c.mailbox_id for c in r.changes]) for r in rec.reports] == [
        (a, ids[0:2]), (b, [ids[2]]), (None, [ids[3]]), (a, [ids[4]])]
    ids = await _one_batch(store, user, rec, [(a, "c1"), (a, "c2")])
    assert [(r.origin, [c.mailbox_id for c in r.changes]) for r in rec.reports] == [(a, ids)]


async def test_without_report_origins_a_batch_is_one_report(
        store: Store, user: User, rec: Recorder) -> None:
    """Nobody to tell (the default): one report for the batch, of no origin when its writes
    have several, of theirs when they share one."""
    assert store.database.report_origins is False
    a, b = object(), object()
    ids = await _one_batch(store, user, rec, [(a, "a1"), (b, "b1"), (a, "a2")])
    assert [(r.origin, sorted(c.mailbox_id for c in r.changes)) for r in rec.reports] == [
        (None, sorted(ids))]
    ids = await _one_batch(store, user, rec, [(b, "c1"), (b, "c2")])
    assert [(r.origin, [c.mailbox_id for c in r.changes]) for r in rec.reports] == [(b, ids)]


def _row_trigger(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_temp_master WHERE type = 'trigger'"
                        " AND name = 'commit_message_flags'").fetchone() is not None


async def test_bulk_store_reported_once_and_trigger_kept(
        store: Store, user: User, rec: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A STORE of many messages records its change once instead of by the row trigger
    (issue 14): the same report as before; the trigger is back for the next write, also
    when the write fails and is rolled back."""
    from crispin.storage import messages

    box = await inbox(store, user)
    for k in range(5):
        await store.append_message(box, b"Subject: %d\r\n\r\nx\r\n" % k, parsed=PARSED)
    rec.take()
    monkeypatch.setattr(messages, "LOG_ONCE_OVER", 2)
    result = await store.store_flags(box, [1, 2, 3, 4, 5], "add", ["\\Flagged"])
    assert result.changed == [1, 2, 3, 4, 5]
    assert rec.take() == [MailboxChange(box, result.highest_modseq, frozenset({K.FLAGS}))]
    assert await store.store_flags(box, [1, 2, 3, 4, 5], "add", ["\\Flagged"]) is not None
    assert rec.take() == []  # nothing changed: nothing reported
    assert await store.database.write(_row_trigger)

    def bulk_then_fail(conn: sqlite3.Connection) -> None:
        messages.store_flags(conn, box, [1, 2, 3, 4], "add", messages.flagbits.SEEN, [],
                             None)
        raise NotFound("rolled back")

    with pytest.raises(NotFound):
        await store.database.write(bulk_then_fail)
    assert rec.take() == []
    assert await store.database.write(_row_trigger)
    # The row trigger still reports a small STORE.
    monkeypatch.setattr(messages, "LOG_ONCE_OVER", 64)
    small = await store.store_flags(box, [2], "add", ["\\Seen"])
    assert rec.take() == [MailboxChange(box, small.highest_modseq, frozenset({K.FLAGS}))]


def test_logged_once_restores_the_trigger_when_the_statement_fails() -> None:
    from crispin.storage import commits

    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, name TEXT, private_flags,"
                 " special_use, noselect, highest_modseq)")
    conn.execute("CREATE TABLE mailbox_messages (mailbox_id, uid, modseq)")
    conn.execute("CREATE TABLE private_flags (mailbox_id, modseq)")
    conn.execute("CREATE TABLE expunged (mailbox_id, modseq)")
    conn.execute("CREATE TABLE metadata (mailbox_id, user_id, name, value)")
    conn.execute("CREATE TABLE acl (mailbox_id, identifier, rights)")
    conn.execute("CREATE TABLE subscriptions (user_id, name)")
    commits.install(conn)
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError), \
            commits.logged_once(conn, "commit_message_flags") as logs:
        assert logs and not _row_trigger(conn)
        conn.execute("UPDATE nowhere SET x = 1")
    assert _row_trigger(conn)
    conn.execute("ROLLBACK")
    assert _row_trigger(conn)
    conn.execute("INSERT INTO mailbox_messages VALUES (1, 1, 1)")
    conn.execute("UPDATE mailbox_messages SET modseq = 2")
    assert sorted(conn.execute("SELECT * FROM commit_log").fetchall()) == [
        (1, "appended", 1), (1, "flags", 2)]
    plain = sqlite3.connect(":memory:", isolation_level=None)
    with commits.logged_once(plain, "commit_message_flags") as logs:
        assert not logs  # no log on this connection: nothing to take off
