"""The mailbox state sessions share (issue 14): a SELECT of an unchanged mailbox reuses the
UID array an earlier SELECT read, every view keeps its own message numbers on it (RFC 3501
§7.4.1), and the bulk ``FETCH (UID FLAGS)`` answers byte for byte as before.

Real connections to 127.0.0.1; the server-side checks look at the sessions' views through
the in-process server."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crispin.server.session import Session
from tests.server.harness import ServerThread
from tests.server.imap_client import Imap, client_factory, fill, message


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def views(server: ServerThread) -> list[Any]:
    sessions: set[Session] = server.running.ctx.sessions
    return [s.view for s in sessions if s.view is not None]


def uids_of(reply: Any) -> list[int]:
    return [int(m.group(1)) for r in reply.untagged if (m := re.search(rb"UID (\d+)", r))]


def test_second_select_shares_the_uid_array(server: ServerThread, imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 3)
    a.select()
    b.select()
    first, second = views(server)
    assert first.uids is second.uids  # one array, not a copy per session
    assert list(first.uids) == [1, 2, 3]


def test_new_message_copies_the_shared_array_for_that_view_only(
        server: ServerThread, imap: Any) -> None:
    """A learns of a new message (NOOP): its view grows; B, told nothing yet, keeps the
    shared array as it was, and still sees 3 messages."""
    a, b, c = imap(), imap(), imap()
    fill(a, 3)
    a.select()
    b.select()
    shared = views(server)[0].uids
    assert c.append("INBOX", message("late")).ok
    assert a.cmd("NOOP").numbered("EXISTS") == [4]
    assert list(shared) == [1, 2, 3]
    reply = b.cmd("FETCH 1:* (UID)")  # "*" was 3 when it ran; EXISTS follows it
    assert uids_of(reply) == [1, 2, 3]
    assert reply.numbered("EXISTS") == [4]
    assert uids_of(b.cmd("FETCH 4 (UID)")) == [4]
    assert list(shared) == [1, 2, 3]
    # A third SELECT reads the changed mailbox, not the stale array.
    d = imap()
    assert d.select().numbered("EXISTS") == [4]


def test_expunge_keeps_the_other_sessions_numbers_until_it_may_be_told(
        server: ServerThread, imap: Any) -> None:
    """A and B share the index; A expunges message 2. B's FETCH (which may not carry an
    EXPUNGE, RFC 3501 §7.4.1) still numbers 1-3 with their old UIDs; B's NOOP then says
    ``* 2 EXPUNGE`` and message 2 is UID 3. A new session sees two messages."""
    a, b = imap(), imap()
    fill(a, 3)
    a.select()
    b.select()
    assert a.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").ok
    assert a.cmd("EXPUNGE").numbered("EXPUNGE") == [2]
    reply = b.cmd("FETCH 1:3 (UID)")
    assert reply.ok and reply.numbered("EXPUNGE") == []
    assert uids_of(reply) == [1, 2, 3]
    assert b.cmd("NOOP").numbered("EXPUNGE") == [2]
    assert uids_of(b.cmd("FETCH 2 (UID)")) == [3]
    assert b.cmd("FETCH 3 (UID)").status == "BAD"
    c = imap()
    assert c.select().numbered("EXISTS") == [2]
    assert uids_of(c.cmd("FETCH 1:* (UID)")) == [1, 3]


def test_select_after_a_flag_change_reports_the_new_state(imap: Any) -> None:
    """Nothing added or removed, only flags: the next SELECT's UNSEEN and FLAGS follow."""
    a, b = imap(), imap()
    fill(a, 3)
    assert a.select().ok_codes()["UNSEEN"] == b"1"
    assert b.select().ok_codes()["UNSEEN"] == b"1"
    assert b.cmd("STORE 1:2 +FLAGS.SILENT (\\Seen Work)").ok
    c = imap()
    reply = c.select()
    assert reply.ok_codes()["UNSEEN"] == b"3"
    assert b"Work" in reply.untagged[0]


