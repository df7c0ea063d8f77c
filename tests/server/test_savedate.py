"""SAVEDATE (RFC 8514): FETCH SAVEDATE and SEARCH SAVEDBEFORE/SAVEDON/SAVEDSINCE/
SAVEDATESUPPORTED, as transcripts of the RFC's examples on real sockets."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

from crispin.protocol import parse_datetime
from tests.server.harness import PASSWORD, RawClient, ServerThread

LOGIN = b'LOGIN alice "' + PASSWORD.encode() + b'"'
OLD = b'"01-Jan-2015 18:50:53 +0100"'
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def login(server: ServerThread) -> RawClient:
    c = server.raw()
    assert c.command(b"l", LOGIN)[-1].startswith(b"l OK")
    return c


def append(c: RawClient, mailbox: bytes, msg: bytes, date_time: bytes = OLD) -> None:
    c.send(b"ap APPEND " + mailbox + b" " + date_time + b" {%d+}\r\n" % len(msg) + msg
           + b"\r\n")
    assert c.until_tagged(b"ap")[-1].startswith(b"ap OK")


def saved(c: RawClient, seq: bytes = b"1:*") -> list[datetime]:
    lines = c.command(b"f", b"FETCH " + seq + b" (SAVEDATE)")
    assert lines[-1] == b"f OK FETCH completed", lines
    out = []
    for line in lines[:-1]:
        m = re.fullmatch(rb'\* \d+ FETCH \(SAVEDATE "([^"]+)"\)', line)
        assert m is not None, line
        out.append(parse_datetime(m[1].decode()))
    return out


def imap_date(d: date) -> bytes:
    return f"{d.day}-{MONTHS[d.month - 1]}-{d.year}".encode()


def msg(n: int) -> bytes:
    return b"Subject: m%d\r\n\r\nbody %d\r\n" % (n, n)


def test_fetch_savedate_is_when_saved_here_not_the_internal_date(server: ServerThread) -> None:
    c = login(server)
    assert b"SAVEDATE" in c.command(b"a", b"CAPABILITY")[0].split()
    c.command(b"c", b"CREATE Trash")
    before = int(time.time())
    append(c, b"INBOX", msg(1))
    append(c, b"INBOX", msg(2))
    after = int(time.time())
    c.command(b"s", b"SELECT INBOX")
    # RFC 8514 §4.2's example, shaped like it: a date-time string in UTC
    line = c.command(b"A101", b"FETCH 2 (SAVEDATE)")
    assert re.fullmatch(rb'\* 2 FETCH \(SAVEDATE "[ 0-9]\d-[A-Z][a-z]{2}-\d{4} '
                        rb'\d\d:\d\d:\d\d \+0000"\)', line[0]), line
    assert line[1] == b"A101 OK FETCH completed"
    first = saved(c)
    assert all(before <= d.timestamp() <= after for d in first), (before, first, after)
    internal = c.command(b"i", b"FETCH 1 (INTERNALDATE SAVEDATE UID)")[0]
    assert b'INTERNALDATE " 1-Jan-2015 18:50:53 +0100"' in internal and b"UID 1" in internal
    # §3: COPY and MOVE give the new copy the time it arrived; the source keeps its own
    copied_at = int(time.time())
    assert c.command(b"cp", b"COPY 1 Trash")[-1].startswith(b"cp OK")
    assert c.command(b"mv", b"MOVE 2 Trash")[-1].startswith(b"mv OK")
    moved_by = int(time.time())
    assert saved(c) == first[:1]
    c.command(b"t", b"SELECT Trash")
    for d in saved(c):
        assert copied_at <= d.timestamp() <= moved_by
    # UID FETCH, and a mix with the items of the general path
    assert re.fullmatch(rb'\* 1 FETCH \(UID 1 SAVEDATE "[^"]+" RFC822\.SIZE \d+\)',
                        c.command(b"u", b"UID FETCH 1 (SAVEDATE RFC822.SIZE)")[0])
    c.close()


def test_search_by_save_date(server: ServerThread) -> None:
    """RFC 8514 §4.3: the day of the save date, not of the internal date (here 2015)."""
    c = login(server)
    for n in (1, 2, 3):
        append(c, b"INBOX", msg(n))
    c.command(b"s", b"SELECT INBOX")
    day = saved(c)[0].astimezone(UTC).date()  # the server's day, not the test's clock
    assert len({d.astimezone(UTC).date() for d in saved(c)} - {day, day + timedelta(1)}) == 0
    on = c.command(b"A102", b"SEARCH SAVEDON " + imap_date(day))
    assert on[0].startswith(b"* SEARCH 1") and on[1] == b"A102 OK SEARCH completed"
    assert c.command(b"A103", b"SEARCH SAVEDSINCE " + imap_date(day))[0] == b"* SEARCH 1 2 3"
    assert c.command(b"b", b"SEARCH SAVEDBEFORE " + imap_date(day))[0] == b"* SEARCH"
    assert c.command(b"b2", b"SEARCH SAVEDSINCE " + imap_date(day + timedelta(2)))[0] \
        == b"* SEARCH"
    assert c.command(b"b3", b'SEARCH SAVEDBEFORE "' + imap_date(day + timedelta(2))
                     + b'"')[0] == b"* SEARCH 1 2 3"
    # the internal date is another thing
    assert c.command(b"d", b"SEARCH BEFORE 1-Jan-2016")[0] == b"* SEARCH 1 2 3"
    assert c.command(b"e", b"SEARCH SAVEDBEFORE 1-Jan-2016")[0] == b"* SEARCH"
    # every mailbox here supports it
    assert c.command(b"g", b"SEARCH SAVEDATESUPPORTED")[0] == b"* SEARCH 1 2 3"
    assert c.command(b"h", b"SEARCH NOT SAVEDATESUPPORTED")[0] == b"* SEARCH"
    assert c.command(b"i", b"UID SEARCH RETURN (COUNT) SAVEDSINCE " + imap_date(day))[0] \
        .endswith(b"UID COUNT 3")
    # a bad date is BAD and the connection goes on
    assert c.command(b"j", b"SEARCH SAVEDON 31-Feb-2020")[-1].startswith(b"j BAD")
    assert c.command(b"k", b"SEARCH SAVEDSINCE")[-1].startswith(b"k BAD")
    assert c.command(b"n", b"NOOP")[-1].startswith(b"n OK")
    c.close()


def test_save_date_of_a_message_another_session_expunged(server: ServerThread) -> None:
    """RFC 2180 §4.1 / RFC 8514 §5: the expunged message answers SAVEDATE NIL."""
    a, b = login(server), login(server)
    append(a, b"INBOX", msg(1))
    append(a, b"INBOX", msg(2))
    a.command(b"s", b"SELECT INBOX")
    b.command(b"s", b"SELECT INBOX")
    b.command(b"d", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    b.command(b"e", b"EXPUNGE")
    lines = a.command(b"f", b"FETCH 1:2 (SAVEDATE)")
    assert lines[0] == b"* 1 FETCH (SAVEDATE NIL)"
    assert lines[1].startswith(b'* 2 FETCH (SAVEDATE "')
    a.close()
    b.close()
