"""NOTIFY (RFC 5465) and a client that does not keep up (§5.8, §9), and where unsolicited
events may be written: never once part of a command has arrived (RFC 3501 §7.5)."""

from __future__ import annotations

import socket

from crispin.protocol import (
    CommandReceived,
    Limits,
    LiteralAnnounced,
    ServerConnection,
)
from tests.server.harness import PASSWORD, RawClient, ServerThread

BIG = b"Subject: big\r\n\r\n" + b"x" * 2_000_000 + b"\r\n"


def test_between_commands_is_false_from_the_first_byte_of_a_literal_to_its_end() -> None:
    conn = ServerConnection(Limits())
    assert conn.between_commands
    conn.receive_data(b"a SETMETADATA INBOX (/private/comment ")
    assert conn.next_event() is None
    assert conn.between_commands  # a partial line: nothing answered, nothing announced
    conn.receive_data(b"{5}\r\n")
    assert isinstance(conn.next_event(), LiteralAnnounced)
    assert not conn.between_commands  # the continuation request goes out now
    conn.accept_literal()
    conn.receive_data(b"ab")
    assert conn.next_event() is None and not conn.between_commands
    conn.receive_data(b"cde)\r\n")
    assert isinstance(conn.next_event(), CommandReceived)
    assert conn.between_commands  # the command is the server's now, answered in full
    conn.receive_data(b"b NOOP\r\n")
    conn.expect_line()  # IDLE's DONE, an AUTHENTICATE response: a raw line is awaited
    assert not conn.between_commands


def test_a_client_that_does_not_read_is_told_of_the_overflow(make_server) -> None:  # type: ignore[no-untyped-def]
    """The session's client reads nothing while new messages are pushed to it whole
    (MessageNew's BODY.PEEK[]): delivery waits on the socket, the names created meanwhile
    pile up past ``limits.notify_queue``; once the client reads, it finds
    OK [NOTIFICATIONOVERFLOW], and no event after it."""
    server: ServerThread = make_server(limits={"notify_queue": 5})
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", server.port))
    alice = RawClient("127.0.0.1", server.port, sock)
    assert alice.command(b"l", b'LOGIN alice "%s"' % PASSWORD.encode())[-1].startswith(b"l OK")
    assert alice.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    assert alice.command(b"n", b"NOTIFY SET (selected (MessageNew (BODY.PEEK[]) "
                               b"MessageExpunge)) (personal (MailboxName))") == \
        [b"n OK NOTIFY completed"]
    other = server.login()
    for _ in range(4):
        assert other.append("INBOX", None, None, BIG)[0] == "OK"
    for k in range(10):
        assert other.create(f"Box{k}")[0] == "OK"
    lines = []
    while True:
        line = alice.line()
        if line.endswith(b"}"):
            alice.take(int(line.rsplit(b"{", 1)[1][:-1]))
            continue
        lines.append(line)
        if line.startswith(b"* OK [NOTIFICATIONOVERFLOW]"):
            break
    assert other.create("After")[0] == "OK"
    # NOTIFY NONE from then on (§5.8): nothing of "After"; the session works on, told of
    # the messages it had not yet been told of as after any NOOP (RFC 3501 §7.3.1).
    after = alice.command(b"z", b"NOOP")
    assert after[-1] == b"z OK NOOP completed"
    assert all(not line.startswith((b"* LIST", b"* STATUS")) for line in after), after
    assert any(line.endswith(b" EXISTS") for line in lines + after)
