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
"""

from __future__ import annotations

import sqlite3
from functools import partial

from .db import Database

NEXT_KEY = "fts_backlog_next"
LAST_KEY = "fts_backlog_last"

BACKLOG_SQL = (f"(SELECT value FROM meta WHERE key = '{NEXT_KEY}') AND"
               f" (SELECT value FROM meta WHERE key = '{LAST_KEY}')")
"""``x BETWEEN`` this: whether message id ``x`` is still waiting for the index."""


def backlog(conn: sqlite3.Connection) -> tuple[int, int]:
    """(next, last): the ids not yet indexed (empty when next > last)."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN (?, ?)",
                             (NEXT_KEY, LAST_KEY)).fetchall())
    return int(rows.get(NEXT_KEY, 1)), int(rows.get(LAST_KEY, 0))


def pending(conn: sqlite3.Connection) -> bool:
    first, last = backlog(conn)
    return first <= last


def index_batch(conn: sqlite3.Connection, limit: int) -> int:
    """Index up to ``limit`` messages of the backlog (in id order) and move the backlog
    past them, in the caller's write transaction; returns how many (0: it is empty)."""
    first, last = backlog(conn)
    if first > last:
        return 0
    ids = [r[0] for r in conn.execute(
        "SELECT message_id FROM message_text WHERE message_id BETWEEN ? AND ?"
        " ORDER BY message_id LIMIT ?", (first, last, limit))]
    upto = ids[-1] if len(ids) == limit else last
    conn.execute(
        "INSERT INTO message_text_fts (rowid, headers, body) SELECT message_id, headers, body"
        " FROM message_text WHERE message_id BETWEEN ? AND ?", (first, upto))
    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (upto + 1, NEXT_KEY))
    return len(ids)


class TextIndexMixin:
    """The ``Store`` methods of this module (one database trip each)."""

    _db: Database

    async def text_backlog(self) -> tuple[int, int]:
        """(next, last): message ids not yet in the full-text index (empty: next > last)."""
        return await self._db.read(backlog)

    async def text_index_pending(self) -> bool:
        return await self._db.read(pending)

    async def index_text_backlog(self, limit: int) -> int:
        """Index the next ``limit`` messages of the backlog, after the sessions' queued
        writes (it costs ~1 ms of CPU a message); returns how many (0: none left)."""
        await self._db.quiet()
        return await self._db.write(partial(index_batch, limit=limit))
