"""Shared mailboxes across users (RFC 4314 ACL, RFC 2342 namespaces, RFC 9208 QUOTA).

The rights matrix: for every right, a user with and without it tries every command that
right governs, over real connections; nothing is allowed that should not be, nothing refused
that should be allowed.
"""

from __future__ import annotations

import re

import pytest

from tests.server.harness import PASSWORD, RawClient, ServerThread

MSG = b"From: alice@example.com\r\nSubject: plan\r\n\r\nthe plan\r\n"
BOX = b'"Other Users/alice/Projects"'


def login(server: ServerThread, user: str) -> RawClient:
    raw = server.raw()
    assert raw.command(b"l", b'LOGIN %s "%s"' % (user.encode(), PASSWORD.encode()))[-1] \
        .startswith(b"l OK")
    return raw


@pytest.fixture
def shared(server: ServerThread) -> ServerThread:
    """alice owns Projects (3 messages) and Projects/Old; bob and carol are other users."""
    server.add_user("carol")
    alice = server.login("alice")
    alice.create("Projects/Old")
    for _ in range(3):
        alice.append("Projects", None, None, MSG)
    alice.logout()
    return server


def grant(server: ServerThread, rights: str, who: str = "bob",
          mailbox: str = "Projects") -> None:
    store = server.running.ctx.store

    async def set_it() -> None:
        owner = await store.get_user("alice")
        assert owner is not None
        info = await store.get_mailbox(owner.id, mailbox)
        assert info is not None
        await store.set_acl(info.id, who, rights)

    server.call(set_it())


def tagged(lines: list[bytes]) -> bytes:
    return lines[-1].split(b" ", 1)[1]


def test_owner_rights_and_acl_commands(shared: ServerThread) -> None:
    alice = login(shared, "alice")
    assert alice.command(b"a", b"MYRIGHTS Projects")[0] == \
        b'* MYRIGHTS "Projects" lrswipkxteacd'
    assert tagged(alice.command(b"b", b"SETACL Projects bob lr")).startswith(b"OK")
    assert tagged(alice.command(b"c", b"SETACL Projects bob +s")).startswith(b"OK")
    assert tagged(alice.command(b"d", b"SETACL Projects -carol w")).startswith(b"OK")
    lines = alice.command(b"e", b"GETACL Projects")
    assert lines[0] == b'* ACL "Projects" alice lrswipkxteacd -carol w bob lrs'
    lines = alice.command(b"f", b"LISTRIGHTS Projects bob")
    assert lines[0] == b'* LISTRIGHTS "Projects" bob "" l r s w i p k x t e a c d'
    assert tagged(alice.command(b"g", b"DELETEACL Projects -carol")).startswith(b"OK")
    assert b"-carol" not in alice.command(b"h", b"GETACL Projects")[0]
    assert tagged(alice.command(b"i", b"SETACL Projects bob lrz")).startswith(b"BAD")


def test_namespace_listing_across_users(shared: ServerThread) -> None:
    grant(shared, "lr")
    bob = login(shared, "bob")
    lines = [x for x in bob.command(b"a", b'LIST "" "*"') if x.startswith(b"* ")]
    assert b'* LIST (\\Noselect \\HasChildren) "/" "Other Users"' in lines
    assert b'* LIST (\\Noselect \\HasChildren) "/" "Other Users/alice"' in lines
    # Projects/Old is not shared: Projects has no (visible) children.
    assert b'* LIST (\\HasNoChildren) "/" "Other Users/alice/Projects"' in lines
    assert not any(b"Old" in x for x in lines)
    assert [x for x in bob.command(b"b", b'LIST "" "%"') if b"Other" in x] == [
        b'* LIST (\\Noselect \\HasChildren) "/" "Other Users"']
    lines = bob.command(b"c", b'LIST "Other Users/" "%"')
    assert lines[0] == b'* LIST (\\Noselect \\HasChildren) "/" "Other Users/alice"'
    lines = bob.command(b"d", b'LIST "" "Other Users/alice/%" RETURN (MYRIGHTS)')
    assert lines[1] == b'* MYRIGHTS "Other Users/alice/Projects" lr'
    # The known client failure: SELECT of a \Noselect level is answered cleanly.
    assert tagged(bob.command(b"e", b'SELECT "Other Users"')).startswith(b"NO [NONEXISTENT]")
    assert tagged(bob.command(b"f", b'SELECT "Other Users/alice"')).startswith(b"NO")
    # carol sees nothing of alice's
    carol = login(shared, "carol")
    assert not any(b"Other Users" in x for x in carol.command(b"g", b'LIST "" "*"'))


