"""Private (per-user) flags in shared mailboxes (migrations.py, version 4).

alice owns Projects; bob and carol are other users; "support" is a shared mailbox of no
owner.  Every flag-reading or -writing method takes ``viewer``.
"""

from __future__ import annotations

import pytest

from crispin.storage import MailboxInfo, Store, User
from crispin.storage import search as s
from crispin.storage.flags import DELETED, FLAGGED, SEEN
from crispin.storage.migrations import migrate

from .helpers import query, schema_at

PARSED = {"envelope": b"(ENV)", "bodystructure": b"(BS)", "body_simple": b"(B)"}


def msg(i: int) -> bytes:
    return b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)


@pytest.fixture
async def people(store: Store, user: User) -> tuple[User, User, User]:
    bob = await store.create_user("bob", "secret")
    carol = await store.create_user("carol", "secret")
    return user, bob, carol


@pytest.fixture
async def projects(store: Store, people: tuple[User, User, User]) -> MailboxInfo:
    alice = people[0]
    box = await store.create_mailbox(alice.id, "Projects")
    for i in range(3):
        await store.append_message(box.id, msg(i), (), None, PARSED)
    return box


async def flags_of(
    store: Store, box: MailboxInfo, viewer: int | None
) -> dict[int, tuple[str, ...]]:
    return {m.uid: m.flags for m in await store.list_messages(box.id, viewer=viewer)}


async def test_defaults_and_schema(store: Store, projects: MailboxInfo, data_dir) -> None:
    assert projects.private_flags == SEEN
    info = await store.get_mailbox_by_id(projects.id)
    assert info is not None and info.private_flags == 1
    rows = query(data_dir, "SELECT modseq, shared_modseq FROM mailbox_messages")
    assert all(m == sm for m, sm in rows)


async def test_seen_private_per_viewer(store: Store, people, projects: MailboxInfo) -> None:
    alice, bob, carol = people
    r = await store.store_flags(projects.id, [1], "add", ["\\Seen"], viewer=bob.id)
    assert r.changed == [1] and r.messages[0].flags == ("\\Seen",)
    assert (await flags_of(store, projects, bob.id))[1] == ("\\Seen",)
    assert (await flags_of(store, projects, alice.id))[1] == ()
    assert (await flags_of(store, projects, carol.id))[1] == ()
    assert (await flags_of(store, projects, None))[1] == ()
    # alice's own \Seen stays hers (in mailbox_messages), invisible to bob and carol.
    await store.store_flags(projects.id, [2], "add", ["\\Seen"], viewer=alice.id)
    assert (await flags_of(store, projects, alice.id))[2] == ("\\Seen",)
    assert (await flags_of(store, projects, bob.id))[2] == ()
    assert (await flags_of(store, projects, carol.id))[2] == ()
    # A shared flag set by bob is seen by all; his private \Seen is kept beside it.
    await store.store_flags(projects.id, [1], "add", ["\\Flagged", "$Work"], viewer=bob.id)
    assert (await flags_of(store, projects, alice.id))[1] == ("\\Flagged", "$Work")
    assert (await flags_of(store, projects, bob.id))[1] == ("\\Seen", "\\Flagged", "$Work")
    # FLAGS replacement by bob leaves alice's private \Seen alone.
    await store.store_flags(projects.id, [2], "set", ["\\Answered"], viewer=bob.id)
    assert (await flags_of(store, projects, alice.id))[2] == ("\\Seen", "\\Answered")
    assert (await flags_of(store, projects, bob.id))[2] == ("\\Answered",)
    recs = await store.fetch_records(projects.id, [1, 2], viewer=bob.id)
    assert [r.flags for r in recs] == [("\\Seen", "\\Flagged", "$Work"), ("\\Answered",)]
    states = await store.flag_records(projects.id, [1, 2], viewer=carol.id)
    assert [m.flags for m in states] == [("\\Flagged", "$Work"), ("\\Answered",)]


