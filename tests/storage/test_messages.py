"""Message API draft: APPEND, flags, EXPUNGE with tombstones, COPY/MOVE, change log."""

from __future__ import annotations

import asyncio
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from crispin.storage import (
    InvalidFlag,
    MailboxInfo,
    MessageState,
    NoSelect,
    NotFound,
    Store,
    User,
)
from crispin.storage import flags as flagmod

from .helpers import query

PARSED = {"envelope": b"(ENV)", "bodystructure": b"(BS)", "body_simple": b"(B)"}
MSG = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture
async def inbox(store: Store, user: User) -> MailboxInfo:
    box = await store.get_mailbox(user.id, "INBOX")
    assert box is not None
    return box


async def append(store: Store, box: MailboxInfo, body: bytes = MSG, *flags: str) -> int:
    uid, _ = await store.append_message(box.id, body, flags, None, PARSED)
    return uid


# -- flags encoding ----------------------------------------------------------------------


def test_flag_encoding() -> None:
    bits, kws = flagmod.encode(["\\seen", "\\Deleted", "$Work", "$work", "\\Recent", "Junk"])
    assert bits == flagmod.SEEN | flagmod.DELETED
    assert kws == ["$Work", "Junk"]
    assert flagmod.decode(bits, " ".join(kws)) == ("\\Seen", "\\Deleted", "$Work", "Junk")
    for bad in ["\\Unknown", "", "a b", "x\x01"]:
        with pytest.raises(InvalidFlag):
            flagmod.encode([bad])


# -- APPEND ------------------------------------------------------------------------------


async def test_append_assigns_uids_and_modseqs(store: Store, inbox: MailboxInfo) -> None:
    r1 = await store.append_message(inbox.id, MSG, ["\\Seen"], None, PARSED)
    r2 = await store.append_message(inbox.id, MSG + b"2", [], None, PARSED)
    assert r1 == (1, 2) and r2 == (2, 3)
    box = await store.get_mailbox_by_id(inbox.id)
    assert box is not None and (box.uidnext, box.highest_modseq) == (3, 3)
    st = await store.mailbox_status(inbox.id)
    assert (st.messages, st.unseen, st.recent) == (2, 1, 2)
    assert await store.list_messages(inbox.id) == [
        MessageState(1, ("\\Seen",), 2),
        MessageState(2, (), 3),
    ]


async def test_append_stores_internaldate_and_parsed(store: Store, inbox: MailboxInfo) -> None:
    when = datetime(2024, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=-5)))
    parsed: dict[str, bytes | int | str | None] = {
        **PARSED,
        "hdr_subject": "hi",
        "header_size": 36,
        "lines": 1,
        "sent_on": "2024-03-01",
    }
    uid, modseq = await store.append_message(inbox.id, MSG, ["$A"], when, parsed)
    [rec] = await store.fetch_records(inbox.id, [uid, 99])
    assert rec.uid == uid and rec.modseq == modseq
    assert rec.internaldate == when and rec.internaldate.utcoffset() == timedelta(hours=-5)
    assert (rec.size, rec.header_size, rec.lines) == (len(MSG), 36, 1)
    assert (rec.envelope, rec.bodystructure, rec.body_simple) == (b"(ENV)", b"(BS)", b"(B)")
    assert rec.flags == ("$A",)
    assert await store.message_body(inbox.id, uid) == MSG
    assert await store.message_body(inbox.id, 99) is None


async def test_append_rejects_bad_input(store: Store, user: User, inbox: MailboxInfo) -> None:
    with pytest.raises(ValueError):
        await store.append_message(inbox.id, MSG, [], None, {"envelope": b"x"})
    with pytest.raises(ValueError):
        await store.append_message(inbox.id, MSG, [], None, {**PARSED, "subjekt": "typo"})
    with pytest.raises(InvalidFlag):
        await store.append_message(inbox.id, MSG, ["\\Bogus"], None, PARSED)
    with pytest.raises(NotFound):
        await store.append_message(9999, MSG, [], None, PARSED)
    await store.create_mailbox(user.id, "p/c")
    await store.delete_mailbox(user.id, "p")
    p = await store.get_mailbox(user.id, "p")
    assert p is not None
    with pytest.raises(NoSelect):
        await store.append_message(p.id, MSG, [], None, PARSED)
    assert (await store.mailbox_status(inbox.id)).messages == 0
    assert query(store.data_dir, "SELECT count(*) FROM messages") == [(0,)]


