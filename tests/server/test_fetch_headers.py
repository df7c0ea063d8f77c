"""The bulk header fetch (issue 14, ``server/commands/fetch_headers.py``) answers byte for
byte what the general FETCH path answers, over real connections.

The general path still serves ``BODY[...]`` (not PEEK): in an EXAMINEd mailbox it sets no
\\Seen (RFC 3501 §6.3.2), so the same session can ask both ways and the answers must be
equal, and equal to what ``crispin.protocol.mime.filter_header`` cuts from the message."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from crispin.protocol.mime import filter_header, parse_message
from crispin.server import backfill
from crispin.server.commands import fetch_headers
from crispin.server.header_backfill import HeaderBlockJob
from crispin.storage import header_reads
from tests.server.harness import ServerThread
from tests.server.imap_client import Imap, client_factory
from tests.server.imap_client import fill as fill_many

THUNDERBIRD = ("From To Cc Subject Date Message-ID Priority X-Priority References "
               "Newsgroups In-Reply-To Content-Type Reply-To")

TRICKY = [
    # folded fields, a duplicate, fields the list does not name, 8-bit bytes
    b"Received: from a\r\n\tby b; Mon, 1 Jan 2024 08:00:00 +0000\r\n"
    b"Subject: one\r\n two\r\n\tthree\r\nFrom: Caf\xc3\xa9 <a@x>\r\nX-Other: \xff\r\n"
    b"subject : again\r\nTo: b@y,\r\n c@z\r\n\r\nbody\r\n",
    # LF-only line ends and a line without a colon
    b"From: a@x\nTo: b@y\n\tcontinued\nNoColonLine\nSubject: lf\n\nbody\n",
    # none of the fields asked for
    b"X-Only: 1\r\n\r\nbody\r\n",
    # no blank line and no body
    b"Subject: no body\r\nFrom: a@x\r\n",
    b"Subject: no body and no newline",
    # CR-only line ends
    b"From: a@x\rTo: b@y\rSubject: cr\r\rbody\r",
    # Priority and X-Priority, Reply-To, References, and a prefix that is not one
    b"Priority: urgent\r\nX-Priority: 1\r\nReply-To: r@x\r\nReferences: <a@b>\r\n"
    b" <c@d>\r\nTo-Do: no\r\n\r\nx\r\n",
]
ITEM_LISTS = [
    f"UID RFC822.SIZE FLAGS BODY[HEADER.FIELDS ({THUNDERBIRD})]",
    "BODY[HEADER]",
    "FLAGS BODY[HEADER.FIELDS.NOT (Subject Received)] RFC822.SIZE",
    "BODY[HEADER.FIELDS (Subject From)]<3.20> UID",
    "BODY[HEADER.FIELDS (subject)] BODY[HEADER.FIELDS.NOT (SUBJECT)] MODSEQ",
]


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def peek(items: str) -> str:
    return items.replace("BODY[", "BODY.PEEK[")


def fill(server: ServerThread, c: Imap) -> list[bytes]:
    """TRICKY appended, the fourth one kept in a file (a body above inline_max)."""
    store = server.running.ctx.store
    for i, raw in enumerate(TRICKY):
        store.inline_max = 10 if i == 3 else 256 * 1024
        assert c.append("INBOX", raw, flags="\\Flagged $Label1" if i % 2 else None).ok
    store.inline_max = 256 * 1024
    return TRICKY


def both_ways(c: Imap, command: str) -> tuple[Any, Any]:
    """``command`` with BODY[...] (general path) and with BODY.PEEK[...] (bulk path)."""
    general = c.cmd(command)
    bulk = c.cmd(peek(command))
    return general, bulk


@pytest.mark.parametrize("items", ITEM_LISTS)
def test_bulk_path_equals_general_path(server: ServerThread, imap: Any, items: str) -> None:
    c = imap()
    fill(server, c)
    c.cmd("ENABLE CONDSTORE")
    assert c.cmd("EXAMINE INBOX").ok
    for command in (f"FETCH 1:* ({items})", f"UID FETCH 2:* ({items})",
                    f"FETCH 6,2,4 ({items})"):
        general, bulk = both_ways(c, command)
        assert general.ok and bulk.ok, (general, bulk)
        assert len(bulk.untagged) == (len(TRICKY) - 1 if "2:*" in command else
                                      3 if "6,2" in command else len(TRICKY))
        assert bulk.untagged == general.untagged


def test_header_fields_are_what_filter_header_cuts(server: ServerThread, imap: Any) -> None:
    c = imap()
    fill(server, c)
    c.select()
    fields = tuple(THUNDERBIRD.upper().split())
    r = c.cmd(f"UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ({THUNDERBIRD})])")
    assert r.ok and len(r.untagged) == len(TRICKY)
    for n, (line, raw) in enumerate(zip(r.untagged, TRICKY, strict=True), 1):
        tree = parse_message(raw).part_tree
        header = raw[:tree.body_start - tree.header_start]
        want = filter_header(header, fields, False)
        flags = b"\\Flagged $Label1 \\Recent" if (n - 1) % 2 else b"\\Recent"
        assert line == (b"* %d FETCH (UID %d RFC822.SIZE %d FLAGS (%s) BODY[HEADER.FIELDS "
                        b"(%s)] {%d}\r\n%s)" % (n, n, len(raw), flags, THUNDERBIRD.encode(),
                                                len(want), want))


def test_peek_sets_no_seen_and_body_does(server: ServerThread, imap: Any) -> None:
    c = imap()
    fill(server, c)
    c.select()
    r = c.cmd("FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])")
    assert r.ok and b"FLAGS" not in r.untagged[0]
    assert b"\\Seen" not in c.cmd("FETCH 1 FLAGS").untagged[0]
    r = c.cmd("FETCH 1 (BODY[HEADER.FIELDS (Subject)])")
    # RFC 3501 §6.4.5: BODY[...] sets \Seen, and the FETCH reports the flag it changed.
    assert r.ok and b"FLAGS (\\Seen \\Recent)" in r.untagged[0]


def test_expunged_by_another_session(server: ServerThread, imap: Any) -> None:
    """RFC 3501 §7.4.1: no EXPUNGE during FETCH; the expunged message keeps its number and
    is answered from its tombstone (RFC 2180 §4.1), by both paths alike."""
    a, b = imap(), imap()
    fill(server, a)
    assert a.cmd("EXAMINE INBOX").ok
    b.select()
    assert b.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").ok
    items = f"FLAGS BODY[HEADER.FIELDS ({THUNDERBIRD})]"
    general, bulk = both_ways(a, f"FETCH 1:3 ({items})")
    assert bulk.untagged == general.untagged
    assert bulk.tagged.split(b" ", 1)[1] == general.tagged.split(b" ", 1)[1]
    assert bulk.code() == "EXPUNGEISSUED"
    assert bulk.untagged[1] == (b"* 2 FETCH (FLAGS (\\Flagged \\Deleted $Label1 \\Recent) "
                                b"BODY[HEADER.FIELDS (" + THUNDERBIRD.encode() + b")] NIL)")
    assert not any(re.match(rb"\* \d+ EXPUNGE", u) for u in bulk.untagged)
    # A UID FETCH skips it (RFC 3501 §6.4.8), and reports the EXPUNGE after it.
    bulk = a.cmd(peek(f"UID FETCH 1:3 ({items})"))
    fetched = [u for u in bulk.untagged if b"FETCH" in u]
    assert [re.search(rb"\(UID (\d+)", u).group(1) for u in fetched] == [b"1", b"3"]
    assert bulk.kinds()[-1] == "EXPUNGE"


def test_rows_from_before_migration_13_are_read_then_backfilled(
        server: ServerThread, imap: Any) -> None:
    """Messages stored before migration 13 have no size beside their header block, and a
    body kept in a file no block at all: FETCH reads them from ``messages`` and the file
    until the backfill job stores them, resumably."""
    c = imap()
    fill(server, c)
    assert c.cmd("EXAMINE INBOX").ok
    command = f"FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ({THUNDERBIRD})])"
    before = c.cmd(command)
    store = server.running.ctx.store
    db = store._db

    def rows() -> list[tuple[int, int | None, int]]:
        return server.call(db.read(lambda conn: conn.execute(
            "SELECT message_id, size, length(header) FROM message_headers ORDER BY 1"
        ).fetchall()))

    stored = rows()
    assert len(stored) == len(TRICKY) and all(size is not None for _, size, _ in stored)
    file_id = server.call(db.read(lambda conn: conn.execute(
        "SELECT id FROM messages WHERE path IS NOT NULL").fetchone()[0]))

    def downgrade(conn: Any) -> None:
        conn.execute("UPDATE message_headers SET size = NULL")
        conn.execute("DELETE FROM message_headers WHERE message_id = ?", (file_id,))
        conn.execute("DELETE FROM meta WHERE key = 'header_blocks'")

    server.call(db.write(downgrade))
    assert c.cmd(command).untagged == before.untagged
    # Two messages per batch: progress is saved with each, a new job resumes from it.
    job = HeaderBlockJob()
    assert server.call(job.pending(store))
    first = server.call(job.next_batch(store, 2))
    server.call(job.save(store, [(mid, job.compute(h)) for mid, h in first]))
    again = HeaderBlockJob()
    assert server.call(again.pending(store)) and again.after == job.last > 0
    done = server.call(backfill.run(store, again, batch=2))
    assert len(first) + done == len(TRICKY)
    assert rows() == stored
    assert not server.call(HeaderBlockJob().pending(store))
    assert c.cmd(command).untagged == before.untagged


def test_many_messages_answered_in_slices(imap: Any) -> None:
    """More messages than one slice (the loop is yielded every 100) and than one batch
    (500): every message once, in order, as the general path answers them."""
    c = imap()
    fill_many(c, 620)
    assert c.cmd("EXAMINE INBOX").ok
    general, bulk = both_ways(c, "FETCH 1:* (UID FLAGS BODY[HEADER.FIELDS (Subject)])")
    assert len(bulk.untagged) == 620 and bulk.untagged == general.untagged
    assert bulk.untagged[-1].startswith(b"* 620 FETCH (UID 620 ")


@pytest.fixture
def keeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """Selections kept from a FETCH of 3 messages on (not 1,000), written 2 at a time."""
    monkeypatch.setattr(fetch_headers, "KEEP_MIN", 3)
    monkeypatch.setattr(fetch_headers, "KEEP_WRITE", 2)


def kept_written(server: ServerThread) -> None:
    """Wait until the background writes of kept selections are done."""
    async def drained() -> None:
        await asyncio.gather(*list(fetch_headers._keeping))

    server.call(drained())


def kept_rows(server: ServerThread) -> list[tuple[str, int, bytes]]:
    db = server.running.ctx.store._db
    return server.call(db.read(lambda conn: conn.execute(
        "SELECT l.fields, s.message_id, s.data FROM header_selections s"
        " JOIN header_selection_lists l ON l.id = s.list_id ORDER BY 1, 2").fetchall()))


def test_selections_are_kept_and_read_back(server: ServerThread, imap: Any,
                                           keeping: None) -> None:
    """A big header fetch keeps what it selected (migration 19); the next one with the same
    field list (in any order and case) reads it, byte for byte the same answer, partial
    fetches included; the general path and other lists are not affected."""
    c = imap()
    fill(server, c)
    assert c.cmd("EXAMINE INBOX").ok
    command = f"UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ({THUNDERBIRD})])"
    first = c.cmd(command)
    kept_written(server)
    rows = kept_rows(server)
    assert len(rows) == len(TRICKY) and len({f for f, _, _ in rows}) == 1
    second = c.cmd(command)
    assert second.untagged == first.untagged
    # The kept bytes are what is read: changed behind the server's back, the answer shows
    # it (the same field list named otherwise too); the general path still filters.
    db = server.running.ctx.store._db
    server.call(db.write(lambda conn: conn.execute(
        "UPDATE header_selections SET data = CAST('X: y' || char(13, 10, 13, 10) AS BLOB)")))
    shuffled = " ".join(reversed(THUNDERBIRD.lower().split()))
    r = c.cmd(f"FETCH 2 (BODY.PEEK[HEADER.FIELDS ({shuffled} from)]<1.3>)")
    assert r.untagged == [b"* 2 FETCH (BODY[HEADER.FIELDS (" + shuffled.encode()
                          + b" from)]<1> {3}\r\n: y)"], r
    general = c.cmd(f"FETCH 2 (BODY[HEADER.FIELDS ({THUNDERBIRD})])")
    assert b"X: y" not in general.untagged[0]
    # A negated list is another list; a second section makes the command keep nothing.
    other = c.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS.NOT (Subject)])")
    kept_written(server)
    assert len({f for f, _, _ in kept_rows(server)}) == 2
    assert other.untagged == c.cmd("FETCH 1:* (BODY[HEADER.FIELDS.NOT (Subject)])").untagged
    before = len(kept_rows(server))
    c.cmd("FETCH 1:* (BODY.PEEK[HEADER.FIELDS (To)] BODY.PEEK[HEADER.FIELDS (Cc)])")
    kept_written(server)
    assert len(kept_rows(server)) == before


def test_few_lists_are_kept(server: ServerThread, imap: Any, keeping: None) -> None:
    """At most MAX_LISTS field lists are kept: a client asking ever new lists does not grow
    the database; their answers are filtered every time, and right."""
    c = imap()
    fill(server, c)
    assert c.cmd("EXAMINE INBOX").ok
    names = ["Subject", "From", "To", "Cc", "Date", "Reply-To"]
    for name in names:
        bulk = c.cmd(f"FETCH 1:* (BODY.PEEK[HEADER.FIELDS ({name})])")
        kept_written(server)
        assert bulk.untagged == c.cmd(f"FETCH 1:* (BODY[HEADER.FIELDS ({name})])").untagged
    lists = {f for f, _, _ in kept_rows(server)}
    assert len(lists) == header_reads.MAX_LISTS < len(names)


def test_kept_selection_of_an_expunged_message(server: ServerThread, imap: Any,
                                               keeping: None) -> None:
    """A message expunged by another session is answered from its tombstone (RFC 2180
    §4.1) whether or not its selection is kept; once its body is reclaimed, the kept
    row goes with it (ON DELETE CASCADE)."""
    a, b = imap(), imap()
    fill(server, a)
    assert a.cmd("EXAMINE INBOX").ok
    b.select()
    command = f"FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS ({THUNDERBIRD})])"
    a.cmd(command)
    kept_written(server)
    assert b.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)").ok and b.cmd("EXPUNGE").ok
    general, bulk = both_ways(a, f"FETCH 1:* (FLAGS BODY[HEADER.FIELDS ({THUNDERBIRD})])")
    assert bulk.untagged == general.untagged and bulk.code() == "EXPUNGEISSUED"
    assert bulk.untagged[1].endswith(b"NIL)")
    store = server.running.ctx.store
    server.call(store.reclaim())
    assert len(kept_rows(server)) == len(TRICKY) - 1
