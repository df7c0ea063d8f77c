"""Header blocks with their message sizes: the rows of a first-sync header fetch (issue 14).

Every client opening a folder fetches, for every message, its UID, flags, size and a few
header fields (Thunderbird: ``UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (...)]``).
The ``messages`` row holds the size, but also the whole body, so reaching it walks pages a
header fetch does not need; ``message_headers`` (migration 6) holds the header block, and
since migration 13 the size beside it: one range scan of ``mailbox_messages`` and one
small-row lookup per message, as plain tuples (no per-message objects).

A ``message_headers`` row may lack its size (stored before migration 13; the backfill job
``crispin.server.header_backfill`` fills them) and a body kept in a file may have no row at
all (stored before this change): those few come from ``messages`` in a second query.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .db import Database
from .messages import _uid_json
from .private import columns, params, viewer_mask
from .rederive import progress

HeaderRow = tuple[int, int, str, int, int, bytes | None, bytes | None, int, str | None, int]
"""(uid, flag bits, keywords, modseq, size, header block, selection, message id, body file
path, header size). The selection is the cached answer of the field list asked for
(``header_selections``), or None; the header block is None when the selection is there,
and for a body kept in a file that has no stored header (read ``header size`` bytes of the
file); the path is None otherwise."""

# A range read pays for every message between the lowest and highest UID asked for; when
# the set is sparser than this, the UIDs are looked up one by one (as fetch_flags does).
DENSE = 2

MAX_LISTS = 4
"""Field lists whose selections are kept (``header_selections``, migration 19). Clients
ask one list each on first sync (Thunderbird, Apple Mail, Outlook...); a client asking
ever new lists must not grow the database, so beyond these the selection is made at every
fetch, as it is for a list until it is registered."""


def header_rows(
    conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int], viewer: int | None = None,
    fields: str | None = None,
) -> list[HeaderRow]:
    """The rows of ``uids`` (ascending) that exist, in UID order, with the selection of
    the field list ``fields`` (canonical text) where it is kept (the header block is not
    read then).
    Plain tuples straight from SQLite: no per-row Python work in the common case."""
    if not uids:
        return []
    pmask = viewer_mask(conn, mailbox_id, viewer)
    join, cols = columns(pmask)
    low, high = uids[0], uids[-1]
    if fields is None:
        base = (f"SELECT mm.uid, {cols}, h.size, h.header, NULL, mm.message_id, NULL, 0"
                f" FROM mailbox_messages mm{join}"
                " LEFT JOIN message_headers h ON h.message_id = mm.message_id"
                " WHERE mm.mailbox_id = ?")
        sel_params: tuple[str, ...] = ()
    else:
        # A kept selection carries the size: the header block's row is looked up (by
        # the subqueries, evaluated only then) for the messages without one.
        header = "(SELECT h.{} FROM message_headers h WHERE h.message_id = mm.message_id)"
        base = (f"SELECT mm.uid, {cols}, ifnull(s.size, {header.format('size')}),"
                f" CASE WHEN s.data IS NULL THEN {header.format('header')} END, s.data,"
                f" mm.message_id, NULL, 0 FROM mailbox_messages mm{join}"
                " LEFT JOIN header_selections s ON s.message_id = mm.message_id"
                " AND s.list_id = (SELECT id FROM header_selection_lists WHERE fields = ?)"
                " WHERE mm.mailbox_id = ?")
        sel_params = (fields,)
    if high - low < DENSE * len(uids):
        rows: list[Any] = conn.execute(
            base + " AND mm.uid BETWEEN ? AND ? ORDER BY mm.uid",
            params(pmask, viewer, *sel_params, mailbox_id, low, high)).fetchall()
        if high - low + 1 != len(uids):
            wanted = set(uids)
            rows = [r for r in rows if r[0] in wanted]
    else:
        rows = conn.execute(
            base + " AND mm.uid IN (SELECT value FROM json_each(?)) ORDER BY mm.uid",
            params(pmask, viewer, *sel_params, mailbox_id, _uid_json(uids))).fetchall()
    lacking = [r[7] for r in rows if r[4] is None or (r[5] is None and r[6] is None)]
    if not lacking:
        return rows
    found = {
        int(mid): (int(size), header, path, int(header_size))
        for mid, size, header, path, header_size in conn.execute(
            "SELECT m.id, m.size,"
            " CASE WHEN m.path IS NULL THEN ifnull(substr(m.body, 1, m.header_size), X'') END,"
            " m.path, m.header_size FROM messages m"
            " WHERE m.id IN (SELECT value FROM json_each(?))",
            (_uid_json(lacking),))
    }
    out: list[HeaderRow] = []
    for r in rows:
        if r[4] is not None and (r[5] is not None or r[6] is not None):
            out.append(r)
            continue
        size, header, path, header_size = found[r[7]]
        if r[5] is not None or r[6] is not None:
            header, path = r[5], None
        out.append((r[0], r[1], r[2], r[3], size,
                    None if header is None else bytes(header), r[6], r[7], path,
                    header_size))
    return out


def store_header_selections(conn: sqlite3.Connection, fields: str,
                            rows: Sequence[tuple[int, bytes, int]]) -> None:
    """Keep (message id, selected bytes, message size) rows of the field list ``fields``,
    registering
    it if fewer than ``MAX_LISTS`` are kept (else nothing is stored). A message deleted
    meanwhile (reclaimed) is skipped, one stored by another fetch meanwhile is kept."""
    row = conn.execute("SELECT id FROM header_selection_lists WHERE fields = ?",
                       (fields,)).fetchone()
    if row is None:
        count = conn.execute("SELECT count(*) FROM header_selection_lists").fetchone()[0]
        if count >= MAX_LISTS:
            return
        list_id = conn.execute("INSERT INTO header_selection_lists (fields) VALUES (?)",
                               (fields,)).lastrowid
    else:
        list_id = row[0]
    conn.executemany(
        "INSERT OR IGNORE INTO header_selections (message_id, list_id, data, size)"
        " SELECT id, ?, ?, ? FROM messages WHERE id = ?",
        [(list_id, data, size, mid) for mid, data, size in rows],
    )


PROGRESS_KEY = "header_blocks"
"""``meta`` key of the backfill: the id of the last message done, or ``DONE``."""


def header_blocks_progress(conn: sqlite3.Connection) -> int:
    """The id of the last message the backfill did (0: none yet), or ``DONE``: one read
    at each start once it finished (messages stored since get their row at APPEND)."""
    return progress(conn, PROGRESS_KEY)


def messages_without_header_block(
    conn: sqlite3.Connection, data_dir: Path, after: int, limit: int
) -> tuple[list[tuple[int, bytes]], int]:
    """Of the next ``limit`` messages after id ``after``, those whose header block or its
    size is not stored: (message id, header block); and the last id looked at (``after``
    when none is left). A body file that cannot be read is left out (FETCH reads it as
    before, and reports what goes wrong there)."""
    rows = conn.execute(
        # path and header_size lie after the body in a messages row: read only for the
        # rows without a header block (bodies in files, where the body column is NULL).
        "SELECT m.id, h.header, h.size, CASE WHEN h.message_id IS NULL THEN m.path END,"
        " CASE WHEN h.message_id IS NULL THEN m.header_size END FROM messages m"
        " LEFT JOIN message_headers h ON h.message_id = m.id"
        " WHERE m.id > ? ORDER BY m.id LIMIT ?",
        (after, limit),
    ).fetchall()
    out: list[tuple[int, bytes]] = []
    for mid, header, size, path, header_size in rows:
        if size is not None or (header is None and path is None):
            continue
        if header is None:
            try:
                with open(data_dir / path, "rb") as fh:
                    header = fh.read(int(header_size))
            except OSError:
                continue
        out.append((int(mid), bytes(header)))
    return out, int(rows[-1][0]) if rows else after


def store_header_blocks(conn: sqlite3.Connection, rows: Sequence[tuple[int, bytes]],
                        last: int) -> None:
    """Store (message id, header block) rows with each message's size, and the progress
    (``last``: the last id looked at, or ``DONE``) in the same transaction."""
    conn.executemany(
        "INSERT INTO message_headers (message_id, header, size)"
        " SELECT id, ?, size FROM messages WHERE id = ?"
        " ON CONFLICT (message_id) DO UPDATE SET size = excluded.size",
        [(header, mid) for mid, header in rows],
    )
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                 (PROGRESS_KEY, last))


class HeaderReadsMixin:
    _db: Database
    data_dir: Path

    async def header_rows(
        self, mailbox_id: int, uids: Sequence[int], *, viewer: int | None = None,
        fields: str | None = None,
    ) -> list[HeaderRow]:
        """``header_rows`` of ``uids`` (ascending), in one read."""
        return await self._db.read(
            lambda conn: header_rows(conn, mailbox_id, uids, viewer, fields))

    async def store_header_selections(self, fields: str,
                                      rows: Sequence[tuple[int, bytes, int]]) -> None:
        """``store_header_selections`` in one write."""
        await self._db.write(lambda conn: store_header_selections(conn, fields, rows))

    async def header_blocks_progress(self) -> int:
        return await self._db.read(header_blocks_progress)

    async def messages_without_header_block(
        self, after: int, limit: int
    ) -> tuple[list[tuple[int, bytes]], int]:
        # It reads header blocks from body files too: never on the event loop.
        return await self._db.read(
            lambda conn: messages_without_header_block(conn, self.data_dir, after, limit),
            inline=False)

    async def store_header_blocks(self, rows: Sequence[tuple[int, bytes]], last: int
                                  ) -> None:
        await self._db.write(lambda conn: store_header_blocks(conn, rows, last))
