"""Message attributes beyond what FETCH's records carry: the save date of a message in its
mailbox (``mailbox_messages.savedate``, migration 17; RFC 8514) and the preview of a
stored body (``message_previews``, migration 17; RFC 8970).

Read only for a FETCH that asks for them, one query per batch, so a FETCH that does not
pays nothing (issue 14's fast paths never call here).

A preview is computed by the server (storage parses nothing): at APPEND, as the
``preview`` key of ``parsed`` (:func:`store_preview`), and for a body stored before, when
a FETCH first asks for it (:func:`save_previews`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence

from .db import Database

PREVIEW_KEY = "preview"
"""The key of ``parsed`` at APPEND that goes to ``message_previews``."""


def _uids(uids: Sequence[int]) -> str:
    return json.dumps([int(u) for u in uids])


def save_dates(conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int]
               ) -> dict[int, int]:
    """UID -> save date (Unix seconds) of the messages of ``uids`` still there."""
    return {int(uid): int(saved) for uid, saved in conn.execute(
        "SELECT uid, savedate FROM mailbox_messages WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?)) AND savedate IS NOT NULL",
        (mailbox_id, _uids(uids)))}


def previews(conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int]
             ) -> dict[int, str]:
    """UID -> stored preview of the messages of ``uids`` that have one."""
    return {int(uid): str(text) for uid, text in conn.execute(
        "SELECT mm.uid, p.preview FROM mailbox_messages mm"
        " JOIN message_previews p ON p.message_id = mm.message_id"
        " WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))",
        (mailbox_id, _uids(uids)))}


def store_preview(conn: sqlite3.Connection, message_id: int,
                  parsed: Mapping[str, bytes | int | str | None]) -> None:
    """At APPEND: the preview the server computed, if it did (a body already stored keeps
    the one it has)."""
    text = parsed.get(PREVIEW_KEY)
    if isinstance(text, str):
        conn.execute("INSERT OR IGNORE INTO message_previews (message_id, preview)"
                     " VALUES (?, ?)", (message_id, text))


def save_previews(conn: sqlite3.Connection, rows: Sequence[tuple[int, str]]) -> None:
    """Previews computed later, for bodies stored without one (gone bodies are skipped)."""
    conn.executemany(
        "INSERT OR IGNORE INTO message_previews (message_id, preview)"
        " SELECT id, ? FROM messages WHERE id = ?", [(text, mid) for mid, text in rows])


class AttributesMixin:
    _db: Database

    async def save_dates(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, int]:
        """``save_dates`` in one read."""
        return await self._db.read(lambda conn: save_dates(conn, mailbox_id, uids))

    async def previews(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, str]:
        """``previews`` in one read."""
        return await self._db.read(lambda conn: previews(conn, mailbox_id, uids))

    async def save_previews(self, rows: Sequence[tuple[int, str]]) -> None:
        """``save_previews`` in one write transaction."""
        await self._db.write(lambda conn: save_previews(conn, rows))
