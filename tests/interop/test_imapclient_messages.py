"""Message commands through imapclient, a client nobody here wrote: its parser must accept
what Crispin sends (envelopes, body structures, flags, COPYUID, MOVE, EXPUNGE, UIDs)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.response_types import Address, Envelope

from tests.server.harness import PASSWORD, ServerThread

# imapclient 4.1 can't take "1:*" in fetch() (it turns the set into ints to filter the
# answer), so "every UID" is spelt out; UID FETCH skips the ones that don't exist.
ANY = list(range(1, 60))
CORPUS = Path(__file__).parent.parent / "protocol" / "mime" / "corpus"


def corpus(name: str) -> bytes:
    return (CORPUS / f"{name}.eml").read_bytes()


def msg(subject: str, body: str = "hello") -> bytes:
    return (f"From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n"
            f"\r\n{body}\r\n").encode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    srv = ServerThread(tmp_path / "data")
    srv.add_user("alice")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def connect(server: ServerThread) -> Iterator[object]:
    clients: list[IMAPClient] = []

    def make() -> IMAPClient:
        c = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=15)
        c.login("alice", PASSWORD)
        clients.append(c)
        return c

    yield make
    for c in clients:
        try:
            c.logout()
        except Exception:
            pass


def test_select_folder_data(connect) -> None:  # type: ignore[no-untyped-def]
    c = connect()
    c.append("INBOX", msg("a"), flags=("\\Seen", "Work"))
    c.append("INBOX", msg("b"))
    info = c.select_folder("INBOX")
    assert info[b"EXISTS"] == 2
    assert info[b"RECENT"] == 2
    assert info[b"UIDNEXT"] == 3
    assert info[b"UIDVALIDITY"] > 0
    assert info[b"READ-WRITE"] is True
    assert set(info[b"FLAGS"]) >= {b"\\Seen", b"\\Deleted", b"Work"}
    assert b"\\*" in info[b"PERMANENTFLAGS"]
    assert info[b"UNSEEN"] == [b"2"]
    ro = c.select_folder("INBOX", readonly=True)
    assert b"READ-ONLY" in ro and ro.get(b"READ-WRITE") is not True
    assert b"\\*" not in ro[b"PERMANENTFLAGS"]


def test_append_and_fetch_items(connect) -> None:  # type: ignore[no-untyped-def]
    c = connect()
    when = datetime(2020, 2, 29, 13, 14, 15, tzinfo=timezone(timedelta(hours=-5)))
    raw = corpus("plain")
    resp = c.append("INBOX", raw, flags=("\\Flagged",), msg_time=when)
    assert re.search(rb"\[APPENDUID \d+ 1\]", resp)
    c.select_folder("INBOX")
    data = c.fetch([1], ["ENVELOPE", "BODYSTRUCTURE", "FLAGS", "INTERNALDATE", "RFC822.SIZE",
                         "BODY.PEEK[]", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
    item = data[1]
    env = item[b"ENVELOPE"]
    assert isinstance(env, Envelope)
    assert env.subject == b"afternoon meeting"
    assert env.from_ == (Address(b"Fred Foobar", None, b"foobar", b"Blurdybloop.example"),)
    assert env.sender == env.from_ and env.reply_to == env.from_
    assert env.to[1].name == b'Sam "the" Smith'
    assert env.message_id == b"<B27397-0100000@Blurdybloop.example>"
    assert env.in_reply_to == b"<prev@Blurdybloop.example>"
    assert env.date is not None and env.date.year == 1994
    bs = item[b"BODYSTRUCTURE"]
    assert bs[0] == b"TEXT" and bs[1] == b"PLAIN" and bs[6] == 61 and bs[7] == 2
    assert not bs.is_multipart
    assert set(item[b"FLAGS"]) == {b"\\Flagged", b"\\Recent"}
    assert item[b"INTERNALDATE"].replace(tzinfo=None) == \
        when.astimezone().replace(tzinfo=None) or item[b"INTERNALDATE"] == when
    assert item[b"RFC822.SIZE"] == len(raw)
    assert item[b"BODY[]"] == raw
    assert item[b"BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: afternoon\r\n meeting\r\n\r\n"
    assert item[b"SEQ"] == 1


def test_multipart_bodystructure(connect) -> None:  # type: ignore[no-untyped-def]
    c = connect()
    c.append("INBOX", corpus("nested-rfc822"))
    c.select_folder("INBOX")
    item = c.fetch([1], ["BODYSTRUCTURE", "BODY.PEEK[2.1.1]", "BODY.PEEK[2.1.HEADER]"])[1]
    bs = item[b"BODYSTRUCTURE"]
    assert bs.is_multipart
    parts, subtype = bs[0], bs[1]
    assert subtype == b"mixed"
    assert parts[0][:2] == (b"text", b"plain")
    inner_parts, inner_sub = parts[1][0], parts[1][1]
    assert inner_sub == b"mixed"
    rfc822 = inner_parts[0]
    assert rfc822[:2] == (b"message", b"rfc822")
    assert rfc822[7][1] == b"inner"  # the encapsulated ENVELOPE (a plain tuple here)
    assert item[b"BODY[2.1.1]"] == b"inner plain"
    assert item[b"BODY[2.1.HEADER]"].startswith(b"From: h@example.com\r\n")


def test_flags_store_and_seen(connect) -> None:  # type: ignore[no-untyped-def]
    c = connect()
    for i in range(3):
        c.append("INBOX", msg(f"m{i}"))
    c.select_folder("INBOX")
    got = c.add_flags([1, 2], [b"\\Answered", b"Custom"])
    assert set(got[1]) == {b"\\Answered", b"Custom", b"\\Recent"}
    got = c.remove_flags([2], [b"Custom"])
    assert set(got[2]) == {b"\\Answered", b"\\Recent"}
    got = c.set_flags([3], [b"\\Draft"])
    assert set(got[3]) == {b"\\Draft", b"\\Recent"}
    assert c.add_flags([3], [b"\\Seen"], silent=True) is None
    flags = c.get_flags([1, 2, 3])
    assert set(flags[3]) == {b"\\Draft", b"\\Seen", b"\\Recent"}
    # BODY[] (not PEEK) sets \Seen and reports it
    item = c.fetch([1], ["BODY[]"])[1]
    assert b"\\Seen" in item[b"FLAGS"]
    # UIDs are there with use_uid
    data = c.fetch(ANY, ["UID"])
    assert sorted(data) == [1, 2, 3]


def test_copy_move_expunge(connect) -> None:  # type: ignore[no-untyped-def]
    c = connect()
    c.create_folder("Archive")
    c.create_folder("Trash")
    for i in range(5):
        c.append("INBOX", msg(f"m{i + 1}"))
    c.select_folder("INBOX")
    c.copy([2, 4], "Archive")
    # imapclient's copy() returns imaplib's untagged "FETCH" data (None); the tagged
    # [COPYUID] is kept by imaplib under its code, as for any response code
    _code, (copyuid,) = c._imap.response("COPYUID")
    validity, src, dst = copyuid.split()
    assert int(validity) == c.folder_status("Archive", ["UIDVALIDITY"])[b"UIDVALIDITY"]
    assert (src, dst) == (b"2,4", b"1:2")
    c.move([1], "Trash")
    _code, (copyuid,) = c._imap.response("COPYUID")  # RFC 6851: untagged OK [COPYUID]
    assert copyuid.split()[1:] == [b"1", b"1"]
    assert sorted(c.fetch(ANY, ["UID"])) == [2, 3, 4, 5]
    c.add_flags([3, 5], [b"\\Deleted"])
    text, responses = c.expunge()
    assert (2, b"EXPUNGE") in responses and (3, b"EXPUNGE") in responses
    assert sorted(c.fetch(ANY, ["UID"])) == [2, 4]
    c.add_flags([2, 4], [b"\\Deleted"])
    c.uid_expunge([4])
    assert sorted(c.fetch(ANY, ["UID"])) == [2]
    c.select_folder("Archive")
    envs = c.fetch(ANY, ["ENVELOPE"])
    assert [envs[u][b"ENVELOPE"].subject for u in sorted(envs)] == [b"m2", b"m4"]
    c.select_folder("Trash")
    assert [v[b"ENVELOPE"].subject for v in c.fetch(ANY, ["ENVELOPE"]).values()] == [b"m1"]
    c.close_folder()


def test_two_clients_see_each_other(connect) -> None:  # type: ignore[no-untyped-def]
    a, b = connect(), connect()
    for i in range(3):
        a.append("INBOX", msg(f"m{i + 1}"))
    a.select_folder("INBOX")
    b.select_folder("INBOX")
    b.append("INBOX", msg("new"))
    b.add_flags([1], [b"\\Flagged"])
    b.add_flags([2], [b"\\Deleted"])
    b.expunge()
    _text, responses = a.noop()
    assert (2, b"EXPUNGE") in responses
    assert (3, b"EXISTS") in responses
    fetches = [r for r in responses if len(r) == 3 and r[1] == b"FETCH"]
    assert any(r[0] == 1 and b"\\Flagged" in r[2][r[2].index(b"FLAGS") + 1]
               for r in fetches)
    data = a.fetch(ANY, ["ENVELOPE"])
    assert [data[u][b"ENVELOPE"].subject for u in sorted(data)] == [b"m1", b"m3", b"new"]
    # both agree on UIDs
    assert sorted(b.fetch(ANY, ["UID"])) == sorted(data) == [1, 3, 4]


def test_unselect_and_readonly(connect) -> None:  # type: ignore[no-untyped-def]
    c = connect()
    c.append("INBOX", msg("x"), flags=("\\Deleted",))
    c.select_folder("INBOX", readonly=True)
    item = c.fetch([1], ["BODY[]"])[1]
    assert b"FLAGS" not in item  # EXAMINE never sets \Seen
    c.close_folder()  # read-only CLOSE does not expunge
    c.select_folder("INBOX")
    c.unselect_folder()
    info = c.select_folder("INBOX")
    assert info[b"EXISTS"] == 1


def test_fetch_by_number_of_message_expunged_elsewhere(connect) -> None:  # type: ignore[no-untyped-def]
    a, b = connect(), connect()
    for i in range(3):
        a.append("INBOX", msg(f"m{i + 1}"))
    a.select_folder("INBOX")
    b.select_folder("INBOX")
    b.add_flags([2], [b"\\Deleted"])
    b.expunge()
    a.use_uid = False  # message numbers, as a client that keeps its own list does
    # Data for every number (the expunged one with an all-NIL ENVELOPE), a tagged OK as
    # Dovecot answers (issue 9 point 2), and no EXPUNGE yet (RFC 3501 §7.4.1)
    data = a.fetch([1, 2, 3], ["ENVELOPE"])
    assert sorted(data) == [1, 2, 3]
    assert data[2][b"ENVELOPE"].subject is None and data[1][b"ENVELOPE"].subject == b"m1"
    data = a.fetch([3], ["ENVELOPE"])
    assert data[3][b"ENVELOPE"].subject == b"m3"  # numbers have not moved
    _text, responses = a.noop()
    assert (2, b"EXPUNGE") in responses
    data = a.fetch([1, 2], ["ENVELOPE"])
    assert [data[n][b"ENVELOPE"].subject for n in (1, 2)] == [b"m1", b"m3"]
