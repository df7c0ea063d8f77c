"""Helpers of the IMAP URL tests (CATENATE, RFC 4469; URLAUTH, RFC 4467): the messages of the
RFCs' examples and the exchanges the tests repeat, over a :class:`RawClient`."""

from __future__ import annotations

import re

from tests.server.harness import PASSWORD, RawClient, ServerThread

BOUNDARY = b"------------030308070208000400050907"

# RFC 4469 Appendix A: "multipart/mixed MIME message with two body parts: 1. text/plain
# 2. application/x-zip-compressed" (UID 20 there), and a second message (UID 30).
ORIGINAL = b"\r\n".join([
    b"Return-Path: <bar@example.org>",
    b"Message-ID: <419399E1.6000505@example.org>",
    b"Date: Thu, 12 Nov 2004 16:57:05 +0000",
    b"From: Bob Ar <bar@example.org>",
    b"MIME-Version: 1.0",
    b"To: foo@example.net",
    b"Subject: About our holiday trip",
    b'Content-Type: multipart/mixed; boundary="' + BOUNDARY + b'"',
    b"",
    b"--" + BOUNDARY,
    b"Content-Type: text/plain; charset=us-ascii; format=flowed",
    b"Content-Transfer-Encoding: 7bit",
    b"",
    b"Our travel agent has sent the schedule.",
    b"--" + BOUNDARY,
    b'Content-Type: application/x-zip-compressed; name="schedule.zip"',
    b"Content-Transfer-Encoding: base64",
    b"",
    b"UEsDBAoAAAAAAAAAIQAAAAAAAAAAAAAAAAAFAAAAZW1wdHlQSwECFAAKAAAAAAAAACEA",
    b"--" + BOUNDARY + b"--",
    b""])
OTHER = b"Subject: another draft\r\nFrom: bar@example.org\r\n\r\nSome text.\r\n"


def login(server: ServerThread, user: str | bytes = "alice") -> RawClient:
    name = user.encode() if isinstance(user, str) else user
    c = server.raw()
    line = c.command(b"l", b'LOGIN %s "%s"' % (name, PASSWORD.encode()))[-1]
    assert line.startswith(b"l OK"), line
    return c


def tagged(lines: list[bytes]) -> bytes:
    return lines[-1]


def append(c: RawClient, mailbox: bytes, body: bytes) -> tuple[int, int]:
    c.send(b"ap APPEND " + mailbox + b" {%d+}\r\n" % len(body) + body + b"\r\n")
    ok = tagged(c.until_tagged(b"ap"))
    m = re.match(rb"ap OK \[APPENDUID (\d+) (\d+)\]", ok)
    assert m is not None, ok
    return int(m[1]), int(m[2])


def fetch(c: RawClient, mailbox: bytes, uid: int, section: bytes = b"") -> bytes:
    """``BODY.PEEK[section]`` read back with EXAMINE, as a client would check."""
    assert tagged(c.command(b"ex", b"EXAMINE " + mailbox)).startswith(b"ex OK")
    c.send(b"f UID FETCH %d BODY.PEEK[%s]\r\n" % (uid, section))
    first = c.line()
    m = re.search(rb"\{(\d+)\}$", first)
    assert m is not None, first
    data = c.take(int(m[1]))
    rest = c.until_tagged(b"f")
    assert tagged(rest).startswith(b"f OK"), rest
    assert tagged(c.command(b"un", b"UNSELECT")).startswith(b"un OK")
    return data


# Part 1.2 is RFC 4467 §7's "Si vis pacem, para bellum." (28 octets with its CRLF).
MESSAGE = b"\r\n".join([
    b"Subject: plans", b"MIME-Version: 1.0",
    b'Content-Type: multipart/mixed; boundary="b0"', b"",
    b"--b0", b'Content-Type: multipart/alternative; boundary="b1"', b"",
    b"--b1", b"Content-Type: text/plain", b"", b"Igitur qui desiderat pacem,",
    b"--b1", b"Content-Type: text/plain", b"", b"Si vis pacem, para bellum.", b"",
    b"--b1--", b"", b"--b0--", b""])
PART = b"Si vis pacem, para bellum.\r\n"


def generate(c: RawClient, rump: bytes) -> bytes:
    lines = c.command(b"g", b'GENURLAUTH "' + rump + b'" INTERNAL')
    assert lines[-1] == b"g OK GENURLAUTH completed", lines
    m = re.fullmatch(rb'\* GENURLAUTH "([^"]+)"', lines[0])
    assert m is not None, lines
    return m[1]


def urlfetch(c: RawClient, url: bytes) -> bytes | None:
    """The data of one URL, None for NIL; the response must quote the URL back."""
    c.send(b'f URLFETCH "' + url + b'"\r\n')
    first = c.line()
    prefix = b'* URLFETCH "' + url + b'" '
    assert first.startswith(prefix), first
    rest = first[len(prefix):]
    data = None
    if rest != b"NIL":
        m = re.fullmatch(rb"\{(\d+)\}", rest)
        assert m is not None, first
        data = c.take(int(m[1]))
        assert c.line() == b""
    assert c.line() == b"f OK URLFETCH completed"
    return data
