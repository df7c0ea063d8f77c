"""Mailboxes: CREATE (RFC 3501 §6.3.3), DELETE (§6.3.4), STATUS counters (§6.3.10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crispin.storage import (
    DELIMITER,
    AlreadyExists,
    HasChildren,
    InvalidName,
    MailboxInfo,
    NotFound,
    Store,
    User,
)

from .helpers import insert_message, query, raw_connect


async def names(store: Store, user: User) -> list[str]:
    return [m.name for m in await store.list_mailboxes(user.id)]


async def noselect(store: Store, user: User) -> set[str]:
    return {m.name for m in await store.list_mailboxes(user.id) if m.noselect}


def test_delimiter() -> None:
    assert DELIMITER == "/"


async def test_create_simple(store: Store, user: User) -> None:
    box = await store.create_mailbox(user.id, "Drafts", special_use="\\Drafts")
    assert isinstance(box, MailboxInfo)
    assert box.name == "Drafts"
    assert box.owner_id == user.id
    assert box.special_use == "\\Drafts"
    assert (box.uidnext, box.highest_modseq, box.noselect) == (1, 1, False)
    assert 0 < box.uidvalidity <= 0xFFFFFFFF
    assert await store.get_mailbox(user.id, "Drafts") == box
    assert await store.get_mailbox_by_id(box.id) == box
    assert await store.get_mailbox(user.id, "drafts") is None  # names are case-sensitive


async def test_create_makes_intermediate_levels(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b/c")
    assert await names(store, user) == ["INBOX", "a", "a/b", "a/b/c"]
    assert await noselect(store, user) == set()  # selectable, like Dovecot
    await store.create_mailbox(user.id, "a/x")
    assert await names(store, user) == ["INBOX", "a", "a/b", "a/b/c", "a/x"]


async def test_create_existing(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b")
    for name in ["a", "a/b", "INBOX"]:
        with pytest.raises(AlreadyExists):
            await store.create_mailbox(user.id, name)


@pytest.mark.parametrize("name", ["", "/", "/a", "a/", "a//b", "a/\x00", "x" * 1025])
async def test_create_invalid(store: Store, user: User, name: str) -> None:
    with pytest.raises(InvalidName):
        await store.create_mailbox(user.id, name)
    assert await names(store, user) == ["INBOX"]


async def test_create_for_unknown_user(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.create_mailbox(999, "x")


async def test_names_with_like_wildcards_and_unicode(store: Store, user: User) -> None:
    for name in ["100%", "a_b", "Entwürfe/März", "日本語"]:
        await store.create_mailbox(user.id, name)
    # "a_b" must not count as an inferior of anything, "%" is literal
    await store.delete_mailbox(user.id, "100%")
    await store.delete_mailbox(user.id, "Entwürfe")
    assert await names(store, user) == ["Entwürfe", "Entwürfe/März", "INBOX", "a_b", "日本語"]
    assert await noselect(store, user) == {"Entwürfe"}


async def test_uidvalidity_strictly_increases(store: Store, user: User) -> None:
    seen = []
    for i in range(20):
        seen.append((await store.create_mailbox(user.id, f"m{i}")).uidvalidity)
    assert seen == sorted(seen) and len(set(seen)) == len(seen)


async def test_recreated_mailbox_gets_larger_uidvalidity(store: Store, user: User) -> None:
    """RFC 3501 §2.3.1.1."""
    first = await store.create_mailbox(user.id, "x")
    await store.delete_mailbox(user.id, "x")
    second = await store.create_mailbox(user.id, "x")
    assert second.uidvalidity > first.uidvalidity
    assert second.id != first.id  # ids are never reused: stale sessions can't reach it


async def test_list_sorted_and_per_user(store: Store, user: User) -> None:
    bob = await store.create_user("bob", "pw")
    for name in ["b", "a/z", "A"]:
        await store.create_mailbox(user.id, name)
    await store.create_mailbox(bob.id, "bobs")
    assert await names(store, user) == ["A", "INBOX", "a", "a/z", "b"]
    assert await names(store, bob) == ["INBOX", "bobs"]
    assert await store.get_mailbox(bob.id, "b") is None


# -- DELETE -----------------------------------------------------------------------------


async def test_delete_leaf(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b")
    await store.delete_mailbox(user.id, "a/b")
    assert await names(store, user) == ["INBOX", "a"]
    await store.delete_mailbox(user.id, "a")
    assert await names(store, user) == ["INBOX"]


async def test_delete_missing(store: Store, user: User) -> None:
    with pytest.raises(NotFound):
        await store.delete_mailbox(user.id, "nope")


async def test_delete_inbox_refused(store: Store, user: User) -> None:
    with pytest.raises(InvalidName):
        await store.delete_mailbox(user.id, "INBOX")
    assert await names(store, user) == ["INBOX"]


async def test_delete_with_children_leaves_noselect(
    store: Store, user: User, data_dir: Path
) -> None:
    """RFC 3501 §6.3.4: the messages go, the name stays as \\Noselect."""
    a = await store.create_mailbox(user.id, "a", special_use="\\Archive")
    await store.create_mailbox(user.id, "a/b")
    insert_message(data_dir, a.id, b"one")
    insert_message(data_dir, a.id, b"two")
    await store.delete_mailbox(user.id, "a")
    info = await store.get_mailbox(user.id, "a")
    assert info is not None and info.noselect and info.special_use is None
    assert info.id == a.id
    assert await names(store, user) == ["INBOX", "a", "a/b"]
    status = await store.mailbox_status(a.id)
    assert status.messages == 0
    assert query(data_dir, "SELECT count(*) FROM mailbox_messages") == [(0,)]
    assert query(data_dir, "SELECT sum(refcount) FROM messages") == [(0,)]


async def test_delete_noselect_with_children_raises(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b")
    await store.delete_mailbox(user.id, "a")
    with pytest.raises(HasChildren):
        await store.delete_mailbox(user.id, "a")
    assert await names(store, user) == ["INBOX", "a", "a/b"]


async def test_deleting_last_child_removes_noselect_ancestors(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b/c")
    await store.create_mailbox(user.id, "keep")
    await store.delete_mailbox(user.id, "a")  # noselect, has a/b
    await store.delete_mailbox(user.id, "a/b")  # noselect, has a/b/c
    assert await noselect(store, user) == {"a", "a/b"}
    await store.delete_mailbox(user.id, "a/b/c")
    assert await names(store, user) == ["INBOX", "keep"]


async def test_ancestor_cleanup_stops_at_selectable(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b/c")
    await store.delete_mailbox(user.id, "a/b")  # a/b noselect; a stays selectable
    await store.delete_mailbox(user.id, "a/b/c")
    assert await names(store, user) == ["INBOX", "a"]
    assert await noselect(store, user) == set()


async def test_ancestor_cleanup_keeps_placeholder_with_other_children(
    store: Store, user: User
) -> None:
    await store.create_mailbox(user.id, "a/b")
    await store.create_mailbox(user.id, "a/c")
    await store.delete_mailbox(user.id, "a")
    await store.delete_mailbox(user.id, "a/b")
    assert await names(store, user) == ["INBOX", "a", "a/c"]
    assert await noselect(store, user) == {"a"}
    await store.delete_mailbox(user.id, "a/c")
    assert await names(store, user) == ["INBOX"]


async def test_sibling_prefix_is_not_a_child(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a")
    await store.create_mailbox(user.id, "ab")
    await store.create_mailbox(user.id, "a.b")
    await store.create_mailbox(user.id, "a0")
    await store.delete_mailbox(user.id, "a")  # no inferiors: removed entirely
    assert await names(store, user) == ["INBOX", "a.b", "a0", "ab"]


async def test_revive_noselect_placeholder(store: Store, user: User, data_dir: Path) -> None:
    """RFC 3501 §6.3.3 + §2.3.1.1: CREATE on a \\Noselect name makes it selectable, with a
    new UIDVALIDITY."""
    a = await store.create_mailbox(user.id, "a")
    await store.create_mailbox(user.id, "a/b")
    insert_message(data_dir, a.id)
    await store.delete_mailbox(user.id, "a")
    revived = await store.create_mailbox(user.id, "a", special_use="\\Sent")
    assert not revived.noselect
    assert revived.uidvalidity > a.uidvalidity
    assert revived.uidnext == 1
    assert revived.special_use == "\\Sent"
    assert (await store.mailbox_status(revived.id)).messages == 0
    with pytest.raises(AlreadyExists):
        await store.create_mailbox(user.id, "a")


async def test_create_below_noselect_keeps_it_noselect(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "a/b")
    await store.delete_mailbox(user.id, "a")
    await store.create_mailbox(user.id, "a/c/d")
    assert await names(store, user) == ["INBOX", "a", "a/b", "a/c", "a/c/d"]
    assert await noselect(store, user) == {"a"}


async def test_delete_drops_tombstones_and_messages(
    store: Store, user: User, data_dir: Path
) -> None:
    box = await store.create_mailbox(user.id, "x")
    insert_message(data_dir, box.id, b"m1")
    assert query(data_dir, "SELECT count(*) FROM messages") == [(1,)]
    await store.delete_mailbox(user.id, "x")
    assert query(data_dir, "SELECT count(*) FROM mailbox_messages") == [(0,)]
    assert query(data_dir, "SELECT refcount FROM messages") == [(0,)]


# -- STATUS -----------------------------------------------------------------------------


async def test_status_empty(store: Store, user: User) -> None:
    inbox = await store.get_mailbox(user.id, "INBOX")
    assert inbox is not None
    st = await store.mailbox_status(inbox.id)
    assert (st.messages, st.recent, st.unseen, st.uidnext) == (0, 0, 0, 1)
    assert st.uidvalidity == inbox.uidvalidity
    assert st.highest_modseq == 1


async def test_status_counts(store: Store, user: User, data_dir: Path) -> None:
    inbox = await store.get_mailbox(user.id, "INBOX")
    assert inbox is not None
    insert_message(data_dir, inbox.id, b"1", flags=1)  # \Seen
    insert_message(data_dir, inbox.id, b"2", flags=4)  # \Flagged
    insert_message(data_dir, inbox.id, b"3")
    st = await store.mailbox_status(inbox.id)
    assert (st.messages, st.recent, st.unseen, st.uidnext, st.highest_modseq) == (3, 3, 2, 4, 4)
    # a session claimed \Recent up to UID 2
    conn = raw_connect(data_dir)
    conn.execute("UPDATE mailboxes SET first_recent_uid = 3 WHERE id = ?", (inbox.id,))
    conn.close()
    assert (await store.mailbox_status(inbox.id)).recent == 1


async def test_status_unknown_mailbox(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.mailbox_status(12345)
