"""Message attributes beyond what FETCH's records carry: the save date of a message in its
mailbox (``mailbox_messages.savedate``, migration 17; RFC 8514).

Read only for a FETCH that asks for them, one query per batch, so a FETCH that does not
pays nothing (issue 14's fast paths never call here).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from .db import Database
from .messages import _uid_json


def save_dates(conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int]
               ) -> dict[int, int]:
    """UID -> save date (Unix seconds) of the messages of ``uids`` still there."""
    return {int(uid): int(saved) for uid, saved in conn.execute(
        "SELECT uid, savedate FROM mailbox_messages WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?)) AND savedate IS NOT NULL",
        (mailbox_id, _uid_json(uids)))}


class AttributesMixin:
    _db: Database

    async def save_dates(self, mailbox_id: int, uids: Sequence[int]) -> dict[int, int]:
        """``save_dates`` in one read."""
        return await self._db.read(lambda conn: save_dates(conn, mailbox_id, uids))
