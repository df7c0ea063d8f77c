"""APPEND of messages built to blow up parsing (issue 11 point 6), over a real connection:
the message is stored whole and exact, what the parse keeps is bounded."""

from __future__ import annotations

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
