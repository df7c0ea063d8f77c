"""METADATA and METADATA-SERVER (RFC 5464): the RFC's examples as transcripts over real
sockets, then the rules around them (access, limits, names, DELETE/RENAME)."""

from __future__ import annotations

from tests.server.harness import PASSWORD, RawClient, ServerThread, in_one_batch


def login(server: ServerThread, user: str = "alice") -> RawClient:
    raw = server.raw()
    assert raw.command(b"l", b'LOGIN %s "%s"' % (user.encode(), PASSWORD.encode()))[-1] \
        .startswith(b"l OK")
    return raw


def literal(raw: RawClient, tag: bytes, head: bytes, data: bytes, tail: bytes) -> list[bytes]:
    """A command with one synchronising literal: wait for "+", then send the rest."""
    raw.send(tag + b" " + head + b"{%d}\r\n" % len(data))
    assert raw.line().startswith(b"+ ")
    raw.send(data + tail + b"\r\n")
    return raw.until_tagged(tag)


def test_capabilities_after_login(server: ServerThread) -> None:
    raw = login(server)
    caps = raw.command(b"c", b"CAPABILITY")[0].split()
    assert b"METADATA" in caps and b"METADATA-SERVER" in caps


def test_rfc_examples_of_setmetadata_and_getmetadata(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(auth={"admins": "alice"})
    raw = login(server)
    # §4.3, first example: a multi-line value in a synchronising literal.
    assert literal(raw, b"a", b"SETMETADATA INBOX (/private/comment ",
                   b"My new comment across\r\ntwo lines.\r\n", b")") == \
        [b"a OK SETMETADATA completed"]
    assert raw.command(b"a", b'GETMETADATA "INBOX" /private/comment') == [
        b'* METADATA "INBOX" (/private/comment {35}',
        b"My new comment across",
        b"two lines.",
        b")",
        b"a OK GETMETADATA completed",
    ]
    # §4.3, third example: two entries in one command.
    assert raw.command(b"a", b'SETMETADATA INBOX (/private/comment "My new comment" '
                             b'/shared/comment "This one is for you!")') == \
        [b"a OK SETMETADATA completed"]
    # §4.2, third example: a list of entry specifiers.
    assert raw.command(b"a", b'GETMETADATA "INBOX" (/shared/comment /private/comment)') == [
        b'* METADATA "INBOX" (/shared/comment "This one is for you!" '
        b'/private/comment "My new comment")',
        b"a OK GETMETADATA completed",
    ]
    # §4.3, second example: NIL removes the entry.
    assert raw.command(b"a", b"SETMETADATA INBOX (/private/comment NIL)") == \
        [b"a OK SETMETADATA completed"]
    assert raw.command(b"a", b"GETMETADATA INBOX /private/comment") == \
        [b"* METADATA \"INBOX\" (/private/comment NIL)", b"a OK GETMETADATA completed"]
    # §4.2, first example: a server entry (alice is an administrator here).
    assert raw.command(b"a", b'SETMETADATA "" (/shared/comment "Shared comment")') == \
        [b"a OK SETMETADATA completed"]
    assert raw.command(b"a", b'GETMETADATA "" /shared/comment') == \
        [b'* METADATA "" (/shared/comment "Shared comment")', b"a OK GETMETADATA completed"]


def test_maxsize_and_depth_options(server: ServerThread) -> None:
    raw = login(server)
    long_value = b"x" * 2199
    assert literal(raw, b"a", b"SETMETADATA INBOX (/shared/comment ", long_value,
                   b' /private/comment "My own comment")') == [b"a OK SETMETADATA completed"]
    # §4.2.1, the example: the shared comment is too long and counted in LONGENTRIES.
    assert raw.command(b"b", b'GETMETADATA "INBOX" (MAXSIZE 1024) '
                             b"(/shared/comment /private/comment)") == [
        b'* METADATA "INBOX" (/private/comment "My own comment")',
        b"b OK [METADATA LONGENTRIES 2199] GETMETADATA completed",
    ]
    # The options may also come first, as RFC 5464 §5's grammar writes them.
    assert raw.command(b"c", b"GETMETADATA (MAXSIZE 1024) INBOX /shared/comment") == \
        [b"c OK [METADATA LONGENTRIES 2199] GETMETADATA completed"]
    # §4.2.2, the example: DEPTH 1 returns the children, not the grandchildren.
    assert raw.command(b"d", b'SETMETADATA INBOX (/private/filters/values/small '
                             b'"SMALLER 5000" /private/filters/values/boss '
                             b'"FROM \\"boss@example.com\\"" '
                             b'/private/filters/values/boss/deep "x")') == \
        [b"d OK SETMETADATA completed"]
    assert raw.command(b"e", b'GETMETADATA "INBOX" (DEPTH 1) (/private/filters/values)') == [
        b'* METADATA "INBOX" (/private/filters/values/boss "FROM \\"boss@example.com\\"" '
        b'/private/filters/values/small "SMALLER 5000")',
        b"e OK GETMETADATA completed",
    ]
    assert raw.command(b"f", b"GETMETADATA INBOX (DEPTH infinity) /private/filters")[0] == \
        b'* METADATA "INBOX" (/private/filters/values/boss "FROM \\"boss@example.com\\"" ' \
        b'/private/filters/values/boss/deep "x" /private/filters/values/small "SMALLER 5000")'
    # DEPTH 0 (the default): the entry itself only.
    assert raw.command(b"g", b"GETMETADATA INBOX (DEPTH 0) /private/filters/values") == \
        [b"* METADATA \"INBOX\" (/private/filters/values NIL)", b"g OK GETMETADATA completed"]
    # Entry names are case-insensitive (§3.2).
    assert raw.command(b"h", b"GETMETADATA INBOX /PRIVATE/Comment") == \
        [b'* METADATA "INBOX" (/private/comment "My own comment")', b"h OK GETMETADATA completed"]


def test_private_entries_are_per_user_shared_ones_are_not(server: ServerThread) -> None:
    alice = login(server)
    assert alice.command(b"a", b"CREATE Team")[-1].startswith(b"a OK")
    assert alice.command(b"a", b"SETACL Team bob lr")[-1].startswith(b"a OK")
    assert alice.command(b"a", b'SETMETADATA Team (/private/comment "mine" '
                               b'/shared/comment "ours")')[-1] == b"a OK SETMETADATA completed"
    bob = login(server, "bob")
    assert bob.command(b"b", b'GETMETADATA "Other Users/alice/Team" '
                             b"(/private/comment /shared/comment)") == [
        b'* METADATA "Other Users/alice/Team" (/private/comment NIL /shared/comment "ours")',
        b"b OK GETMETADATA completed",
    ]
    # "l" and "r" are enough to set, by RFC 5464 §3.3; bob's private entry is his own.
    assert bob.command(b"c", b'SETMETADATA "Other Users/alice/Team" '
                             b'(/private/comment "bob\'s")')[-1] == \
        b"c OK SETMETADATA completed"
    assert alice.command(b"d", b"GETMETADATA Team /private/comment")[0] == \
        b'* METADATA "Team" (/private/comment "mine")'


def test_rights_of_rfc_5464_section_3_3(server: ServerThread) -> None:
    alice = login(server)
    for name in (b"Seen", b"Listed", b"Hidden"):
        assert alice.command(b"a", b"CREATE " + name)[-1].startswith(b"a OK")
    assert alice.command(b"a", b"SETACL Seen bob s")[-1].startswith(b"a OK")  # no "l"
    assert alice.command(b"a", b"SETACL Listed bob lk")[-1].startswith(b"a OK")  # no rswip
    bob = login(server, "bob")
    for name in (b"Seen", b"Hidden", b"Nothing"):
        assert bob.command(b"b", b'GETMETADATA "Other Users/alice/%s" /shared/comment'
                           % name) == [b"b NO [NONEXISTENT] Mailbox does not exist"]
    assert bob.command(b"c", b'SETMETADATA "Other Users/alice/Listed" (/shared/comment "x")') \
        == [b"c NO [NOPERM] Permission denied (needs the 'l' right and one of 'rswip')"]
    # Server entries: everybody reads; shared ones only administrators set.
    assert bob.command(b"d", b'SETMETADATA "" (/shared/comment "x")') == \
        [b"d NO [NOPERM] Only administrators may set shared server annotations"]
    assert bob.command(b"e", b'SETMETADATA "" (/private/comment "mine")') == \
        [b"e OK SETMETADATA completed"]
    assert bob.command(b"f", b'GETMETADATA "" /private/comment') == \
        [b'* METADATA "" (/private/comment "mine")', b"f OK GETMETADATA completed"]
    assert alice.command(b"g", b'GETMETADATA "" /private/comment')[0] == \
        b'* METADATA "" (/private/comment NIL)'


def test_limits_answer_with_their_response_codes(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(metadata={"max_size": 1024, "max_entries": 10,
                                                 "max_user_entries": 12})
    raw = login(server)
    assert literal(raw, b"a", b"SETMETADATA INBOX (/private/a ", b"y" * 1025, b")") == \
        [b"a NO [METADATA MAXSIZE 1024] Annotation value too large"]
    assert literal(raw, b"a", b"SETMETADATA INBOX (/private/a ", b"y" * 1024, b")") == \
        [b"a OK SETMETADATA completed"]
    entries = b" ".join(b'/shared/e%d "v"' % i for i in range(9))
    assert raw.command(b"b", b"SETMETADATA INBOX (%s)" % entries) == \
        [b"b OK SETMETADATA completed"]
    # §4.3, the last example: the eleventh entry is refused, and nothing of the command
    # is kept (the change of /private/a neither).
    assert raw.command(b"c", b'SETMETADATA INBOX (/private/a "new" /private/comment "x")') \
        == [b"c NO [METADATA TOOMANY] Too many annotations"]
    assert raw.command(b"d", b"GETMETADATA (MAXSIZE 5) INBOX /private/a") == \
        [b"d OK [METADATA LONGENTRIES 1024] GETMETADATA completed"]
    # Replacing a value or removing one and adding another is no growth.
    assert raw.command(b"e", b'SETMETADATA INBOX (/shared/e0 NIL /private/comment "x")') == \
        [b"e OK SETMETADATA completed"]
    # Per user: 12 private entries in all (INBOX holds 2).
    assert raw.command(b"f", b"CREATE Other")[-1].startswith(b"f OK")
    more = b" ".join(b'/private/p%d "v"' % i for i in range(11))
    assert raw.command(b"g", b"SETMETADATA Other (%s)" % more) == \
        [b"g NO [METADATA TOOMANY] Too many annotations"]
    assert raw.command(b"h", b"SETMETADATA Other (%s)" % more[: more.rindex(b" /")]) == \
        [b"h OK SETMETADATA completed"]


def test_noprivate_when_private_entries_are_off(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(metadata={"private": False})
    raw = login(server)
    assert raw.command(b"a", b'SETMETADATA INBOX (/shared/comment "ok" /private/comment "x")') \
        == [b"a NO [METADATA NOPRIVATE] Private annotations are not supported"]
    assert raw.command(b"b", b"GETMETADATA INBOX /shared/comment") == \
        [b"* METADATA \"INBOX\" (/shared/comment NIL)", b"b OK GETMETADATA completed"]


def test_admin_entry_is_read_only(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(metadata={"admin": "mailto:postmaster@example.com"},
                                       auth={"admins": "alice"})
    raw = login(server)
    assert raw.command(b"a", b'GETMETADATA "" /shared/admin') == [
        b'* METADATA "" (/shared/admin "mailto:postmaster@example.com")',
        b"a OK GETMETADATA completed",
    ]
    assert raw.command(b"b", b'SETMETADATA "" (/shared/admin "mailto:me@example.com")') == \
        [b"b NO [NOPERM] /shared/admin is read-only"]


def test_invalid_entry_names_are_bad_and_the_connection_goes_on(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(limits={"max_bad_commands": 100})
    raw = login(server)
    for name in (b"/private//x", b"/private/x/", b"/private/a*", b"/private/%", b"private/x",
                 b"/other/x", b"/private", b"/shared/vendor/acme", b'"/private/\x01"'):
        reply = raw.command(b"a", b'SETMETADATA INBOX (%s "v")' % name)
        assert len(reply) == 1 and reply[0].startswith(b"a BAD "), (name, reply)
        reply = raw.command(b"b", b"GETMETADATA INBOX %s" % name)
        assert len(reply) == 1 and reply[0].startswith(b"b BAD "), (name, reply)
    assert raw.command(b"c", b"GETMETADATA (DEPTH 2) INBOX /private/x")[0].startswith(b"c BAD")
    assert raw.command(b"c", b"GETMETADATA (FOO 2) INBOX /private/x")[0].startswith(b"c BAD")
    assert raw.command(b"c", b'SETMETADATA INBOX (/private/x "1" /PRIVATE/X "2")')[0] \
        .startswith(b"c BAD")
    # A vendor entry with its four components is fine.
    assert raw.command(b"d", b'SETMETADATA INBOX (/shared/vendor/acme/x "v")') == \
        [b"d OK SETMETADATA completed"]
    assert raw.command(b"e", b"GETMETADATA Nowhere /private/comment") == \
        [b"e NO [NONEXISTENT] Mailbox does not exist"]


def test_binary_value_in_literal8(server: ServerThread) -> None:
    raw = login(server)
    raw.send(b"a SETMETADATA INBOX (/private/blob ~{3+}\r\na\x00b)\r\n")
    assert raw.until_tagged(b"a") == [b"a OK SETMETADATA completed"]
    raw.send(b"b GETMETADATA INBOX /private/blob\r\n")
    assert raw.line() == b"* METADATA \"INBOX\" (/private/blob ~{3}"
    assert raw.until_tagged(b"b") == [b"a\x00b)", b"b OK GETMETADATA completed"]


def test_entries_go_with_delete_and_follow_rename(server: ServerThread) -> None:
    raw = login(server)
    assert raw.command(b"a", b"CREATE Box/Child")[-1].startswith(b"a OK")
    assert raw.command(b"a", b'SETMETADATA Box (/shared/comment "parent")')[-1] \
        .startswith(b"a OK")
    assert raw.command(b"a", b'SETMETADATA Box/Child (/private/comment "child")')[-1] \
        .startswith(b"a OK")
    # RFC 5464 §4.1: the annotations follow the mailbox (and its inferiors) on RENAME.
    assert raw.command(b"b", b"RENAME Box Moved")[-1].startswith(b"b OK")
    assert raw.command(b"c", b"GETMETADATA Moved /shared/comment")[0] == \
        b'* METADATA "Moved" (/shared/comment "parent")'
    assert raw.command(b"c", b"GETMETADATA Moved/Child /private/comment")[0] == \
        b'* METADATA "Moved/Child" (/private/comment "child")'
    # §4.1: deleted with the mailbox; a new one of the same name starts without them.
    assert raw.command(b"d", b"DELETE Moved/Child")[-1].startswith(b"d OK")
    assert raw.command(b"d", b"CREATE Moved/Child")[-1].startswith(b"d OK")
    assert raw.command(b"e", b"GETMETADATA Moved/Child /private/comment")[0] == \
        b"* METADATA \"Moved/Child\" (/private/comment NIL)"
    # Renaming INBOX copies its annotations and keeps them on INBOX.
    assert raw.command(b"f", b'SETMETADATA INBOX (/private/comment "inbox")')[-1] \
        .startswith(b"f OK")
    assert raw.command(b"g", b"RENAME INBOX Old")[-1].startswith(b"g OK")
    for box in (b"INBOX", b"Old"):
        assert raw.command(b"h", b"GETMETADATA %s /private/comment" % box)[0] == \
            b'* METADATA "%s" (/private/comment "inbox")' % box


def test_unsolicited_metadata_after_enable(make_server) -> None:  # type: ignore[no-untyped-def]
    """RFC 5464 §4.1, §4.4.2: after ENABLE METADATA, changes by a third party are named
    (without values) after the next command; the session's own are not echoed."""
    server: ServerThread = make_server(auth={"admins": "bob"})
    server.add_user("bob")
    server.add_user("carol")
    alice, other = login(server), login(server)
    assert alice.command(b"a", b"CREATE Team")[-1].startswith(b"a OK")
    assert alice.command(b"a", b"SETACL Team bob lr")[-1].startswith(b"a OK")
    # Not enabled: nothing unsolicited.
    assert other.command(b"b", b'SETMETADATA INBOX (/private/comment "x")')[-1] \
        .startswith(b"b OK")
    assert alice.command(b"c", b"NOOP") == [b"c OK NOOP completed"]
    assert alice.command(b"d", b"ENABLE METADATA") == \
        [b"* ENABLED METADATA", b"d OK ENABLE completed"]
    assert other.command(b"e", b'SETMETADATA INBOX (/private/comment NIL '
                                b'/shared/comment "y")')[-1].startswith(b"e OK")
    bob = login(server, "bob")
    assert bob.command(b"f", b'SETMETADATA "Other Users/alice/Team" '
                             b'(/shared/comment "z" /private/comment "bob\'s own")')[-1] \
        .startswith(b"f OK")
    assert bob.command(b"g", b'SETMETADATA "" (/shared/comment "server")')[-1] \
        .startswith(b"g OK")
    # The server's entries first, then each mailbox by its name for alice; bob's private
    # entry is his alone (§3.3).
    assert alice.command(b"h", b"NOOP") == [
        b'* METADATA "" /shared/comment',
        b'* METADATA "INBOX" /private/comment /shared/comment',
        b'* METADATA "Team" /shared/comment',
        b"h OK NOOP completed",
    ]
    # Her own change is not reported back to her.
    assert alice.command(b"i", b'SETMETADATA Team (/shared/comment "mine")') == \
        [b"i OK SETMETADATA completed"]
    assert alice.command(b"j", b"NOOP") == [b"j OK NOOP completed"]
    # bob, enabled, hears of alice's change under the name he knows the mailbox by; carol,
    # who may not see Team, hears nothing of it.
    carol = login(server, "carol")
    assert bob.command(b"k", b"ENABLE METADATA")[0] == b"* ENABLED METADATA"
    assert carol.command(b"k", b"ENABLE METADATA")[0] == b"* ENABLED METADATA"
    assert alice.command(b"l", b'SETMETADATA Team (/shared/comment NIL)')[-1] \
        .startswith(b"l OK")
    assert bob.command(b"m", b"NOOP") == \
        [b'* METADATA "Other Users/alice/Team" /shared/comment', b"m OK NOOP completed"]
    assert carol.command(b"m", b"NOOP") == [b"m OK NOOP completed"]


def test_metadata_server_only_and_during_idle(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(auth={"admins": "alice"})
    alice, other = login(server), login(server)
    assert alice.command(b"a", b"ENABLE METADATA-SERVER") == \
        [b"* ENABLED METADATA-SERVER", b"a OK ENABLE completed"]
    assert other.command(b"b", b'SETMETADATA INBOX (/private/comment "x")')[-1] \
        .startswith(b"b OK")
    assert other.command(b"b", b'SETMETADATA "" (/private/comment "x")')[-1] \
        .startswith(b"b OK")
    # METADATA-SERVER: server entries only.
    assert alice.command(b"c", b"NOOP") == \
        [b'* METADATA "" /private/comment', b"c OK NOOP completed"]
    # During IDLE (authenticated state, no mailbox selected) the change is pushed at once.
    alice.send(b"d IDLE\r\n")
    assert alice.line().startswith(b"+ ")
    assert other.command(b"e", b'SETMETADATA "" (/shared/comment "hello")')[-1] \
        .startswith(b"e OK")
    assert alice.line() == b'* METADATA "" /shared/comment'
    alice.send(b"DONE\r\n")
    assert alice.until_tagged(b"d") == [b"d OK IDLE terminated"]
    # UNAUTHENTICATE ends it (RFC 8437 §3: ENABLEd extensions cease).
    assert alice.command(b"f", b"UNAUTHENTICATE")[-1].startswith(b"f OK")
    alice = login(server)
    assert other.command(b"g", b'SETMETADATA "" (/shared/comment NIL)')[-1].startswith(b"g OK")
    assert alice.command(b"h", b"NOOP") == [b"h OK NOOP completed"]


def test_another_sessions_change_committed_with_ours_is_reported(server: ServerThread
                                                                  ) -> None:
    """Defect: the entries of the session's own SETMETADATA were left out of every report
    while its write was under way, another session's change of the same entry committed in
    the same group-commit batch too (RFC 5464 §4.4: "changed by a third-party")."""
    alice, other = login(server), login(server)
    assert alice.command(b"a", b"ENABLE METADATA")[0] == b"* ENABLED METADATA"
    lines = in_one_batch(server, (alice, b"a1", b'SETMETADATA INBOX (/private/comment "mine")'),
                         (other, b"o1", b'SETMETADATA INBOX (/private/comment "theirs")'))
    lines += alice.command(b"p", b"NOOP")[:-1]
    assert lines == [b'* METADATA "INBOX" /private/comment'], lines
