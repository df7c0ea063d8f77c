"""Database trips of the commands a mixed load repeats (bench/mixed_load.py, issue 14).

Under load each trip waits for a database thread and then for the event loop, so a trip
that reads nothing new costs a command milliseconds. SELECT of a personal mailbox looks it
up and reads its summary in one read, after the access recheck, and reads no "changes
since" right after; LOGOUT reads nothing. What each answers is checked too. Each test talks
to 127.0.0.1 only; every socket has a timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import (
    ServerThread,
    count_read_names,
    count_reads,
    count_writes,
    of_commands,
)
from tests.server.imap_client import Imap, client_factory, message


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def test_select_is_two_reads_and_later_changes_still_come(imap: Any, monkeypatch: Any
                                                           ) -> None:
    a, b = imap(), imap()
    assert a.append("INBOX", message("one")).ok
    assert a.select().numbered("RECENT") == [1]
    reads, writes = count_reads(monkeypatch), count_writes(monkeypatch)
    r = b.select()
    assert r.ok and r.numbered("EXISTS") == [1] and r.numbered("RECENT") == [0]
    assert len(reads) == 2  # the access recheck; the lookup and the summary together
    assert writes == []  # nothing left to claim as \Recent
    # What changes after the SELECT is reported by the next command.
    assert a.cmd("STORE 1 +FLAGS (\\Flagged)").ok
    assert a.append("INBOX", message("two")).ok
    r = b.cmd("NOOP")
    assert r.numbered("EXISTS") == [2]
    assert any(b"FLAGS (\\Flagged)" in u for u in r.untagged)


def test_select_refusals_are_unchanged(imap: Any) -> None:
    a = imap()
    r = a.cmd("SELECT Nowhere")
    assert r.status == "NO" and r.code() == "NONEXISTENT"
    assert a.cmd("CREATE Top/Inner").ok and a.cmd("DELETE Top").ok  # Top: \Noselect now
    r = a.cmd("SELECT Top")
    assert r.status == "NO" and r.code() == "NONEXISTENT"
    assert a.cmd("SELECT Top/Inner").ok
    assert a.cmd("EXAMINE INBOX").tagged.split()[2] == b"[READ-ONLY]"


def test_logout_reads_nothing(imap: Any, monkeypatch: Any) -> None:
    a = imap()
    assert a.select().ok
    reads, writes = count_reads(monkeypatch), count_writes(monkeypatch)
    r = a.cmd("LOGOUT")
    assert r.ok and r.untagged[0].startswith(b"* BYE")
    assert reads == [] and writes == []


def test_flag_fetch_reads_no_index_it_cannot_use(imap: Any, monkeypatch: Any) -> None:
    a, b = imap(), imap()
    for n in range(3):
        assert a.append("INBOX", message(f"m{n}")).ok
    assert a.select().ok and b.select().ok
    reads = count_reads(monkeypatch)
    r = b.cmd("FETCH 1:* (UID FLAGS)")  # the view is the shared index's: answered from it
    assert [n for n, _ in r.fetches()] == [1, 2, 3]
    # The recheck, the index brought up to date and the sync's changes: one read.
    assert len(reads) == 1
    assert a.append("INBOX", message("m3")).ok
    assert b.cmd("NOOP").numbered("EXISTS") == [4]  # b's view has its own UIDs now
    del reads[:]
    r = b.cmd("FETCH 1:* (UID FLAGS)")  # from rows, without reading the index first
    assert [n for n, _ in r.fetches()] == [1, 2, 3, 4]
    assert all(b"\\Recent" not in line for line in r.untagged[:3])
    assert len(reads) == 1  # the recheck, the rows and the sync's changes together


def _others_change(a: Any, b: Any) -> None:
    """Three messages, both sessions selected; then b flags 2, expunges 3 and appends one
    (UIDs 1, 2, 4 left): what a's next command must report after its own answer."""
    for n in range(3):
        assert a.append("INBOX", message(f"m{n}")).ok
    assert a.select().ok and b.select().ok
    assert b.cmd("STORE 2 +FLAGS (\\Flagged)").ok
    assert b.cmd("STORE 3 +FLAGS (\\Deleted)").ok and b.cmd("EXPUNGE").ok
    assert b.append("INBOX", message("m3")).ok


def test_uid_store_is_one_write_and_the_sync_reports_the_same(imap: Any, monkeypatch: Any
                                                               ) -> None:
    """UID STORE: the access recheck, the flags and the sync's changes in one write
    (issue 14); the answer is what the sync read after it before: the STORE's own FETCH,
    then the others' expunge (allowed after UID STORE, RFC 3501 §7.4.1), new message and
    flag change."""
    a, b = imap(), imap()
    _others_change(a, b)
    reads, writes = count_read_names(monkeypatch), count_writes(monkeypatch)
    r = a.cmd("UID STORE 1 +FLAGS (\\Seen)")
    assert r.ok
    assert r.untagged == [b"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent))", b"* 3 EXPUNGE",
                          b"* 3 EXISTS", b"* 2 RECENT",
                          b"* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))"], r.untagged
    # b claimed the new message's \Recent with its APPEND (RFC 3501 §2.3.2): a claims none.
    assert of_commands(reads) == [] and of_commands(writes) == ["store_flags_checked"]
    assert a.cmd("NOOP").untagged == []  # nothing reported twice


def test_store_by_number_keeps_expunges_for_later(imap: Any, monkeypatch: Any) -> None:
    """STORE (not UID STORE) may not be followed by EXPUNGE (RFC 3501 §7.4.1): the one
    write's changes give the new message and the flags, the expunge waits for NOOP."""
    a, b = imap(), imap()
    _others_change(a, b)
    reads, writes = count_read_names(monkeypatch), count_writes(monkeypatch)
    r = a.cmd("STORE 1 +FLAGS.SILENT (\\Seen)")
    assert r.ok
    assert r.untagged == [b"* 4 EXISTS", b"* 3 RECENT",
                          b"* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))"], r.untagged
    assert of_commands(reads) == [] and of_commands(writes) == ["store_flags_checked"]
    assert a.cmd("NOOP").untagged == [b"* 3 EXPUNGE"]


