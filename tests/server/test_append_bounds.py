"""APPEND of messages built to blow up parsing (issue 11 point 6), over a real connection:
the message is stored whole and exact, what the parse keeps is bounded."""

from __future__ import annotations

import pytest

from crispin.server import ingest
from tests.server.harness import PASSWORD, ServerThread


def test_many_addresses_are_stored_whole_and_listed_up_to_the_bound(
        server: ServerThread) -> None:
    to = b",".join(b"u%d@example.test" % i for i in range(5000))
    header = b"Subject: crowd\r\nTo: " + to + b"\r\n" + b"X-F: v\r\n" * 3000 + b"\r\n"
    message = header + b"body\r\n"
    raw = server.raw()
    assert raw.command(b"l", b'LOGIN alice "%s"' % PASSWORD.encode())[-1].startswith(b"l OK")
    raw.send(b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(message), message))
    assert raw.until_tagged(b"a")[-1].startswith(b"a OK")
    assert raw.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    raw.send(b"f FETCH 1 (ENVELOPE BODY.PEEK[HEADER])\r\n")
    lines = raw.until_tagged(b"f")
    assert lines[-1].startswith(b"f OK")
    data = b"\r\n".join(lines)
    assert data.count(b'"example.test")') == 1000  # ENVELOPE: the first 1000 addresses
    assert header in data  # BODY[HEADER]: every byte, all 5000 addresses and 3000 fields
    assert raw.command(b"t", b"SEARCH TO u4999@example.test")[-2:] == \
        [b"* SEARCH 1", b"t OK SEARCH completed"]


def test_a_large_message_is_parsed_in_a_process_with_the_same_result(
        server: ServerThread, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 11: a message over ``ingest.PROCESS_THRESHOLD`` is parsed in a parse process
    (its own GIL: the other sessions' commands are not slowed by it); what is stored is
    the same as an in-process parse gives, and the bytes are exact."""
    to = b",".join(b"User %d <u%d@example.test>" % (i, i) for i in range(3000))
    header = (b"Subject: =?utf-8?q?gro=C3=9F?=\r\nFrom: a@example.test\r\nTo: " + to +
              b"\r\n" + b"X-F: v\r\n" * 20000 +
              b"Content-Type: multipart/mixed; boundary=b\r\n\r\n")
    body = b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\n" \
        b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * 900_000 + b"\r\n--b--\r\n"
    message = header + body
    assert len(message) > ingest.PROCESS_THRESHOLD
    expected = ingest.analyse(message)
    raw = server.raw()
    assert raw.command(b"l", b'LOGIN alice "%s"' % PASSWORD.encode())[-1].startswith(b"l OK")
    raw.send(b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(message), message))
    assert raw.until_tagged(b"a")[-1].startswith(b"a OK")
    # It went through a parse process (no fallback to a thread was logged).
    assert ingest._pool is not None
    assert not [r for r in caplog.records if r.name == "crispin.server.ingest"]
    assert raw.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    raw.send(b"f FETCH 1 (ENVELOPE BODYSTRUCTURE)\r\n")
    lines = raw.until_tagged(b"f")
    assert lines[-1].startswith(b"f OK")
    data = b"\r\n".join(lines[:-1])
    assert isinstance(expected["envelope"], bytes) and expected["envelope"] in data
    assert isinstance(expected["bodystructure"], bytes) and expected["bodystructure"] in data
    raw.send(b"g FETCH 1 BODY.PEEK[]\r\n")
    lines = raw.until_tagged(b"g")
    assert lines[-1].startswith(b"g OK")
    assert b"\r\n".join(lines[:-1]).endswith(b"{%d}\r\n" % len(message) + message + b")")
    assert raw.command(b"t", b"SEARCH TO u2999@example.test")[-2:] == \
        [b"* SEARCH 1", b"t OK SEARCH completed"]
