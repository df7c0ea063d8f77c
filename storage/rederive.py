"""Recomputing parsed columns of messages already stored, when the parser that made them at
APPEND has improved: functions run on the database thread (see ``db.py``).

Storage does not parse (it knows no IMAP or MIME syntax): it hands out message headers in
id order and writes back the values the server computed, with the progress, in one
transaction per batch. Progress lives in ``meta`` under a key the caller names (one key
per change of the parser): the id of the last message done, so a restart resumes, and
``DONE`` once every message has been seen (messages stored later were parsed by the new
code already).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

from .db import Database
from .message_reads import HEADER_JOIN, HEADER_SQL

DONE = -1

REDERIVABLE = frozenset({"envelope", "hdr_from", "hdr_to", "hdr_cc", "hdr_bcc", "part_tree"})
"""The ``messages`` columns that may be rewritten: derived from the message alone."""

GLOBAL_PART = b'"message","global"'
"""How a message/global part shows in a stored part tree (media types stored lower case,
next to each other: the server's ``has_global``)."""


def progress(conn: sqlite3.Connection, key: str) -> int:
    """The id of the last message done (0: none yet), or ``DONE``."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return 0 if row is None else int(row[0])


def headers_after(conn: sqlite3.Connection, after_id: int, limit: int
                  ) -> list[tuple[int, bytes | None, str | None, int]]:
    """(id, header or None, path, header_size) of the next ``limit`` messages after
    ``after_id``; the header is None for a body kept in a file (read its first
    ``header_size`` bytes)."""
    rows = conn.execute(
        f"SELECT m.id, {HEADER_SQL}, m.path, m.header_size FROM messages m{HEADER_JOIN}"
        " WHERE m.id > ? ORDER BY m.id LIMIT ?", (after_id, limit)).fetchall()
    return [(int(r[0]), None if r[1] is None else bytes(r[1]), r[2], int(r[3] or 0))
            for r in rows]


def global_parts_after(conn: sqlite3.Connection, after_id: int, limit: int
                       ) -> tuple[list[tuple[int, bytes | None, str | None]], int]:
    """Messages after ``after_id`` whose part tree holds a message/global part: up to
    ``limit`` (id, inline body or None, file path), and the id the scan reached (the last
    message looked at, found or not; 0 when none was left).  Looks at no more than
    ``SCAN`` messages per call, so a batch stays short however rare such messages are."""
    # The body only of a message that matches: the others are passed over unread.
    rows = conn.execute(
        "SELECT id, hit, CASE WHEN hit THEN body END, CASE WHEN hit THEN path END FROM"
        " (SELECT id, instr(part_tree, ?) > 0 AS hit, body, path FROM messages"
        "  WHERE id > ? ORDER BY id LIMIT ?)",
        (GLOBAL_PART, after_id, SCAN)).fetchall()
    found = [(int(r[0]), None if r[2] is None else bytes(r[2]), r[3])
             for r in rows if r[1]][:limit]
    if len(found) == limit:
        return found, found[-1][0]
    return found, int(rows[-1][0]) if rows else 0


SCAN = 5_000
"""Messages looked at per ``global_parts_after`` call."""


def save(conn: sqlite3.Connection, key: str,
         rows: Sequence[tuple[int, Mapping[str, object]]], last_id: int) -> None:
    """Write the recomputed columns and the progress together."""
    for message_id, columns in rows:
        unknown = set(columns) - REDERIVABLE
        if unknown:
            raise ValueError(f"not rederivable: {sorted(unknown)}")
        if columns:
            names = list(columns)
            conn.execute(
                f"UPDATE messages SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
                [*(columns[n] for n in names), message_id])
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, last_id))


class RederiveMixin:
    """The ``Store`` side: each call one function on the database thread."""

    _db: Database
    data_dir: Path

    async def rederive_progress(self, key: str) -> int:
        return await self._db.read(partial(progress, key=key))

    async def headers_after(self, after_id: int, limit: int) -> list[tuple[int, bytes]]:
        """(id, header block) of the next ``limit`` messages in id order."""
        rows = await self._db.read(partial(headers_after, after_id=after_id, limit=limit))
        out = []
        for message_id, header, path, size in rows:
            if header is None and path is not None:
                header = await asyncio.to_thread(_file_head, self.data_dir / path, size)
            out.append((message_id, header or b""))
        return out

    async def global_parts_after(self, after_id: int, limit: int
                                 ) -> tuple[list[tuple[int, bytes]], int]:
        """(id, raw message) of up to ``limit`` messages after ``after_id`` holding a
        message/global part, and how far the scan reached (0: the end)."""
        rows, reached = await self._db.read(
            partial(global_parts_after, after_id=after_id, limit=limit))
        out = []
        for message_id, inline, path in rows:
            if inline is None and path is not None:
                inline = await asyncio.to_thread(_file_head, self.data_dir / path, -1)
            if inline:
                out.append((message_id, inline))
        return out, reached

    async def save_rederived(self, key: str,
                             rows: Sequence[tuple[int, Mapping[str, object]]],
                             last_id: int) -> None:
        await self._db.write(partial(save, key=key, rows=rows, last_id=last_id))


def _file_head(path: Path, size: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:  # swept meanwhile: nothing to recompute
        return b""
