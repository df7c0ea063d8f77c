"""FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8, §7.4.2) over real connections, checked
against the hand-worked MIME corpus (tests/protocol/mime/corpus)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.protocol.mime.corpus_format import load, names
from tests.server.harness import ServerThread
from tests.server.imap_client import (
    Imap,
    client_factory,
    corpus,
    fill,
    flags_of,
    message,
    parse,
)


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)

# The empty message cannot be APPENDed (RFC 3502 §6.3.11: a zero-length literal is NO,
# test_append.py), so it is left out of these APPEND-then-FETCH checks.
CORPUS_NAMES = [n for n in names() if n != "empty"]
DATE = "17-Jul-1996 02:44:25 -0700"


def one(c: Imap, text: str) -> dict[str, Any]:
    """The items of the single FETCH response to ``text``."""
    r = c.cmd(text)
    assert r.ok, r
    f = r.fetches()
    assert len(f) == 1, r
    return f[0][1]


def raw_items(c: Imap, text: str) -> bytes:
    r = c.cmd(text)
    assert r.ok, r
    assert len(r.untagged) == 1, r
    return r.untagged[0]


# -- the corpus, item by item -----------------------------------------------------------------


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_corpus_message_items(imap: Any, name: str) -> None:
    c = imap()
    raw = corpus(name)
    exp = load(name)
    assert c.append("INBOX", raw, date=DATE).ok
    c.select()
    got = raw_items(c, "FETCH 1 (ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE)")
    # The prepared bytes come back exactly as the corpus says (RFC 3501 §7.4.2).
    assert b"ENVELOPE " + exp.values["envelope"] in got  # type: ignore[operator]
    assert b"BODYSTRUCTURE " + exp.values["bodystructure"] in got  # type: ignore[operator]
    if "body" in exp.values:
        assert b"BODY " + exp.values["body"] in got  # type: ignore[operator]
    items = one(c, "FETCH 1 (RFC822.SIZE BODY.PEEK[])")
    assert items["RFC822.SIZE"] == len(raw)
    assert items["BODY[]"] == raw
    for sec in exp.sections:
        if 0 in sec.part:
            # "0" is no section-part (RFC 3501 §9 nz-number): a syntax error over the wire
            assert c.cmd(f"FETCH 1 BODY.PEEK[{sec.spec}]").status == "BAD"
            continue
        items = one(c, f"FETCH 1 BODY.PEEK[{sec.spec}]")
        (key,) = items
        assert key.startswith("BODY[")
        if sec.expect is None:
            # no such part: NIL (Dovecot sends an empty string; both are accepted by clients)
            assert items[key] in (None, b""), sec.spec
        else:
            assert items[key] == sec.expect, sec.spec
    # nothing above set \Seen
    assert "\\Seen" not in flags_of(one(c, "FETCH 1 FLAGS"))


def test_nested_message_parts(imap: Any) -> None:
    c = imap()
    assert c.append("INBOX", corpus("nested-rfc822")).ok
    c.select()
    items = one(c, "FETCH 1 (BODY.PEEK[2.1.HEADER.FIELDS (SUBJECT)] BODY.PEEK[2.1.1]"
                   " BODY.PEEK[2.1.2.MIME] BODY.PEEK[2.2]<0.3>)")
    assert items["BODY[2.1.HEADER.FIELDS (SUBJECT)]"] == b"Subject: inner\r\n\r\n"
    assert items["BODY[2.1.1]"] == b"inner plain"
    assert items["BODY[2.1.2.MIME]"] == b"Content-Type: text/html\r\n\r\n"
    assert items["BODY[2.2]<0>"] == b"tra"


# -- simple items, macros -----------------------------------------------------------------------


def test_macros_all_fast_full(imap: Any) -> None:
    c = imap()
    raw = corpus("plain")
    assert c.append("INBOX", raw, "\\Flagged", DATE).ok
    c.select()
    fast = one(c, "FETCH 1 FAST")
    assert set(fast) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}
    assert fast["INTERNALDATE"] == b"17-Jul-1996 02:44:25 -0700"
    assert fast["RFC822.SIZE"] == len(raw)
    assert flags_of(fast) == {"\\Flagged", "\\Recent"}
    allm = one(c, "FETCH 1 ALL")
    assert set(allm) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}
    assert allm["ENVELOPE"][1] == b"afternoon meeting"
    full = one(c, "FETCH 1 FULL")
    assert set(full) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}
    assert full["BODY"][:2] == [b"TEXT", b"PLAIN"]
    assert len(full["BODY"]) == 8  # BODY has no extension data (RFC 3501 §7.4.2)


def test_rfc822_items(imap: Any) -> None:
    c = imap()
    raw = corpus("plain")
    header, _, text = raw.partition(b"\r\n\r\n")
    assert c.append("INBOX", raw).ok
    c.select()
    items = one(c, "FETCH 1 (RFC822.HEADER RFC822.SIZE UID)")
    assert items["RFC822.HEADER"] == header + b"\r\n\r\n"
    assert items["UID"] == 1
    # RFC822.HEADER is a peek: no \Seen
    assert "\\Seen" not in flags_of(one(c, "FETCH 1 FLAGS"))
    items = one(c, "FETCH 1 RFC822.TEXT")
    assert items["RFC822.TEXT"] == text
    assert "\\Seen" in flags_of(items)  # RFC822.TEXT sets \Seen and reports it
    items = one(c, "FETCH 1 RFC822")
    assert items["RFC822"] == raw
    assert "FLAGS" not in items  # already \Seen: nothing changed, nothing to report


def test_header_sections_and_partials(imap: Any) -> None:
    c = imap()
    raw = corpus("plain")
    header = raw[:raw.index(b"\r\n\r\n") + 4]
    assert c.append("INBOX", raw).ok
    c.select()
    items = one(c, "FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT]<5.10> BODY.PEEK[]<0.20>"
                   " BODY.PEEK[]<10000.5> BODY.PEEK[HEADER.FIELDS (X-Missing)])")
    assert items["BODY[HEADER]"] == header
    assert items["BODY[TEXT]<5>"] == raw[len(header) + 5:len(header) + 15]
    assert items["BODY[]<0>"] == raw[:20]
    assert items["BODY[]<10000>"] == b""  # origin beyond the end: empty string (§6.4.5)
    # no such field: just the blank line that ends a header
    assert items["BODY[HEADER.FIELDS (X-Missing)]"] == b"\r\n"


def test_body_sets_seen_and_reports_flags_peek_does_not(imap: Any) -> None:
    c = imap()
    fill(c, 3)
    c.select()
    items = one(c, "FETCH 1 BODY.PEEK[TEXT]")
    assert "FLAGS" not in items
    r = c.cmd("FETCH 1:2 BODY[TEXT]")
    f = dict(r.fetches())
    # RFC 3501 §6.4.5: \Seen is set, and the change appears as an unsolicited FLAGS item
    assert flags_of(f[1]) == {"\\Seen", "\\Recent"}
    assert flags_of(f[2]) == {"\\Seen", "\\Recent"}
    # not echoed again at the end of the command or on the next NOOP
    assert len(r.untagged) == 2
    assert c.cmd("NOOP").untagged == []
    # BODY[] with FLAGS asked for: FLAGS given once, with \Seen
    r = c.cmd("FETCH 3 (FLAGS BODY[])")
    (_, items), = r.fetches()
    assert "\\Seen" in flags_of(items)
    assert re.findall(rb"FLAGS", r.untagged[0]).__len__() == 1


def test_examine_never_sets_seen(imap: Any) -> None:
    c = imap()
    fill(c, 1)
    assert c.cmd("EXAMINE INBOX").ok
    items = one(c, "FETCH 1 (BODY[] RFC822 RFC822.TEXT)")
    assert "FLAGS" not in items
    assert "\\Seen" not in flags_of(one(c, "FETCH 1 FLAGS"))
    c.select()
    assert "\\Seen" not in flags_of(one(c, "FETCH 1 FLAGS"))


def test_other_session_sees_seen_set_by_fetch(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 2)
    a.select()
    b.select()
    assert a.cmd("FETCH 2 BODY[]").ok
    r = b.cmd("NOOP")
    (n, items), = r.fetches()
    assert n == 2 and "\\Seen" in flags_of(items)
    assert a.cmd("NOOP").untagged == []  # not echoed to the session that set it


# -- sequence sets ------------------------------------------------------------------------------


def test_sequence_sets_and_star(imap: Any) -> None:
    c = imap()
    fill(c, 5)
    c.select()
    assert [n for n, _ in c.cmd("FETCH * UID").fetches()] == [5]
    assert [n for n, _ in c.cmd("FETCH 4:* UID").fetches()] == [4, 5]
    assert [n for n, _ in c.cmd("FETCH *:4 UID").fetches()] == [4, 5]
    assert [n for n, _ in c.cmd("FETCH 1,3,5 UID").fetches()] == [1, 3, 5]
    assert [n for n, _ in c.cmd("FETCH 2:3,1 UID").fetches()] in ([1, 2, 3], [2, 3, 1])
    for bad in ("FETCH 6 UID", "FETCH 1:6 UID", "FETCH 0 UID", "FETCH 5,7 UID"):
        assert c.cmd(bad).status == "BAD", bad  # RFC 3501 §9 seq-number: must exist


def test_fetch_star_in_empty_mailbox_is_bad(imap: Any) -> None:
    c = imap()
    c.select()
    assert c.cmd("FETCH 1 UID").status == "BAD"
    assert c.cmd("FETCH * UID").status == "BAD"
    assert c.cmd("FETCH 1:* UID").status == "BAD"


def test_uid_fetch_ranges(imap: Any) -> None:
    c = imap()
    c.select()
    r = c.cmd("UID FETCH 1:* FLAGS")
    assert r.ok and r.untagged == []  # empty mailbox: nothing, no error
    assert c.cmd("UID FETCH 10:* FLAGS").untagged == []
    fill(c, 5)
    assert c.cmd("STORE 1,2 +FLAGS (\\Deleted)").ok
    assert c.cmd("EXPUNGE").ok  # left: UIDs 3 4 5 at MSN 1 2 3
    # RFC 3501 §6.4.8: 10:* is 5:10 here, so UID 5 comes back
    f = c.cmd("UID FETCH 10:* FLAGS").fetches()
    assert [(n, i["UID"]) for n, i in f] == [(3, 5)]
    f = c.cmd("UID FETCH 1:4 FLAGS").fetches()
    assert [(n, i["UID"]) for n, i in f] == [(1, 3), (2, 4)]
    # UIDs that don't exist are ignored, not an error
    r = c.cmd("UID FETCH 1,2,99 FLAGS")
    assert r.ok and r.untagged == []
    # UID is included even when not asked for, and only once when asked for
    r = c.cmd("UID FETCH 4 (UID FLAGS)")
    assert r.untagged[0].count(b"UID") == 1
    assert "UID" in r.fetches()[0][1]


def test_unknown_items_are_bad(imap: Any) -> None:
    c = imap()
    fill(c, 1)
    c.select()
    assert c.cmd("FETCH 1 FROB").status == "BAD"
    assert c.cmd("FETCH 1 BODY[1.HEAD]").status == "BAD"
    assert c.cmd("FETCH 1 (FLAGS").status == "BAD"
    assert c.cmd("NOOP").ok


def test_large_fetch_streams_every_message(imap: Any) -> None:
    c = imap()
    c.select()
    for i in range(30):
        assert c.append("INBOX", message(f"s{i}", "x" * 2000), plus=True).ok
    f = c.cmd("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])").fetches()
    assert [n for n, _ in f] == list(range(1, 31))
    assert [i["BODY[HEADER.FIELDS (SUBJECT)]"] for _, i in f] == \
        [f"Subject: s{i}\r\n\r\n".encode() for i in range(30)]


def test_envelope_parses_to_fields(imap: Any) -> None:
    c = imap()
    assert c.append("INBOX", corpus("plain")).ok
    c.select()
    env = one(c, "FETCH 1 ENVELOPE")["ENVELOPE"]
    date, subject, frm, sender, reply_to, to, cc, bcc, irt, mid = env
    assert subject == b"afternoon meeting"
    assert frm == sender == reply_to == [[b"Fred Foobar", None, b"foobar", b"Blurdybloop.example"]]
    assert to[1] == [b'Sam "the" Smith', None, b"sam", b"example.org"]
    assert bcc is None
    assert mid == b"<B27397-0100000@Blurdybloop.example>"
    assert parse(b"(" + b"1" + b")") == [1]
