"""Messages in mailboxes: append, flags, expunge, copy/move and the change log.

Functions run on the database thread (see ``db.py``).  DESIGN.md "Many clients, one
mailbox": every change bumps the mailbox's ``highest_modseq`` by one and stamps the changed
rows with it in the same transaction; expunges leave tombstones in ``expunged``.  A
session's view pulls ``changes_since(modseq)`` after it is woken, so the change log is
the ``modseq`` column itself (RFC 7162 §3.1), indexed per mailbox.

UID sets arrive as Python sequences of UIDs (the server resolves sequence sets against its
view) and go to SQLite as one JSON array (``json_each``), not one query per UID.
"""

from __future__ import annotations

import json
import sqlite3
import time
from array import array
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from . import blobs
from . import flags as flagbits
from .blobs import PreparedBody
from .errors import NoSelect, NotFound
from .mailboxes import get_mailbox_by_id
from .models import (
    Changes,
    CopyResult,
    MessageRecord,
    MessageState,
    SelectSummary,
    StoreResult,
)
from .search import TEXT_KEYS, store_text

StoreMode = Literal["set", "add", "remove"]

PARSED_COLUMNS = frozenset(
    {
        "header_size",
        "lines",
        "envelope",
        "bodystructure",
        "body_simple",
        "part_tree",
        "hdr_date",
        "sent_on",
        "hdr_subject",
        "hdr_from",
        "hdr_to",
        "hdr_cc",
        "hdr_bcc",
        "hdr_message_id",
        "hdr_in_reply_to",
        "hdr_references",
        "sort_subject",
        "sort_from",
        "sort_to",
        "sort_cc",
        *TEXT_KEYS,
    }
)
"""Keys accepted in ``parsed`` at APPEND: columns of ``messages`` (see migrations.py), and
``TEXT_KEYS`` for ``message_text`` (see ``search.store_text``)."""

REQUIRED_PARSED = ("envelope", "bodystructure", "body_simple")


def check_parsed(parsed: Mapping[str, bytes | int | str | None]) -> None:
    """Refuse unknown keys (a typo would silently lose data) and missing prepared bytes."""
    unknown = set(parsed) - PARSED_COLUMNS
    if unknown:
        raise ValueError(f"unknown parsed fields: {sorted(unknown)}")
    missing = [k for k in REQUIRED_PARSED if parsed.get(k) is None]
    if missing:
        raise ValueError(f"parsed fields required at APPEND: {missing}")


