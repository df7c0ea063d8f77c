"""RENAME (RFC 3501 §6.3.5), including the INBOX special case."""

from __future__ import annotations

from pathlib import Path

import pytest

from crispin.storage import AlreadyExists, InvalidName, NotFound, Store, User

from .helpers import insert_message, query, raw_connect


async def names(store: Store, user: User) -> list[str]:
    return [m.name for m in await store.list_mailboxes(user.id)]


async def test_rename_simple_keeps_identity(store: Store, user: User, data_dir: Path) -> None:
    box = await store.create_mailbox(user.id, "old", special_use="\\Junk")
    insert_message(data_dir, box.id, b"m")
    await store.rename_mailbox(user.id, "old", "new")
    assert await store.get_mailbox(user.id, "old") is None
    renamed = await store.get_mailbox(user.id, "new")
    assert renamed is not None
    assert (renamed.id, renamed.uidvalidity, renamed.uidnext) == (box.id, box.uidvalidity, 2)
    assert renamed.special_use == "\\Junk"
    assert (await store.mailbox_status(renamed.id)).messages == 1


async def test_rename_moves_inferiors(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/x/y")
    await store.create_mailbox(user.id, "a/z")
    await store.create_mailbox(user.id, "ab")  # shares the prefix, is no inferior
    before = {m.name: m for m in await store.list_mailboxes(user.id)}
    await store.rename_mailbox(user.id, "a", "b")
    assert await names(store, user) == ["INBOX", "ab", "b", "b/x", "b/x/y", "b/z"]
    after = {m.name: m for m in await store.list_mailboxes(user.id)}
    for old_name, new_name in [("a", "b"), ("a/x", "b/x"), ("a/x/y", "b/x/y"), ("a/z", "b/z")]:
        assert after[new_name].id == before[old_name].id
        assert after[new_name].uidvalidity == before[old_name].uidvalidity


async def test_rename_creates_intermediate_levels(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/x")
    await store.rename_mailbox(user.id, "a", "p/q/r")
    assert await names(store, user) == ["INBOX", "p", "p/q", "p/q/r", "p/q/r/x"]
    assert not any(m.noselect for m in await store.list_mailboxes(user.id))


async def test_rename_deeper_level_to_top(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b/c")
    await store.rename_mailbox(user.id, "a/b", "z")
    assert await names(store, user) == ["INBOX", "a", "z", "z/c"]


async def test_rename_missing(store: Store, user: User) -> None:
    with pytest.raises(NotFound):
        await store.rename_mailbox(user.id, "nope", "x")


async def test_rename_onto_existing(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a")
    await store.create_mailbox(user.id, "b/c")
    for target in ["b", "b/c", "INBOX", "a"]:
        with pytest.raises(AlreadyExists):
            await store.rename_mailbox(user.id, "a", target)
    assert await names(store, user) == ["INBOX", "a", "b", "b/c"]


async def test_rename_into_own_inferior(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b")
    for target in ["a/c", "a/b/c", "a/new/deep"]:
        with pytest.raises(InvalidName):
            await store.rename_mailbox(user.id, "a", target)
    assert await names(store, user) == ["INBOX", "a", "a/b"]


@pytest.mark.parametrize("target", ["", "/x", "x/", "x//y"])
async def test_rename_to_invalid_name(store: Store, user: User, target: str) -> None:
    await store.create_mailbox(user.id, "a")
    with pytest.raises(InvalidName):
        await store.rename_mailbox(user.id, "a", target)


async def test_rename_noselect_placeholder_with_children(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b")
    await store.delete_mailbox(user.id, "a")
    await store.rename_mailbox(user.id, "a", "c")
    assert await names(store, user) == ["INBOX", "c", "c/b"]
    c = await store.get_mailbox(user.id, "c")
    assert c is not None and c.noselect


async def test_rename_last_child_prunes_noselect_parent(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b")
    await store.delete_mailbox(user.id, "a")
    await store.rename_mailbox(user.id, "a/b", "top")
    assert await names(store, user) == ["INBOX", "top"]


async def test_rename_does_not_touch_subscriptions(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a")
    await store.subscribe(user.id, "a")
    await store.rename_mailbox(user.id, "a", "b")
    assert await store.list_subscriptions(user.id) == ["a"]


async def test_rename_other_users_untouched(store: Store, user: User) -> None:
    bob = await store.create_user("bob", "pw")
    await store.create_mailbox(bob.id, "a/x")
    await store.create_mailbox(user.id, "a/x")
    await store.rename_mailbox(user.id, "a", "b")
    assert await names(store, bob) == ["INBOX", "a", "a/x"]
    with pytest.raises(NotFound):
        await store.rename_mailbox(bob.id, "b", "c")


# -- INBOX ------------------------------------------------------------------------------


async def test_rename_inbox_moves_messages(store: Store, user: User, data_dir: Path) -> None:
    """RFC 3501 §6.3.5: all INBOX messages move to a new mailbox; INBOX stays, empty;
    INBOX's inferiors do not move."""
    inbox = await store.get_mailbox(user.id, "INBOX")
    assert inbox is not None
    await store.create_mailbox(user.id, "INBOX/child")
    uids = [
        insert_message(data_dir, inbox.id, b"first", flags=1, keywords="$Work"),
        insert_message(data_dir, inbox.id, b"second", internaldate=1_600_000_000),
        insert_message(data_dir, inbox.id, b"third", flags=4),
    ]
    # make UIDs sparse: delete the middle one as an expunge would
    conn = raw_connect(data_dir)
    conn.execute(
        "DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid = ?", (inbox.id, uids[1])
    )
    conn.close()
    inbox_before = await store.get_mailbox(user.id, "INBOX")
    assert inbox_before is not None

    await store.rename_mailbox(user.id, "INBOX", "Old/Mail")

    inbox_after = await store.get_mailbox(user.id, "INBOX")
    assert inbox_after is not None
    assert inbox_after.id == inbox.id
    assert inbox_after.uidvalidity == inbox.uidvalidity
    assert inbox_after.uidnext == 4  # UIDs are never reused in INBOX
    assert inbox_after.highest_modseq > inbox_before.highest_modseq
    assert (await store.mailbox_status(inbox.id)).messages == 0
    # tombstones so sessions with INBOX selected see the messages go (RFC 7162 §3.2.10)
    assert query(
        data_dir, "SELECT uid, modseq FROM expunged WHERE mailbox_id = ? ORDER BY uid", (inbox.id,)
    ) == [(1, inbox_after.highest_modseq), (3, inbox_after.highest_modseq)]

    moved = await store.get_mailbox(user.id, "Old/Mail")
    assert moved is not None
    assert moved.id != inbox.id
    assert moved.uidvalidity > inbox.uidvalidity
    assert moved.uidnext == 3
    rows = query(
        data_dir,
        "SELECT mm.uid, m.body, mm.flags, mm.keywords, mm.internaldate, mm.modseq"
        " FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " WHERE mm.mailbox_id = ? ORDER BY mm.uid",
        (moved.id,),
    )
    assert rows == [
        (1, b"first", 1, "$Work", 1_700_000_000, moved.highest_modseq),
        (2, b"third", 4, "", 1_700_000_000, moved.highest_modseq),
    ]
    st = await store.mailbox_status(moved.id)
    assert (st.messages, st.unseen) == (2, 1)
    # bodies were not copied, references moved
    assert query(data_dir, "SELECT count(*), sum(refcount) FROM messages") == [(3, 2)]
    assert await names(store, user) == ["INBOX", "INBOX/child", "Old", "Old/Mail"]


async def test_rename_empty_inbox(store: Store, user: User) -> None:
    await store.rename_mailbox(user.id, "INBOX", "Archive")
    assert await names(store, user) == ["Archive", "INBOX"]
    archive = await store.get_mailbox(user.id, "Archive")
    assert archive is not None and archive.uidnext == 1


async def test_rename_inbox_into_its_own_inferior(store: Store, user: User) -> None:
    await store.rename_mailbox(user.id, "INBOX", "INBOX/old")
    assert await names(store, user) == ["INBOX", "INBOX/old"]


async def test_rename_inbox_onto_existing(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "x")
    with pytest.raises(AlreadyExists):
        await store.rename_mailbox(user.id, "INBOX", "x")
