"""MESSAGE/GLOBAL parts (RFC 6532 §3.7) in FETCH BODYSTRUCTURE, BODY and BODY[section].

RFC 9051 §9: ``body-type-basic``'s MESSAGE subtype "MUST NOT be "RFC822" or "GLOBAL"", and
``media-message`` is ``"MESSAGE" ("RFC822" / "GLOBAL")``: an IMAP4rev2 session sees a
message/global part like message/rfc822 (envelope, body, lines). RFC 3501 §9's
``media-message`` is ``"MESSAGE" "RFC822"`` only: an IMAP4rev1 session sees a basic part,
as Dovecot 2.3 shows it to every client (checked: ``("message" "global" NIL NIL NIL "7bit"
123 NIL NIL NIL NIL)``). Sections inside (RFC 9051 §6.4.5: "A part of type MESSAGE/RFC822
or MESSAGE/GLOBAL also has nested part numbers") work in both modes.
"""

from __future__ import annotations

import base64
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from imapclient import IMAPClient

from crispin.protocol.mime import part_tree_from_bytes, part_tree_to_bytes
from tests.server.harness import PASSWORD, RawClient, ServerThread

LOGIN = b'LOGIN alice "' + PASSWORD.encode() + b'"'

INNER = ("From: Jörg <jörg@bücher.example>\r\nTo: x@example.com\r\nSubject: inner été\r\n"
         "Message-ID: <1@x>\r\n\r\nbody line 1\r\nbody line 2\r\n").encode()
# A multipart whose second part is message/global: the exchange of this file's tests.
MIXED = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: outer\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
         b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
         b"--XX\r\nContent-Type: message/global\r\n\r\n" + INNER + b"--XX--\r\n")
INNER_ENVELOPE = (b'(NIL {11}\r\ninner \xc3\xa9t\xc3\xa9 '
                  + (b'(({5}\r\nJ\xc3\xb6rg NIL {5}\r\nj\xc3\xb6rg {15}\r\nb\xc3\xbccher.example))'
                     b' ') * 3
                  + b'((NIL NIL "x" "example.com")) NIL NIL NIL "<1@x>")')
TEXT_PART = b'("text" "plain" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 5 0'
INNER_BODY = b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 24 1'



def session(server: ServerThread, rev2: bool, *messages: bytes) -> RawClient:
    c = server.raw()
    assert c.command(b"l1", LOGIN)[-1].startswith(b"l1 OK")
    if rev2:
        assert c.command(b"l2", b"ENABLE IMAP4rev2")[0] == b"* ENABLED IMAP4rev2"
    for i, data in enumerate(messages):
        tag = b"ap%d" % i
        c.send(tag + b" APPEND INBOX {%d+}\r\n" % len(data) + data + b"\r\n")
        assert c.until_tagged(tag)[-1].startswith(tag + b" OK")
    assert c.command(b"l3", b"SELECT INBOX")[-1].startswith(b"l3 OK")
    return c


def fetch(c: RawClient, tag: bytes, text: bytes) -> bytes:
    """The untagged answer to a FETCH of one message, literals included, as one string."""
    lines = c.command(tag, text)
    assert lines[-1].startswith(tag + b" OK"), lines
    return b"\r\n".join(lines[:-1])


def test_rev1_bodystructure_shows_a_basic_part(server: ServerThread) -> None:
    """IMAP4rev1 (RFC 3501 §9): message/global is ``body-type-basic``, no envelope."""
    c = session(server, False, MIXED)
    assert fetch(c, b"a", b"FETCH 1 (BODYSTRUCTURE BODY)") == (
        b"* 1 FETCH (BODYSTRUCTURE (" + TEXT_PART + b' NIL NIL NIL NIL)'
        b'("message" "global" NIL NIL NIL "7BIT" 123 NIL NIL NIL NIL) "mixed"'
        b' ("boundary" "XX") NIL NIL NIL) BODY (' + TEXT_PART +
        b')("message" "global" NIL NIL NIL "7BIT" 123) "mixed"))')
    c.close()


def test_rev2_bodystructure_shows_the_message(server: ServerThread) -> None:
    """IMAP4rev2 (RFC 9051 §7.5.2, §9 ``body-type-msg``): the envelope, the body and the
    lines of the message inside, as for message/rfc822; BODY likewise, without extension
    data."""
    c = session(server, True, MIXED)
    assert fetch(c, b"a", b"FETCH 1 (BODYSTRUCTURE)") == (
        b"* 1 FETCH (BODYSTRUCTURE (" + TEXT_PART + b' NIL NIL NIL NIL)'
        b'("message" "global" NIL NIL NIL "7BIT" 123 ' + INNER_ENVELOPE + b" "
        + INNER_BODY + b' NIL NIL NIL NIL) 6 NIL NIL NIL NIL) "mixed" ("boundary" "XX")'
        b' NIL NIL NIL))')
    assert fetch(c, b"b", b"FETCH 1 (BODY)") == (
        b"* 1 FETCH (BODY (" + TEXT_PART + b')("message" "global" NIL NIL NIL "7BIT" 123 '
        + INNER_ENVELOPE + b" " + INNER_BODY + b") 6) \"mixed\"))")
    c.close()


