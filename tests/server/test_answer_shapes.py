"""Answers whose shape clients trip over (issue 9, "Answers with the wrong shape"): each test
replays the exchange seen on the wire against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from crispin.protocol.mime.textdecode import decode_words
from tests.server.harness import PASSWORD, RawClient, ServerThread, raw_login


def untagged(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line.startswith(b"* ")]


# -- GETQUOTAROOT without a quota (RFC 9208 §4.2.2, §7) -------------------------------------

def test_getquotaroot_without_quota_lists_no_root_and_no_empty_quota(
        make_server) -> None:  # type: ignore[no-untyped-def]
    """`* QUOTA "" ()` breaks RFC 9208's grammar (quota-list needs one resource);
    Thunderbird logs a parser error for it. With no limit there is no quota root."""
    srv = make_server(auth={"admins": "alice"})
    alice = raw_login(srv)
    lines = alice.command(b"a", b'GETQUOTAROOT "INBOX"')
    assert lines == [b'* QUOTAROOT "INBOX"', b"a OK GETQUOTAROOT completed"]
    assert alice.command(b"b", b'GETQUOTA ""')[-1].startswith(b"b NO [NONEXISTENT]")
    # a limit makes "" a root, with its QUOTA line
    lines = alice.command(b"c", b'SETQUOTA "" (MESSAGE 10)')
    assert lines[0] == b'* QUOTA "" (MESSAGE 0 10)'
    lines = alice.command(b"d", b'GETQUOTAROOT "INBOX"')
    assert lines[:2] == [b'* QUOTAROOT "INBOX" ""', b'* QUOTA "" (MESSAGE 0 10)']
    # removing it again: no empty list anywhere
    lines = alice.command(b"e", b'SETQUOTA "" ()')
    assert lines == [b"e OK SETQUOTA completed"]
    assert alice.command(b"f", b"GETQUOTAROOT INBOX")[0] == b'* QUOTAROOT "INBOX"'
    assert not any(b"()" in line for line in alice.command(b"g", b"GETQUOTAROOT INBOX"))


# -- mailbox names that are not modified UTF-7 (RFC 3501 §5.1.3) ------------------------------

# Each is a well-formed astring; only its modified UTF-7 is wrong.
INVALID_NAMES = [b'"&Jjo"', b'"&AGE-"', b'"a&Jjo-&Jjo-"', b"{3+}\r\n\xc3\xa9x"]


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_mailbox_name_is_no_not_bad(server: ServerThread, name: bytes) -> None:
    """BAD means "your syntax is wrong", and some clients disconnect on it: every command
    that names a mailbox answers NO [CANNOT]; LIST and LSUB answer OK with no match."""
    alice = raw_login(server)
    alice.command(b"s0", b"CREATE Real")
    alice.command(b"s1", b"APPEND Real {5+}\r\nhello")
    commands = [
        b"SELECT " + name, b"EXAMINE " + name, b"CREATE " + name, b"DELETE " + name,
        b"RENAME Real " + name, b"RENAME " + name + b" Other", b"SUBSCRIBE " + name,
        b"UNSUBSCRIBE " + name, b"STATUS " + name + b" (MESSAGES)",
        b"APPEND " + name + b" {5+}\r\nhello", b"GETACL " + name, b"SETACL " + name + b" bob lr",
        b"DELETEACL " + name + b" bob", b"LISTRIGHTS " + name + b" bob", b"MYRIGHTS " + name,
        b"GETQUOTAROOT " + name,
    ]
    for i, command in enumerate(commands):
        tag = b"c%d" % i
        lines = alice.command(tag, command)
        assert lines[-1].startswith(tag + b" NO [CANNOT] Invalid mailbox name"), (command, lines)
    assert alice.command(b"x0", b"SELECT Real")[-1].startswith(b"x0 OK")
    for i, command in enumerate([b"COPY 1 " + name, b"MOVE 1 " + name, b"UID COPY 1 " + name]):
        tag = b"m%d" % i
        lines = alice.command(tag, command)
        assert lines[-1].startswith(tag + b" NO [CANNOT]"), (command, lines)
    for i, command in enumerate([b'LIST "" ' + name, b"LIST " + name + b' "*"',
                                 b'LIST "" ("Real" ' + name + b")", b'LSUB "" ' + name]):
        tag = b"l%d" % i
        lines = alice.command(tag, command)
        assert lines[-1].startswith(tag + b" OK"), (command, lines)
        listed = untagged(lines)
        assert listed == ([b'* LIST (\\HasNoChildren) "/" "Real"'] if b"Real" in command
                          else []), (command, lines)
    # nothing was created, renamed or lost, and the connection still works
    names = untagged(alice.command(b"z", b'LIST "" "*"'))
    assert names == [b'* LIST (\\HasNoChildren) "/" "INBOX"',
                     b'* LIST (\\HasNoChildren) "/" "Real"']
    assert b"MESSAGES 1" in alice.command(b"z2", b"STATUS Real (MESSAGES)")[0]


def test_invalid_mailbox_names_do_not_count_as_bad_commands(make_server) -> None:  # type: ignore[no-untyped-def]
    """A client that sends many such names is not disconnected for "invalid commands"."""
    srv = make_server(limits={"max_bad_commands": 2})
    alice = raw_login(srv)
    for i in range(5):
        assert alice.command(b"s%d" % i, b'SELECT "&Jjo"')[-1].startswith(b"s%d NO" % i)
    assert alice.command(b"n", b"NOOP")[-1] == b"n OK NOOP completed"


# -- LIST (SUBSCRIBED RECURSIVEMATCH) with several patterns (RFC 5258 §3.5) ------------------

def test_childinfo_only_for_parents_of_children_not_listed(server: ServerThread) -> None:
    """RFC 5258 §3.5: "Servers SHOULD ONLY return a non-matching mailbox name along with
    CHILDINFO if at least one matching child is not also being returned"."""
    alice = raw_login(server)
    for name in (b"Foo", b"Foo/Bar", b"Foo/Baz", b"Qux", b"Qux/Sub"):
        alice.command(b"c", b"CREATE " + name)
    alice.command(b"s1", b"SUBSCRIBE Foo/Bar")
    alice.command(b"s2", b"SUBSCRIBE Qux/Sub")
    lines = untagged(alice.command(
        b"a", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" ("Foo" "Foo/Bar" "Qux")'))
    assert lines == [
        b'* LIST (\\HasNoChildren \\Subscribed) "/" "Foo/Bar"',
        b'* LIST (\\HasChildren) "/" "Qux" ("CHILDINFO" ("SUBSCRIBED"))',
    ], lines
    # RFC 5258 §5 example 9, "*2": baz2's subscribed children are all listed themselves
    for name in (b"foo2/bar1", b"foo2/bar2", b"baz2/bar2", b"baz2/bar22", b"eps2/mamba"):
        alice.command(b"c", b"CREATE " + name)
    for name in (b"foo2/bar1", b"foo2/bar2", b"baz2/bar2", b"baz2/bar22", b"eps2",
                 b"eps2/mamba"):
        alice.command(b"s", b"SUBSCRIBE " + name)
    lines = untagged(alice.command(b"b", b'LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"'))
    assert sorted(lines) == sorted([
        b'* LIST (\\HasChildren) "/" "foo2" ("CHILDINFO" ("SUBSCRIBED"))',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" "foo2/bar2"',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" "baz2/bar2"',
        b'* LIST (\\HasNoChildren \\Subscribed) "/" "baz2/bar22"',
        b'* LIST (\\HasChildren \\Subscribed) "/" "eps2" ("CHILDINFO" ("SUBSCRIBED"))',
    ]), lines


# -- ENVELOPE source routes (RFC 3501 §7.4.2) and SEARCH on parsed addresses -----------------

ROUTED = b"From: <@route:user@domain>\r\nSubject: routed\r\n\r\nbody\r\n"
COMMENTED = (b"From: <user-from (comment)@ (comment) domain.org>\r\n"
             b"To: =?utf-8?q?=C3=89loise?= <eloise (home) @ example.fr>\r\n"
             b"Subject: commented\r\n\r\nbody\r\n")


def append(client: RawClient, message: bytes) -> None:
    line = client.command(b"ap", b"APPEND INBOX {%d+}\r\n" % len(message) + message)[-1]
    assert line.startswith(b"ap OK"), line


def check_routes_and_address_search(client: RawClient) -> None:
    assert client.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    lines = client.command(b"f", b"FETCH 1 ENVELOPE")
    assert b'"routed" ((NIL "@route" "user" "domain"))' in lines[0], lines
    for key in (b"FROM user-from@domain.org", b"FROM domain.org", b"TO eloise@example.fr",
                b'TO "\xc3\x89loise"', b"OR FROM nobody TO ELOISE@EXAMPLE.FR"):
        lines = client.command(b"q", b"SEARCH CHARSET UTF-8 " + key)
        assert lines[0] == b"* SEARCH 2", (key, lines)
    assert client.command(b"q", b"SEARCH FROM user@domain")[0] == b"* SEARCH 1"
    assert client.command(b"q", b"SEARCH FROM nobody@domain.org")[0] == b"* SEARCH"


def test_envelope_source_route_and_search_on_parsed_addresses(server: ServerThread) -> None:
    """`From: <@route:user@domain>` was `(NIL NIL "user" "domain")`; `From: <user-from
    (comment)@ (comment) domain.org>` was not found by SEARCH FROM user-from@domain.org
    although ENVELOPE shows ("user-from" "domain.org")."""
    alice = raw_login(server)
    append(alice, ROUTED)
    append(alice, COMMENTED)
    check_routes_and_address_search(alice)


def test_messages_stored_before_are_recomputed_at_start(tmp_path: Path) -> None:
    """ENVELOPE and the SEARCH address columns are stored at APPEND: messages stored by an
    older Crispin get them recomputed when the server starts."""
    from crispin.server.ingest import analyse
    from crispin.storage import Store

    async def store_the_old_way() -> None:
        store = await Store.open(tmp_path / "data")
        try:
            user = await store.create_user("alice", PASSWORD)
            inbox = await store.get_mailbox(user.id, "INBOX")
            assert inbox is not None
            for raw in (ROUTED, COMMENTED):
                columns = analyse(raw)
                # what the parser of before computed
                columns["envelope"] = bytes(columns["envelope"]).replace(  # type: ignore[arg-type]
                    b'"@route"', b"NIL")
                for name in ("from", "to"):
                    prefix = name.title().encode() + b": "
                    for line in raw.split(b"\r\n"):
                        if line.startswith(prefix):
                            columns[f"hdr_{name}"] = decode_words(line[len(prefix):]).casefold()
                await store.append_message(inbox.id, raw, (), None, columns)
        finally:
            await store.close()

    asyncio.run(store_the_old_way())
    srv = ServerThread(tmp_path / "data")
    try:
        task = srv.running.rederive
        assert task is not None
        assert srv.call(_wait(task)) == 2
        check_routes_and_address_search(raw_login(srv))
    finally:
        srv.stop()
    again = ServerThread(tmp_path / "data")  # done once: not again at the next start
    try:
        task = again.running.rederive
        assert task is not None and again.call(_wait(task)) == 0
    finally:
        again.stop()


async def _wait(task: asyncio.Task[int]) -> int:
    return await task
