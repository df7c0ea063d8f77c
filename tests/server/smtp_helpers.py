"""Shared by the SMTP and LMTP tests: a sample message (dot-stuffing and 8-bit cases), the
listener's port, reading delivered mail back over IMAP, splitting off the ``Received:`` line,
and a raw socket session that reads whole (multi-line) replies.
"""

from __future__ import annotations

import socket

from tests.server.harness import ServerThread

MESSAGE = (b"From: Sender <sender@example.org>\r\n"
           b"To: alice@example.com\r\n"
           b"Subject: hello over SMTP\r\n"
           b"Message-ID: <smtp-1@example.org>\r\n"
           b"\r\n"
           b"First line.\r\n"
           b".A line that starts with a dot.\r\n"
           b"..Two dots.\r\n"
           b"\xc3\xa9t\xc3\xa9 8-bit text\r\n")


def smtp_port(srv: ServerThread, kind: str = "smtp") -> int:
    return srv.running.mail_port(kind)


def fetch_all(srv: ServerThread, user: str = "alice", mailbox: str = "INBOX") -> list[bytes]:
    imap = srv.login(user)
    try:
        typ, _ = imap.select(f'"{mailbox}"')
        assert typ == "OK", mailbox
        typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
        assert typ == "OK"
        return [part[1] for part in data if isinstance(part, tuple)]
    finally:
        imap.logout()


def split_received(raw: bytes) -> tuple[bytes, bytes]:
    """(the Received: header Crispin added, the message as sent)."""
    assert raw.startswith(b"Received: from "), raw[:200]
    end = raw.index(b"\r\n", 0)
    while raw[end + 2:end + 3] in (b"\t", b" "):
        end = raw.index(b"\r\n", end + 2)
    return raw[:end + 2], raw[end + 2:]


def raw_session(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert sock.recv(1024).startswith(b"220 ")
    return sock


def read_replies(sock: socket.socket, count: int) -> list[bytes]:
    """``count`` complete replies (multi-line ones joined)."""
    buf = b""
    replies: list[bytes] = []
    while len(replies) < count:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {replies!r} {buf!r}"
        buf += chunk
        while b"\r\n" in buf and len(replies) < count:
            line, buf = buf.split(b"\r\n", 1)
            if len(replies) == 0 or not getattr(read_replies, "_cont", False):
                replies.append(line)
            else:
                replies[-1] += b"\n" + line
            read_replies._cont = line[3:4] == b"-"  # type: ignore[attr-defined]
    return replies