@pytest.mark.parametrize("rev2", [False, True], ids=["rev1", "rev2"])
def test_sections_inside(server: ServerThread, rev2: bool) -> None:
    """RFC 9051 §6.4.5: HEADER, HEADER.FIELDS, TEXT after the part number of a
    message/global part, its nested part numbers, and MIME of the part itself."""
    c = session(server, rev2, MIXED)
    header, text = INNER.split(b"\r\n\r\n", 1)
    header += b"\r\n\r\n"
    text = text.removesuffix(b"\r\n")  # the line break before "--XX" is the boundary's
    answer = fetch(c, b"a", b"FETCH 1 (BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1]"
                   b" BODY.PEEK[2.MIME] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)])")
    assert answer == (
        b"* 1 FETCH (BODY[2.HEADER] {%d}\r\n" % len(header) + header +
        b" BODY[2.TEXT] {%d}\r\n" % len(text) + text +
        b" BODY[2.1] {24}\r\nbody line 1\r\nbody line 2"
        b" BODY[2.MIME] {32}\r\nContent-Type: message/global\r\n\r\n"
        b' BODY[2.HEADER.FIELDS (SUBJECT)] {24}\r\nSubject: inner \xc3\xa9t\xc3\xa9\r\n\r\n)')
    c.close()


NESTED_INNER = ("From: z@ü.example\r\nSubject: ü\r\n"
                "Content-Type: multipart/alternative; boundary=YY\r\n\r\n"
                "--YY\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
                "--YY\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--YY--\r\n").encode()
TOP = (b"From: a@example.com\r\nSubject: top\r\nMIME-Version: 1.0\r\n"
       b"Content-Type: message/global\r\n\r\n" + NESTED_INNER)


@pytest.mark.parametrize("rev2", [False, True], ids=["rev1", "rev2"])
def test_whole_message_global_with_a_multipart_inside(server: ServerThread,
                                                      rev2: bool) -> None:
    """A message whose body is message/global: part 1 is it, 1.1 and 1.2 its parts."""
    c = session(server, rev2, TOP)
    answer = fetch(c, b"a", b"FETCH 1 (BODY.PEEK[1.HEADER.FIELDS (SUBJECT)] BODY.PEEK[1.2]"
                   b" BODY.PEEK[1.2.MIME] BODYSTRUCTURE)")
    size = len(NESTED_INNER)
    lines = NESTED_INNER.count(b"\n")
    inner = (b'(("text" "plain" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 5 0 NIL NIL NIL NIL)'
             b'("text" "html" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 8 0 NIL NIL NIL NIL)'
             b' "alternative" ("boundary" "YY") NIL NIL NIL)')
    envelope = (b"(NIL {2}\r\n\xc3\xbc ((NIL NIL \"z\" {10}\r\n\xc3\xbc.example)) "
                b"((NIL NIL \"z\" {10}\r\n\xc3\xbc.example)) "
                b"((NIL NIL \"z\" {10}\r\n\xc3\xbc.example)) NIL NIL NIL NIL NIL)")
    if rev2:
        structure = (b'("message" "global" NIL NIL NIL "7BIT" %d ' % size + envelope + b" "
                     + inner + b" %d NIL NIL NIL NIL)" % lines)
    else:
        structure = b'("message" "global" NIL NIL NIL "7BIT" %d NIL NIL NIL NIL)' % size
    assert answer == (
        b'* 1 FETCH (BODY[1.HEADER.FIELDS (SUBJECT)] {15}\r\nSubject: \xc3\xbc\r\n\r\n'
        b" BODY[1.2] {8}\r\n<p>x</p> BODY[1.2.MIME] {27}\r\nContent-Type: text/html\r\n\r\n"
        b" BODYSTRUCTURE " + structure + b")")
    c.close()