def to_stored_date(when: datetime) -> tuple[int, int]:
    """INTERNALDATE (RFC 3501 §2.3.3) as (Unix seconds, zone offset in minutes); a naive
    datetime is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    offset = when.utcoffset() or timedelta(0)
    return int(when.timestamp()), int(offset.total_seconds() // 60)


def from_stored_date(seconds: int, tz_minutes: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone(timedelta(minutes=tz_minutes)))


def _uid_json(uids: Sequence[int]) -> str:
    return json.dumps([int(u) for u in uids])


def _state(row: tuple[Any, ...]) -> MessageState:
    """Row (uid, flags, keywords, modseq) to a MessageState."""
    return MessageState(int(row[0]), flagbits.decode(int(row[1]), str(row[2])), int(row[3]))


def _selectable(conn: sqlite3.Connection, mailbox_id: int) -> tuple[int, int, int]:
    """(uidnext, highest_modseq, uidvalidity) of a mailbox that can hold messages."""
    row = conn.execute(
        "SELECT uidnext, highest_modseq, uidvalidity, noselect FROM mailboxes WHERE id = ?",
        (mailbox_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    if row[3]:
        raise NoSelect(f"mailbox {mailbox_id} is \\Noselect")
    return int(row[0]), int(row[1]), int(row[2])


def _bump(
    conn: sqlite3.Connection, mailbox_id: int, modseq: int, uidnext: int | None = None
) -> None:
    if uidnext is None:
        conn.execute("UPDATE mailboxes SET highest_modseq = ? WHERE id = ?", (modseq, mailbox_id))
    else:
        conn.execute(
            "UPDATE mailboxes SET highest_modseq = ?, uidnext = ? WHERE id = ?",
            (modseq, uidnext, mailbox_id),
        )


# -- APPEND -------------------------------------------------------------------------------


def append(
    conn: sqlite3.Connection,
    data_dir: Path,
    mailbox_id: int,
    body: PreparedBody,
    bits: int,
    keywords: list[str],
    internaldate: tuple[int, int],
    parsed: Mapping[str, bytes | int | str | None],
) -> tuple[int, int]:
    """RFC 3501 §6.3.11 APPEND: store the body once (deduplicated by SHA-256), add it to
    the mailbox with the next UID and a new modseq.  Returns (uid, modseq)."""
    uidnext, highest, _ = _selectable(conn, mailbox_id)
    row = conn.execute("SELECT id FROM messages WHERE sha256 = ?", (body.sha256,)).fetchone()
    if row is not None:
        message_id = int(row[0])
        path = conn.execute("SELECT path FROM messages WHERE id = ?", (message_id,)).fetchone()[0]
        if path is not None and path == body.relpath:
            blobs.install(data_dir, body)  # no-op if the file is there; repairs it if not
        else:
            blobs.discard(body)
    else:
        blobs.install(data_dir, body)
        stored = {k: v for k, v in parsed.items() if k not in TEXT_KEYS}
        columns = ["sha256", "size", "body", "path", "created_at", *stored]
        values = [body.sha256, body.size, body.inline, body.relpath, int(time.time())]
        values.extend(stored.values())
        cur = conn.execute(
            f"INSERT INTO messages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            values,
        )
        assert cur.lastrowid is not None
        message_id = cur.lastrowid
    store_text(conn, message_id, parsed)
    modseq = highest + 1
    conn.execute(
        "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq, flags, keywords,"
        " internaldate, internaldate_tz) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            mailbox_id,
            uidnext,
            message_id,
            modseq,
            bits,
            flagbits.join_keywords(keywords),
            internaldate[0],
            internaldate[1],
        ),
    )
    _bump(conn, mailbox_id, modseq, uidnext + 1)
    return uidnext, modseq


# -- reading a mailbox ----------------------------------------------------------------------


def list_messages(conn: sqlite3.Connection, mailbox_id: int) -> list[MessageState]:
    """Every message of the mailbox in UID order (what SELECT builds a view from)."""
    _selectable(conn, mailbox_id)
    rows = conn.execute(
        "SELECT uid, flags, keywords, modseq FROM mailbox_messages WHERE mailbox_id = ?"
        " ORDER BY uid",
        (mailbox_id,),
    ).fetchall()
    return [_state(r) for r in rows]


def select_summary(conn: sqlite3.Connection, mailbox_id: int) -> SelectSummary:
    """SELECT's view of a mailbox in three index scans and no per-message Python objects:
    a 100,000-message mailbox opens in tens of milliseconds (bench/README.md)."""
    _selectable(conn, mailbox_id)
    info = get_mailbox_by_id(conn, mailbox_id)
    assert info is not None
    uids = array("I")
    cursor = conn.execute(
        "SELECT uid FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid", (mailbox_id,)
    )
    while rows := cursor.fetchmany(10000):
        uids.extend(r[0] for r in rows)
    (first_unseen,) = conn.execute(
        "SELECT min(uid) FROM mailbox_messages WHERE mailbox_id = ? AND (flags & ?) = 0",
        (mailbox_id, flagbits.SEEN),
    ).fetchone()
    keywords: dict[str, str] = {}
    for (text,) in conn.execute(
        "SELECT DISTINCT keywords FROM mailbox_messages WHERE mailbox_id = ? AND keywords != ''",
        (mailbox_id,),
    ):
        for kw in str(text).split(" "):
            keywords.setdefault(kw.lower(), kw)
    return SelectSummary(
        info, uids, None if first_unseen is None else int(first_unseen), list(keywords.values())
    )


def flag_records(
    conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int]
) -> list[MessageState]:
    """UID, flags and modseq only, for FETCH (UID FLAGS MODSEQ): no join, no blobs."""
    rows = conn.execute(
        "SELECT uid, flags, keywords, modseq FROM mailbox_messages"
        " WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (mailbox_id, _uid_json(uids)),
    ).fetchall()
    return [_state(r) for r in rows]


def changes_since(conn: sqlite3.Connection, mailbox_id: int, modseq: int) -> Changes:
    """Messages added or changed, and UIDs expunged, after ``modseq`` (RFC 7162 §3.1.4.1
    CHANGEDSINCE, §3.2.5.2 VANISHED).  A UID may be in ``expunged`` without ever having
    been seen by the caller (appended and expunged since): views ignore unknown UIDs."""
    row = conn.execute(
        "SELECT highest_modseq, uidnext FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    updated = conn.execute(
        "SELECT uid, flags, keywords, modseq FROM mailbox_messages"
        " WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
        (mailbox_id, modseq),
    ).fetchall()
    expunged = conn.execute(
        "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid",
        (mailbox_id, modseq),
    ).fetchall()
    return Changes(
        highest_modseq=int(row[0]),
        uidnext=int(row[1]),
        updated=[_state(r) for r in updated],
        expunged=[int(r[0]) for r in expunged],
    )


def records(
    conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int], structure: bool = True
) -> list[MessageRecord]:
    """FETCH data prepared at APPEND for the given UIDs (missing UIDs are skipped).  Without
    ``structure`` the ENVELOPE/BODYSTRUCTURE/part-tree blobs are not read (left empty):
    the header fetch every client does on first sync needs none of them."""
    blobs_sql = "m.envelope, m.bodystructure, m.body_simple, m.part_tree" if structure else (
        "X'', X'', X'', NULL"
    )
    rows = conn.execute(
        "SELECT mm.uid, mm.message_id, mm.flags, mm.keywords, mm.modseq, mm.internaldate,"
        " mm.internaldate_tz, m.size, m.header_size, m.lines, " + blobs_sql +
        " FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))"
        " ORDER BY mm.uid",
        (mailbox_id, _uid_json(uids)),
    ).fetchall()
    return [
        MessageRecord(
            uid=int(r[0]),
            message_id=int(r[1]),
            flags=flagbits.decode(int(r[2]), str(r[3])),
            modseq=int(r[4]),
            internaldate=from_stored_date(int(r[5]), int(r[6])),
            size=int(r[7]),
            header_size=int(r[8]),
            lines=int(r[9]),
            envelope=bytes(r[10]),
            bodystructure=bytes(r[11]),
            body_simple=bytes(r[12]),
            part_tree=None if r[13] is None else bytes(r[13]),
        )
        for r in rows
    ]


def body_location(
    conn: sqlite3.Connection, mailbox_id: int, uid: int
) -> tuple[bytes | None, str | None] | None:
    """(inline bytes, file path) of a message's body, or None if there is no such UID."""
    row = conn.execute(
        "SELECT m.body, m.path FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " WHERE mm.mailbox_id = ? AND mm.uid = ?",
        (mailbox_id, uid),
    ).fetchone()
    if row is None:
        return None
    return (None if row[0] is None else bytes(row[0]), row[1])


