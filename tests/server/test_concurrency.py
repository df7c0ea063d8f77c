"""Many clients, one mailbox (DESIGN.md): sessions see each other's appends (EXISTS), flag
changes (FETCH FLAGS, never echoed to the session that made them) and expunges (EXPUNGE) only
at the moments RFC 3501 §7.4.1 allows, with message numbers that never drift, and fetches of
messages expunged meanwhile answered with what is still known (RFC 2180 §4.1, as Dovecot).

For now mailboxes belong to one user, so the sessions are all alice's."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.server.harness import ServerThread
from tests.server.imap_client import (
    Imap,
    client_factory,
    fill,
    flags_of,
    message,
)


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def uid_list(c: Imap) -> list[int]:
    """The UIDs in MSN order, after the pending updates (NOOP)."""
    c.cmd("NOOP")
    r = c.cmd("UID FETCH 1:* UID")
    assert r.ok, r
    f = r.fetches()
    assert [n for n, _ in f] == list(range(1, len(f) + 1))
    return [i["UID"] for _, i in f]


def subjects(c: Imap, seq: str = "1:*") -> dict[int, bytes]:
    return {n: i["ENVELOPE"][1] for n, i in c.cmd(f"FETCH {seq} ENVELOPE").fetches()}


def no_expunge(r: Any) -> None:
    assert "EXPUNGE" not in r.kinds(), r


# -- two sessions -----------------------------------------------------------------------------


def test_appends_are_seen_as_exists(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 2)
    a.select()
    b.select()
    assert b.append("INBOX", message("new")).numbered("EXISTS") == [3]
    r = a.cmd("NOOP")
    assert r.numbered("EXISTS") == [3]
    assert r.kinds() == ["EXISTS", "RECENT"]
    assert subjects(a, "3") == {3: b"new"}
    # EXISTS may come with any command, a non-UID FETCH included (RFC 3501 §7.3.1)
    assert b.append("INBOX", message("newer")).ok
    r = a.cmd("FETCH 1 FLAGS")
    assert r.numbered("EXISTS") == [4]
    assert r.kinds().index("FETCH") < r.kinds().index("EXISTS")


def test_flag_changes_reach_others_not_the_author(imap: Any) -> None:
    a, b, c = imap(), imap(), imap()
    fill(a, 3)
    for s in (a, b, c):
        s.select()
    r = a.cmd("STORE 2 +FLAGS (\\Flagged)")
    assert len(r.fetches()) == 1
    assert a.cmd("NOOP").untagged == []  # not echoed again
    for s in (b, c):
        (n, items), = s.cmd("NOOP").fetches()
        assert n == 2 and "\\Flagged" in flags_of(items)
        assert s.cmd("NOOP").untagged == []  # reported once
    # a silent STORE is silent for its author only
    assert a.cmd("STORE 3 +FLAGS.SILENT (\\Seen)").untagged == []
    assert a.cmd("NOOP").untagged == []
    (n, items), = b.cmd("NOOP").fetches()
    assert n == 3 and "\\Seen" in flags_of(items)


def test_crossing_flag_changes(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 2)
    a.select()
    b.select()
    assert a.cmd("STORE 1 +FLAGS.SILENT (\\Seen)").ok
    r = b.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)")
    assert r.untagged == []  # a's \Seen is folded into b's own (silent) change
    r = a.cmd("STORE 2 +FLAGS.SILENT (\\Answered)")
    # a hears of b's change with the merged flags at the end of its next command ...
    assert [(n, flags_of(i) - {"\\Recent"}) for n, i in r.fetches()] == \
        [(1, {"\\Seen", "\\Flagged"})]
    # ... and b of a's, never their own
    assert [(n, flags_of(i) - {"\\Recent"}) for n, i in b.cmd("NOOP").fetches()] == \
        [(2, {"\\Answered"})]
    assert a.cmd("NOOP").untagged == []
    fa = {n: flags_of(i) - {"\\Recent"} for n, i in a.cmd("FETCH 1:* FLAGS").fetches()}
    fb = {n: flags_of(i) - {"\\Recent"} for n, i in b.cmd("FETCH 1:* FLAGS").fetches()}
    assert fa == fb == {1: {"\\Seen", "\\Flagged"}, 2: {"\\Answered"}}


def test_expunge_waits_for_a_command_that_may_report_it(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 5)
    assert a.cmd("CREATE Copies").ok
    a.select()
    b.select()
    assert b.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").untagged == [b"* 2 EXPUNGE"]

    # FETCH by number: no EXPUNGE; the numbers A knows still hold; the expunged message
    # is answered with what is still known and an OK [EXPUNGEISSUED] (issue 9, Dovecot)
    r = a.cmd("FETCH 1:5 (UID ENVELOPE)")
    no_expunge(r)
    assert r.status == "OK" and r.code() == "EXPUNGEISSUED"
    assert [(n, i["UID"], i["ENVELOPE"][1]) for n, i in r.fetches()] == [
        (1, 1, b"m1"), (2, 2, None), (3, 3, b"m3"), (4, 4, b"m4"), (5, 5, b"m5")]
    # now it is a ghost: same answer, still no EXPUNGE
    r = a.cmd("FETCH 2 (FLAGS BODY.PEEK[])")
    no_expunge(r)
    assert r.status == "OK" and r.code() == "EXPUNGEISSUED"
    (n, items), = r.fetches()
    assert n == 2 and items["BODY[]"] is None and "\\Deleted" in flags_of(items)
    r = a.cmd("FETCH 5 ENVELOPE")
    assert r.ok and subjects(a, "5") == {5: b"m5"}
    # STORE by number: FETCH data for the others, the ghost silently left alone, OK, no
    # EXPUNGE (RFC 2180 §4.2.1)
    r = a.cmd("STORE 1:3 +FLAGS (\\Answered)")
    no_expunge(r)
    assert r.ok
    assert [n for n, _ in r.fetches()] == [1, 3]
    # only the expunged one: an OK and nothing else
    r = a.cmd("STORE 2 +FLAGS (\\Answered)")
    assert r.ok and r.untagged == []
    r = a.cmd("STORE 1:3 +FLAGS.SILENT (\\Seen)")
    no_expunge(r)
    assert r.ok and r.untagged == []
    # a number beyond the view is still BAD, the ghost still counts
    assert a.cmd("FETCH 6 UID").status == "BAD"
    # COPY by number naming the ghost: refused whole, nothing copied, and the pending
    # EXPUNGE is delivered with it (RFC 2180 §4.4.1), once
    r = a.cmd("COPY 2:3 Copies")
    assert r.status == "NO" and r.code() == "EXPUNGEISSUED"
    assert r.untagged == [b"* 2 EXPUNGE"]
    assert a.cmd("NOOP").untagged == []
    assert b"MESSAGES 0" in a.cmd("STATUS Copies (MESSAGES)").untagged[0]
    assert uid_list(a) == [1, 3, 4, 5]
    assert subjects(a) == {1: b"m1", 2: b"m3", 3: b"m4", 4: b"m5"}
    assert a.cmd("FETCH 5 UID").status == "BAD"
    # B got A's flag changes, A's own were not echoed
    fb = {n: flags_of(i) - {"\\Recent"} for n, i in b.cmd("NOOP").fetches()}
    assert fb == {1: {"\\Answered", "\\Seen"}, 2: {"\\Answered", "\\Seen"}}


@pytest.mark.parametrize("command", ["CHECK", "UID FETCH 1 UID", "UID STORE 1 +FLAGS (X)",
                                     "EXPUNGE", "UID COPY 1 INBOX", "COPY 1 INBOX"])
def test_commands_that_may_report_expunges(imap: Any, command: str) -> None:
    a, b = imap(), imap()
    fill(a, 3)
    a.select()
    b.select()
    assert b.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").ok
    r = a.cmd(command)
    assert r.ok, r
    assert r.numbered("EXPUNGE") == [2], r


@pytest.mark.parametrize("command", ["FETCH 1 FLAGS", "STORE 1 +FLAGS (X)", "SEARCH ALL"])
def test_commands_that_may_not_report_expunges(imap: Any, command: str) -> None:
    a, b = imap(), imap()
    fill(a, 3)
    a.select()
    b.select()
    assert b.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").ok
    r = a.cmd(command)
    assert r.ok, r
    no_expunge(r)
    assert a.cmd("NOOP").numbered("EXPUNGE") == [2]


def test_update_order_expunge_exists_fetch(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 3)
    a.select()
    b.select()
    assert b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").ok
    assert b.cmd("STORE 2 +FLAGS.SILENT (\\Flagged)").ok  # old MSN 3
    assert b.append("INBOX", message("x")).ok
    r = a.cmd("NOOP")
    # DESIGN.md: EXPUNGE lines, then EXISTS, then FETCH FLAGS, numbered after the expunge
    assert r.kinds() == ["EXPUNGE", "EXISTS", "RECENT", "FETCH"]
    assert r.untagged[0] == b"* 1 EXPUNGE"
    assert r.numbered("EXISTS") == [3]
    assert r.fetches()[0][0] == 2


def test_expunge_of_message_another_session_is_fetching(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 4)
    a.select()
    b.select()
    # several expunged, including the last: EXPUNGE numbers are each valid when read
    assert b.cmd("STORE 1,3:4 +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").untagged == [b"* 1 EXPUNGE", b"* 2 EXPUNGE", b"* 2 EXPUNGE"]
    r = a.cmd("FETCH 1:4 UID")
    # every number answered with its UID, which is all that was asked: a plain OK
    assert r.tagged.startswith(b"t") and r.status == "OK" and r.code() is None
    assert [(n, i["UID"]) for n, i in r.fetches()] == [(1, 1), (2, 2), (3, 3), (4, 4)]
    assert a.cmd("NOOP").untagged == [b"* 1 EXPUNGE", b"* 2 EXPUNGE", b"* 2 EXPUNGE"]
    assert uid_list(a) == [2]


def test_own_expunge_reports_pending_ghosts_too(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 5)
    a.select()
    b.select()
    assert b.cmd("STORE 4 +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").ok
    assert a.cmd("FETCH 1 FLAGS").ok  # a now holds 4 as a ghost
    assert a.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").ok
    r = a.cmd("EXPUNGE")
    assert sorted(r.numbered("EXPUNGE")) == sorted([2, 3])  # 2, then old 4 now at 3
    assert r.untagged == [b"* 2 EXPUNGE", b"* 3 EXPUNGE"]
    assert uid_list(a) == uid_list(b) == [1, 3, 5]


def test_move_by_another_session(imap: Any) -> None:
    a, b = imap(), imap()
    assert a.cmd("CREATE Done").ok
    fill(a, 3)
    a.select()
    b.select()
    a2 = imap()
    a2.select("Done")
    assert b.cmd("MOVE 2 Done").ok
    r = a.cmd("FETCH 2 (UID FLAGS)")
    assert r.ok and r.fetches() == [(2, {"UID": 2, "FLAGS": ["\\Recent"]})]
    no_expunge(r)
    assert a.cmd("NOOP").untagged == [b"* 2 EXPUNGE"]
    r = a2.cmd("NOOP")
    assert r.numbered("EXISTS") == [1]


# -- concurrency: long commands while others write ---------------------------------------------


def test_appends_during_long_fetch_numbers_never_drift(imap: Any) -> None:
    a, b = imap(), imap()
    count = 200
    a.select()
    big = "y" * 3000
    for i in range(count):
        assert a.append("INBOX", message(f"m{i + 1}", big), plus=True).ok
    a.cmd("NOOP")
    b.select()
    stop = threading.Event()
    appended: list[int] = []

    def writer() -> None:
        while not stop.is_set() and len(appended) < 40:
            r = b.append("INBOX", message(f"late{len(appended)}"), plus=True)
            assert r.ok
            appended.append(1)

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(3):
            r = a.cmd("FETCH 1:* (UID BODY[HEADER.FIELDS (SUBJECT)])")
            assert r.ok, r.tagged
            f = r.fetches()
            # every message A knew when the command began, at its own number, UID = MSN
            known = [n for n, _ in f]
            assert known == list(range(1, len(known) + 1))
            assert all(i["UID"] == n for n, i in f)
            assert all(i["BODY[HEADER.FIELDS (SUBJECT)]"].startswith(
                (f"Subject: m{n}\r".encode(), f"Subject: late{n - count - 1}\r".encode()))
                for n, i in f)
            # EXISTS for what arrived meanwhile comes after the data, never before
            kinds = r.kinds()
            if "EXISTS" in kinds:
                assert kinds.index("EXISTS") > max(i for i, k in enumerate(kinds)
                                                  if k == "FETCH")
    finally:
        stop.set()
        t.join(30)
    a.cmd("NOOP")
    assert uid_list(a) == uid_list(b) == list(range(1, count + len(appended) + 1))


def test_expunges_during_long_fetch(imap: Any) -> None:
    a, b = imap(), imap()
    count = 150
    for i in range(count):
        assert a.append("INBOX", message(f"m{i + 1}", "z" * 5000), plus=True).ok
    a.select()
    b.select()
    done = threading.Event()

    def expunger() -> None:
        for n in range(count, 100, -10):  # expunge from the end so b's numbers are simple
            assert b.cmd(f"STORE {n} +FLAGS.SILENT (\\Deleted)").ok
            assert b.cmd("EXPUNGE").ok
        done.set()

    t = threading.Thread(target=expunger)
    t.start()
    fetches = 0
    try:
        while not done.is_set() or fetches == 0:
            r = a.cmd("FETCH 1:* (UID BODY.PEEK[])")
            fetches += 1
            no_expunge(r)
            assert r.status == "OK", r.tagged
            for n, items in r.fetches():
                if "BODY[]" not in items:
                    # b's \Deleted, reported at the end (with the UID, RFC 3501 §6.4.8)
                    assert set(items) == {"UID", "FLAGS"}
                    continue
                assert items["UID"] == n  # A's numbers don't move during the FETCH
                if items["BODY[]"] is None:  # expunged by b: answered, body gone
                    assert r.code() == "EXPUNGEISSUED" and n > 100 and n % 10 == 0
                    continue
                assert items["BODY[]"].startswith(b"From: a@example.com\r\nTo:")
    finally:
        t.join(30)
    r = a.cmd("NOOP")
    # ascending, each number valid when read: UIDs 110, 120, ... 150 are 110, 119, ... 146
    assert r.numbered("EXPUNGE") == [110, 119, 128, 137, 146]
    assert uid_list(a) == uid_list(b)
    assert len(uid_list(a)) == count - 5


# -- many sessions ----------------------------------------------------------------------------


def test_ten_sessions_see_one_truth(imap: Any) -> None:
    sessions = [imap() for _ in range(10)]
    fill(sessions[0], 10)
    for s in sessions:
        s.select()
    # each session flags "its" message; each other session hears of it once
    for i, s in enumerate(sessions):
        r = s.cmd(f"STORE {i + 1} +FLAGS (\\Flagged)")
        assert r.ok
        # its own message, then what the sessions before it flagged (told at the end)
        assert [n for n, _ in r.fetches()] == [i + 1, *range(1, i + 1)]
    for i, s in enumerate(sessions):
        got = [n for n, items in s.cmd("NOOP").fetches() if "\\Flagged" in flags_of(items)]
        assert got == list(range(i + 2, 11))  # the later ones, never its own
    for s in sessions:
        assert s.cmd("NOOP").untagged == []
    # one session expunges; the nine others see it on their next NOOP only
    assert sessions[0].cmd("STORE 1:5 +FLAGS.SILENT (\\Deleted)").ok
    assert sessions[0].cmd("EXPUNGE").untagged == [b"* 1 EXPUNGE"] * 5
    for s in sessions[1:]:
        r = s.cmd("FETCH 1:10 UID")
        no_expunge(r)
        assert r.ok  # every number answered with its UID (issue 9 point 2)
        assert [(n, i["UID"]) for n, i in r.fetches()] == [(n, n) for n in range(1, 11)]
    for s in sessions[1:]:
        assert s.cmd("NOOP").untagged == [b"* 1 EXPUNGE"] * 5
        assert uid_list(s) == [6, 7, 8, 9, 10]


def test_fifty_sessions_appending_concurrently(imap: Any) -> None:
    n_sessions, per_session = 50, 10
    sessions = [imap() for _ in range(n_sessions)]
    for s in sessions:
        s.select()
    barrier = threading.Barrier(n_sessions)

    def work(k: int) -> list[int]:
        s = sessions[k]
        barrier.wait(10)
        uids = []
        for j in range(per_session):
            r = s.append("INBOX", message(f"s{k}-{j}"), plus=(j % 2 == 0))
            assert r.ok, r
            uids.append(int(r.tagged.split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]")))
            # the session's own EXISTS never goes backwards
        return uids

    with ThreadPoolExecutor(n_sessions) as pool:
        results = list(pool.map(work, range(n_sessions)))
    total = n_sessions * per_session
    all_uids = sorted(u for r in results for u in r)
    assert all_uids == list(range(1, total + 1))  # APPENDUIDs unique, no gaps
    expected = list(range(1, total + 1))
    recent: list[set[int]] = []
    for s in sessions:
        r = s.cmd("NOOP")
        assert all(n <= total for n in r.numbered("EXISTS"))
        f = s.cmd("FETCH 1:* (UID FLAGS)").fetches()
        assert [i["UID"] for _, i in f] == expected
        recent.append({i["UID"] for _, i in f if "\\Recent" in flags_of(i)})
    # RFC 3501 §2.3.2: each new message is \Recent in exactly one session
    assert sum(len(r) for r in recent) == total
    assert set().union(*recent) == set(expected)
    # and every session's subjects agree
    first = subjects(sessions[0])
    assert len(first) == total
    for s in sessions[1:5]:
        assert subjects(s) == first


def test_fifty_sessions_storing_and_expunging(imap: Any) -> None:
    n = 50
    sessions = [imap() for _ in range(n)]
    fill(sessions[0], n)
    for s in sessions:
        s.select()
    barrier = threading.Barrier(n)

    def work(k: int) -> None:
        s = sessions[k]
        barrier.wait(10)
        # every session flags its own message, by number (no EXPUNGE can shift them yet)
        r = s.cmd(f"STORE {k + 1} +FLAGS (\\Flagged $S{k})")
        no_expunge(r)
        assert r.ok or r.code() == "EXPUNGEISSUED"
        if k % 10 == 0:
            assert s.cmd(f"UID STORE {k + 1} +FLAGS.SILENT (\\Deleted)").ok

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(work, range(n)))
    assert sessions[1].cmd("EXPUNGE").ok
    survivors = [u for u in range(1, n + 1) if (u - 1) % 10 != 0]
    for k, s in enumerate(sessions):
        s.cmd("NOOP")
        f = s.cmd("FETCH 1:* (UID FLAGS)").fetches()
        assert [i["UID"] for _, i in f] == survivors, k
        for _, items in f:
            assert {"\\Flagged", f"$S{items['UID'] - 1}"} <= flags_of(items)


def test_keyword_from_another_session_append_is_announced(imap: Any) -> None:
    a, b = imap(), imap()
    a.select()
    assert b.append("INBOX", message("k"), "\\Seen Project7").ok
    r = a.cmd("NOOP")
    # RFC 3501 §7.2.6: FLAGS (and PERMANENTFLAGS) name the new keyword before A fetches it
    assert r.kinds()[:2] == ["FLAGS", "OK"] and "EXISTS" in r.kinds()
    assert b"Project7" in r.untagged[0] and b"Project7" in r.untagged[1]
    (_, items), = a.cmd("FETCH 1 FLAGS").fetches()
    assert {"\\Seen", "Project7"} <= flags_of(items)
