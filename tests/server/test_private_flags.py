"""Private flags in shared mailboxes, over real connections (storage/migrations.py v4).

alice owns Projects (3 messages) and shares it with bob (lrswite) and carol (lrswite).
\\Seen is private by default: bob reading a message marks it read for bob only, and no
session of alice or carol hears of it, not even as a FETCH with unchanged flags.
"""

from __future__ import annotations

import re

import pytest

from crispin.storage.flags import FLAGGED, SEEN
from tests.server.harness import ServerThread, raw_login

MSG = b"From: alice@example.com\r\nSubject: plan\r\n\r\nthe plan\r\n"
BOX = b'"Other Users/alice/Projects"'


def tagged(lines: list[bytes]) -> bytes:
    return lines[-1].split(b" ", 1)[1]


def fetches(lines: list[bytes]) -> list[bytes]:
    return [x for x in lines if re.match(rb"\* \d+ FETCH", x)]


def projects_id(server: ServerThread) -> int:
    store = server.running.ctx.store

    async def find() -> int:
        owner = await store.get_user("alice")
        assert owner is not None
        info = await store.get_mailbox(owner.id, "Projects")
        assert info is not None
        return info.id

    return server.call(find())


def set_mask(server: ServerThread, mask: int) -> None:
    server.call(server.running.ctx.store.set_private_flags(projects_id(server), mask))


@pytest.fixture
def shared(server: ServerThread) -> ServerThread:
    server.add_user("carol")
    alice = server.login("alice")
    alice.create("Projects")
    for _ in range(3):
        alice.append("Projects", None, None, MSG)
    alice.select("Projects")  # claims \Recent, so FLAGS below never show it
    alice.logout()
    store = server.running.ctx.store
    box = projects_id(server)

    async def grant() -> None:
        await store.set_acl(box, "bob", "lrswite")
        await store.set_acl(box, "carol", "lrswite")

    server.call(grant())
    return server


def test_reading_marks_seen_for_the_reader_only(shared: ServerThread) -> None:
    bob = raw_login(shared, "bob")
    assert tagged(bob.command(b"a", b"SELECT " + BOX)).startswith(b"OK [READ-WRITE]")
    lines = bob.command(b"b", b"FETCH 1 BODY[]")
    assert lines[-2] == b" FLAGS (\\Seen))"
    assert bob.command(b"c", b"FETCH 1 (FLAGS)")[0] == b"* 1 FETCH (FLAGS (\\Seen))"
    assert bob.command(b"d", b"SEARCH UNSEEN")[0] == b"* SEARCH 2 3"
    bob.command(b"e", b"UNSELECT")
    assert bob.command(b"f", b"STATUS " + BOX + b" (UNSEEN MESSAGES)")[0] == \
        b'* STATUS "Other Users/alice/Projects" (UNSEEN 2 MESSAGES 3)'
    alice = raw_login(shared, "alice")
    assert alice.command(b"a", b"STATUS Projects (UNSEEN)")[0] == \
        b'* STATUS "Projects" (UNSEEN 3)'
    lines = alice.command(b"b", b"SELECT Projects")
    assert b"* OK [UNSEEN 1] First unseen" in lines
    assert alice.command(b"c", b"SEARCH UNSEEN")[0] == b"* SEARCH 1 2 3"
    assert alice.command(b"d", b"FETCH 1 (FLAGS)")[0] == b"* 1 FETCH (FLAGS ())"
    carol = raw_login(shared, "carol")
    assert carol.command(b"a", b"STATUS " + BOX + b" (UNSEEN)")[0] == \
        b'* STATUS "Other Users/alice/Projects" (UNSEEN 3)'
    # alice's own \Seen is hers: bob still has message 2 unread.
    alice.command(b"e", b"STORE 2 +FLAGS.SILENT (\\Seen)")
    assert bob.command(b"g", b"STATUS " + BOX + b" (UNSEEN)")[0] == \
        b'* STATUS "Other Users/alice/Projects" (UNSEEN 2)'
    # LIST-STATUS (RFC 5819) counts for the asker too.
    lines = bob.command(b"h", b'LIST "" "Other Users/alice/*" RETURN (STATUS (UNSEEN))')
    assert b'* STATUS "Other Users/alice/Projects" (UNSEEN 2)' in lines


