"""A big FETCH shares the event loop with the other sessions (issue 14), and another
session's NOOP costs one trip to a database thread.

Every command of every session runs on one event loop: a FETCH of 100,000 messages that
formatted its whole answer without giving way held every other session for its length
(``bench/loop_hold.py`` measures the holds and another session's NOOP meanwhile). Here, with
the slice set to zero so that every check gives way, each FETCH path must give way while it
works, and answer exactly what it answered before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crispin.server import connection
from crispin.server.commands import fetch_flags
from tests.server.harness import ServerThread, count_reads
from tests.server.imap_client import Imap, client_factory, message

COUNT = 300


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def multiappend(c: Imap, count: int) -> None:
    """``count`` messages in one MULTIAPPEND (RFC 3502): quicker than one APPEND each."""
    tag = c.tag()
    data = b"%s APPEND INBOX" % tag.encode()
    for i in range(count):
        msg = message(f"m{i + 1}", body=f"body {i + 1}")
        data += b" {%d+}\r\n%s" % (len(msg), msg)
    c.send(data + b"\r\n")
    assert c.until_tagged(tag).ok


@pytest.fixture
def gives_way(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every slice over at once; counts the times a command gave way."""
    calls: list[int] = []
    original = connection.Connection.give_way

    async def counted(self: connection.Connection) -> None:
        calls.append(1)
        await original(self)

    monkeypatch.setattr(connection, "SLICE", 0.0)
    monkeypatch.setattr(connection.Connection, "give_way", counted)
    # Several batches of the flag fetch in a mailbox of a few hundred messages.
    monkeypatch.setattr(fetch_flags, "FLAGS_BATCH", 50)
    return calls


@pytest.mark.parametrize("items", [
    "(UID FLAGS)",                                   # flags from the shared index
    "(UID FLAGS MODSEQ)",                            # flags read in row batches
    "(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (Subject From)])",  # bulk headers
    "(UID BODY.PEEK[TEXT])",                         # the general path
])
def test_a_big_fetch_gives_way_while_it_answers(imap: Any, gives_way: list[int],
                                                items: str) -> None:
    a = imap()
    multiappend(a, COUNT)
    a.select()
    gives_way.clear()
    r = a.cmd(f"UID FETCH 1:* {items}")
    # (MODSEQ enables CONDSTORE: an OK [HIGHESTMODSEQ] comes first, RFC 7162 §3.1.2.)
    fetched = [u for u in r.untagged if not u.startswith(b"* OK ")]
    assert r.ok and len(fetched) == COUNT, r
    # Between batches at least (50 messages, and 16 for the header fetch's check); the
    # general path at every message.
    assert len(gives_way) >= COUNT // 50, len(gives_way)
    assert fetched == [b"* %d FETCH (UID %d " % (i, i) + f[len(b"* %d FETCH (UID %d " % (i, i)):]
                       for i, f in enumerate(fetched, 1)]
    if "TEXT" in items:
        assert fetched[-1].endswith(b"body %d\r\n)" % COUNT)
    # Another session's NOOP between slices is answered as before, and this session
    # still learns of its change afterwards.
    b = imap()
    b.select()
    assert b.cmd("STORE 7 +FLAGS.SILENT (\\Flagged)").ok
    n = a.cmd("NOOP")
    assert n.ok and len(n.untagged) == 1, n
    assert n.untagged[0].startswith(b"* 7 FETCH (UID 7 FLAGS (\\Flagged \\Recent)"), n


def test_noop_reads_access_and_changes_in_one_trip(
        imap: Any, server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    """NOOP and CHECK: the access recheck and the sync are one read (they were two); what
    the session is told is unchanged: another session's flag change, new message, and
    expunge (RFC 3501 §6.1.2, §7.4.1)."""
    a, b = imap(), imap()
    multiappend(a, 3)
    a.select()
    b.select()
    reads = count_reads(monkeypatch)

    def noop(c: Imap, command: str = "NOOP") -> tuple[list[bytes], int]:
        reads.clear()
        r = c.cmd(command)
        assert r.ok, r
        return r.untagged, len(reads)

    assert noop(a) == ([], 1)
    assert noop(a, "CHECK") == ([], 1)
    assert b.cmd("STORE 2 +FLAGS.SILENT (\\Answered)").ok
    assert noop(a) == ([b"* 2 FETCH (UID 2 FLAGS (\\Answered \\Recent))"], 1)
    assert b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").ok and b.cmd("EXPUNGE").ok
    assert b.append("INBOX", message("new")).ok
    untagged, count = noop(a)
    # A new message is claimed \Recent by this session: one more trip (a write, not a
    # read) only then.
    assert untagged[:2] == [b"* 1 EXPUNGE", b"* 3 EXISTS"], untagged
    assert len(untagged) == 3 and untagged[2].endswith(b" RECENT"), untagged
    assert count == 1
    assert noop(a) == ([], 1)
    # Not selected: the recheck alone.
    c = imap()
    assert noop(c) == ([], 1)


def test_noop_of_a_session_whose_mailbox_was_deleted_ends_it(imap: Any) -> None:
    """The combined read finds the mailbox gone: BYE, as the separate sync did."""
    a, b = imap(), imap()
    assert a.cmd("CREATE Box").ok
    assert a.cmd("SELECT Box").ok
    assert b.cmd("DELETE Box").ok
    a.send(b"n NOOP\r\n")
    assert a.line().startswith(b"* BYE")


def test_give_way_lets_ready_callbacks_run() -> None:
    """``give_way`` yields to the loop: what is ready (a database reply, another session's
    read) runs before the command goes on, and a new slice starts."""
    order: list[str] = []

    async def main() -> None:
        conn = object.__new__(connection.Connection)
        conn._slice_end = 0.0
        assert conn.slice_over()
        asyncio.get_running_loop().call_soon(order.append, "other")
        await conn.give_way()
        order.append("after")
        assert not conn.slice_over()

    asyncio.run(main())
    assert order == ["other", "after"]
