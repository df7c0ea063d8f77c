"""Message attribute extensions (issue 16) through imapclient, a client nobody here wrote:
OBJECTID (RFC 8474), SAVEDATE (RFC 8514), PREVIEW (RFC 8970). imapclient passes FETCH
items it does not know through and parses the answer generically; these tests check that
what it makes of Crispin's answers is usable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.datetime_util import parse_to_datetime

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


def test_savedate(client: IMAPClient) -> None:
    assert b"SAVEDATE" in client.capabilities()
    client.append("INBOX", msg("old"), msg_time=datetime(2015, 1, 1, 18, 50, 53))
    client.select_folder("INBOX")
    fetched = client.fetch([1], ["SAVEDATE", "INTERNALDATE"])[1]
    # imapclient hands the string over as it came; its own date-time parser reads it
    saved = parse_to_datetime(fetched[b"SAVEDATE"], normalise=False)
    assert saved.year >= 2026 and fetched[b"INTERNALDATE"].year == 2015
    day = saved.date()
    assert client.search(["SAVEDSINCE", day]) == [1]
    assert client.search(["SAVEDBEFORE", day]) == []
    assert client.search(["SAVEDBEFORE", day + timedelta(days=2)]) == [1]
    assert client.search(["SAVEDATESUPPORTED"]) == [1]


def test_preview(client: IMAPClient) -> None:
    assert b"PREVIEW" in client.capabilities()
    client.append("INBOX", msg("plain", "Hello,\r\n\r\n  see you at   noon.\r\n"))
    client.append("INBOX", msg("utf-8", "Gr\u00fc\u00dfe " * 60))
    client.select_folder("INBOX")
    fetched = client.fetch([1, 2], ["PREVIEW"])
    assert fetched[1][b"PREVIEW"] == b"Hello, see you at noon."
    # a literal (UTF-8, RFC 8970 §3.3), 200 characters
    text = fetched[2][b"PREVIEW"].decode("utf-8")
    assert len(text) <= 200 and text.startswith("Gr\u00fc\u00dfe Gr\u00fc\u00dfe")
    # the LAZY modifier goes through imapclient as an item of its own
    lazy = client.fetch([1], ["PREVIEW (LAZY)"])
    assert lazy[1][b"PREVIEW"] == b"Hello, see you at noon."
