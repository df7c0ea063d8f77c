"""The full-text index's backlog: messages stored before the index existed (issue 15).

Migration 9 made ``message_text_fts`` (FTS5, trigram) over ``message_text``; building it
for the mail already stored took 146 s of CPU for 100,000 messages, at database open, so a
large store upgraded started slowly once.  Now the migration only records which messages
are not yet indexed, and the server indexes them in the background, in batches
(``crispin.server.backfill``), while it serves:

- ``meta`` keys ``fts_backlog_next`` and ``fts_backlog_last`` (migration 14): the messages
  whose id is in ``[next, last]`` are not in the index; every other ``message_text`` row
  is.  ``last`` is the highest id at migration 9 (0 for a store created since, or already
  indexed before): new mail (higher ids, ``messages.id`` is AUTOINCREMENT) is indexed by the
  triggers at APPEND, in the same transaction.  The triggers leave the range alone (an FTS5
  delete of a document that was never indexed would corrupt the index).
- :func:`index_batch` indexes the next messages of the range and moves ``next`` past them
  in one write transaction: a restart resumes, and a reader sees the index and the range
  of one moment.
- SEARCH BODY/TEXT (``search.py``) takes as candidates the index's matches *and* the
  messages of the range, and tests every candidate with the substring test: the answer is
  the scan's at every moment of the backfill; only its speed grows as the range shrinks.

The keys are never deleted: once done, ``next = last + 1`` (an empty range), which the
triggers and the search read like any other.

New mail (issue 12, migration 15) joins the index the same way rather than in the
delivery's transaction: ``meta`` key ``fts_tail`` is the lowest id not yet indexed at the
top, every message id ``>= tail`` waits for the index, and :func:`index_batch` takes those
after the old range, moving ``tail`` past them.  A delivery so pays no FTS5 insert (a third
of the writer thread's time per 10 KB message, bench/README.md "Mail in"); the server
(``crispin.server.text_index``) indexes new mail in batches once the sessions' writes are
done, and the search scans the tail meanwhile, exactly as it scans the old range.
"""

from __future__ import annotations

import sqlite3
from functools import partial

from .db import Database

NEXT_KEY = "fts_backlog_next"
LAST_KEY = "fts_backlog_last"
TAIL_KEY = "fts_tail"

BACKLOG_SQL = (f"(SELECT value FROM meta WHERE key = '{NEXT_KEY}') AND"
               f" (SELECT value FROM meta WHERE key = '{LAST_KEY}')")
"""``x BETWEEN`` this: whether message id ``x`` is in the old range (migration 14)."""


def unindexed_sql(column: str) -> str:
    """SQL true when message id ``column`` is not yet in the index: in the old range, or at
    or above the tail (new mail not indexed yet)."""
    return (f"({column} BETWEEN {BACKLOG_SQL}"
            f" OR {column} >= (SELECT value FROM meta WHERE key = '{TAIL_KEY}'))")


def backlog(conn: sqlite3.Connection) -> tuple[int, int]:
    """(next, last): the ids not yet indexed (empty when next > last)."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                             (NEXT_KEY, LAST_KEY)).fetchall())
    return int(rows.get(NEXT_KEY, 1)), int(rows.get(LAST_KEY, 0))


def tail(conn: sqlite3.Connection) -> int:
    """The lowest id of new mail not yet indexed: every message id ``>=`` it waits."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (TAIL_KEY,)).fetchone()
    return int(row[0])


def unindexed(conn: sqlite3.Connection) -> int:
    """How many stored messages the index does not hold yet (old range and new mail)."""
    first, last = backlog(conn)
    (n,) = conn.execute(
        "SELECT count(*) FROM message_text WHERE message_id BETWEEN ? AND ?"
        " OR message_id >= ?", (first, last, tail(conn))).fetchone()
    return int(n)


def pending(conn: sqlite3.Connection) -> bool:
    first, last = backlog(conn)
    if first <= last:
        return True
    return conn.execute("SELECT 1 FROM message_text WHERE message_id >= ? LIMIT 1",
                        (tail(conn),)).fetchone() is not None


def index_batch(conn: sqlite3.Connection, limit: int) -> int:
    """Index up to ``limit`` messages not yet indexed (the old range first, then new mail,
    in id order) and move the range and the tail past them, in the caller's write
    transaction; returns how many (0: nothing was waiting)."""
    done = 0
    first, last = backlog(conn)
    if first <= last:
        done, upto = _index_ids(conn, first, last, limit)
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (upto + 1, NEXT_KEY))
    if done < limit:
        start = tail(conn)
        # Any id above the highest stored one is "waiting": none exists yet.
        count, upto = _index_ids(conn, start, None, limit - done)
        if count:
            conn.execute("UPDATE meta SET value = ? WHERE key = ?", (upto + 1, TAIL_KEY))
        done += count
    return done


def _index_ids(conn: sqlite3.Connection, first: int, last: int | None,
               limit: int) -> tuple[int, int]:
    """Index up to ``limit`` ``message_text`` rows of ids ``first..last`` (no upper bound:
    None); returns (how many, the id the indexed part ends at)."""
    high = -1 if last is None else last
    ids = [r[0] for r in conn.execute(
        "SELECT message_id FROM message_text WHERE message_id >= ?"
        " AND (? < 0 OR message_id <= ?) ORDER BY message_id LIMIT ?",
        (first, high, high, limit))]
    if not ids:
        return 0, first - 1 if last is None else last
    upto = ids[-1] if len(ids) == limit or last is None else last
    conn.execute(
        "INSERT INTO message_text_fts (rowid, headers, body) SELECT message_id, headers, body"
        " FROM message_text WHERE message_id BETWEEN ? AND ?", (first, upto))
    return len(ids), upto


class TextIndexMixin:
    """The ``Store`` methods of this module (one database trip each)."""

    _db: Database

    async def text_backlog(self) -> tuple[int, int]:
        """(next, last): message ids not yet in the full-text index (empty: next > last)."""
        return await self._db.read(backlog)

    async def text_index_pending(self) -> bool:
        return await self._db.read(pending)

    async def text_unindexed(self) -> int:
        """How many stored messages are not in the full-text index yet."""
        return await self._db.read(unindexed)

    async def index_text_backlog(self, limit: int) -> int:
        """Index the next ``limit`` messages not yet indexed (the old range, then new
        mail), after the sessions' queued writes (it costs ~1 ms of CPU a message);
        returns how many (0: none left)."""
        await self._db.quiet()
        return await self._db.write(partial(index_batch, limit=limit))
