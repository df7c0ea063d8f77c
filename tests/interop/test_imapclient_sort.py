"""SORT, THREAD and ESEARCH through imapclient, a client nobody here wrote: its ``sort()``
and ``thread()`` must parse what Crispin sends, on the hand-worked message set of
``tests/server/sortset.py`` (expected orders worked out in ``test_sort_thread.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.response_parser import parse_response

from tests.server.harness import PASSWORD, ServerThread
from tests.server.sortset import MESSAGES


@pytest.fixture
def client(tmp_path: Path) -> Iterator[IMAPClient]:
    srv = ServerThread(tmp_path / "data")
    srv.add_user("alice")
    c = IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=15)
    try:
        c.login("alice", PASSWORD)
        for raw, when in MESSAGES:
            c.append("INBOX", raw, msg_time=datetime.strptime(when, "%d-%b-%Y %H:%M:%S %z"))
        c.select_folder("INBOX")
        yield c
        c.logout()
    finally:
        srv.stop()


def test_sort(client: IMAPClient) -> None:
    client.use_uid = False
    assert client.sort("SUBJECT") == [1, 2, 9, 10, 5, 6, 3, 4, 7, 8]
    assert client.sort(["SUBJECT", "REVERSE DATE"]) == [1, 2, 10, 9, 5, 6, 3, 4, 8, 7]
    assert client.sort("DISPLAYFROM") == [6, 7, 8, 1, 3, 2, 4, 5, 9, 10]
    assert client.sort("DATE", ["SUBJECT", "éclair"]) == [9, 10]  # 8-bit: sent as a literal
    client.use_uid = True
    client.delete_messages([2])
    client.expunge()
    assert client.sort("DATE") == [9, 3, 4, 1, 6, 5, 7, 8, 10]


def test_thread(client: IMAPClient) -> None:
    client.use_uid = False
    assert client.thread("REFERENCES") == ((2, 1), (3, 4), (6, 5), ((7,), (8,)), (10, 9))
    assert client.thread("ORDEREDSUBJECT") == ((2, 1), (9, 10), (3, 4), (6,), (5,), (7, 8))
    assert client.thread("REFS") == ((9,), (3, 4), (2, 1), (6, 5), ((7,), (8,)), (10,))
    assert client.thread("REFERENCES", ["SUBJECT", "lunch"]) == ((3, 4),)


def test_search_with_esearch(client: IMAPClient) -> None:
    # imapclient's search() knows only "* SEARCH"; its response parser reads the ESEARCH
    # data (RFC 4731 §7 search-correlator, UID indicator, return data).
    data = client._raw_command_untagged(
        b"SEARCH", [b"RETURN", b"(MIN MAX COUNT ALL)", b"SUBJECT", b"budget"],
        response_name="ESEARCH", uid=True)
    items = parse_response(data)
    assert items[0][0] == b"TAG" and items[0][1]  # the command's tag, quoted
    assert list(items[1:]) == [b"UID", b"MIN", 1, b"MAX", 2, b"COUNT", 2, b"ALL", b"1:2"]
    assert client.search(["SUBJECT", "budget", "YOUNGER", "100000000"]) == [1, 2]


def test_partial_fetch_and_context_updates(client: IMAPClient, tmp_path: Path) -> None:
    """PARTIAL (RFC 9394) in an ESORT answer and as a UID FETCH modifier, and a SORT
    context's ADDTO (RFC 5267 §4.3.3) arriving while imapclient IDLEs."""
    client.use_uid = True
    by_date = client.sort("DATE")
    data = client._raw_command_untagged(
        b"SORT", [b"RETURN", b"(UPDATE COUNT PARTIAL -1:-3)", b"(DATE)", b"UTF-8", b"ALL"],
        response_name="ESEARCH", uid=True)
    items = parse_response(data)
    tag = items[0][1]
    assert list(items[1:4]) == [b"UID", b"COUNT", len(by_date)]
    assert items[4] == b"PARTIAL" and items[5][0] == b"-1:-3"
    assert _expand(items[5][1]) == by_date[-3:]
    fetched = client.fetch(by_date[:5], ["FLAGS"], modifiers=["PARTIAL 2:3"])
    assert sorted(fetched) == sorted(by_date[:5])[1:3]
    # Another client appends a message dated before all others: it sorts first.
    other = IMAPClient("127.0.0.1", port=client._imap.port, ssl=False, timeout=15)
    other.login("alice", PASSWORD)
    client.idle()
    other.append("INBOX", b"Subject: early\r\nDate: 1 Jan 1990 00:00:00 +0000\r\n\r\nx\r\n")
    other.logout()
    seen: list[tuple[object, ...]] = []
    while not any(r and r[0] == b"ESEARCH" for r in seen):
        got = client.idle_check(timeout=30)
        assert got, "no update within 30 s"
        seen += got
    client.idle_done()
    update = next(r for r in seen if r[0] == b"ESEARCH")
    new_uid = max(by_date) + 1
    assert update[1] == (b"TAG", tag) and list(update[2:]) == [b"UID", b"ADDTO", (1, new_uid)]
    assert client.sort("DATE") == [new_uid, *by_date]


def _expand(sequence_set: bytes) -> list[int]:
    """A set as Crispin writes a sorted result: ascending runs as ranges, in order."""
    out: list[int] = []
    for part in sequence_set.decode().split(","):
        lo, _, hi = part.partition(":")
        out += range(int(lo), int(hi or lo) + 1)
    return out
