"""SEARCH helpers: decoded header values, header_text and body_text."""

from __future__ import annotations

from crispin.protocol.mime import body_text, header_text, parse_message
from crispin.protocol.mime.textdecode import decode_words


def _body(raw: bytes) -> str:
    return body_text(raw, parse_message(raw).part_tree)


def test_body_text_base64_utf8() -> None:
    raw = (b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"R3LDvMOfZSBhdXMgS8O2bG4=\r\n")
    assert _body(raw) == "Grüße aus Köln"


def test_body_text_qp_latin1() -> None:
    raw = (b"Content-Type: text/plain; charset=ISO-8859-1\r\n"
           b"Content-Transfer-Encoding: Quoted-Printable\r\n\r\n"
           b"Gr=FC=DFe aus=\r\n K=F6ln=3D\r\n")
    assert _body(raw) == "Grüße aus Köln=\n"


def test_body_text_unknown_charset_and_undeclared_8bit() -> None:
    raw = b"Content-Type: text/plain; charset=x-nonsense\r\n\r\nna\xefve\r\n"
    assert _body(raw) == "naïve\n"  # not UTF-8 -> Latin-1
    raw = b"Subject: no mime\r\n\r\nna\xc3\xafve\r\n"
    assert _body(raw) == "naïve\n"  # us-ascii declared by default, bytes are UTF-8


def test_body_text_skips_attachments() -> None:
    raw = (b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nvisible\r\n--b\r\n"
           b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\naGlkZGVu\r\n"
           b"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>html</p>\r\n--b--\r\n")
    assert _body(raw) == "visible\n<p>html</p>"


def test_decode_words() -> None:
    assert decode_words(b"=?utf-8?q?a?= =?utf-8?q?b?=") == "ab"
    assert decode_words(b"x =?utf-8?q?a?= y") == "x a y"
    assert decode_words(b"=?ISO-8859-1*fr?Q?caf=E9?=") == "café"
    assert decode_words(b"=?bogus?Q?caf=E9?=") == "café"  # unknown charset: not UTF-8 -> Latin-1
    assert decode_words(b"=?utf-8?B?!!!?=") == ""
    assert decode_words(b"plain \xe9") == "plain é"


def test_header_text_and_fields() -> None:
    raw = (b"Subject: =?utf-8?q?caf=C3=A9?=\r\nX-Thing: a\r\n b\r\nbroken line\r\n"
           b"References: <a@b> <c@d>\r\n\r\nbody")
    msg = parse_message(raw)
    assert header_text(raw, msg.part_tree) == (
        "Subject: café\nX-Thing: a b\nbroken line\nReferences: <a@b> <c@d>")
    assert msg.search_fields.subject == "café"
    assert msg.search_fields.references == "<a@b> <c@d>"
    assert msg.search_fields.from_ is None
    assert msg.search_fields.date_sent is None