def test_private_change_reaches_only_its_user(shared: ServerThread) -> None:
    alice = raw_login(shared, "alice")
    alice.command(b"a", b"SELECT Projects")
    idler = raw_login(shared, "alice")
    idler.command(b"a", b"SELECT Projects")
    carol = raw_login(shared, "carol")
    carol.command(b"a", b"SELECT " + BOX)
    bob = raw_login(shared, "bob")
    bob.command(b"a", b"SELECT " + BOX)
    bob2 = raw_login(shared, "bob")
    bob2.command(b"a", b"SELECT " + BOX)
    idler.send(b"i IDLE\r\n")
    assert idler.line() == b"+ idling"
    # bob: a private \Seen on 1, then a shared \Flagged on 2.
    bob.command(b"b", b"STORE 1 +FLAGS.SILENT (\\Seen)")
    bob.command(b"c", b"STORE 2 +FLAGS.SILENT (\\Flagged)")
    # The IDLEing owner hears of message 2 only.
    first = idler.line()
    assert first == b"* 2 FETCH (UID 2 FLAGS (\\Flagged))"
    idler.send(b"DONE\r\n")
    assert fetches(idler.until_tagged(b"i")) == []
    assert fetches(alice.command(b"b", b"NOOP")) == [b"* 2 FETCH (UID 2 FLAGS (\\Flagged))"]
    assert fetches(carol.command(b"b", b"NOOP")) == [b"* 2 FETCH (UID 2 FLAGS (\\Flagged))"]
    # bob's other session gets both, with his \Seen.
    assert fetches(bob2.command(b"b", b"NOOP")) == [
        b"* 1 FETCH (UID 1 FLAGS (\\Seen))", b"* 2 FETCH (UID 2 FLAGS (\\Flagged))"]
    # alice's private \Seen does not reach bob or carol either.
    alice.command(b"c", b"STORE 3 +FLAGS.SILENT (\\Seen)")
    assert fetches(bob.command(b"d", b"NOOP")) == []  # his own STORE is not echoed either
    assert fetches(carol.command(b"c", b"NOOP")) == []


def test_flag_searches_stay_per_user(shared: ServerThread) -> None:
    """SEARCH UNSEEN/SEEN/FLAGGED come from each user's own in-memory index (issue 14):
    bob's private \\Seen never shows in alice's or carol's answers, a shared \\Flagged in
    everybody's, and a change of the private mask is followed at once."""
    alice = raw_login(shared, "alice")
    alice.command(b"a", b"SELECT Projects")
    carol = raw_login(shared, "carol")
    carol.command(b"a", b"SELECT " + BOX)
    bob = raw_login(shared, "bob")
    bob.command(b"a", b"SELECT " + BOX)
    for who in (alice, carol, bob):
        assert who.command(b"s", b"SEARCH UNSEEN")[0] == b"* SEARCH 1 2 3"
    bob.command(b"b", b"STORE 1 +FLAGS.SILENT (\\Seen)")
    bob.command(b"c", b"STORE 2 +FLAGS.SILENT (\\Flagged)")
    alice.command(b"c", b"STORE 3 +FLAGS.SILENT (\\Seen)")
    assert bob.command(b"d", b"SEARCH UNSEEN")[0] == b"* SEARCH 2 3"
    assert alice.command(b"d", b"SEARCH UNSEEN")[0] == b"* SEARCH 1 2"
    assert carol.command(b"d", b"UID SEARCH SEEN")[0] == b"* SEARCH"
    for who in (alice, carol, bob):
        assert who.command(b"f", b"SEARCH FLAGGED")[0] == b"* SEARCH 2"
    set_mask(shared, 0)  # \\Seen shared now: the owner's bits are everybody's
    assert bob.command(b"g", b"SEARCH SEEN")[0] == b"* SEARCH 3"
    assert carol.command(b"g", b"SEARCH UNSEEN")[0] == b"* SEARCH 1 2"


def test_mask_seen_flagged_and_none(shared: ServerThread) -> None:
    set_mask(shared, SEEN | FLAGGED)
    alice = raw_login(shared, "alice")
    alice.command(b"a", b"SELECT Projects")
    bob = raw_login(shared, "bob")
    bob.command(b"a", b"SELECT " + BOX)
    bob.command(b"b", b"STORE 1 +FLAGS.SILENT (\\Flagged)")
    assert fetches(alice.command(b"b", b"NOOP")) == []
    assert alice.command(b"c", b"SEARCH FLAGGED")[0] == b"* SEARCH"
    assert bob.command(b"c", b"SEARCH FLAGGED")[0] == b"* SEARCH 1"
    bob.command(b"d", b"STORE 1 +FLAGS.SILENT (\\Answered)")  # still shared
    assert fetches(alice.command(b"d", b"NOOP")) == [b"* 1 FETCH (UID 1 FLAGS (\\Answered))"]
    # Every flag shared: bob's \Seen is everybody's.  The mask change itself makes
    # selected sessions refetch flags (every message got a new modseq).
    set_mask(shared, 0)
    alice.command(b"e", b"NOOP")
    bob.command(b"e", b"NOOP")
    bob.command(b"f", b"STORE 2 +FLAGS.SILENT (\\Seen)")
    assert fetches(alice.command(b"f", b"NOOP")) == [b"* 2 FETCH (UID 2 FLAGS (\\Seen))"]
    assert alice.command(b"g", b"STATUS Projects (UNSEEN)")[0] == \
        b'* STATUS "Projects" (UNSEEN 2)'


