"""A FETCH of one message reads the mailbox's changes in the same trip to the database as
the message (issue 14: 1,000 random ``UID FETCH u (BODY.PEEK[])``); what the session is
told after it must be what a separate read would tell (RFC 3501 §7.4.1, §6.4.8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread, count_reads
from tests.server.imap_client import Imap, client_factory, message


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def test_changes_by_another_session_are_reported_after_a_one_message_fetch(
        imap: Any) -> None:
    a, b = imap(), imap()
    for i in range(3):
        assert a.append("INBOX", message(f"m{i}")).ok
    a.select()
    b.select()
    assert b.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)").ok
    r = a.cmd("FETCH 2 (BODY.PEEK[])")
    assert r.ok and r.kinds() == ["FETCH", "FETCH"], r
    assert r.untagged[0].startswith(b"* 2 FETCH (BODY[] {")
    assert r.untagged[1] == b"* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))"
    # Not reported twice: the next command has nothing new.
    assert a.cmd("NOOP").untagged == []
    # An expunge by the other session: not during FETCH (§7.4.1), after a UID FETCH.
    assert b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").ok and b.cmd("EXPUNGE").ok
    r = a.cmd("FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[]<0.4>)")
    assert r.ok and r.kinds() == ["FETCH"], r
    assert b"Subject: m1" in r.untagged[0]
    r = a.cmd("UID FETCH 3 (BODY.PEEK[]<0.5>)")
    assert r.ok and r.kinds() == ["FETCH", "EXPUNGE"], r
    assert r.untagged[0] == b"* 3 FETCH (UID 3 BODY[]<0> {5}\r\nFrom:)"
    assert r.untagged[1] == b"* 1 EXPUNGE"
    # BODY[] (not PEEK) writes \Seen: reported with the FETCH, nothing after it.
    r = a.cmd("FETCH 1 (BODY[]<0.5>)")
    assert r.ok and r.untagged == [b"* 1 FETCH (BODY[]<0> {5}\r\nFrom: FLAGS (\\Seen \\Recent))"]
    assert a.cmd("NOOP").untagged == []


def test_one_message_fetch_is_one_trip_to_the_database(
        imap: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``UID FETCH u (BODY.PEEK[])``: the access recheck, the message and the changes for
    the sync after it are one read (issue 14; they were three trips, then two). A FETCH
    that sets \\Seen, or of more than one message, rechecks access first as before."""
    a, b = imap(), imap()
    for i in range(3):
        assert a.append("INBOX", message(f"m{i}")).ok
    a.select()
    b.select()
    reads = count_reads(monkeypatch)

    def fetch(command: str) -> tuple[list[bytes], int]:
        reads.clear()
        r = a.cmd(command)
        assert r.ok, r
        return r.untagged, len(reads)

    untagged, count = fetch("UID FETCH 2 (BODY.PEEK[])")
    assert count == 1 and len(untagged) == 1, untagged
    assert untagged[0].startswith(b"* 2 FETCH (UID 2 BODY[] {") and b"Subject: m1" in untagged[0]
    # Another session's change is still reported after it, from the same read.
    assert b.cmd("STORE 3 +FLAGS.SILENT (\\Answered)").ok
    untagged, count = fetch("FETCH 1 (ENVELOPE BODY.PEEK[TEXT])")
    assert count == 1 and len(untagged) == 2, untagged
    assert untagged[1] == b"* 3 FETCH (UID 3 FLAGS (\\Answered \\Recent))"
    # Two messages: the recheck, then the batch and the sync.
    assert fetch("FETCH 1:2 (BODY.PEEK[])")[1] == 3
    # A UID that is not there: nothing to read it with; the recheck and the sync alone.
    assert fetch("UID FETCH 99 (BODY.PEEK[])") == ([], 2)