def test_refusals_do_not_reveal_existence(shared: ServerThread) -> None:
    bob = login(shared, "bob")
    for box in (BOX, b'"Other Users/alice/Nothing"', b'"Other Users/nobody/x"'):
        assert tagged(bob.command(b"a", b"SELECT " + box)).startswith(b"NO [NONEXISTENT]")
        assert tagged(bob.command(b"b", b"STATUS " + box + b" (MESSAGES)")).startswith(
            b"NO [NONEXISTENT]")
        assert tagged(bob.command(b"c", b"GETACL " + box)).startswith(b"NO [NONEXISTENT]")
        assert tagged(bob.command(b"d", b"MYRIGHTS " + box)).startswith(b"NO [NONEXISTENT]")
        assert tagged(bob.command(b"e", b"DELETE " + box)).startswith(b"NO [NONEXISTENT]")


CASES = [
    # (right, command builder, how to tell it was allowed)
    ("r", b"SELECT " + BOX, b"OK"),
    ("r", b"EXAMINE " + BOX, b"OK"),
    ("r", b"STATUS " + BOX + b" (MESSAGES)", b"OK"),
    ("a", b"GETACL " + BOX, b"OK"),
    ("a", b"LISTRIGHTS " + BOX + b" carol", b"OK"),
    ("a", b"SETACL " + BOX + b" carol l", b"OK"),
    ("a", b"DELETEACL " + BOX + b" carol", b"OK"),
    ("k", b'CREATE "Other Users/alice/Projects/New"', b"OK"),
    ("x", b'DELETE "Other Users/alice/Projects/Old"', b"OK"),
]


@pytest.mark.parametrize(("right", "command", "ok"), CASES)
def test_rights_matrix_mailbox_commands(shared: ServerThread, right: str, command: bytes,
                                        ok: bytes) -> None:
    base = "l"  # can see it, so refusals say NOPERM
    if right == "x":
        grant(shared, base + right, mailbox="Projects/Old")
    grant(shared, base + right)
    bob = login(shared, "bob")
    assert tagged(bob.command(b"y", command)).startswith(ok), (right, command)
    # and without that right (but with every other one)
    others = "".join(r for r in "lrswipkxtea" if r != right)
    grant(shared, others)
    if right == "x":
        login(shared, "alice").command(b"z", b"CREATE Projects/Old")
        grant(shared, others, mailbox="Projects/Old")
    if right == "k":
        login(shared, "alice").command(b"z", b"DELETE Projects/New")
    bob = login(shared, "bob")
    assert tagged(bob.command(b"n", command)).startswith(b"NO [NOPERM]"), (right, command)


def select_bob(shared: ServerThread, rights: str) -> RawClient:
    grant(shared, rights)
    bob = login(shared, "bob")
    assert tagged(bob.command(b"s", b"SELECT " + BOX)).startswith(b"OK")
    return bob


def flags_of(client: RawClient, n: int = 1) -> bytes:
    line = client.command(b"f", b"FETCH %d FLAGS" % n)[0]
    return re.search(rb"FLAGS \(([^)]*)\)", line)[1]  # type: ignore[index]


@pytest.mark.parametrize(("right", "flag"), [("s", b"\\Seen"), ("w", b"\\Flagged"),
                                             ("w", b"$Work"), ("t", b"\\Deleted")])
def test_rights_matrix_flags(shared: ServerThread, right: str, flag: bytes) -> None:
    bob = select_bob(shared, "lri" + right)
    assert tagged(bob.command(b"a", b"STORE 1 +FLAGS (" + flag + b")")).startswith(b"OK")
    assert flag in flags_of(bob)
    others = "".join(r for r in "lrswipkxtea" if r != right)
    bob = select_bob(shared, others)
    assert tagged(bob.command(b"b", b"STORE 2 +FLAGS (" + flag + b")")).startswith(
        b"NO [NOPERM]")
    assert flag not in flags_of(bob, 2)
    # the STORE keeps what it may do (RFC 4314 §4)
    other_flag = b"\\Answered" if right != "w" else b"\\Seen"
    assert tagged(bob.command(b"c", b"STORE 2 +FLAGS (" + flag + b" " + other_flag + b")")) \
        .startswith(b"OK")
    got = flags_of(bob, 2)
    assert flag not in got and other_flag in got


