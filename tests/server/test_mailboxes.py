"""Mailbox commands of RFC 3501 §6.3 over real connections, with imaplib and raw lines."""

from __future__ import annotations

import imaplib
import re

import pytest

from tests.server.harness import ServerThread

LIST_RE = re.compile(rb'\((?P<attrs>[^)]*)\) "(?P<delim>[^"]*)" (?P<name>.*)')


def listing(client: imaplib.IMAP4, pattern: str = "*", ref: str = '""',
            cmd: str = "LIST") -> dict[str, set[str]]:
    typ, data = client._simple_command(cmd, ref, pattern)  # type: ignore[attr-defined]
    assert typ == "OK"
    typ, data = client._untagged_response(typ, data, cmd)  # type: ignore[attr-defined]
    out = {}
    for item in data:
        if item is None:
            continue
        m = LIST_RE.match(item)
        assert m, item
        name = m.group("name").decode()
        if name.startswith('"'):
            name = name[1:-1]
        out[name] = set(m.group("attrs").decode().split())
    return out


@pytest.fixture
def alice(server: ServerThread) -> imaplib.IMAP4:
    client = server.login()
    yield client
    try:
        client.logout()
    except Exception:
        pass


def test_fresh_account_has_inbox(alice: imaplib.IMAP4) -> None:
    assert listing(alice) == {"INBOX": {"\\HasNoChildren"}}


def test_list_empty_pattern_gives_delimiter(alice: imaplib.IMAP4) -> None:
    _typ, data = alice.list('""', '""')
    assert data == [b'(\\Noselect) "/" ""']


def test_create_intermediate_levels_and_children(alice: imaplib.IMAP4) -> None:
    assert alice.create("Work/2024/Q1")[0] == "OK"
    got = listing(alice)
    assert got["Work"] == {"\\HasChildren"}
    assert got["Work/2024"] == {"\\HasChildren"}
    assert got["Work/2024/Q1"] == {"\\HasNoChildren"}


def test_create_trailing_delimiter_and_duplicates(alice: imaplib.IMAP4) -> None:
    assert alice.create("Projects/")[0] == "OK"
    assert "Projects" in listing(alice)
    typ, data = alice.create("Projects")
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0]
    typ, data = alice.create("inbox")
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0]


def test_percent_and_star_wildcards(alice: imaplib.IMAP4) -> None:
    for name in ("a/b/c", "a/x", "ab"):
        alice.create(name)
    assert set(listing(alice, "%")) == {"INBOX", "a", "ab"}
    assert set(listing(alice, "a/%")) == {"a/b", "a/x"}
    assert set(listing(alice, "a*")) == {"a", "a/b", "a/b/c", "a/x", "ab"}
    assert set(listing(alice, "%", ref='"a/"')) == {"a/b", "a/x"}
    assert set(listing(alice, "*/c")) == {"a/b/c"}


def test_inbox_is_case_insensitive(alice: imaplib.IMAP4) -> None:
    assert set(listing(alice, "inbox")) == {"INBOX"}
    typ, data = alice.status("iNbOx", "(MESSAGES)")
    assert (typ == "OK" and data[0].startswith(b'"INBOX" (MESSAGES 0)')) or \
        data[0].startswith(b"INBOX (MESSAGES 0)")
    alice.create("inbox/Sub")
    assert "INBOX/Sub" in listing(alice)


def test_delete_rules(alice: imaplib.IMAP4) -> None:
    typ, data = alice.delete("INBOX")
    assert typ == "NO"
    typ, data = alice.delete("nothing")
    assert typ == "NO" and b"[NONEXISTENT]" in data[0]
    alice.create("p/q")
    # A mailbox with inferiors becomes \Noselect (RFC 3501 §6.3.4) ...
    assert alice.delete("p")[0] == "OK"
    assert "\\Noselect" in listing(alice)["p"]
    typ, data = alice.status("p", "(MESSAGES)")
    assert typ == "NO"
    # ... and deleting it again while it still has inferiors fails.
    typ, data = alice.delete("p")
    assert typ == "NO"
    # Deleting the last inferior removes the placeholder too.
    assert alice.delete("p/q")[0] == "OK"
    assert "p" not in listing(alice)