def bodies(
    conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int], header_only: bool
) -> list[tuple[int, bytes | None, str | None, int]]:
    """(uid, inline bytes, file path, header size) for many messages in one query; with
    ``header_only`` an inline body is cut to its header inside SQLite."""
    # substr() of an empty blob is NULL, which would make an empty message look bodiless.
    body = (
        "CASE WHEN m.body IS NULL THEN NULL ELSE ifnull(substr(m.body, 1, m.header_size), X'') END"
        if header_only
        else "m.body"
    )
    rows = conn.execute(
        f"SELECT mm.uid, {body}, m.path, m.header_size"
        " FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        " WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))"
        " ORDER BY mm.uid",
        (mailbox_id, _uid_json(uids)),
    ).fetchall()
    return [(int(r[0]), None if r[1] is None else bytes(r[1]), r[2], int(r[3])) for r in rows]


# -- STORE ----------------------------------------------------------------------------------


def store_flags(
    conn: sqlite3.Connection,
    mailbox_id: int,
    uids: Sequence[int],
    mode: StoreMode,
    bits: int,
    keywords: list[str],
    unchanged_since: int | None,
) -> StoreResult:
    """RFC 3501 §6.4.6 STORE FLAGS / +FLAGS / -FLAGS, with RFC 7162 §3.1.3 UNCHANGEDSINCE.

    Messages whose flags really change get one new modseq; unchanged ones keep theirs
    (no modseq bump when nothing changed).  With ``unchanged_since``, messages whose modseq
    is above it are left alone and listed in ``modified``.
    """
    _, highest, _ = _selectable(conn, mailbox_id)
    rows = conn.execute(
        "SELECT uid, flags, keywords, modseq FROM mailbox_messages"
        " WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (mailbox_id, _uid_json(uids)),
    ).fetchall()
    new_modseq = highest + 1
    states: list[MessageState] = []
    changed: list[int] = []
    modified: list[int] = []
    updates: list[tuple[int, str, int, int, int]] = []
    for uid, old_bits, old_kw, modseq in rows:
        if unchanged_since is not None and modseq > unchanged_since:
            modified.append(uid)
            states.append(_state((uid, old_bits, old_kw, modseq)))
            continue
        current = flagbits.split_keywords(old_kw)
        if mode == "set":
            nb, nk = bits, keywords
        elif mode == "add":
            nb, nk = old_bits | bits, flagbits.add_keywords(current, keywords)
        else:
            nb, nk = old_bits & ~bits, flagbits.remove_keywords(current, keywords)
        new_kw = flagbits.join_keywords(nk)
        if nb == old_bits and new_kw == old_kw:
            states.append(_state((uid, old_bits, old_kw, modseq)))
            continue
        updates.append((nb, new_kw, new_modseq, mailbox_id, uid))
        changed.append(uid)
        states.append(_state((uid, nb, new_kw, new_modseq)))
    if updates:
        conn.executemany(
            "UPDATE mailbox_messages SET flags = ?, keywords = ?, modseq = ?"
            " WHERE mailbox_id = ? AND uid = ?",
            updates,
        )
        _bump(conn, mailbox_id, new_modseq)
        highest = new_modseq
    return StoreResult(states, changed, modified, highest)


