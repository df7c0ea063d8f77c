"""Nothing about a mailbox or a user leaks to someone who may not see them (issue 11 point
7, RFC 4314 §6): GETQUOTA answers only for roots covering a mailbox the user may see, and
"not yours" reads exactly like "does not exist"; so does CREATE under another user's
unshared mailbox."""

from __future__ import annotations

from tests.server.harness import ServerThread, raw_login


def tagged(lines: list[bytes]) -> bytes:
    return lines[-1].split(b" ", 1)[1]


def test_getquota_of_roots_the_user_may_not_see(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(auth={"admins": "alice"})
    for user in ("bob", "carol", "dave"):
        server.add_user(user)
    alice = raw_login(server, "alice")
    assert tagged(alice.command(b"q", b'SETQUOTA "Other Users/carol" (STORAGE 100)')) \
        .startswith(b"OK")
    carol = raw_login(server, "carol")
    assert tagged(carol.command(b"c", b"CREATE Shared-with-dave")).startswith(b"OK")
    assert tagged(carol.command(b"s", b"SETACL Shared-with-dave dave lr")).startswith(b"OK")
    bob = raw_login(server, "bob")
    unknown = bob.command(b"a", b'GETQUOTA "Other Users/nobody"')
    hidden = bob.command(b"b", b'GETQUOTA "Other Users/carol"')
    assert unknown == [b"a NO [NONEXISTENT] No such quota root"]
    assert hidden == [b"b NO [NONEXISTENT] No such quota root"]
    assert bob.command(b"c", b'GETQUOTA "Shared/nothing"') == \
        [b"c NO [NONEXISTENT] No such quota root"]
    # His own root he may always ask about (no limit set: RFC 9208 §7 has no empty list).
    assert bob.command(b"d", b'GETQUOTA ""') == [b"d NO [NONEXISTENT] No quota is set on this root"]
    # dave may see one of carol's mailboxes, so carol's root is his to ask about.
    dave = raw_login(server, "dave")
    lines = dave.command(b"e", b'GETQUOTA "Other Users/carol"')
    assert lines[0] == b'* QUOTA "Other Users/carol" (STORAGE 0 100)'
    # An administrator may ask about anyone.
    assert tagged(alice.command(b"f", b'GETQUOTA "Other Users/carol"')).startswith(b"OK")
    # Once carol stops sharing, dave's next GETQUOTA is refused like any unknown root.
    assert tagged(carol.command(b"u", b"DELETEACL Shared-with-dave dave")).startswith(b"OK")
    assert dave.command(b"g", b'GETQUOTA "Other Users/carol"') == \
        [b"g NO [NONEXISTENT] No such quota root"]


def test_create_under_an_unshared_mailbox_reads_as_nonexistent(server: ServerThread) -> None:
    alice = raw_login(server, "alice")
    assert tagged(alice.command(b"a", b"CREATE Secret")).startswith(b"OK")
    assert tagged(alice.command(b"b", b"CREATE Visible")).startswith(b"OK")
    assert tagged(alice.command(b"c", b"SETACL Visible bob lr")).startswith(b"OK")
    bob = raw_login(server, "bob")
    existing = bob.command(b"d", b'CREATE "Other Users/alice/Secret/x"')
    missing = bob.command(b"d", b'CREATE "Other Users/alice/Nothing/x"')
    assert existing == missing
    assert existing[-1].startswith(b"d NO [NOPERM]")
    # A mailbox bob may see may tell him which right he lacks.
    assert bob.command(b"e", b'CREATE "Other Users/alice/Visible/x"')[-1] == \
        b"e NO [NOPERM] Permission denied (needs the 'k' right)"
    assert bob.command(b"f", b"LIST \"\" \"Other Users/alice/*\"")[-1].startswith(b"f OK")
