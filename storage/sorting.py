"""SORT and THREAD reads (RFC 5256, RFC 5957) over the keys prepared at APPEND.

The keys are the ``sort_keys`` row of each message (migrations.py, version 8), already in
the form they compare in: strings in i;unicode-casemap form (RFC 5051) compare as SQLite
BINARY, which is i;octet on UTF-8; an absent header is "" (RFC 5256 §3: "the empty string
always collates before non-empty strings"); the sent date falls back to the internal date
(§2.2).  Both reads go through ``search.select_matching``, the one query path of SEARCH,
with the keys as extra columns or as the ORDER BY.

Ties are broken by UID, which is the order of message sequence numbers (RFC 5256 §3: the
implicit last criterion is the sequence number).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Final, Literal, cast

from . import search as search_mod
from .db import Database

SortKey = Literal[
    "arrival", "cc", "date", "from", "size", "subject", "to", "display_from", "display_to"
]

SORT_KEYS: Mapping[str, str] = {
    "sort_sent": "sent",
    "sort_subject": "subject",
    "sort_reply": "reply",
    "sort_from": "from_addr",
    "sort_to": "to_addr",
    "sort_cc": "cc_addr",
    "sort_display_from": "display_from",
    "sort_display_to": "display_to",
    "thread_id": "thread_id",
    "thread_refs": "thread_refs",
}
"""Keys of ``parsed`` at APPEND that go to the ``sort_keys`` row (migration 8)."""

_JOIN = " LEFT JOIN sort_keys k ON k.message_id = mm.message_id"

SENT_DATE = "coalesce(k.sent, mm.internaldate)"
"""RFC 5256 §2.2: the sent date, or INTERNALDATE when the Date header is missing/invalid."""

_KEY_SQL: Mapping[str, str] = {
    "arrival": "mm.internaldate",
    "cc": "coalesce(k.cc_addr, '')",
    "date": SENT_DATE,
    "from": "coalesce(k.from_addr, '')",
    "size": "m.size",
    "subject": "coalesce(k.subject, '')",
    "to": "coalesce(k.to_addr, '')",
    "display_from": "coalesce(k.display_from, '')",
    "display_to": "coalesce(k.display_to, '')",
}


ThreadRow = tuple[int, int, int, str, int, str | None, str]
"""What THREAD needs of one message (RFC 5256 §3), the row as the query returns it (no
Python object per message: issue 15, THREAD of 100,000 messages within 1 s): UID, 0 (the
modseq column of ``search.select_matching``, unused), sent date (INTERNALDATE when the Date
header is missing, §2.2), base subject, 1 for a reply, normalised Message-ID (None: none)
and the normalised references separated by spaces (oldest first)."""

# Positions in a ThreadRow (Final: a type checker knows each column's type).
ROW_UID: Final = 0
ROW_DATE: Final = 2
ROW_SUBJECT: Final = 3
ROW_REPLY: Final = 4
ROW_MESSAGE_ID: Final = 5
ROW_REFERENCES: Final = 6


def sort(
    conn: sqlite3.Connection,
    mailbox_id: int,
    criteria: search_mod.Criterion,
    keys: Sequence[tuple[SortKey, bool]],
    max_uid: int | None = None,
    viewer: int | None = None,
) -> list[tuple[int, int]]:
    """(uid, modseq as ``viewer`` sees it) of the matching messages ordered by ``keys``
    (``(key, reverse)``), then UID."""
    order = [_KEY_SQL[k] + (" DESC" if reverse else "") for k, reverse in keys]
    order.append("mm.uid")
    rows = search_mod.select_matching(
        conn, mailbox_id, criteria, max_uid, viewer, order=", ".join(order),
        needs_message=any(k == "size" for k, _ in keys), joins=_JOIN, modseq=True,
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def thread_rows(
    conn: sqlite3.Connection,
    mailbox_id: int,
    criteria: search_mod.Criterion,
    max_uid: int | None = None,
    viewer: int | None = None,
) -> list[ThreadRow]:
    """The matching messages' threading keys, in UID order."""
    # Every column already in its final form (coalesce in SQL): the rows are used as
    # they come, without a Python step per message.
    return cast(list[ThreadRow], search_mod.select_matching(
        conn, mailbox_id, criteria, max_uid, viewer,
        columns=f"{SENT_DATE}, coalesce(k.subject, ''), coalesce(k.reply, 0), k.thread_id,"
                " coalesce(k.thread_refs, '')",
        joins=_JOIN,
    ))


