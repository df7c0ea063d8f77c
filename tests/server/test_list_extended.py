"""LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE and CREATE-SPECIAL-USE
(RFC 6154), ID (RFC 2971), NAMESPACE (RFC 2342), ENABLE (RFC 5161)."""

from __future__ import annotations

import pytest

from tests.server.harness import PASSWORD, RawClient, ServerThread


@pytest.fixture
def carol(server: ServerThread) -> RawClient:
    server.add_account("carol")
    raw = server.raw()
    assert raw.command(b"l", b'LOGIN carol "' + PASSWORD.encode() + b'"')[-1].startswith(b"l OK")
    return raw


def untagged(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line.startswith(b"* ")]


def test_new_account_has_special_use_mailboxes(carol: RawClient) -> None:
    lines = untagged(carol.command(b"a", b'LIST "" "*"'))
    assert lines == [
        b'* LIST (\\HasNoChildren) "/" "INBOX"',
        b'* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
        b'* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
        b'* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
        b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
        b'* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    ]
    lsub = untagged(carol.command(b"b", b'LSUB "" "*"'))
    assert b'* LSUB (\\Drafts) "/" "Drafts"' in lsub and b'* LSUB () "/" "INBOX"' in lsub
    assert len(lsub) == 6


def test_thunderbird_subscribed_special_use_list(carol: RawClient) -> None:
    """Thunderbird: LIST (SUBSCRIBED) "" "*" RETURN (SPECIAL-USE)."""
    carol.command(b"c", b"CREATE Hidden")
    lines = untagged(carol.command(b"a", b'LIST (SUBSCRIBED) "" "*" RETURN (SPECIAL-USE)'))
    assert b'* LIST (\\HasNoChildren \\Trash \\Subscribed) "/" "Trash"' in lines
    assert not any(b"Hidden" in line for line in lines)
    assert len(lines) == 6


def test_apple_mail_special_use_return(carol: RawClient) -> None:
    lines = untagged(carol.command(b"a", b'LIST "" "*" RETURN (SPECIAL-USE)'))
    assert b'* LIST (\\HasNoChildren \\Sent) "/" "Sent"' in lines


def test_special_use_selection(carol: RawClient) -> None:
    lines = untagged(carol.command(b"a", b'LIST (SPECIAL-USE) "" "*"'))
    assert len(lines) == 5 and not any(b"INBOX" in line for line in lines)


def test_subscribed_nonexistent_and_recursivematch(carol: RawClient) -> None:
    carol.command(b"a", b"CREATE Foo/Bar")
    carol.command(b"b", b"SUBSCRIBE Foo/Bar")
    carol.command(b"c", b"SUBSCRIBE Gone")
    lines = untagged(carol.command(b"d", b'LIST (SUBSCRIBED) "" "*"'))
    assert b'* LIST (\\NonExistent \\Subscribed) "/" "Gone"' in lines
    assert b'* LIST (\\HasNoChildren \\Subscribed) "/" "Foo/Bar"' in lines
    lines = untagged(carol.command(b"e", b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'))
    assert b'* LIST (\\HasChildren) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))' in lines
    assert not any(b"Foo/Bar" in line for line in lines)
    assert carol.command(b"f", b'LIST (RECURSIVEMATCH) "" "%"')[-1].startswith(b"f BAD")


def test_multiple_patterns_and_return_subscribed(carol: RawClient) -> None:
    carol.command(b"a", b"CREATE Work")
    lines = untagged(carol.command(b"b", b'LIST "" ("INBOX" "Work" "Sent") RETURN (SUBSCRIBED)'))
    assert lines == [
        b'* LIST (\\HasNoChildren \\Subscribed) "/" "INBOX"',
        b'* LIST (\\HasNoChildren \\Sent \\Subscribed) "/" "Sent"',
        b'* LIST (\\HasNoChildren) "/" "Work"',
    ]


def test_list_status(carol: RawClient) -> None:
    lines = untagged(carol.command(
        b"a", b'LIST "" "%" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))'))
    assert lines[0] == b'* LIST (\\HasNoChildren) "/" "INBOX"'
    assert lines[1] == b'* STATUS "INBOX" (MESSAGES 0 UNSEEN 0 UIDNEXT 1)'
    assert carol.command(b"b", b'LIST "" "%" RETURN (STATUS (BOGUS))')[-1].startswith(
        b"b BAD")


def test_create_special_use(carol: RawClient) -> None:
    assert carol.command(b"a", b"CREATE MyFlagged (USE (\\Flagged))")[-1].startswith(b"a OK")
    lines = untagged(carol.command(b"b", b'LIST "" MyFlagged'))
    assert lines == [b'* LIST (\\HasNoChildren \\Flagged) "/" "MyFlagged"']
    line = carol.command(b"c", b"CREATE Odd (USE (\\Bogus))")[-1]
    assert line.startswith(b"c NO [USEATTR]")


def test_id_namespace_enable(server: ServerThread) -> None:
    raw = server.raw()
    lines = raw.command(b"a", b'ID ("name" "Thunderbird" "version" "153.0")')
    assert lines[0].startswith(b'* ID ("name" "Crispin" "version" ')
    assert raw.command(b"b", b"ID NIL")[-1].startswith(b"b OK")
    raw.command(b"c", b'LOGIN alice "' + PASSWORD.encode() + b'"')
    assert raw.command(b"d", b"NAMESPACE")[0] == (
        b'* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared/" "/"))')
    lines = raw.command(b"e", b"ENABLE FOOBAR")
    assert lines[0] == b"* ENABLED" and lines[1].startswith(b"e OK")


def test_cli_user_add_makes_special_use_mailboxes(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(mailboxes={"junk": "Spam", "archive": ""})
    srv.add_account("dan")
    client = srv.login("dan")
    typ, data = client.list()
    names = {line.split(b'"/" ')[1].strip(b'"') for line in data}
    assert names == {b"INBOX", b"Drafts", b"Sent", b"Trash", b"Spam"}
    client.logout()