async def test_identical_bodies_stored_once(store: Store, user: User, inbox: MailboxInfo) -> None:
    other = await store.create_mailbox(user.id, "Other")
    await append(store, inbox)
    await append(store, inbox)
    await append(store, other)
    assert query(store.data_dir, "SELECT count(*), sum(refcount) FROM messages") == [(1, 3)]


async def test_large_body_goes_to_a_file(store: Store, inbox: MailboxInfo, tmp_path: Path) -> None:
    store.inline_max = 100
    big = b"Subject: big\r\n\r\n" + b"x" * 5000
    src = tmp_path / "literal.tmp"
    src.write_bytes(big)
    uid_a = (await store.append_message(inbox.id, src, [], None, PARSED))[0]
    assert src.read_bytes() == big  # the caller's file is left alone
    uid_b = await append(store, inbox, big)  # same content as bytes: deduplicated
    [(path, body)] = query(store.data_dir, "SELECT path, body FROM messages")
    assert body is None and isinstance(path, str) and path.startswith("blobs/")
    blob = store.data_dir / path
    assert blob.read_bytes() == big
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    assert await store.message_body(inbox.id, uid_a) == big
    assert await store.message_body(inbox.id, uid_b) == big
    assert list((store.data_dir / "blobs" / "tmp").iterdir()) == []


async def test_failed_append_leaves_no_temp_file(store: Store) -> None:
    store.inline_max = 10
    with pytest.raises(NotFound):
        await store.append_message(424242, MSG, [], None, PARSED)
    assert list((store.data_dir / "blobs" / "tmp").iterdir()) == []


async def test_concurrent_appends_get_distinct_uids(store: Store, inbox: MailboxInfo) -> None:
    results = await asyncio.gather(
        *(
            store.append_message(inbox.id, MSG + str(i).encode(), [], None, PARSED)
            for i in range(40)
        )
    )
    assert sorted(uid for uid, _ in results) == list(range(1, 41))
    assert len({m for _, m in results}) == 40
    assert (await store.mailbox_status(inbox.id)).messages == 40


# -- STORE and the change log --------------------------------------------------------------


async def test_store_flags_modes(store: Store, inbox: MailboxInfo) -> None:
    for i in range(3):
        await append(store, inbox, MSG + bytes([i]))
    res = await store.store_flags(inbox.id, [1, 2, 77], "add", ["\\Seen", "$Work"])
    assert res.changed == [1, 2] and res.modified == []
    assert [m.flags for m in res.messages] == [("\\Seen", "$Work")] * 2
    m1 = res.highest_modseq
    assert {m.modseq for m in res.messages} == {m1}
    res = await store.store_flags(inbox.id, [1, 2], "add", ["\\seen", "$work"])
    assert res.changed == [] and res.highest_modseq == m1  # nothing changed: no new modseq
    res = await store.store_flags(inbox.id, [2], "remove", ["$WORK"])
    assert res.messages == [MessageState(2, ("\\Seen",), m1 + 1)]
    res = await store.store_flags(inbox.id, [1, 3], "set", ["\\Flagged", "\\Recent"])
    assert [m.flags for m in res.messages] == [("\\Flagged",), ("\\Flagged",)]
    st = await store.mailbox_status(inbox.id)
    assert st.unseen == 2 and st.highest_modseq == m1 + 2


async def test_unchangedsince(store: Store, inbox: MailboxInfo) -> None:
    """RFC 7162 §3.1.3: messages changed after UNCHANGEDSINCE are not touched."""
    await append(store, inbox, b"1")
    await append(store, inbox, b"2")
    first = await store.store_flags(inbox.id, [1], "add", ["\\Seen"])
    res = await store.store_flags(inbox.id, [1, 2], "add", ["\\Flagged"], unchanged_since=3)
    assert res.modified == [1] and res.changed == [2]
    assert res.messages[0].flags == ("\\Seen",) and res.messages[0].modseq == first.highest_modseq