# -- EXPUNGE, COPY, MOVE ----------------------------------------------------------------------


def _remove(conn: sqlite3.Connection, mailbox_id: int, uids: list[int], modseq: int) -> None:
    """Delete rows and leave tombstones at ``modseq`` (RFC 7162 §3.2.10)."""
    conn.executemany(
        "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)",
        [(mailbox_id, uid, modseq) for uid in uids],
    )
    conn.execute(
        "DELETE FROM mailbox_messages WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?))",
        (mailbox_id, _uid_json(uids)),
    )


def expunge(
    conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int] | None
) -> tuple[list[int], int]:
    """RFC 3501 §6.4.3 EXPUNGE of every \\Deleted message, or RFC 4315 §2.1 UID EXPUNGE of
    the \\Deleted ones among ``uids``.  Returns (expunged UIDs ascending, highest modseq)."""
    _, highest, _ = _selectable(conn, mailbox_id)
    sql = "SELECT uid FROM mailbox_messages WHERE mailbox_id = ? AND (flags & ?) != 0"
    params: tuple[Any, ...] = (mailbox_id, flagbits.DELETED)
    if uids is not None:
        sql += " AND uid IN (SELECT value FROM json_each(?))"
        params += (_uid_json(uids),)
    gone = [int(r[0]) for r in conn.execute(sql + " ORDER BY uid", params)]
    if not gone:
        return [], highest
    modseq = highest + 1
    _remove(conn, mailbox_id, gone, modseq)
    _bump(conn, mailbox_id, modseq)
    return gone, modseq


