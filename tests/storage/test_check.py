"""``check.py``: each broken invariant is found, and repaired when it can be."""

from __future__ import annotations

from crispin.storage import MailboxInfo, Store, User

from .helpers import query, raw_connect

PARSED = {"envelope": b"NIL", "bodystructure": b"NIL", "body_simple": b"NIL"}


async def inbox(store: Store, user: User) -> MailboxInfo:
    box = await store.get_mailbox(user.id, "INBOX")
    assert box is not None
    return box


def sql(store: Store, *statements: str) -> None:
    conn = raw_connect(store.data_dir)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


async def test_clean_store_checks_clean(store: Store, user: User) -> None:
    box = await inbox(store, user)
    store.inline_max = 10
    await store.append_message(box.id, b"Subject: a\r\n\r\n" + b"x" * 100, parsed=PARSED)
    await store.append_message(box.id, b"Subject: b\r\n\r\nsmall", parsed=PARSED)
    assert await store.check() == []


async def test_every_kind_found_and_repaired(store: Store, user: User) -> None:
    box = await inbox(store, user)
    store.inline_max = 10
    for i in range(3):
        await store.append_message(box.id, b"Subject: %d\r\n\r\n" % i + b"x" * 100,
                                   parsed=PARSED)
    bob = await store.create_user("bob", "pw")
    await store.store_flags(box.id, [1], "add", ["\\Seen"], viewer=bob.id)
    sql(store,
        f"UPDATE mailboxes SET uidnext = 2, highest_modseq = 1 WHERE id = {box.id}",
        "UPDATE messages SET refcount = 7 WHERE id = 1",
        f"INSERT INTO expunged (mailbox_id, uid, modseq) VALUES ({box.id}, 2, 3)",
        f"INSERT INTO private_flags (mailbox_id, user_id, uid, flags, modseq)"
        f" VALUES ({box.id}, {bob.id}, 99, 1, 3)",
        "INSERT INTO quotas (root_kind, root_id, messages) VALUES ('user', 999, 5)",
        "UPDATE mailbox_messages SET savedate = NULL WHERE uid = 1")
    (store.data_dir / "blobs" / "ab").mkdir(parents=True, exist_ok=True)
    (store.data_dir / "blobs" / "ab" / "stray").write_bytes(b"nobody's")
    (store.data_dir / "blobs" / "tmp").mkdir(exist_ok=True)
    (store.data_dir / "blobs" / "tmp" / "x.tmp").write_bytes(b"cut off")
    [(lost,)] = query(store.data_dir, "SELECT path FROM messages WHERE id = 3")
    (store.data_dir / lost).unlink()

    kinds = sorted({p.kind for p in await store.check()})
    assert kinds == ["missing_file", "modseq", "no_save_date", "orphan_file",
                     "orphan_private_flags", "orphan_quota", "refcount", "temporary_file",
                     "uid_reused", "uidnext"]
    left = await store.repair()
    assert [(p.kind, p.repairable) for p in left] == [("missing_file", False)]
    # the save date a repair gives is the INTERNALDATE, as migration 17 gave old rows
    assert query(store.data_dir, "SELECT savedate = internaldate FROM mailbox_messages"
                 " WHERE uid = 1") == [(1,)]
    # After repair the mailbox works: the next UID is new.
    uid, _ = await store.append_message(box.id, b"Subject: new\r\n\r\nz", parsed=PARSED)
    assert uid == 4


async def test_cheap_check_at_start_repairs_counters_and_leftovers(store: Store,
                                                                   user: User) -> None:
    box = await inbox(store, user)
    await store.append_message(box.id, b"Subject: a\r\n\r\nx", parsed=PARSED)
    sql(store, f"UPDATE mailboxes SET uidnext = 1 WHERE id = {box.id}")
    (store.data_dir / "spool").mkdir()
    (store.data_dir / "spool" / "append-1").write_bytes(b"half a message")
    # A body file whose transaction never committed (a crash between install and COMMIT).
    (store.data_dir / "blobs" / "cf").mkdir(parents=True)
    (store.data_dir / "blobs" / "cf" / "cf00").write_bytes(b"never referenced")
    removed, repaired = await store.start_checks()
    assert removed == 2 and [p.kind for p in repaired] == ["uidnext"]
    assert await store.check() == []