def test_base64_message_global(server: ServerThread) -> None:
    """RFC 6532 §3.7 allows base64 for message/global: rev2 describes the decoded message
    (the sizes and lines of the part stay those of the body as sent, RFC 9051 §7.5.2
    "body size"); its inside is not addressable in the stored bytes, so it is one leaf
    part there, and BINARY[2] (RFC 3516) gives the decoded message."""
    encoded = base64.encodebytes(INNER).replace(b"\n", b"\r\n")
    raw = (b"From: a@example.com\r\nSubject: b64\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
           b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
           b"--XX\r\nContent-Type: message/global\r\nContent-Transfer-Encoding: base64\r\n"
           b"\r\n" + encoded + b"--XX--\r\n")
    c = session(server, True, raw)
    # The decoded message is whole: its body keeps its last line break.
    decoded_body = b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 26 2'
    size, lines = len(encoded) - 2, encoded.count(b"\n") - 1
    assert fetch(c, b"a", b"FETCH 1 (BODY)") == (
        b"* 1 FETCH (BODY (" + TEXT_PART + b')("message" "global" NIL NIL NIL "base64" %d '
        % size + INNER_ENVELOPE + b" " + decoded_body + b") %d) \"mixed\"))" % lines)
    assert fetch(c, b"b", b"FETCH 1 (BINARY.PEEK[2])") == (
        b"* 1 FETCH (BINARY[2] {%d}\r\n" % len(INNER) + INNER + b")")
    c.close()
    rev1 = session(server, False)
    assert fetch(rev1, b"c", b"FETCH 1 (BODY)") == (
        b"* 1 FETCH (BODY (" + TEXT_PART + b')("message" "global" NIL NIL NIL "base64" %d)'
        % size + b' "mixed"))')
    rev1.close()


def test_rfc822_unchanged_and_rev1_structure_stored_once(server: ServerThread) -> None:
    """message/rfc822 is the same in both modes; a message without message/global has one
    BODYSTRUCTURE whatever the mode."""
    plain = (b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
             b"--XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n\r\nx\r\n--XX--\r\n")
    answers = []
    for rev2 in (False, True):
        c = session(server, rev2, *([plain] if not rev2 else []))
        answers.append(fetch(c, b"a", b"FETCH 1 (BODYSTRUCTURE BODY)"))
        c.close()
    assert answers[0] == answers[1]
    assert b'("message" "rfc822" NIL NIL NIL "7BIT" 15 (NIL "s" NIL NIL NIL NIL NIL NIL NIL' \
        b' NIL) ("TEXT" "PLAIN"' in answers[0]


def test_imapclient_reads_the_rev2_structure(server: ServerThread) -> None:
    """A client nobody here wrote: imapclient, after ``enable("IMAP4rev2")``, parses the
    rev2 BODYSTRUCTURE of a message/global part and finds the envelope in it."""
    c = session(server, False, MIXED)
    c.close()
    with IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=30) as client:
        client.login("alice", PASSWORD)
        assert client.enable("IMAP4rev2") == [b"IMAP4rev2"]
        client.select_folder("INBOX")
        body = client.fetch([1], ["BODYSTRUCTURE"])[1][b"BODYSTRUCTURE"]
        assert body.is_multipart
        part = body[0][1]
        assert (part[0], part[1]) == (b"message", b"global")
        envelope, inner, lines = part[7], part[8], part[9]
        assert envelope[1] == "inner été".encode() and envelope[9] == b"<1@x>"
        assert (inner[0], inner[1], inner[7]) == (b"TEXT", b"PLAIN", 1) and lines == 6


def test_part_trees_stored_before_are_recomputed_at_start(tmp_path: Path) -> None:
    """A message stored before MESSAGE/GLOBAL kept its message/global part as a leaf of
    the part tree, so sections inside it answered NIL; the next start recomputes the part
    tree of such messages (``rederive.GlobalPartsJob``), and only theirs."""
    data = tmp_path / "data"
    srv = ServerThread(data)
    srv.add_user("alice")
    c = session(srv, False, MIXED, b"Subject: plain\r\n\r\nno parts\r\n")
    c.close()
    srv.stop()
    # The part tree as the parser before MESSAGE/GLOBAL stored it: part 2 a leaf.
    db = sqlite3.connect(data / "crispin.db", isolation_level=None)
    (old,) = db.execute("SELECT part_tree FROM messages ORDER BY id LIMIT 1").fetchone()
    tree = part_tree_from_bytes(old)
    leaf = replace(tree, children=(tree.children[0], replace(tree.children[1], message=None)))
    db.execute("UPDATE messages SET part_tree = ? WHERE part_tree = ?",
               (part_tree_to_bytes(leaf), old))
    (plain,) = db.execute("SELECT part_tree FROM messages ORDER BY id DESC LIMIT 1").fetchone()
    db.execute("DELETE FROM meta WHERE key = 'rederive.global-parts.1'")  # an older folder
    db.close()

    srv = ServerThread(data)
    try:
        task = srv.running.rederive
        assert task is not None

        async def finished() -> int:
            return await task

        assert srv.call(finished()) == 1  # the one message with a message/global part
        c = session(srv, False)
        assert fetch(c, b"a", b"FETCH 1 (BODY.PEEK[2.1])") == (
            b"* 1 FETCH (BODY[2.1] {24}\r\nbody line 1\r\nbody line 2)")
        c.close()
    finally:
        srv.stop()
    db = sqlite3.connect(data / "crispin.db")
    assert db.execute("SELECT part_tree FROM messages ORDER BY id").fetchall() == [
        (old,), (plain,)]
    assert db.execute("SELECT value FROM meta WHERE key = 'rederive.global-parts.1'"
                      ).fetchall() == [(-1,)]
    db.close()