def test_rights_matrix_fetch_seen_expunge_close_append_copy(shared: ServerThread) -> None:
    # without "s", BODY[] does not set \Seen
    bob = select_bob(shared, "lriwte")
    bob.command(b"a", b"FETCH 1 BODY[]")
    assert b"\\Seen" not in flags_of(bob)
    bob = select_bob(shared, "lrs")
    bob.command(b"a", b"FETCH 1 BODY[]")
    assert b"\\Seen" in flags_of(bob)
    # RFC 4314 §5.2: with \Seen private (the default), "s" is no shared flag right, so
    # "lrs" is reported READ-ONLY (bob still keeps his own \Seen, as above), "lrw" is
    # READ-WRITE, "lr" READ-ONLY; with \Seen shared, "lrs" is READ-WRITE.
    for rights, code in (("lrs", b"[READ-ONLY]"), ("lrw", b"[READ-WRITE]"),
                         ("lr", b"[READ-ONLY]")):
        grant(shared, rights)
        bob = login(shared, "bob")
        assert code in bob.command(b"s", b"SELECT " + BOX)[-1], rights
    store = shared.running.ctx.store

    async def share_seen() -> None:
        owner = await store.get_user("alice")
        assert owner is not None
        info = await store.get_mailbox(owner.id, "Projects")
        assert info is not None
        await store.set_private_flags(info.id, 0)

    shared.call(share_seen())
    grant(shared, "lrs")
    bob = login(shared, "bob")
    assert b"[READ-WRITE]" in bob.command(b"s", b"SELECT " + BOX)[-1]
    # EXPUNGE needs "e"; CLOSE without it does not expunge
    bob = select_bob(shared, "lrswit")
    bob.command(b"d", b"STORE 3 +FLAGS (\\Deleted)")
    assert tagged(bob.command(b"e", b"EXPUNGE")).startswith(b"NO [NOPERM]")
    assert tagged(bob.command(b"f", b"CLOSE")).startswith(b"OK")
    assert b"MESSAGES 3" in login(shared, "alice").command(b"g", b"STATUS Projects (MESSAGES)")[0]
    bob = select_bob(shared, "lrswite")
    assert bob.command(b"e", b"EXPUNGE")[0] == b"* 3 EXPUNGE"
    # APPEND and COPY into it need "i"; flags without their right are dropped
    grant(shared, "lrw")
    bob = login(shared, "bob")
    line = bob.command(b"h", b"APPEND " + BOX + b" (\\Seen) {5+}\r\nhello")[-1]
    assert line.startswith(b"h NO [NOPERM]")
    grant(shared, "lri")
    line = bob.command(b"i", b"APPEND " + BOX + b" (\\Seen \\Flagged) {5+}\r\nhello")[-1]
    assert line.startswith(b"i OK [APPENDUID")
    bob.command(b"j", b"EXAMINE " + BOX)
    # no flag kept; \Recent is the session's (EXAMINE shows it, unclaimed, RFC 3501 §2.3.2)
    assert flags_of(bob, 3) == b"\\Recent"
    bob.command(b"k", b"CREATE Mine")
    bob.command(b"l2", b"APPEND Mine {5+}\r\nhello")
    bob.command(b"m", b"SELECT Mine")
    assert tagged(bob.command(b"n", b"COPY 1 " + BOX)).startswith(b"OK [COPYUID")
    grant(shared, "lr")
    assert tagged(bob.command(b"o", b"COPY 1 " + BOX)).startswith(b"NO [NOPERM]")
    grant(shared, "")
    assert tagged(bob.command(b"p", b"COPY 1 " + BOX)).startswith(b"NO [TRYCREATE]")


def test_live_updates_across_users_and_revocation(shared: ServerThread) -> None:
    bob = select_bob(shared, "lrswite")
    alice = login(shared, "alice")
    alice.command(b"a", b"SELECT Projects")
    alice.command(b"b", b"STORE 2 +FLAGS.SILENT (\\Deleted)")
    alice.command(b"c", b"EXPUNGE")
    bob.send(b"i IDLE\r\n")
    assert bob.line() == b"+ idling"
    alice.command(b"d", b"APPEND Projects {5+}\r\nhello")
    seen = [bob.line(), bob.line()]
    assert b"* 2 EXPUNGE" in seen or seen[0] == b"* 2 EXPUNGE"
    bob.send(b"DONE\r\n")
    bob.until_tagged(b"i")
    # a right revoked while bob has the mailbox selected: his next command obeys it
    grant(shared, "lr")
    assert tagged(bob.command(b"e", b"STORE 1 +FLAGS (\\Flagged)")).startswith(b"NO [NOPERM]")


