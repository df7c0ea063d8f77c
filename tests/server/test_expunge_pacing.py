"""A session's own EXPUNGE / MOVE reports are paced like FETCH and STORE output (issue 10.5):
expunging tens of thousands of messages for a client that does not read holds at most
``PACE_BYTES`` of responses in the server (then the transport's flow control), not one
``* n EXPUNGE`` line per message.

The server runs in this process (``ServerThread``), so the test reads the connection's
waiting output directly: the largest it ever was, an exact figure that does not depend
on timing or on the allocator (RSS).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crispin.server import connection
from crispin.server.connection import PACE_BYTES, Connection
from tests.server.harness import PASSWORD, RawClient, ServerThread
from tests.server.memory import slow_reader

HALF = 2**15
"""Messages expunged per report: 32,768 lines of ``* 1 EXPUNGE`` (426 KB) against a
``PACE_BYTES`` of 256 KiB."""

LOGIN_ALICE = b'LOGIN alice "%s"' % PASSWORD.encode()
LOGIN_BOB = b'LOGIN bob "%s"' % PASSWORD.encode()


@pytest.fixture
def most_waiting(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The largest output any connection had waiting (unsent, in user space) so far."""
    seen = [0]
    original = Connection.write

    def write(self: Connection, data: bytes) -> None:
        original(self, data)
        seen[0] = max(seen[0], self._out_size)

    monkeypatch.setattr(connection.Connection, "write", write)
    yield seen


def _fill(client: RawClient, count: int) -> None:
    """``count`` (a power of two) messages in INBOX: one APPEND, then COPY 1:* doubling."""
    body = b"Subject: x\r\n\r\nbody\r\n"
    assert client.command(b"a", b"APPEND INBOX {%d+}\r\n" % len(body) + body)[-1] \
        .startswith(b"a OK")
    assert client.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    n = 1
    while n < count:
        assert client.command(b"c", b"COPY 1:* INBOX")[-1].startswith(b"c OK")
        n *= 2
    lines = client.command(b"n", b"STATUS INBOX (MESSAGES)")
    assert lines[-2] == b"* STATUS \"INBOX\" (MESSAGES %d)" % count, lines[-3:]


def _report(client: RawClient, other: RawClient, tag: bytes, command: bytes) -> list[bytes]:
    """Send ``command`` and read nothing until another client's full round trip is done
    (the server runs ahead as far as it is allowed meanwhile); then read the answer."""
    client.send(tag + b" " + command + b"\r\n")
    assert other.command(b"o", b"STATUS INBOX (MESSAGES)")[-1].startswith(b"o OK")
    return client.until_tagged(tag)


@pytest.mark.timeout(900)
def test_own_expunge_and_move_reports_are_paced(server: ServerThread,
                                                most_waiting: list[int]) -> None:
    filler = RawClient("127.0.0.1", server.port)
    assert filler.command(b"l", LOGIN_ALICE)[-1].startswith(b"l OK")
    assert filler.command(b"m", b"CREATE Other")[-1].startswith(b"m OK")
    _fill(filler, 2 * HALF)
    filler.command(b"z", b"LOGOUT")

    client = RawClient("127.0.0.1", server.port, sock=slow_reader(server.port))
    assert client.command(b"l", LOGIN_ALICE)[-1].startswith(b"l OK")
    assert client.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    other = RawClient("127.0.0.1", server.port)
    assert other.command(b"l", LOGIN_BOB)[-1].startswith(b"l OK")
    most_waiting[0] = 0

    # MOVE (RFC 6851 §3.3): COPYUID, then one EXPUNGE per message moved.
    lines = _report(client, other, b"v", b"MOVE 1:%d Other" % HALF)
    assert lines[-1].startswith(b"v OK"), lines[-1]
    expunges = [line for line in lines if line.endswith(b" EXPUNGE")]
    assert expunges == [b"* 1 EXPUNGE"] * HALF
    assert len(b"".join(expunges)) + 2 * HALF > 1.5 * PACE_BYTES
    moved = most_waiting[0]

    # EXPUNGE (RFC 3501 §6.4.3) of the rest.
    most_waiting[0] = 0
    assert client.command(b"f", b"STORE 1:* +FLAGS.SILENT (\\Deleted)")[-1] \
        .startswith(b"f OK")
    most_waiting[0] = 0
    lines = _report(client, other, b"e", b"EXPUNGE")
    assert lines[-1].startswith(b"e OK"), lines[-1]
    assert lines[:-1] == [b"* 1 EXPUNGE"] * HALF
    expunged = most_waiting[0]

    # Unpaced, each report waited whole (426 KB) until the command was over.
    line = len(b"* 1 EXPUNGE\r\n")
    assert moved <= PACE_BYTES + line, moved
    assert expunged <= PACE_BYTES + line, expunged
    status = client.command(b"x", b"STATUS Other (MESSAGES)")
    assert status[-2] == b"* STATUS \"Other\" (MESSAGES %d)" % HALF
