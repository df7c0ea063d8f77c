"""Migration 15: ``mailbox_messages.savedate`` (RFC 8514), backfilled and kept by trigger."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from crispin.storage import Store, User
from crispin.storage.migrations import migrate

from .helpers import schema_at

PARSED = {"envelope": b"NIL", "bodystructure": b"NIL", "body_simple": b"NIL"}


def test_migration_15_gives_old_rows_their_internal_date_and_new_rows_the_time(
        tmp_path: Path) -> None:
    conn = schema_at(tmp_path / "db", 14)
    conn.execute("INSERT INTO users (name, password_hash, created_at) VALUES ('a', 'x', 0)")
    conn.execute("INSERT INTO mailboxes (owner_id, name, uidvalidity, created_at)"
                 " VALUES (1, 'INBOX', 1, 0)")
    conn.execute("INSERT INTO messages (sha256, size, body, envelope, bodystructure,"
                 " body_simple, created_at) VALUES (X'01', 1, X'00', X'', X'', X'', 0)")
    conn.execute("INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq,"
                 " internaldate) VALUES (1, 1, 1, 7, 1234567890)")
    assert migrate(conn) == 14
    assert conn.execute("SELECT savedate FROM mailbox_messages").fetchall() == [(1234567890,)]
    before = int(time.time())
    conn.execute("INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq,"
                 " internaldate) VALUES (1, 2, 1, 8, 0)")
    (saved,) = conn.execute("SELECT savedate FROM mailbox_messages WHERE uid = 2").fetchone()
    assert before <= saved <= int(time.time())
    # a writer that gives one keeps it
    conn.execute("INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq,"
                 " internaldate, savedate) VALUES (1, 3, 1, 9, 0, 42)")
    assert conn.execute("SELECT savedate FROM mailbox_messages WHERE uid = 3").fetchone() \
        == (42,)
    conn.close()


async def test_copy_and_move_save_anew_and_the_source_keeps_its_date(
        store: Store, user: User) -> None:
    box = await store.get_mailbox(user.id, "INBOX")
    other = await store.create_mailbox(user.id, "Other")
    assert box is not None
    await store.append_message(box.id, b"Subject: a\r\n\r\nx", parsed=PARSED)
    await store.append_message(box.id, b"Subject: b\r\n\r\ny", parsed=PARSED)
    conn = sqlite3.connect(store.data_dir / "crispin.db", isolation_level=None)
    try:
        conn.execute("UPDATE mailbox_messages SET savedate = 1000")  # long ago
    finally:
        conn.close()
    before = int(time.time())
    await store.copy_messages(box.id, [1], other.id)
    await store.move_messages(box.id, [2], other.id)
    assert await store.save_dates(box.id, [1, 2]) == {1: 1000}
    dates = await store.save_dates(other.id, [1, 2])
    assert sorted(dates) == [1, 2] and all(before <= d <= int(time.time())
                                           for d in dates.values())