def test_shared_namespace_and_cli_made_mailbox(shared: ServerThread) -> None:
    store = shared.running.ctx.store

    async def setup() -> None:
        info = await store.create_shared_mailbox("support")
        await store.set_acl(info.id, "anyone", "lrsw")
        await store.set_acl(info.id, "carol", "lrswipkxtea")

    shared.call(setup())
    bob = login(shared, "bob")
    lines = bob.command(b"a", b'LIST "" "Shared/*"')
    assert b'* LIST (\\HasNoChildren) "/" "Shared/support"' in lines
    assert tagged(bob.command(b"b", b'SELECT "Shared/support"')).startswith(b"OK [READ-WRITE]")
    assert tagged(bob.command(b"c", b'APPEND "Shared/support" {5+}\r\nhello')).startswith(
        b"NO [NOPERM]")
    carol = login(shared, "carol")
    assert tagged(carol.command(b"d", b'APPEND "Shared/support" {5+}\r\nhello')).startswith(
        b"OK")
    assert tagged(carol.command(b"e", b'CREATE "Shared/support/2026"')).startswith(b"OK")
    assert tagged(bob.command(b"f", b'CREATE "Shared/other"')).startswith(b"NO [NOPERM]")


def test_quota(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(auth={"admins": "alice"})
    srv.add_user("bob")
    alice = login(srv, "alice")
    bob = login(srv, "bob")
    lines = bob.command(b"a", b"GETQUOTAROOT INBOX")
    assert lines[0] == b'* QUOTAROOT "INBOX"'  # no limit, no quota root (RFC 9208 §4.2.2)
    assert tagged(bob.command(b"b", b'SETQUOTA "" (STORAGE 1)')).startswith(b"NO [NOPERM]")
    lines = alice.command(b"c", b'SETQUOTA "Other Users/bob" (STORAGE 2 MESSAGE 2)')
    assert lines[0] == b'* QUOTA "Other Users/bob" (STORAGE 0 2 MESSAGE 0 2)'
    assert tagged(bob.command(b"d", b"APPEND INBOX {1000+}\r\n" + b"x" * 1000)).startswith(
        b"OK")
    lines = bob.command(b"e", b"GETQUOTAROOT INBOX")
    assert lines[1] == b'* QUOTA "" (STORAGE 1 2 MESSAGE 1 2)'
    # over the storage limit: refused before the message is sent, nothing stored
    line = bob.command(b"f", b"APPEND INBOX {3000}")[-1]
    assert line.startswith(b"f NO [OVERQUOTA]")
    bob.command(b"g", b"APPEND INBOX {10+}\r\n0123456789")
    bob.command(b"h", b"SELECT INBOX")
    assert tagged(bob.command(b"i", b"COPY 1 INBOX")).startswith(b"NO [OVERQUOTA]")
    assert b"MESSAGES 2" in bob.command(b"j", b"STATUS INBOX (MESSAGES)")[0]
    assert tagged(bob.command(b"k", b'GETQUOTA ""')).startswith(b"OK")
    assert tagged(alice.command(b"l", b'SETQUOTA "Other Users/bob" ()')).startswith(b"OK")
    assert tagged(bob.command(b"m", b"COPY 1 INBOX")).startswith(b"OK")


def test_status_deleted_and_deleted_storage(server: ServerThread) -> None:
    """RFC 9208 §4.1.4: required with QUOTA=RES-MESSAGE and QUOTA=RES-STORAGE."""
    alice = login(server, "alice")
    for size in (1500, 3000, 10):
        alice.command(b"a", b"APPEND INBOX {%d+}\r\n" % size + b"x" * size)
    assert alice.command(b"b", b"STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)")[0] == \
        b'* STATUS "INBOX" (MESSAGES 3 DELETED 0 DELETED-STORAGE 0)'
    alice.command(b"c", b"SELECT INBOX")
    alice.command(b"d", b"STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    # 1,500 + 3,000 octets: 4.4 KiB, rounded up to 5 (the STORAGE unit is 1024 octets)
    assert alice.command(b"e", b"STATUS INBOX (DELETED DELETED-STORAGE)")[0] == \
        b'* STATUS "INBOX" (DELETED 2 DELETED-STORAGE 5)'
    lines = alice.command(b"f", b'LIST "" "INBOX" RETURN (STATUS (DELETED))')
    assert b'* STATUS "INBOX" (DELETED 2)' in lines
