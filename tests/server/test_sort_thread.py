"""SORT, THREAD and their UID forms (RFC 5256, SORT=DISPLAY RFC 5957) over real sockets,
on the hand-worked message set of ``sortset.py``.

Keys of the set (base subject in i;unicode-casemap form, sent date in UTC, internal date):

====  =================  =====================  ==========  ==========  =========
seq   base subject       sent date              arrival     FROM        DISPLAYFROM
====  =================  =====================  ==========  ==========  =========
1     BUDGET (reply)     3 Jan 10:00            10 Jan      ZED         AARON
2     BUDGET             1 Jan 10:00            9 Jan       BOB         BOB@X
3     LUNCH?             (none: 2 Jan 12:00)    2 Jan 12:00 AMY         ÁMY
4     LUNCH? (reply)     2 Jan 12:00 (13 +0100) 8 Jan       CAROL       CAROL@X
5     LOOP A             5 Jan                  7 Jan       DAVE        DAVE@X
6     LOOP B             4 Jan                  6 Jan       ""          ""
7     MISSING PARENT (r) 6 Jan                  5 Jan       ""          ""
8     MISSING PARENT (r) 7 Jan                  4 Jan       ""          ""
9     ÉCLAIR (fwd)       1 Jan 10:00            3 Jan       ERIC        ÉRIC
10    ÉCLAIR             8 Jan                  2 Jan 00:00 YVES        YVES@X
====  =================  =====================  ==========  ==========  =========

REFERENCES, worked by hand (RFC 5256 §3):
(1) 1 names <b1@x> (a dummy, then message 2 fills it): 2 -> 1.  4 replies to 3 by
    In-Reply-To.  5 references <lb@x>, a dummy filled by 6: 6 -> 5; 6 references <la@x>
    (= 5, a descendant of 6): the link would make a loop, so 6 stays a root.  7 and 8 hang
    under dummies <gone2@x>, <gone3@x>, both children of dummy <gone@x>.  9 repeats
    <b1@x> (already 2's): it gets a unique id.  10 alone.
(3) the dummies <gone2@x>/<gone3@x> give way to 7 and 8 under <gone@x>, which stays (two
    children at the root).
(4) roots by date: 2 (1 Jan, seq 2), 9 (1 Jan, seq 9), 3 (2 Jan), 6, <gone> (as 7), 10.
(5) ÉCLAIR: 9 first in the table, then 10 replaces it (9 is a forward, 10 is not); 9
    becomes 10's child.
(6) -> (2 1)(3 4)(6 5)((7)(8))(10 9)

ORDEREDSUBJECT: by subject then date: [2 1] [9 10] [5] [6] [3 4] [7 8]; threads by
their first message's date: 2, 9 (equal dates: sequence), 3, 6, 5, 7.
REFS: the REFERENCES trees before subject merging, by newest message: 9 (1 Jan), 3-4
(2 Jan), 2-1 (3 Jan), 6-5 (5 Jan), <gone> (7 Jan), 10 (8 Jan).
"""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import PASSWORD, RawClient, ServerThread
from tests.server.sortset import MESSAGES, fill


@pytest.fixture
def raw(server: ServerThread) -> Iterator[RawClient]:
    c = server.login()
    fill(c)
    c.logout()
    r = server.raw()
    assert r.command(b"l", f'LOGIN alice "{PASSWORD}"'.encode())[-1].startswith(b"l OK")
    assert r.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    yield r
    r.close()


def untagged(lines: list[bytes], name: bytes) -> bytes:
    found = [line for line in lines if line.startswith(b"* " + name)]
    assert len(found) == 1, lines
    assert lines[-1].split(b" ")[1] == b"OK", lines
    return found[0]


def sort(r: RawClient, program: str) -> list[int]:
    line = untagged(r.command(b"t", program.encode()), b"SORT")
    return [int(n) for n in line.split()[2:]]