def test_recreate_gives_new_uidvalidity(alice: imaplib.IMAP4) -> None:
    alice.create("r")
    v1 = int(re.search(rb"UIDVALIDITY (\d+)", alice.status("r", "(UIDVALIDITY)")[1][0])[1])
    alice.delete("r")
    alice.create("r")
    v2 = int(re.search(rb"UIDVALIDITY (\d+)", alice.status("r", "(UIDVALIDITY)")[1][0])[1])
    assert v2 > v1


def test_rename_moves_inferiors(alice: imaplib.IMAP4) -> None:
    alice.create("old/child/leaf")
    assert alice.rename("old", "new")[0] == "OK"
    got = listing(alice)
    assert {"new", "new/child", "new/child/leaf"} <= set(got)
    assert not any(n.startswith("old") for n in got)
    typ, data = alice.rename("missing", "x")
    assert typ == "NO" and b"[NONEXISTENT]" in data[0]
    alice.create("other")
    typ, data = alice.rename("other", "new")
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0]
    typ, data = alice.rename("new", "new/child/inside")
    assert typ == "NO"


def test_rename_inbox_leaves_it_empty(alice: imaplib.IMAP4) -> None:
    assert alice.rename("INBOX", "Old-Inbox")[0] == "OK"
    got = listing(alice)
    assert "INBOX" in got and "Old-Inbox" in got


def test_subscribe_lsub(alice: imaplib.IMAP4) -> None:
    alice.create("foo/bar")
    alice.create("baz")
    assert alice.subscribe("foo/bar")[0] == "OK"
    assert alice.subscribe("baz")[0] == "OK"
    assert set(listing(alice, "*", cmd="LSUB")) == {"foo/bar", "baz"}
    # RFC 3501 §6.3.9: "%" returns the unsubscribed parent flagged \Noselect.
    got = listing(alice, "%", cmd="LSUB")
    assert got == {"baz": set(), "foo": {"\\Noselect"}}
    # Subscriptions survive the mailbox's deletion.
    alice.delete("baz")
    assert "baz" in listing(alice, "*", cmd="LSUB")
    assert alice.unsubscribe("baz")[0] == "OK"
    assert "baz" not in listing(alice, "*", cmd="LSUB")


def test_status_items(alice: imaplib.IMAP4) -> None:
    typ, data = alice.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
    assert typ == "OK"
    assert re.match(rb'"?INBOX"? \(MESSAGES 0 RECENT 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0\)',
                    data[0]), data
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        alice.status("INBOX", "(BOGUS)")
    typ, data = alice.status("nope", "(MESSAGES)")
    assert typ == "NO" and b"[NONEXISTENT]" in data[0]


def test_non_ascii_names_round_trip(server: ServerThread, alice: imaplib.IMAP4) -> None:
    raw = server.raw()
    raw.command(b"a0", b'LOGIN alice "correct horse battery staple"')
    # "Entwürfe" in modified UTF-7 is "Entw&APw-rfe" (RFC 3501 §5.1.3)
    assert raw.command(b"a1", b"CREATE Entw&APw-rfe")[-1].startswith(b"a1 OK")
    lines = raw.command(b"a2", b'LIST "" "Entw*"')
    assert lines[0] == b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"' or \
        lines[0] == b'* LIST (\\HasNoChildren) "/" Entw&APw-rfe'
    # Invalid modified UTF-7 is refused with NO (not BAD: the syntax is right).
    assert raw.command(b"a3", b"CREATE Bad&name")[-1].startswith(b"a3 NO [CANNOT]")
    # The storage holds the decoded name.
    infos = server.call(server.running.ctx.store.list_mailboxes(1))
    assert "Entwürfe" in {i.name for i in infos}


def test_users_are_isolated(server: ServerThread) -> None:
    a = server.login("alice")
    a.create("Secret")
    b = server.login("bob")
    assert "Secret" not in listing(b)
    a.logout()
    b.logout()