async def test_system_flag_stores_match_a_model(
        store: Store, inbox: MailboxInfo, data_dir: Path) -> None:
    """STOREs of system flags alone are one UPDATE over UID ranges (issue 14): checked
    against a per-message model of RFC 3501 §6.4.6 and RFC 7162 §3.1.3 on a mailbox with
    gaps (more UID runs than ``MAX_SPANS``, so both ways of naming the set are used):
    changed and modified lists, states, one new modseq per change, and ``shared_modseq``
    left alone for a change of the owner's private \\Seen only (INBOX keeps \\Seen private)."""
    import random

    from crispin.storage.messages import MAX_SPANS

    for i in range(60):
        await append(store, inbox, MSG + b"%d" % i, *(["$Tag"] if i % 7 == 0 else []))
    await store.store_flags(inbox.id, list(range(2, 61, 3)), "add", ["\\Deleted"])
    await store.expunge(inbox.id)
    names = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]

    def rows() -> dict[int, tuple[int, str, int, int]]:
        return {int(r[0]): (int(r[1]), str(r[2]), int(r[3]), int(r[4])) for r in query(
            data_dir, "SELECT uid, flags, keywords, modseq, shared_modseq FROM mailbox_messages"
            " WHERE mailbox_id = ?", (inbox.id,))}

    rng = random.Random(14)
    for step in range(40):
        before = rows()
        present = sorted(before)
        chosen = present if step % 5 == 0 else sorted(rng.sample(present, rng.randint(1, 30)))
        if step % 4 == 1:  # runs of neighbours: few spans
            start = rng.randrange(len(present))
            chosen = present[start:start + rng.randint(1, 12)]
        mode = rng.choice(["add", "remove", "set"])
        flags = rng.sample(names, rng.randint(0 if mode == "set" else 1, 3))
        highest = (await store.mailbox_status(inbox.id)).highest_modseq
        since = rng.choice([None, highest, highest - rng.randint(1, 10)])
        states = rng.random() < 0.5
        res = await store.store_flags(inbox.id, [*chosen, 999], mode, flags, since,
                                      want_states=states)
        bits = flagmod.mask_of(flags)
        new_modseq = highest + 1
        changed, modified = [], []
        expect = dict(before)
        for uid in chosen:
            old_bits, kw, modseq, shared = before[uid]
            if since is not None and modseq > since:
                modified.append(uid)
                continue
            nb = {"add": old_bits | bits, "remove": old_bits & ~bits, "set": bits}[mode]
            nkw = "" if mode == "set" else kw
            if nb == old_bits and nkw == kw:
                continue
            changed.append(uid)
            seen_by_all = (nb ^ old_bits) & ~flagmod.SEEN or nkw != kw
            expect[uid] = (nb, nkw, new_modseq, new_modseq if seen_by_all else shared)
        assert res.changed == changed and res.modified == modified, step
        assert res.highest_modseq == (new_modseq if changed else highest)
        assert rows() == expect, step
        shown = chosen if states else modified
        assert [m.uid for m in res.messages] == shown
        for m in res.messages:
            b, kw, modseq, _ = expect[m.uid]
            assert m == MessageState(m.uid, flagmod.decode(b, kw), modseq)
    assert len(present) // 2 > MAX_SPANS


async def test_changes_since_skips_the_callers_own_modseqs(
        store: Store, inbox: MailboxInfo) -> None:
    """A session's own STOREs (answered already) are not read back: messages last changed
    at a skipped modseq are left out, everything before, between and after stays."""
    for i in range(5):
        await append(store, inbox, b"%d" % i)
    base = (await store.mailbox_status(inbox.id)).highest_modseq
    first = await store.store_flags(inbox.id, [1], "add", ["\\Flagged"])
    own = await store.store_flags(inbox.id, [2, 3], "add", ["\\Seen"])
    await store.store_flags(inbox.id, [4], "add", ["\\Draft"])
    own2 = await store.store_flags(inbox.id, [5], "add", ["\\Seen"])
    await append(store, inbox, b"new")
    changes = await store.changes_since(inbox.id, base,
                                        skip=[own.highest_modseq, own2.highest_modseq, 1])
    assert [m.uid for m in changes.updated] == [1, 4, 6]
    assert changes.updated[0].modseq == first.highest_modseq
    assert [m.uid for m in (await store.changes_since(inbox.id, base)).updated] == \
        [1, 2, 3, 4, 5, 6]