@pytest.mark.parametrize(
    ("program", "want"),
    [
        ("SORT (SUBJECT) UTF-8 ALL", [1, 2, 9, 10, 5, 6, 3, 4, 7, 8]),
        ("SORT (DATE) UTF-8 ALL", [2, 9, 3, 4, 1, 6, 5, 7, 8, 10]),
        # REVERSE reverses one criterion, not the implicit sequence-number tie-break.
        ("SORT (REVERSE DATE) UTF-8 ALL", [10, 8, 7, 5, 6, 1, 3, 4, 2, 9]),
        ("SORT (SUBJECT REVERSE DATE) UTF-8 ALL", [1, 2, 10, 9, 5, 6, 3, 4, 8, 7]),
        ("SORT (ARRIVAL) UTF-8 ALL", [10, 3, 9, 8, 7, 6, 5, 4, 2, 1]),
        ("SORT (FROM) UTF-8 ALL", [6, 7, 8, 3, 2, 4, 5, 9, 10, 1]),
        ("SORT (DISPLAYFROM) UTF-8 ALL", [6, 7, 8, 1, 3, 2, 4, 5, 9, 10]),
        ("SORT (TO) UTF-8 ALL", [4, 5, 6, 7, 8, 9, 10, 1, 3, 2]),
        ("SORT (DISPLAYTO) UTF-8 ALL", [4, 5, 6, 7, 8, 9, 10, 1, 3, 2]),
        ("SORT (CC) UTF-8 ALL", [2, 3, 4, 5, 6, 7, 8, 9, 10, 1]),
        ("SORT (REVERSE CC) UTF-8 ALL", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        ("SORT (CC SUBJECT) UTF-8 ALL", [2, 9, 10, 5, 6, 3, 4, 7, 8, 1]),
        ("SORT (DATE) UTF-8 SUBJECT \"\u00e9clair\"", [9, 10]),
        ("SORT (DATE) US-ASCII SUBJECT lunch", [3, 4]),
        ("SORT (SUBJECT) US-ASCII TEXT \"not in mailbox\"", []),
        ("SORT (REVERSE ARRIVAL) UTF-8 2:4,8", [2, 4, 8, 3]),
    ],
)
def test_sort(raw: RawClient, program: str, want: list[int]) -> None:
    assert sort(raw, program) == want


def test_sort_size(raw: RawClient) -> None:
    sizes = [len(m) for m, _ in MESSAGES]
    want = sorted(range(1, 11), key=lambda n: (sizes[n - 1], n))
    assert sort(raw, "SORT (SIZE) UTF-8 ALL") == want
    rev = sorted(range(1, 11), key=lambda n: (-sizes[n - 1], n))
    assert sort(raw, "SORT (REVERSE SIZE) UTF-8 ALL") == rev


@pytest.mark.parametrize(
    ("program", "want"),
    [
        ("THREAD REFERENCES UTF-8 ALL", b"* THREAD (2 1)(3 4)(6 5)((7)(8))(10 9)"),
        ("THREAD ORDEREDSUBJECT UTF-8 ALL", b"* THREAD (2 1)(9 10)(3 4)(6)(5)(7 8)"),
        ("THREAD REFS UTF-8 ALL", b"* THREAD (9)(3 4)(2 1)(6 5)((7)(8))(10)"),
        # Only the matches are threaded: without 2, the <b1@x> that 1 references is 9's
        # Message-ID, so 9 -> 1, and 9 (a forward) goes under 10 by subject: 10 9 1.
        ("THREAD REFERENCES UTF-8 NOT 2", b"* THREAD (3 4)(6 5)((7)(8))(10 9 1)"),
        ("THREAD ORDEREDSUBJECT US-ASCII TEXT \"gewp\"", b"* THREAD"),
        ("THREAD REFERENCES US-ASCII TEXT \"gewp\"", b"* THREAD"),
    ],
)
def test_thread(raw: RawClient, program: str, want: bytes) -> None:
    assert untagged(raw.command(b"t", program.encode()), b"THREAD") == want


def test_uid_forms(server: ServerThread, raw: RawClient) -> None:
    # Expunge message 2 so that UIDs and sequence numbers differ.
    assert raw.command(b"a", b"STORE 2 +FLAGS (\\Deleted)")[-1].startswith(b"a OK")
    assert raw.command(b"b", b"EXPUNGE")[-1].startswith(b"b OK")
    assert sort(raw, "UID SORT (DATE) UTF-8 ALL") == [9, 3, 4, 1, 6, 5, 7, 8, 10]
    assert sort(raw, "SORT (DATE) UTF-8 ALL") == [8, 2, 3, 1, 5, 4, 6, 7, 9]
    assert sort(raw, "UID SORT (DATE) UTF-8 UID 1:4") == [3, 4, 1]
    line = untagged(raw.command(b"t", b"UID THREAD REFERENCES UTF-8 ALL"), b"THREAD")
    # Without 2, <b1@x> is 9's Message-ID (see test_thread): 10 9 1.
    assert line == b"* THREAD (3 4)(6 5)((7)(8))(10 9 1)"
    line = untagged(raw.command(b"t", b"THREAD REFERENCES UTF-8 ALL"), b"THREAD")
    assert line == b"* THREAD (2 3)(5 4)((6)(7))(9 8 1)"


def test_no_expunge_during_sort_and_thread(server: ServerThread, raw: RawClient) -> None:
    other = server.login()
    other.select("INBOX")
    other.store("1", "+FLAGS", "\\Deleted")
    other.expunge()
    other.logout()
    # RFC 5256 §3: no EXPUNGE during SORT/THREAD; the ghost (1) is never in the result.
    lines = raw.command(b"t", b"SORT (SUBJECT) UTF-8 ALL")
    assert not any(b"EXPUNGE" in line for line in lines)
    assert untagged(lines, b"SORT") == b"* SORT 2 9 10 5 6 3 4 7 8"
    lines = raw.command(b"t", b"THREAD REFERENCES UTF-8 ALL")
    assert not any(b"EXPUNGE" in line for line in lines)
    assert untagged(lines, b"THREAD") == b"* THREAD (2)(3 4)(6 5)((7)(8))(10 9)"
    # The UID form may report it.
    lines = raw.command(b"t", b"UID SORT (SUBJECT) UTF-8 ALL")
    assert b"* 1 EXPUNGE" in lines
    assert untagged(lines, b"SORT") == b"* SORT 2 9 10 5 6 3 4 7 8"


@pytest.mark.parametrize(
    ("command", "status"),
    [
        (b"SORT (DATE) KOI8-R ALL", b"NO [BADCHARSET (UTF-8 US-ASCII)]"),
        (b"THREAD REFERENCES KOI8-R ALL", b"NO [BADCHARSET (UTF-8 US-ASCII)]"),
        (b"THREAD X-UNKNOWN UTF-8 ALL", b"BAD"),
        (b"SORT (BOGUS) UTF-8 ALL", b"BAD"),
        (b"SORT (DATE) UTF-8 YOUNGER 0", b"BAD"),
        (b"SORT DATE UTF-8 ALL", b"BAD"),
    ],
)
def test_errors_keep_the_connection(raw: RawClient, command: bytes, status: bytes) -> None:
    lines = raw.command(b"e", command)
    assert lines[-1].startswith(b"e " + status), lines
    assert raw.command(b"n", b"NOOP")[-1].startswith(b"n OK")


def test_not_selected(server: ServerThread) -> None:
    r = server.raw()
    assert r.command(b"l", f'LOGIN alice "{PASSWORD}"'.encode())[-1].startswith(b"l OK")
    assert r.command(b"t", b"SORT (DATE) UTF-8 ALL")[-1].startswith(b"t BAD")
    assert r.command(b"u", b"THREAD REFS UTF-8 ALL")[-1].startswith(b"u BAD")
    r.close()


def test_capabilities(server: ServerThread) -> None:
    c = server.login()
    typ, data = c.capability()
    caps = set(data[0].decode().split())
    assert {"SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES",
            "THREAD=REFS"} <= caps
    c.logout()


def test_imaplib_sort_and_thread(server: ServerThread) -> None:
    c: imaplib.IMAP4 = server.login()
    fill(c)
    c.select("INBOX")
    typ, data = c.sort("(REVERSE DATE)", "UTF-8", "ALL")
    assert typ == "OK" and data == [b"10 8 7 5 6 1 3 4 2 9"]
    typ, data = c.thread("REFERENCES", "UTF-8", "ALL")
    assert typ == "OK" and data == [b"(2 1)(3 4)(6 5)((7)(8))(10 9)"]
    c.logout()


def test_messages_stored_before_the_keys_get_them(server: ServerThread) -> None:
    """Messages stored without SORT keys (every row of a database from before migration
    8 has ``sort_version`` 0) are keyed from their stored header before a SORT: one kept
    inside the database, one in a file."""
    from crispin.server.ingest import analyse
    from crispin.storage.sorting import SORT_KEYS

    store = server.running.ctx.store

    async def old_style_append() -> None:
        user = await store.get_user("alice")
        assert user is not None
        box = await store.get_mailbox(user.id, "INBOX")
        assert box is not None
        for i, (raw, _) in enumerate(MESSAGES[:4]):
            cols = {k: v for k, v in analyse(raw).items() if k not in SORT_KEYS}
            store.inline_max = 10 if i == 2 else 1 << 16  # message 3 in a file
            await store.append_message(box.id, raw, (), None, cols)
        store.inline_max = 1 << 16
        assert await store.sort_keys_pending()

    server.call(old_style_append())
    r = server.raw()
    assert r.command(b"l", f'LOGIN alice "{PASSWORD}"'.encode())[-1].startswith(b"l OK")
    assert r.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    # Subjects BUDGET (1, 2), LUNCH? (3, 4); 3 has no Date: its INTERNALDATE (now) is last.
    assert sort(r, "SORT (REVERSE SUBJECT DATE) UTF-8 ALL") == [4, 3, 2, 1]
    assert sort(r, "SORT (DISPLAYFROM) UTF-8 ALL") == [1, 3, 2, 4]
    assert untagged(r.command(b"t", b"THREAD REFERENCES UTF-8 ALL"), b"THREAD") == \
        b"* THREAD (2 1)(3 4)"
    assert not server.call(store.sort_keys_pending())
    r.close()


def test_esort(raw: RawClient) -> None:
    """RFC 5267 §3: RETURN options on SORT give one ESEARCH response; MIN/MAX are the
    first/last in sort order, ALL is in sort order with ranges only where numbers ascend."""
    lines = raw.command(b"E01", b"UID SORT RETURN () (REVERSE DATE) UTF-8 UNDELETED "
                                b"UNKEYWORD $Junk")
    assert lines[:-1] == [b'* ESEARCH (TAG "E01") UID ALL 10,8,7,5:6,1,3:4,2,9']
    assert lines[-1].startswith(b"E01 OK")
    lines = raw.command(b"E02", b"SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL")
    assert lines[:-1] == [b'* ESEARCH (TAG "E02") MIN 1 MAX 8 COUNT 10']
    lines = raw.command(b"E03", b"SORT RETURN (MIN COUNT ALL) (DATE) UTF-8 SUBJECT nothing")
    assert lines[:-1] == [b'* ESEARCH (TAG "E03") COUNT 0']
    lines = raw.command(b"E04", b"SORT RETURN (SAVE) (DATE) UTF-8 ALL")
    assert lines[-1].startswith(b"E04 BAD")


def test_sort_modseq(raw: RawClient) -> None:
    """RFC 7162 §3.1.9/§3.1.10: SORT with MODSEQ appends the highest modseq of the result
    (ESEARCH MODSEQ item under ESORT); THREAD is unchanged."""
    assert raw.command(b"f", b"STORE 4 +FLAGS (x)")[-1].startswith(b"f OK")
    lines = raw.command(b"m", b"FETCH 1:10 (MODSEQ)")
    mods = {int(x.split()[1]): int(x.split(b"MODSEQ (")[1].split(b")")[0])
            for x in lines if b" FETCH (" in x}
    top = max(mods.values())
    assert mods[4] == top
    assert untagged(raw.command(b"t", b"SORT (DATE) UTF-8 MODSEQ 1 SUBJECT lunch"), b"SORT") \
        == b"* SORT 3 4 (MODSEQ %d)" % top
    assert untagged(raw.command(b"t", b"SORT (DATE) UTF-8 MODSEQ %d" % (top + 1)), b"SORT") \
        == b"* SORT"
    assert untagged(raw.command(b"t", b"SORT RETURN (MIN) (REVERSE DATE) UTF-8 MODSEQ 1"),
                    b"ESEARCH") == b'* ESEARCH (TAG "t") MIN 10 MODSEQ %d' % mods[10]
    assert untagged(raw.command(b"t", b"THREAD REFS UTF-8 MODSEQ 1 SUBJECT lunch"),
                    b"THREAD") == b"* THREAD (3 4)"


def test_server_start_fills_missing_keys(tmp_path: Path) -> None:
    """After an upgrade (rows with ``sort_version`` 0), the server fills the keys in the
    background at start, before anyone sorts."""
    from crispin.server.ingest import analyse
    from crispin.storage.sorting import SORT_KEYS

    first = ServerThread(tmp_path / "data")
    first.add_user("alice")
    store = first.running.ctx.store

    async def old_style_append() -> None:
        user = await store.get_user("alice")
        assert user is not None
        box = await store.get_mailbox(user.id, "INBOX")
        assert box is not None
        for raw, _ in MESSAGES:
            cols = {k: v for k, v in analyse(raw).items() if k not in SORT_KEYS}
            await store.append_message(box.id, raw, (), None, cols)
        assert await store.sort_keys_pending()

    first.call(old_style_append())
    first.stop()
    again = ServerThread(tmp_path / "data")
    try:
        task = again.running.backfill
        assert task is not None

        async def finished() -> int:
            return await task

        assert again.call(finished()) == len(MESSAGES)
        assert not again.call(again.running.ctx.store.sort_keys_pending())
        c = again.login()
        c.select("INBOX")
        typ, data = c.sort("(SUBJECT)", "UTF-8", "ALL")
        assert typ == "OK" and data == [b"1 2 9 10 5 6 3 4 7 8"]
        c.logout()
    finally:
        again.stop()