def test_select_after_restore_is_not_fooled_by_equal_counters(
        server: ServerThread, imap: Any) -> None:
    """After a restore the same UIDNEXT and HIGHESTMODSEQ can stand for other contents:
    a \\Seen message then, an unseen one now."""
    store = server.running.ctx.store
    snap = server.call(store.snapshot())
    try:
        a = imap()
        assert a.append("INBOX", message("seen"), "\\Seen").ok
        assert "UNSEEN" not in a.select().ok_codes()
        a.close()
        server.call(store.restore(snap))
        b = imap()
        assert b.append("INBOX", message("unseen")).ok
        assert b.select().ok_codes()["UNSEEN"] == b"1"
    finally:
        snap.close()


def test_bulk_flag_fetch_answers_as_before(imap: Any) -> None:
    """The bytes of ``FETCH (UID FLAGS MODSEQ)``: items in the order asked, keywords as
    stored, \\Recent last; a dense set is read as a range, a sparse one UID by UID."""
    a = imap()
    assert a.append("INBOX", message("1"), "\\Seen").ok
    assert a.append("INBOX", message("2"), "\\Flagged Work").ok
    fill(a, 3)
    a.select()
    reply = a.cmd("UID FETCH 1:* (FLAGS MODSEQ)")
    lines = [r for r in reply.untagged if b" FETCH " in r]
    assert lines[0].startswith(b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) MODSEQ (")
    assert lines[1].startswith(b"* 2 FETCH (UID 2 FLAGS (\\Flagged Work \\Recent) MODSEQ (")
    assert len(lines) == 5
    sparse = a.cmd("FETCH 1,5 (FLAGS UID)")
    assert sparse.untagged == [b"* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1)",
                               b"* 5 FETCH (FLAGS (\\Recent) UID 5)"]
    other = imap()
    other.select()
    assert other.cmd("FETCH 2 (FLAGS)").untagged == [b"* 2 FETCH (FLAGS (\\Flagged Work))"]


def test_select_after_a_flag_change_keeps_the_shared_uid_array(
        server: ServerThread, imap: Any) -> None:
    """Only flags changed: the shared index takes the changed rows (not the whole
    mailbox again), so a later SELECT still shares the UID array, with the new state."""
    a, b = imap(), imap()
    fill(a, 4)
    a.select()
    assert b.select().ok_codes()["UNSEEN"] == b"1"
    assert b.cmd("STORE 1:2 +FLAGS.SILENT (\\Seen)").ok
    c = imap()
    assert c.select().ok_codes()["UNSEEN"] == b"3"
    first, *others = [v for v in views(server)]
    assert all(v.uids is first.uids for v in others)


def test_select_after_expunge_and_append_follows_the_changes(imap: Any) -> None:
    """Messages removed and added since the index was read: applied, not re-read."""
    a, b = imap(), imap()
    fill(a, 5)
    a.select()
    assert b.cmd("STORE 1,3 +FLAGS.SILENT (\\Deleted \\Seen)").ok if b.select() else False
    assert b.cmd("EXPUNGE").numbered("EXPUNGE") == [1, 2]
    assert b.append("INBOX", message("six"), "\\Seen Later").ok
    c = imap()
    reply = c.select()
    assert reply.numbered("EXISTS") == [4]
    assert reply.ok_codes()["UNSEEN"] == b"1"
    assert b"Later" in reply.untagged[0]
    assert uids_of(c.cmd("FETCH 1:* (UID)")) == [2, 4, 5, 6]
    assert c.cmd("UID SEARCH SEEN").untagged == [b"* SEARCH 6"]


@pytest.fixture
def sql_searches(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The criteria of every search that went to SQL (the server runs in this process)."""
    from crispin.storage import search as storage_search

    calls: list[object] = []
    real = storage_search.select_matching

    def counting(conn: Any, mailbox_id: int, criteria: Any, *args: Any, **kw: Any) -> Any:
        calls.append(criteria)
        return real(conn, mailbox_id, criteria, *args, **kw)

    monkeypatch.setattr(storage_search, "select_matching", counting)
    return calls


def test_flag_searches_are_answered_from_the_shared_index(
        imap: Any, sql_searches: list[object]) -> None:
    a = imap()
    fill(a, 6)
    a.select()
    assert a.cmd("STORE 2,4 +FLAGS.SILENT (\\Seen)").ok
    assert a.cmd("STORE 4:5 +FLAGS.SILENT (\\Flagged)").ok
    assert a.cmd("SEARCH UNSEEN").untagged == [b"* SEARCH 1 3 5 6"]
    assert a.cmd("UID SEARCH FLAGGED").untagged == [b"* SEARCH 4 5"]
    assert a.cmd("SEARCH 2:5 NOT SEEN").untagged == [b"* SEARCH 3 5"]
    assert a.cmd("SEARCH OR SEEN FLAGGED UNDELETED").untagged == [b"* SEARCH 2 4 5"]
    assert a.cmd("UID SEARCH UID 3:* UNFLAGGED").untagged == [b"* SEARCH 3 6"]
    assert a.cmd("SEARCH DELETED").untagged == [b"* SEARCH"]
    assert sql_searches == []
    assert a.cmd("SEARCH SUBJECT m3").untagged == [b"* SEARCH 3"]
    assert len(sql_searches) == 1


def test_flag_search_follows_other_sessions_and_keeps_the_numbers(imap: Any) -> None:
    """Another session's changes reach the index before the search, but the answer uses
    this session's numbers: an expunged message it was not told of (RFC 3501 §7.4.1: no
    EXPUNGE during SEARCH) never matches, a message it does not know yet is not shown."""
    a, b = imap(), imap()
    fill(a, 5)
    a.select()
    b.select()
    assert a.cmd("SEARCH UNSEEN").untagged == [b"* SEARCH 1 2 3 4 5"]
    assert b.cmd("STORE 2 +FLAGS.SILENT (\\Seen \\Deleted)").ok
    assert b.cmd("STORE 4 +FLAGS.SILENT (\\Seen)").ok
    assert b.cmd("STORE 3 +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").numbered("EXPUNGE") == [2, 2]
    assert b.append("INBOX", message("new")).ok
    reply = a.cmd("SEARCH UNSEEN")
    assert reply.untagged[0] == b"* SEARCH 1 5"
    assert reply.numbered("EXPUNGE") == []
    assert a.cmd("UID SEARCH UNSEEN").untagged[0] == b"* SEARCH 1 5 6"  # UID form: told
    assert a.cmd("SEARCH UNSEEN").untagged == [b"* SEARCH 1 3 4"]


def test_flag_fetch_from_the_shared_index_follows_changes(
        imap: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``FETCH (UID FLAGS)`` is formatted from the shared index while the view's numbers
    are its positions, with another session's keyword and flag changes applied first;
    once the view has its own numbers (a new message), the rows are read as before."""
    from crispin.storage import index_reads

    reads: list[int] = []
    real = index_reads.flag_rows

    def counting(*args: Any, **kw: Any) -> Any:
        reads.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(index_reads, "flag_rows", counting)
    a, b = imap(), imap()
    fill(a, 4)
    a.select()  # \Recent here
    b.select()
    assert b.cmd("STORE 2 +FLAGS.SILENT (\\Seen Work)").ok
    assert b.cmd("STORE 3 +FLAGS.SILENT (\\Flagged)").ok
    reply = b.cmd("FETCH 1:4 (FLAGS UID)")
    assert reply.untagged == [
        b"* 1 FETCH (FLAGS () UID 1)", b"* 2 FETCH (FLAGS (\\Seen Work) UID 2)",
        b"* 3 FETCH (FLAGS (\\Flagged) UID 3)", b"* 4 FETCH (FLAGS () UID 4)"]
    solicited = [r for r in a.cmd("UID FETCH 2:3,1 (UID FLAGS)").untagged
                 if b"FETCH (UID" in r][:3]
    assert solicited == [b"* 1 FETCH (UID 1 FLAGS (\\Recent))",
                         b"* 2 FETCH (UID 2 FLAGS (\\Seen Work \\Recent))",
                         b"* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent))"]
    assert b.cmd("STORE 2 -FLAGS.SILENT (Work)").ok
    assert b.cmd("FETCH 2 (FLAGS)").untagged == [b"* 2 FETCH (FLAGS (\\Seen))"]
    assert reads == []
    assert a.append("INBOX", message("five"), "Later").ok
    assert b.cmd("NOOP").numbered("EXISTS") == [5]
    assert b.cmd("FETCH 4:5 (FLAGS)").untagged == [b"* 4 FETCH (FLAGS ())",
                                                   b"* 5 FETCH (FLAGS (Later))"]
    assert reads != []