def test_condstore_and_qresync_per_user(shared: ServerThread) -> None:
    alice = raw_login(shared, "alice")
    lines = alice.command(b"a", b"SELECT Projects (CONDSTORE)")
    start = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"\n".join(lines)).group(1))  # type: ignore[union-attr]
    uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", b"\n".join(lines)).group(1))  # type: ignore[union-attr]
    bob = raw_login(shared, "bob")
    bob.command(b"a", b"SELECT " + BOX + b" (CONDSTORE)")
    lines = bob.command(b"b", b"STORE 1 +FLAGS (\\Seen)")
    bob_modseq = int(re.search(rb"MODSEQ \((\d+)\)", lines[0]).group(1))  # type: ignore[union-attr]
    assert bob_modseq > start
    assert bob.command(b"c", b"FETCH 1 (MODSEQ)")[0] == \
        b"* 1 FETCH (MODSEQ (%d))" % bob_modseq
    assert bob.command(b"d", b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % start)[0] == \
        b"* 1 FETCH (FLAGS (\\Seen) MODSEQ (%d))" % bob_modseq
    assert bob.command(b"e", b"SEARCH MODSEQ %d" % bob_modseq)[0] == \
        b"* SEARCH 1 (MODSEQ %d)" % bob_modseq
    # alice: nothing changed for her.
    lines = alice.command(b"b", b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % start)
    assert fetches(lines) == []
    assert alice.command(b"c", b"FETCH 1 (MODSEQ)")[0] != b"* 1 FETCH (MODSEQ (%d))" % bob_modseq
    assert alice.command(b"d", b"SEARCH MODSEQ %d" % bob_modseq)[0].startswith(b"* SEARCH")
    assert b" 1" not in alice.command(b"e", b"SEARCH MODSEQ %d" % bob_modseq)[0]
    # UNCHANGEDSINCE compares each user's own modseq.
    lines = alice.command(b"f", b"STORE 1 (UNCHANGEDSINCE %d) +FLAGS.SILENT ($Done)" % start)
    assert tagged(lines).startswith(b"OK")
    # QRESYNC: bob is told of his \Seen, alice is not.
    for user, box, expect_seen in ((b"alice", b"Projects", False), (b"bob", BOX, True)):
        c = raw_login(shared, user.decode())
        c.command(b"x", b"ENABLE QRESYNC")
        lines = c.command(b"y", b"SELECT %s (QRESYNC (%d %d))" % (box, uidvalidity, start))
        got = fetches(lines)
        one = [x for x in got if x.startswith(b"* 1 FETCH")]
        assert one, lines
        assert (b"\\Seen" in one[0]) is expect_seen


def test_ownerless_shared_mailbox(shared: ServerThread) -> None:
    store = shared.running.ctx.store

    async def setup() -> None:
        info = await store.create_shared_mailbox("support")
        await store.set_acl(info.id, "anyone", "lrswite")

    shared.call(setup())
    carol = raw_login(shared, "carol")
    assert tagged(carol.command(b"a", b'APPEND "Shared/support" (\\Seen) {5+}\r\nhello')) \
        .startswith(b"OK")
    carol.command(b"b", b'APPEND "Shared/support" {5+}\r\nhello')
    bob = raw_login(shared, "bob")
    alice = raw_login(shared, "alice")
    for who, unseen in ((carol, 1), (bob, 2), (alice, 2)):
        assert who.command(b"s", b'STATUS "Shared/support" (UNSEEN)')[0] == \
            b'* STATUS "Shared/support" (UNSEEN %d)' % unseen
    bob.command(b"c", b'SELECT "Shared/support"')
    alice.command(b"c", b'SELECT "Shared/support"')
    bob.command(b"d", b"FETCH 2 BODY[]")
    assert bob.command(b"e", b"SEARCH UNSEEN")[0] == b"* SEARCH 1"
    assert alice.command(b"d", b"SEARCH UNSEEN")[0] == b"* SEARCH 1 2"
    assert fetches(alice.command(b"e", b"NOOP")) == []
    carol.command(b"f", b'SELECT "Shared/support"')
    assert carol.command(b"g", b"SEARCH UNSEEN")[0] == b"* SEARCH 2"


def test_cli_private(shared: ServerThread, capsys: pytest.CaptureFixture[str]) -> None:
    from crispin.server.cli import main

    data = str(shared.config.data_dir)
    assert main(["mailbox", "private", "--data-dir", data, "alice/Projects"]) == 0
    assert "private flags: seen" in capsys.readouterr().out
    assert main(["mailbox", "private", "--data-dir", data, "alice/Projects",
                 "seen+flagged"]) == 0
    assert "private flags: seen+flagged" in capsys.readouterr().out
    info = shared.call(shared.running.ctx.store.get_mailbox_by_id(projects_id(shared)))
    assert info is not None and info.private_flags == SEEN | FLAGGED
    assert main(["mailbox", "private", "--data-dir", data, "alice/Nope", "none"]) == 1