async def test_changes_since_per_viewer(store: Store, people, projects: MailboxInfo) -> None:
    alice, bob, carol = people
    base = (await store.get_mailbox_by_id(projects.id)).highest_modseq  # type: ignore[union-attr]
    a = await store.store_flags(projects.id, [1], "add", ["\\Seen"], viewer=alice.id)
    for viewer in (bob.id, carol.id):
        ch = await store.changes_since(projects.id, base, viewer=viewer)
        assert ch.updated == [] and ch.highest_modseq == a.highest_modseq
    own = await store.changes_since(projects.id, base, viewer=alice.id)
    assert [m.uid for m in own.updated] == [1]
    b = await store.store_flags(projects.id, [2], "add", ["\\Seen"], viewer=bob.id)
    ch = await store.changes_since(projects.id, a.highest_modseq, viewer=bob.id)
    assert [(m.uid, m.flags, m.modseq) for m in ch.updated] == [(2, ("\\Seen",), b.highest_modseq)]
    assert (await store.changes_since(projects.id, a.highest_modseq, viewer=alice.id)).updated == []
    assert (await store.changes_since(projects.id, a.highest_modseq, viewer=carol.id)).updated == []
    # A shared change reaches everybody, with each one's own flags.
    f = await store.store_flags(projects.id, [2], "add", ["\\Flagged"], viewer=carol.id)
    for viewer, flags in ((alice.id, ("\\Flagged",)), (bob.id, ("\\Seen", "\\Flagged")),
                          (carol.id, ("\\Flagged",))):
        ch = await store.changes_since(projects.id, b.highest_modseq, viewer=viewer)
        assert [(m.uid, m.flags, m.modseq) for m in ch.updated] == [(2, flags, f.highest_modseq)]
    # Appends are seen by all.
    uid, modseq = await store.append_message(projects.id, msg(9), (), None, PARSED)
    for viewer in (alice.id, bob.id, carol.id, None):
        ch = await store.changes_since(projects.id, f.highest_modseq, viewer=viewer)
        assert [m.uid for m in ch.updated] == [uid]


async def test_modseqs_and_unchangedsince(store: Store, people, projects: MailboxInfo) -> None:
    alice, bob, carol = people
    start = {m.uid: m.modseq for m in await store.list_messages(projects.id, viewer=bob.id)}
    b = await store.store_flags(projects.id, [1], "add", ["\\Seen"], viewer=bob.id)
    mine = await store.flag_records(projects.id, [1], viewer=bob.id)
    theirs = await store.flag_records(projects.id, [1], viewer=alice.id)
    carols = await store.flag_records(projects.id, [1], viewer=carol.id)
    assert mine[0].modseq == b.highest_modseq
    assert theirs[0].modseq == start[1] == carols[0].modseq
    # UNCHANGEDSINCE compares the viewer's modseq: bob's private change does not block
    # carol or alice, but does block bob.
    r = await store.store_flags(projects.id, [1], "add", ["\\Seen"], start[1], viewer=carol.id)
    assert r.modified == [] and r.changed == [1]
    r = await store.store_flags(projects.id, [1], "add", ["\\Flagged"], start[1], viewer=bob.id)
    assert r.modified == [1] and r.changed == []
    r = await store.store_flags(projects.id, [1], "add", ["\\Answered"], start[1],
                                viewer=alice.id)
    assert r.modified == [] and r.changed == [1]
    # SEARCH MODSEQ uses the viewer's modseqs.
    pairs = await store.search_with_modseq(projects.id, s.ModseqAtLeast(b.highest_modseq),
                                           viewer=bob.id)
    assert [u for u, _ in pairs] == [1]
    # Clearing a private flag keeps a row, so the modseq still moves forward.
    c = await store.store_flags(projects.id, [1], "remove", ["\\Seen"], viewer=carol.id)
    assert (await store.flag_records(projects.id, [1], viewer=carol.id))[0].modseq \
        == c.highest_modseq


async def test_search_and_status_per_viewer(store: Store, people, projects: MailboxInfo) -> None:
    alice, bob, carol = people
    await store.store_flags(projects.id, [1, 2], "add", ["\\Seen"], viewer=bob.id)
    await store.store_flags(projects.id, [3], "add", ["\\Seen"], viewer=alice.id)
    unseen = s.FlagSet("\\Seen", present=False)
    assert await store.search(projects.id, unseen, viewer=bob.id) == [3]
    assert await store.search(projects.id, unseen, viewer=alice.id) == [1, 2]
    assert await store.search(projects.id, unseen, viewer=carol.id) == [1, 2, 3]
    assert await store.search(projects.id, s.FlagSet("\\Seen"), viewer=bob.id) == [1, 2]
    assert await store.search(projects.id, s.Not(s.FlagSet("\\Seen")), viewer=carol.id) == [1, 2, 3]
    assert (await store.mailbox_status(projects.id, viewer=bob.id)).unseen == 1
    assert (await store.mailbox_status(projects.id, viewer=alice.id)).unseen == 2
    assert (await store.mailbox_status(projects.id, viewer=carol.id)).unseen == 3
    assert (await store.mailbox_status(projects.id)).unseen == 2
    assert (await store.select_summary(projects.id, viewer=bob.id)).first_unseen_uid == 3
    assert (await store.select_summary(projects.id, viewer=alice.id)).first_unseen_uid == 1
    assert (await store.select_summary(projects.id, viewer=carol.id)).first_unseen_uid == 1


