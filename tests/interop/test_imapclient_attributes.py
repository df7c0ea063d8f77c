"""Message attribute extensions (issue 16) through imapclient, a client nobody here wrote:
OBJECTID (RFC 8474). imapclient passes FETCH items it does not know through and parses the
answer generically; these tests check that what it makes of Crispin's answers is usable."""

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
    srv = ServerThread(tmp_path / "data")
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


def test_objectid(client: IMAPClient) -> None:
    assert b"OBJECTID" in client.capabilities()
    client.create_folder("Archive")
    archive = client.folder_status("Archive", ["MAILBOXID"])[b"MAILBOXID"]
    for subject in ("one", "two"):
        client.append("INBOX", msg(subject))
    client.select_folder("INBOX")
    fetched = client.fetch([1, 2], ["EMAILID", "THREADID"])
    emails = [fetched[n][b"EMAILID"] for n in (1, 2)]
    assert all(isinstance(e, tuple) and len(e) == 1 and e[0].startswith(b"M")
               for e in emails), fetched
    assert emails[0] != emails[1]
    assert [fetched[n][b"THREADID"] for n in (1, 2)] == [None, None]
    assert client.search(["EMAILID", emails[1][0]]) == [2]
    client.move([2], "Archive")
    client.rename_folder("Archive", "Kept")
    assert client.folder_status("Kept", ["MAILBOXID"])[b"MAILBOXID"] == archive
    client.select_folder("Kept")
    assert client.fetch([1], ["EMAILID"])[1][b"EMAILID"] == emails[1]