def copy(
    conn: sqlite3.Connection, source_id: int, uids: Sequence[int], target_id: int, move: bool
) -> CopyResult:
    """RFC 3501 §6.4.7 COPY (flags and INTERNALDATE kept, bodies shared, never copied) or
    RFC 6851 MOVE (copy, then expunge from the source in the same transaction).  UIDs
    missing from the source are skipped; the map is in source UID order for COPYUID."""
    _selectable(conn, source_id)
    uidnext, highest, uidvalidity = _selectable(conn, target_id)
    rows = conn.execute(
        "SELECT uid, message_id, flags, keywords, internaldate, internaldate_tz"
        " FROM mailbox_messages WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (source_id, _uid_json(uids)),
    ).fetchall()
    if not rows:
        return CopyResult(uidvalidity, [], [])
    modseq = highest + 1
    uid_map = [(int(r[0]), uidnext + i) for i, r in enumerate(rows)]
    conn.executemany(
        "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq, flags, keywords,"
        " internaldate, internaldate_tz) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (target_id, new_uid, r[1], modseq, r[2], r[3], r[4], r[5])
            for (_, new_uid), r in zip(uid_map, rows, strict=True)
        ],
    )
    _bump(conn, target_id, modseq, uidnext + len(rows))
    expunged: list[int] = []
    if move:
        # Re-read: with source == target the modseq was just bumped.
        _, source_highest, _ = _selectable(conn, source_id)
        expunged = [src for src, _ in uid_map]
        _remove(conn, source_id, expunged, source_highest + 1)
        _bump(conn, source_id, source_highest + 1)
    return CopyResult(uidvalidity, uid_map, expunged)


def claim_recent(conn: sqlite3.Connection, mailbox_id: int) -> list[int]:
    """RFC 3501 §2.3.2 \\Recent: the first session to select the mailbox since messages
    arrived gets their UIDs (returned); later sessions get none."""
    uidnext, _, _ = _selectable(conn, mailbox_id)
    (first,) = conn.execute(
        "SELECT first_recent_uid FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    recent = [
        int(r[0])
        for r in conn.execute(
            "SELECT uid FROM mailbox_messages WHERE mailbox_id = ? AND uid >= ? ORDER BY uid",
            (mailbox_id, first),
        )
    ]
    if first != uidnext:
        conn.execute(
            "UPDATE mailboxes SET first_recent_uid = ? WHERE id = ?", (uidnext, mailbox_id)
        )
    return recent


# -- garbage --------------------------------------------------------------------------------


def delete_unreferenced(conn: sqlite3.Connection) -> list[str]:
    """Sweep step 1: delete message rows no mailbox references; return their file paths.

    The files are unlinked by ``unlink_orphans`` in a *later* transaction, after this one
    has committed: unlinking here and then failing to commit would lose bodies still
    referenced.
    """
    rows = conn.execute("DELETE FROM messages WHERE refcount <= 0 RETURNING path").fetchall()
    return [str(r[0]) for r in rows if r[0] is not None]


def unlink_orphans(conn: sqlite3.Connection, data_dir: Path, paths: list[str]) -> int:
    """Sweep step 2, in a write transaction so no APPEND installs a file meanwhile: unlink
    each file that no row references (an APPEND may have re-added it since step 1)."""
    removed = 0
    for path in paths:
        if conn.execute("SELECT 1 FROM messages WHERE path = ?", (path,)).fetchone() is None:
            blobs.unlink(data_dir, path)
            removed += 1
    return removed