async def test_mask_none_and_seen_flagged(store: Store, people, projects: MailboxInfo) -> None:
    alice, bob, carol = people
    await store.set_private_flags(projects.id, 0)
    assert (await store.get_mailbox_by_id(projects.id)).private_flags == 0  # type: ignore[union-attr]
    await store.store_flags(projects.id, [1], "add", ["\\Seen"], viewer=bob.id)
    for viewer in (alice.id, bob.id, carol.id):
        assert (await flags_of(store, projects, viewer))[1] == ("\\Seen",)
        assert (await store.mailbox_status(projects.id, viewer=viewer)).unseen == 2
    await store.set_private_flags(projects.id, SEEN | FLAGGED)
    await store.store_flags(projects.id, [2], "add", ["\\Flagged", "\\Answered"], viewer=bob.id)
    assert (await flags_of(store, projects, bob.id))[2] == ("\\Answered", "\\Flagged")
    assert (await flags_of(store, projects, alice.id))[2] == ("\\Answered",)
    assert (await flags_of(store, projects, carol.id))[2] == ("\\Answered",)
    assert await store.search(projects.id, s.FlagSet("\\Flagged"), viewer=bob.id) == [2]
    assert await store.search(projects.id, s.FlagSet("\\Flagged"), viewer=alice.id) == []
    # \Seen that was shared (mask 0) is alice's now: bob's private \Seen starts clear.
    assert (await flags_of(store, projects, alice.id))[1] == ("\\Seen",)
    assert (await flags_of(store, projects, bob.id))[1] == ()
    with pytest.raises(ValueError):
        await store.set_private_flags(projects.id, DELETED)


async def test_mask_change_bumps_modseqs(store: Store, people, projects: MailboxInfo) -> None:
    alice, bob, _ = people
    before = (await store.get_mailbox_by_id(projects.id)).highest_modseq  # type: ignore[union-attr]
    await store.set_private_flags(projects.id, 0)
    for viewer in (alice.id, bob.id):
        ch = await store.changes_since(projects.id, before, viewer=viewer)
        assert [m.uid for m in ch.updated] == [1, 2, 3]
        assert ch.highest_modseq == before + 1
    await store.set_private_flags(projects.id, 0)  # unchanged: no bump
    assert (await store.get_mailbox_by_id(projects.id)).highest_modseq == before + 1  # type: ignore[union-attr]


async def test_ownerless_shared_mailbox(store: Store, people) -> None:
    alice, bob, carol = people
    box = await store.create_shared_mailbox("support")
    uid, _ = await store.append_message(box.id, msg(1), ("\\Seen",), None, PARSED,
                                        viewer=alice.id)
    assert (await flags_of(store, box, alice.id))[uid] == ("\\Seen",)
    assert (await flags_of(store, box, bob.id))[uid] == ()
    await store.store_flags(box.id, [uid], "add", ["\\Seen"], viewer=bob.id)
    assert (await flags_of(store, box, bob.id))[uid] == ("\\Seen",)
    assert (await flags_of(store, box, carol.id))[uid] == ()
    for viewer, unseen in ((alice.id, 0), (bob.id, 0), (carol.id, 1)):
        assert (await store.mailbox_status(box.id, viewer=viewer)).unseen == unseen