async def test_changes_since(store: Store, inbox: MailboxInfo) -> None:
    await append(store, inbox, b"1")
    await append(store, inbox, b"2")
    base = (await store.mailbox_status(inbox.id)).highest_modseq
    assert (await store.changes_since(inbox.id, base)).updated == []
    await store.store_flags(inbox.id, [1], "add", ["\\Deleted"])
    await append(store, inbox, b"3")
    ch = await store.changes_since(inbox.id, base)
    assert [m.uid for m in ch.updated] == [1, 3]
    assert ch.expunged == [] and ch.uidnext == 4
    await store.expunge(inbox.id)
    ch = await store.changes_since(inbox.id, base)
    assert [m.uid for m in ch.updated] == [3] and ch.expunged == [1]
    assert ch.highest_modseq == (await store.mailbox_status(inbox.id)).highest_modseq
    assert (await store.changes_since(inbox.id, ch.highest_modseq)).updated == []


async def test_changes_since_the_last_change_alone(
        store: Store, user: User, inbox: MailboxInfo) -> None:
    """From the modseq just before each kind of change (the question a session asks after
    every command, issue 14: nothing since is answered from the mailbox row alone), for
    the owner by id and for ``viewer`` None alike."""
    for body in (b"1", b"2"):
        await append(store, inbox, body)
    for viewer in (None, user.id):
        top = (await store.mailbox_status(inbox.id)).highest_modseq
        ch = await store.changes_since(inbox.id, top, viewer=viewer)
        assert (ch.updated, ch.expunged, ch.highest_modseq, ch.uidnext) == ([], [], top, 3)
    before = (await store.mailbox_status(inbox.id)).highest_modseq
    await store.store_flags(inbox.id, [1], "add", ["\\Deleted"])
    ch = await store.changes_since(inbox.id, before, viewer=user.id)
    assert [m.uid for m in ch.updated] == [1] and ch.highest_modseq == before + 1
    before = ch.highest_modseq
    await store.expunge(inbox.id)
    for viewer in (None, user.id):
        ch = await store.changes_since(inbox.id, before, viewer=viewer)
        assert (ch.updated, ch.expunged, ch.highest_modseq) == ([], [1], before + 1)


async def test_records_and_bodies_of_one_message_as_of_many(
        store: Store, user: User, inbox: MailboxInfo) -> None:
    """One UID takes its own query (its key, no budget): the same records and bodies as
    the query of many, and nothing for a UID that is not there."""
    for i in range(3):
        await append(store, inbox, b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i), "\\Flagged")
    many, many_bodies = await store.fetch_records_and_bodies(
        inbox.id, [1, 2, 3], True, "full", viewer=user.id, budget=1)
    assert [r.uid for r in many] == [1]  # the budget stops after the first
    for uid in (1, 2, 3):
        recs, bodies = await store.fetch_records_and_bodies(
            inbox.id, [uid], True, "full", viewer=user.id, budget=1)
        all_recs, all_bodies = await store.fetch_records_and_bodies(
            inbox.id, [uid, 99], True, "full", viewer=user.id)
        assert recs == all_recs and bodies == all_bodies == {uid: b"Subject: %d\r\n\r\nbody %d\r\n"
                                                           % (uid - 1, uid - 1)}
    assert await store.fetch_records_and_bodies(inbox.id, [99], True, "full") == ([], {})


# -- EXPUNGE, COPY, MOVE ----------------------------------------------------------------------


async def test_expunge_only_deleted_with_tombstones(store: Store, inbox: MailboxInfo) -> None:
    for i in range(4):
        await append(store, inbox, bytes([i]), *(["\\Deleted"] if i != 1 else []))
    gone, modseq = await store.expunge(inbox.id, [1, 2, 3])  # UID EXPUNGE (RFC 4315)
    assert gone == [1, 3]
    assert [m.uid for m in await store.list_messages(inbox.id)] == [2, 4]
    assert query(
        store.data_dir, "SELECT uid, modseq FROM expunged WHERE mailbox_id = ?", (inbox.id,)
    ) == [(1, modseq), (3, modseq)]
    gone2, modseq2 = await store.expunge(inbox.id)
    assert gone2 == [4] and modseq2 == modseq + 1
    assert await store.expunge(inbox.id) == ([], modseq2)
    st = await store.mailbox_status(inbox.id)
    assert (st.messages, st.uidnext) == (1, 5)  # UIDs are never reused


