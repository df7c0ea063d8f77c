"""PREVIEW (RFC 8970): transcripts of the RFC's three examples on real sockets, LAZY for
messages stored before previews were computed, and the text itself (decoded, stripped,
200 characters)."""

from __future__ import annotations

import base64
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread
from tests.server.imap_client import Imap, client_factory, fetch_items

LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n"
         "Curabitur aliquam turpis et ante dictum, et pulvinar dui congue.\r\n"
         "Maecenas hendrerit, lorem non imperdiet pellentesque, nulla\r\n"
         "ligula nullam fringilla massa, vitae sodales nisi augue non purus.\r\n")


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Any]:
    yield from client_factory(server)


def text_message(body: str, subject: str = "hi", frm: str = "ann@example.com",
                 headers: str = "") -> bytes:
    return (f"From: {frm}\r\nSubject: {subject}\r\n{headers}\r\n{body}\r\n").encode()


IMAGE = (b"From: ann@example.com\r\nSubject: picture\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         + base64.encodebytes(b"\x89PNG\r\n\x1a\n" + bytes(64)))


def forget_previews(server: ServerThread) -> None:
    """As if the messages had been stored by a Crispin that computed no previews."""
    conn = sqlite3.connect(server.config.data_dir / "crispin.db", isolation_level=None)
    try:
        conn.execute("DELETE FROM message_previews")
    finally:
        conn.close()


def stored_previews(server: ServerThread) -> int:
    conn = sqlite3.connect(server.config.data_dir / "crispin.db")
    try:
        return int(conn.execute("SELECT count(*) FROM message_previews").fetchone()[0])
    finally:
        conn.close()


def test_example_1_preview_without_lazy(imap: Any) -> None:
    c: Imap = imap()
    caps = c.cmd("CAPABILITY").untagged[0].split()
    assert b"PREVIEW" in caps
    msg = text_message(LOREM)
    assert c.append("INBOX", msg).ok
    c.select()
    reply = c.cmd("FETCH 1 (RFC822.SIZE PREVIEW)")
    assert reply.ok and reply.tagged.endswith(b"FETCH completed")
    [(n, items)] = reply.fetches()
    expected = " ".join(LOREM.split())[:200].rstrip()
    assert n == 1 and items == {"RFC822.SIZE": len(msg), "PREVIEW": expected.encode()}
    assert len(expected) == 200


def test_example_2_lazy_then_background_load(server: ServerThread, imap: Any) -> None:
    c: Imap = imap()
    assert c.append("INBOX", text_message("Preview text for message 1.")).ok
    assert c.append("INBOX", IMAGE).ok
    forget_previews(server)  # 1 and 2 now: stored before previews existed
    assert c.append("INBOX", text_message("Message data from message 3.")).ok
    assert c.append("INBOX", text_message("Message 4 preview")).ok
    c.select()
    # messages 3 and 4 have theirs from APPEND; 1 and 2 have none computed yet
    reply = c.cmd("FETCH 1:4 (ENVELOPE PREVIEW (LAZY))")
    assert reply.ok
    got = {n: items["PREVIEW"] for n, items in reply.fetches()}
    assert got == {1: None, 2: None, 3: b"Message data from message 3.",
                   4: b"Message 4 preview"}
    assert all("ENVELOPE" in items for _, items in reply.fetches())
    # "only need to request preview of messages 1 & 2 (e.g., in background)"
    reply = c.cmd("FETCH 1:2 (PREVIEW)")
    got = {n: items["PREVIEW"] for n, items in reply.fetches()}
    # an image has no text: the empty string, not NIL (§3.2)
    assert got == {1: b"Preview text for message 1.", 2: b""}
    # computed once, stored: LAZY has them now
    assert stored_previews(server) == 4
    reply = c.cmd("FETCH 1:4 (PREVIEW (LAZY))")
    assert [items["PREVIEW"] for _, items in reply.fetches()] == [
        b"Preview text for message 1.", b"", b"Message data from message 3.",
        b"Message 4 preview"]


def test_example_3_searchres_and_uid_fetch(server: ServerThread, imap: Any) -> None:
    c: Imap = imap()
    for i in range(1, 10):
        frm = "foo@example.com" if i in (5, 9) else "bar@example.com"
        assert c.append("INBOX", text_message(f"Preview of {i}!", frm=frm)).ok
    forget_previews(server)
    c.select()
    tag = c.tag()
    c.send(f'{tag} SEARCH RETURN (SAVE) FROM "FOO"\r\n'.encode())
    assert c.until_tagged(tag).ok
    reply = c.cmd("FETCH $ (UID PREVIEW (LAZY))")
    assert [(n, items) for n, items in reply.fetches()] == [
        (5, {"UID": 5, "PREVIEW": None}), (9, {"UID": 9, "PREVIEW": None})]
    reply = c.cmd("UID FETCH 9 (PREVIEW)")
    assert reply.fetches() == [(9, {"UID": 9, "PREVIEW": b"Preview of 9!"})]


def test_html_charset_and_transfer_encoding(imap: Any) -> None:
    c: Imap = imap()
    html = ("<html><head><style>b {}</style></head><body><p>Bonjour&nbsp;&agrave; "
            "<b>tous</b>,</p><p>r\u00e9union \u00e0 10h</p></body></html>")
    msg = (b"From: ann@example.com\r\nSubject: r\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/html; charset=iso-8859-1\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(html.encode("iso-8859-1")))
    assert c.append("INBOX", msg).ok
    c.select()
    reply = c.cmd("FETCH 1 (PREVIEW)")
    # UTF-8 (§3.3), sent as a literal since it is not ASCII
    assert re.match(rb"\* 1 FETCH \(PREVIEW \{\d+\}\r\n", reply.untagged[0])
    [(_, items)] = reply.fetches()
    assert items["PREVIEW"].decode("utf-8") == "Bonjour\u00a0\u00e0 tous, r\u00e9union \u00e0 10h" \
        .replace("\u00a0", " ")


def test_200_characters_not_octets(imap: Any) -> None:
    c: Imap = imap()
    body = "\u00e9t\u00e9 " * 100  # 400 characters, 600 octets
    msg = (b"From: a@example.com\r\nSubject: s\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body.encode() + b"\r\n")
    assert c.append("INBOX", msg).ok
    c.select()
    [(_, items)] = c.cmd("FETCH 1 (PREVIEW)").fetches()
    text = items["PREVIEW"].decode("utf-8")
    assert len(text) <= 200 and text == body[:200].rstrip()


def test_a_big_body_in_a_file_stored_before_previews(server: ServerThread, imap: Any) -> None:
    """Computed from the start of the file (the first text part), not the whole file."""
    server.running.ctx.store.inline_max = 1024
    c: Imap = imap()
    msg = (b"From: a@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n'
           b"--zz\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n"
           b"--zz\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(bytes(600_000)) + b"--zz--\r\n")
    assert c.append("INBOX", msg).ok
    forget_previews(server)
    c.select()
    [(_, items)] = c.cmd("FETCH 1 (PREVIEW (LAZY))").fetches()
    assert items["PREVIEW"] is None
    [(_, items)] = c.cmd("FETCH 1 (PREVIEW)").fetches()
    assert items["PREVIEW"] == b"See the attachment."


def test_expunged_by_another_session_and_bad_modifiers(imap: Any) -> None:
    a: Imap = imap()
    b: Imap = imap()
    assert a.append("INBOX", text_message("one")).ok
    assert a.append("INBOX", text_message("two")).ok
    a.select()
    b.select()
    assert b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").ok
    reply = a.cmd("FETCH 1:2 (PREVIEW)")
    # RFC 2180 §4.1 keeps its number; NIL is not allowed without LAZY (§3.2)
    assert fetch_items(reply.untagged[0]) == {"PREVIEW": b""}
    assert fetch_items(reply.untagged[1]) == {"PREVIEW": b"two"}
    reply = a.cmd("FETCH 1 (PREVIEW (LAZY))")
    assert fetch_items(reply.untagged[0]) == {"PREVIEW": None}
    for bad in ("FETCH 2 (PREVIEW (FAST))", "FETCH 2 (PREVIEW (LAZY)", "FETCH 2 PREVIEW ()"):
        assert a.cmd(bad).status == "BAD", bad
    assert a.cmd("NOOP").ok