async def test_copy_and_move_keep_copier_flags(store: Store, people, projects: MailboxInfo,
                                               data_dir) -> None:
    alice, bob, carol = people
    await store.store_flags(projects.id, [1, 2], "add", ["\\Seen"], viewer=bob.id)
    await store.store_flags(projects.id, [1], "add", ["\\Flagged"], viewer=bob.id)
    # Into bob's own mailbox: his view, stored as owner.
    bobbox = await store.create_mailbox(bob.id, "Saved")
    res = await store.copy_messages(projects.id, [1, 3], bobbox.id, viewer=bob.id)
    assert (await flags_of(store, bobbox, bob.id)) == {1: ("\\Seen", "\\Flagged"), 2: ()}
    assert res.uid_map == [(1, 1), (3, 2)]
    # Into another of alice's mailboxes: bob's \Seen stays his; alice's starts clear.
    other = await store.create_mailbox(alice.id, "Other")
    await store.copy_messages(projects.id, [1], other.id, viewer=bob.id)
    assert (await flags_of(store, other, bob.id)) == {1: ("\\Seen", "\\Flagged")}
    assert (await flags_of(store, other, alice.id)) == {1: ("\\Flagged",)}
    # MOVE removes the source's private rows.
    await store.move_messages(projects.id, [2], other.id, viewer=bob.id)
    assert query(data_dir, "SELECT uid FROM private_flags WHERE mailbox_id = ? ORDER BY uid",
                 (projects.id,)) == [(1,)]
    assert (await flags_of(store, other, bob.id))[2] == ("\\Seen",)
    assert (await flags_of(store, other, carol.id))[2] == ()


async def test_expunge_and_delete_clean_rows(store: Store, people, projects: MailboxInfo,
                                             data_dir) -> None:
    alice, bob, carol = people
    await store.store_flags(projects.id, [1, 2, 3], "add", ["\\Seen"], viewer=bob.id)
    await store.store_flags(projects.id, [1, 2], "add", ["\\Seen"], viewer=carol.id)
    await store.store_flags(projects.id, [1], "add", ["\\Deleted"], viewer=bob.id)
    # \Deleted is shared: alice's EXPUNGE removes it, with everyone's private rows.
    gone, _ = await store.expunge(projects.id, viewer=alice.id)
    assert gone == [1]
    assert query(data_dir, "SELECT user_id, uid FROM private_flags ORDER BY user_id, uid") == [
        (bob.id, 2), (bob.id, 3), (carol.id, 2)]
    await store.create_mailbox(alice.id, "Projects/Sub")
    await store.delete_mailbox(alice.id, "Projects")  # has inferiors: emptied, kept
    assert query(data_dir, "SELECT count(*) FROM private_flags") == [(0,)]
    box = await store.create_mailbox(alice.id, "X")
    uid, _ = await store.append_message(box.id, msg(1), (), None, PARSED)
    await store.store_flags(box.id, [uid], "add", ["\\Seen"], viewer=bob.id)
    await store.delete_mailbox(alice.id, "X")
    assert query(data_dir, "SELECT count(*) FROM private_flags") == [(0,)]
    box = await store.create_mailbox(alice.id, "Y")
    uid, _ = await store.append_message(box.id, msg(1), (), None, PARSED)
    await store.store_flags(box.id, [uid], "add", ["\\Seen"], viewer=bob.id)
    await store.delete_user("bob")
    assert query(data_dir, "SELECT count(*) FROM private_flags") == [(0,)]


async def test_append_by_non_owner(store: Store, people, projects: MailboxInfo) -> None:
    alice, bob, _ = people
    uid, _ = await store.append_message(projects.id, msg(7), ("\\Seen", "\\Draft"), None,
                                        PARSED, viewer=bob.id)
    assert (await flags_of(store, projects, bob.id))[uid] == ("\\Seen", "\\Draft")
    assert (await flags_of(store, projects, alice.id))[uid] == ("\\Draft",)


def test_migration_4_backfills(tmp_path) -> None:
    """A version-3 database with messages upgrades: shared_modseq = modseq, mask 1."""
    conn = schema_at(tmp_path / "db", 3)
    conn.execute("INSERT INTO users (name, password_hash, created_at) VALUES ('a', 'x', 0)")
    conn.execute("INSERT INTO mailboxes (owner_id, name, uidvalidity, created_at)"
                 " VALUES (1, 'INBOX', 1, 0)")
    conn.execute("INSERT INTO messages (sha256, size, body, envelope, bodystructure,"
                 " body_simple, created_at) VALUES (X'01', 1, X'00', X'', X'', X'', 0)")
    conn.execute("INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq,"
                 " internaldate) VALUES (1, 1, 1, 7, 0)")
    assert migrate(conn) == 3
    assert conn.execute("SELECT shared_modseq FROM mailbox_messages").fetchall() == [(7,)]
    assert conn.execute("SELECT private_flags FROM mailboxes").fetchall() == [(1,)]
    conn.close()