async def test_copy_keeps_flags_and_dates_and_shares_bodies(
    store: Store, user: User, inbox: MailboxInfo
) -> None:
    when = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    await store.append_message(inbox.id, b"a", ["\\Seen", "$X"], when, PARSED)
    await store.append_message(inbox.id, b"b", [], when, PARSED)
    dest = await store.create_mailbox(user.id, "Dest")
    await append(store, dest, b"already there")
    res = await store.copy_messages(inbox.id, [2, 1, 50], dest.id)
    assert res.uidvalidity == dest.uidvalidity
    assert res.uid_map == [(1, 2), (2, 3)] and res.expunged == []
    recs = await store.fetch_records(dest.id, [2, 3])
    assert [r.flags for r in recs] == [("\\Seen", "$X"), ()]
    assert all(r.internaldate == when for r in recs)
    assert query(store.data_dir, "SELECT count(*), sum(refcount) FROM messages") == [(3, 5)]
    assert (await store.mailbox_status(inbox.id)).messages == 2
    assert await store.copy_messages(inbox.id, [99], dest.id) == type(res)(dest.uidvalidity, [], [])


async def test_move(store: Store, user: User, inbox: MailboxInfo) -> None:
    await append(store, inbox, b"a")
    await append(store, inbox, b"b")
    dest = await store.create_mailbox(user.id, "Dest")
    before = (await store.mailbox_status(inbox.id)).highest_modseq
    res = await store.move_messages(inbox.id, [1], dest.id)
    assert res.uid_map == [(1, 1)] and res.expunged == [1]
    assert [m.uid for m in await store.list_messages(inbox.id)] == [2]
    ch = await store.changes_since(inbox.id, before)
    assert ch.expunged == [1]
    assert await store.message_body(dest.id, 1) == b"a"
    assert query(store.data_dir, "SELECT sum(refcount) FROM messages") == [(2,)]


async def test_copy_to_placeholder_or_missing(store: Store, user: User, inbox: MailboxInfo) -> None:
    await append(store, inbox)
    await store.create_mailbox(user.id, "p/c")
    await store.delete_mailbox(user.id, "p")
    p = await store.get_mailbox(user.id, "p")
    assert p is not None
    with pytest.raises(NoSelect):
        await store.copy_messages(inbox.id, [1], p.id)
    with pytest.raises(NotFound):
        await store.move_messages(inbox.id, [1], 4242)
    assert [m.uid for m in await store.list_messages(inbox.id)] == [1]


async def test_claim_recent(store: Store, inbox: MailboxInfo) -> None:
    await append(store, inbox, b"1")
    await append(store, inbox, b"2")
    assert await store.claim_recent(inbox.id) == [1, 2]
    assert await store.claim_recent(inbox.id) == []
    assert (await store.mailbox_status(inbox.id)).recent == 0
    await append(store, inbox, b"3")
    assert (await store.mailbox_status(inbox.id)).recent == 1
    assert await store.claim_recent(inbox.id) == [3]


# -- sweeping ---------------------------------------------------------------------------------


async def test_sweep_removes_unreferenced_rows_and_files(
    store: Store, user: User, inbox: MailboxInfo
) -> None:
    store.inline_max = 10
    big = b"y" * 100
    await append(store, inbox, big, "\\Deleted")
    await append(store, inbox, b"small", "\\Deleted")
    keep = await store.create_mailbox(user.id, "Keep")
    await append(store, keep, b"kept forever")
    [(path,)] = query(store.data_dir, "SELECT path FROM messages WHERE size = 100")
    assert await store.sweep_messages() == 0  # everything is referenced
    await store.expunge(inbox.id)
    assert await store.sweep_messages() == 1
    assert not (store.data_dir / str(path)).exists()
    assert query(store.data_dir, "SELECT count(*) FROM messages") == [(1,)]
    # the same body appended again after the sweep gets its file back
    uid = await append(store, inbox, big)
    assert await store.message_body(inbox.id, uid) == big


async def test_deleting_a_mailbox_releases_bodies(store: Store, user: User) -> None:
    box = await store.create_mailbox(user.id, "Tmp")
    await append(store, box, b"1")
    await store.delete_mailbox(user.id, "Tmp")
    assert query(store.data_dir, "SELECT refcount FROM messages") == [(0,)]
    await store.sweep_messages()
    assert query(store.data_dir, "SELECT count(*) FROM messages") == [(0,)]
