"""Message transfer extensions (issue 16) through imapclient, a client nobody here wrote:
STATUS=SIZE (RFC 8438), APPENDLIMIT (RFC 7889)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.server.harness import PASSWORD, ServerThread


def msg(subject: str, body: str = "hello") -> bytes:
    return (f"From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n"
            f"\r\n{body}\r\n").encode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    srv = ServerThread(tmp_path / "data", limits={"max_append_size": 4096})
    srv.add_user("alice")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[IMAPClient]:
    c = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=15)
    c.login("alice", PASSWORD)
    try:
        yield c
    finally:
        c.logout()


def test_status_size_and_appendlimit(client: IMAPClient) -> None:
    caps = client.capabilities()
    assert b"STATUS=SIZE" in caps and b"APPENDLIMIT=4096" in caps
    messages = [msg("one"), msg("two", "x" * 500)]
    for m in messages:
        client.append("INBOX", m)
    status = client.folder_status("INBOX", ["MESSAGES", "SIZE", "APPENDLIMIT"])
    assert status == {b"MESSAGES": 2, b"SIZE": sum(map(len, messages)), b"APPENDLIMIT": 4096}
    client.select_folder("INBOX")
    sizes = client.fetch([1, 2], ["RFC822.SIZE"])
    assert sum(d[b"RFC822.SIZE"] for d in sizes.values()) == status[b"SIZE"]


def test_multiappend(client: IMAPClient) -> None:
    assert b"MULTIAPPEND" in client.capabilities()
    answer = client.multiappend("INBOX", [
        msg("first"), {"msg": msg("second"), "flags": [r"\Seen"]}, msg("third")])
    # RFC 4315 §3 with RFC 3502: one APPENDUID carrying every UID, in order
    typ, data = answer
    assert typ == "OK" and data[0].startswith(b"[APPENDUID ") \
        and data[0].split(b"]")[0].endswith(b" 1:3"), answer
    client.select_folder("INBOX")
    fetched = client.fetch([1, 2, 3], ["FLAGS", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
    subjects = [fetched[n][b"BODY[HEADER.FIELDS (SUBJECT)]"].strip() for n in (1, 2, 3)]
    assert subjects == [b"Subject: first", b"Subject: second", b"Subject: third"]
    assert b"\\Seen" in fetched[2][b"FLAGS"] and b"\\Seen" not in fetched[1][b"FLAGS"]
    # a message over APPENDLIMIT refuses the whole command: nothing stored
    before = client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"]
    typ, data = client.multiappend("INBOX", [msg("ok"), msg("too big", "z" * 5000)])
    assert typ == "NO" and data[0].startswith(b"[TOOBIG]"), data
    assert client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"] == before


def test_fetch_binary(client: IMAPClient, server: ServerThread) -> None:
    """imapclient reads BINARY[...] answers and BINARY.SIZE. Its parser (imaplib's literal
    reading, imapclient 3.x's lexer) does not take a literal8 (``~{n}``, RFC 3516 §4.3) in
    a response: it hands back the marker, not the data. So the octets here have no NUL,
    which the server sends as a plain literal (§4.3's SHOULD); literal8 answers are
    checked at the socket (tests/server/test_binary.py)."""
    import base64

    blob = bytes(range(1, 256))
    part = base64.encodebytes(blob).replace(b"\n", b"\r\n")
    message = (b"Subject: b\r\nMIME-Version: 1.0\r\n"
               b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
               b"--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable"
               b"\r\n\r\nna=C3=AFve\r\n--B\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + part + b"--B--\r\n")
    assert b"BINARY" in client.capabilities()
    client.append("INBOX", message)
    client.select_folder("INBOX")
    got = client.fetch([1], ["BINARY.PEEK[1]", "BINARY.PEEK[2]", "BINARY.SIZE[2]"])[1]
    assert got[b"BINARY[1]"] == "na\u00efve".encode()  # the CRLF before "--B" is the boundary's
    assert got[b"BINARY[2]"] == blob
    assert got[b"BINARY.SIZE[2]"] == len(blob)
    assert b"\\Seen" not in client.get_flags([1])[1]
