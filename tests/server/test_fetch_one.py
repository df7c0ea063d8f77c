"""A FETCH of one message reads the mailbox's changes in the same trip to the database as
the message (issue 14: 1,000 random ``UID FETCH u (BODY.PEEK[])``); what the session is
told after it must be what a separate read would tell (RFC 3501 §7.4.1, §6.4.8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread
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