# -- messages stored before their keys existed ----------------------------------------------


def rows_without_keys(
    conn: sqlite3.Connection, data_dir: Path, limit: int
) -> list[tuple[int, bytes]]:
    """Up to ``limit`` messages whose keys are not filled: (message id, header block)."""
    rows = conn.execute(
        "SELECT m.id, coalesce(h.header, substr(m.body, 1, m.header_size)), m.path,"
        " m.header_size FROM messages m LEFT JOIN message_headers h ON h.message_id = m.id"
        " WHERE m.sort_version = 0 ORDER BY m.id LIMIT ?",
        (limit,),
    ).fetchall()
    out = []
    for mid, header, path, size in rows:
        if header is None and path is not None:
            try:
                with open(data_dir / path, "rb") as f:
                    header = f.read(int(size))
            except OSError:
                header = b""
        out.append((int(mid), bytes(header or b"")))
    return out


def has_keys(keys: Mapping[str, object]) -> bool:
    """Whether ``keys`` holds a message's sort keys (``store_keys`` stores them)."""
    return "sort_subject" in keys


def store_keys(
    conn: sqlite3.Connection, message_id: int, keys: Mapping[str, object], *,
    mark: bool = True,
) -> None:
    """The ``sort_keys`` row of a message, if ``keys`` (``parsed`` at APPEND, or what the
    server computed for ``rows_without_keys``) holds them; the message is then keyed
    (``mark=False``: the caller inserted its row with ``sort_version = 1`` already)."""
    if not has_keys(keys):
        return
    cols = ", ".join(SORT_KEYS.values())
    conn.execute(
        f"INSERT OR IGNORE INTO sort_keys (message_id, {cols})"
        f" VALUES (?{', ?' * len(SORT_KEYS)})",
        [message_id, *(keys.get(k) for k in SORT_KEYS)],
    )
    if mark:
        conn.execute("UPDATE messages SET sort_version = 1 WHERE id = ? AND sort_version = 0",
                     (message_id,))


def set_keys(
    conn: sqlite3.Connection, rows: Sequence[tuple[int, Mapping[str, object]]]
) -> None:
    """Store the keys computed for ``rows_without_keys``."""
    for message_id, keys in rows:
        store_keys(conn, message_id, keys)


def keys_pending(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM messages WHERE sort_version = 0 LIMIT 1").fetchone()
    return row is not None


class SortMixin:
    """The ``Store`` methods of this module (one database trip each)."""

    _db: Database
    data_dir: Path

    async def sort(
        self, mailbox_id: int, criteria: search_mod.Criterion,
        keys: Sequence[tuple[SortKey, bool]], max_uid: int | None = None,
        *, viewer: int | None = None, time_limit: float | None = None,
    ) -> list[tuple[int, int]]:
        """(uid, modseq) matching ``criteria`` in SORT order (see :func:`sort`);
        ``TimeLimitExceeded`` past ``time_limit`` seconds (``db.read``), as for search."""
        return await self._db.read(partial(
            sort, mailbox_id=mailbox_id, criteria=criteria, keys=keys, max_uid=max_uid,
            viewer=viewer), time_limit=time_limit)

    async def thread_rows(
        self, mailbox_id: int, criteria: search_mod.Criterion, max_uid: int | None = None,
        *, viewer: int | None = None, time_limit: float | None = None,
    ) -> list[ThreadRow]:
        return await self._db.read(partial(
            thread_rows, mailbox_id=mailbox_id, criteria=criteria, max_uid=max_uid,
            viewer=viewer), time_limit=time_limit)

    async def sort_keys_pending(self) -> bool:
        """Whether some message still lacks its SORT/THREAD keys (migration 8)."""
        return await self._db.read(keys_pending)

    async def rows_without_sort_keys(self, limit: int = 500) -> list[tuple[int, bytes]]:
        # It reads header blocks from body files too: never on the event loop.
        return await self._db.read(partial(rows_without_keys, data_dir=self.data_dir,
                                           limit=limit), inline=False)

    async def set_sort_keys(self, rows: Sequence[tuple[int, Mapping[str, object]]]) -> None:
        await self._db.write(partial(set_keys, rows=rows))
