"""\\Recent claims (RFC 3501 §2.3.2) without needless writes, over real connections.

A message is \\Recent in exactly one session, the first told of it; claiming is a write
through the single writer. Under a mixed load (bench/mixed_load.py) most SELECTs and syncs
found messages another session had already claimed, yet each queued a write that changed
nothing, behind every other session's writes. These tests count the claim writes and check
that every message is still \\Recent in exactly one session. Each talks to 127.0.0.1 only;
every socket has a timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread, count_writes
from tests.server.imap_client import Imap, client_factory, flags_of, message


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def claims(writes: list[str]) -> int:
    return writes.count("claim_recent")


def test_sync_after_another_session_claimed_writes_nothing(imap: Any, monkeypatch: Any
                                                           ) -> None:
    a, b, appender = imap(), imap(), imap()
    assert a.select().ok and b.select().ok
    writes = count_writes(monkeypatch)
    assert appender.append("INBOX", message("new")).ok  # not selected there: nobody claims
    r = a.cmd("NOOP")
    assert r.numbered("EXISTS") == [1] and r.numbered("RECENT") == [1]
    assert claims(writes) == 1
    r = b.cmd("NOOP")  # told second: the message is a's \Recent, not b's
    assert r.numbered("EXISTS") == [1] and r.numbered("RECENT") == [0]
    assert claims(writes) == 1
    assert "\\Recent" not in flags_of(b.cmd("FETCH 1 FLAGS").fetches()[0][1])
    assert "\\Recent" in flags_of(a.cmd("FETCH 1 FLAGS").fetches()[0][1])


def test_select_of_claimed_messages_writes_nothing(imap: Any, monkeypatch: Any) -> None:
    a, c = imap(), imap()
    assert a.append("INBOX", message("one")).ok
    assert a.append("INBOX", message("two")).ok
    writes = count_writes(monkeypatch)
    assert a.select().numbered("RECENT") == [2]
    assert claims(writes) == 1
    r = c.select()
    assert r.numbered("EXISTS") == [2] and r.numbered("RECENT") == [0]
    assert c.cmd("EXAMINE INBOX").numbered("RECENT") == [0]
    assert claims(writes) == 1
    # A new message is still claimed by the first session told of it, SELECT or sync.
    # a's own APPEND claims it, in the APPEND's own write (issue 14), not in a claim
    # write of its own.
    assert a.append("INBOX", message("three")).ok
    assert claims(writes) == 1 and writes.count("append_synced") == 1
    assert c.select().numbered("RECENT") == [0]
    assert imap().append("INBOX", message("four")).ok  # not selected there
    r = a.cmd("NOOP")  # a: told first; one, two, three were its \Recent already
    assert r.numbered("EXISTS") == [1 + 3] and r.numbered("RECENT") == [4]
    r = c.cmd("NOOP")
    assert r.numbered("EXISTS") == [4] and r.numbered("RECENT") == [0]
    assert claims(writes) == 2
    assert b"RECENT 0" in imap().cmd("STATUS INBOX (RECENT)").untagged[0]


def test_unclaimed_messages_are_still_claimed_by_select(imap: Any, monkeypatch: Any) -> None:
    a = imap()
    assert a.append("INBOX", message("one")).ok
    assert a.select().numbered("RECENT") == [1]
    assert a.cmd("UNSELECT").ok
    writes = count_writes(monkeypatch)
    assert imap().append("INBOX", message("two")).ok  # nobody has it selected
    r = imap().select()
    assert r.numbered("EXISTS") == [2] and r.numbered("RECENT") == [1]
    assert claims(writes) == 1


def test_append_by_a_read_only_or_rev2_session_claims_nothing(imap: Any) -> None:
    """APPEND into the selected mailbox claims \\Recent in its own write, but not for a
    read-only session (EXAMINE shows unclaimed messages without claiming them) nor an
    IMAP4rev2 one (no \\Recent, RFC 9051 Appendix E): the next rev1 SELECT claims them."""
    e, r2, a = imap(), imap(), imap()
    assert e.cmd("EXAMINE INBOX").ok
    r = e.append("INBOX", message("by examine"))
    assert r.ok and r.numbered("EXISTS") == [1] and r.numbered("RECENT") == [1]
    assert r2.cmd("ENABLE IMAP4rev2").ok and r2.select().ok
    r = r2.append("INBOX", message("by rev2"))
    assert r.ok and r.numbered("EXISTS") == [2] and r.numbered("RECENT") == []
    assert a.select().numbered("RECENT") == [2]  # neither was claimed
    assert a.append("INBOX", message("by a")).numbered("RECENT") == [3]
    assert b"RECENT 0" in e.cmd("STATUS INBOX (RECENT)").untagged[0]  # all a's now