def test_uid_expunge_is_one_write_and_the_sync_reports_the_same(imap: Any, monkeypatch: Any
                                                                 ) -> None:
    a, b = imap(), imap()
    _others_change(a, b)
    assert a.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").ok
    assert a.cmd("NOOP").ok
    assert b.cmd("STORE 2 +FLAGS (\\Answered)").ok
    reads, writes = count_read_names(monkeypatch), count_writes(monkeypatch)
    r = a.cmd("UID EXPUNGE 1")
    assert r.ok
    assert r.untagged == [b"* 1 EXPUNGE",
                          b"* 1 FETCH (UID 2 FLAGS (\\Answered \\Flagged \\Recent))"]
    assert of_commands(reads) == [] and of_commands(writes) == ["expunge_checked"]
    assert a.cmd("FETCH 1:* (UID)").fetches() == [(1, {"UID": 2}), (2, {"UID": 4})]


def test_close_is_one_write(imap: Any, monkeypatch: Any) -> None:
    a, b = imap(), imap()
    _others_change(a, b)
    assert a.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").ok
    reads, writes = count_read_names(monkeypatch), count_writes(monkeypatch)
    r = a.cmd("CLOSE")
    assert r.ok and r.untagged == []
    assert of_commands(reads) == [] and of_commands(writes) == ["expunge_checked"]
    assert b.cmd("NOOP").untagged == [b"* 1 EXPUNGE"]  # a's CLOSE expunged it
    assert b.cmd("UID SEARCH ALL").untagged == [b"* SEARCH 2 4"]


def test_flag_fetch_and_search_are_one_read_and_others_changes_still_come(
        imap: Any, monkeypatch: Any) -> None:
    """Issue 14: ``FETCH 1:* (UID FLAGS)`` (the index, dense rows, sparse UIDs) and UID
    SEARCH (the index, a search of the rows) read the access recheck, their data and the
    changes the sync after them reports in one trip; another session's changes made
    before the command are still reported after its answer (RFC 3501 §7.4.1), and the
    answers are as before."""
    a, b = imap(), imap()
    for n in range(6):
        assert a.append("INBOX", message(f"m{n}")).ok
    assert a.select().ok and b.select().ok
    reads = count_reads(monkeypatch)

    def run(command: str) -> Any:
        del reads[:]
        r = b.cmd(command)
        assert r.ok, r
        assert len(reads) == 1, (command, len(reads))
        return r

    r = run("UID SEARCH UNSEEN")  # from the index
    assert r.untagged == [b"* SEARCH 1 2 3 4 5 6"]
    assert a.cmd("STORE 2 +FLAGS (\\Seen)").ok
    r = run("UID SEARCH UNSEEN")
    assert r.untagged == [b"* SEARCH 1 3 4 5 6", b"* 2 FETCH (UID 2 FLAGS (\\Seen))"]
    assert a.cmd("STORE 3 +FLAGS (\\Flagged)").ok
    r = run("SEARCH SUBJECT m4")  # not from the index: the rows searched
    assert r.untagged == [b"* SEARCH 5", b"* 3 FETCH (UID 3 FLAGS (\\Flagged))"]
    # Expunges by another session make b's UIDs sparse (flag_records, not a range).
    assert a.cmd("STORE 2:5 +FLAGS.SILENT (\\Deleted)").ok and a.cmd("EXPUNGE").ok
    assert b.cmd("NOOP").numbered("EXPUNGE") == [2, 2, 2, 2]
    assert a.cmd("STORE 1 +FLAGS (\\Answered)").ok
    r = run("FETCH 1:* (UID FLAGS)")
    assert r.untagged == [b"* 1 FETCH (UID 1 FLAGS (\\Answered))",
                          b"* 2 FETCH (UID 6 FLAGS ())",
                          b"* 1 FETCH (UID 1 FLAGS (\\Answered))"]
    assert b.cmd("NOOP").untagged == []
    r = run("UID FETCH 1:* (FLAGS)")
    assert r.untagged == [b"* 1 FETCH (UID 1 FLAGS (\\Answered))", b"* 2 FETCH (UID 6 FLAGS ())"]


def test_append_into_the_selected_mailbox_is_one_write(imap: Any, monkeypatch: Any) -> None:
    """APPEND into the selected mailbox: the message, its \\Recent claim (RFC 3501 §2.3.2:
    the appending session is the first told of it) and the changes the sync reports in
    one write (issue 14), not a write, a read of the changes and a claim."""
    a, b = imap(), imap()
    _others_change(a, b)
    reads, writes = count_read_names(monkeypatch), count_writes(monkeypatch)
    r = a.append("INBOX", message("mine"))
    assert r.ok and r.tagged.split()[4] == b"5]"  # [APPENDUID v 5]
    assert r.untagged == [b"* 3 EXPUNGE", b"* 4 EXISTS", b"* 3 RECENT",
                          b"* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))"], r.untagged
    assert of_commands(writes) == ["append_synced"]
    assert "changes_since" not in reads and "claim_recent" not in reads
    # Claimed: \Recent in a only; b is told of it without (its RECENT: its own UID 4).
    assert b.cmd("NOOP").untagged == [b"* 4 EXISTS", b"* 1 RECENT"]
    assert a.cmd("FETCH 4 (UID FLAGS)").untagged == [b"* 4 FETCH (UID 5 FLAGS (\\Recent))"]
