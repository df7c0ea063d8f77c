"""Reading messages: what SELECT, FETCH and the sessions' change polling need.

Split from ``messages.py`` (which keeps the writes); the row helpers shared by both live
there. Every function runs on a database thread inside one read transaction (``db.py``).
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Collection, Sequence
from itertools import pairwise

from . import flags as flagbits
from .errors import NotFound
from .mailboxes import get_mailbox_by_id
from .messages import _selectable, _state, _uid_json, from_stored_date
from .models import Changes, MessageRecord, MessageState, SelectSummary
from .private import PF_JOIN, PF_MODSEQ, pf_flags, viewer_mask
from .private import columns as _columns
from .private import params as _params
from .reclaim import vanished_superset

# The header of a message kept inside the database, from ``message_headers`` (migration 6)
# so the body blob is never loaded for it; for a message stored before that table, cut
# from the body.  NULL for a body kept in a file (the caller reads the file).  substr() of
# an empty blob is NULL, which would make an empty message look bodiless: hence ifnull.
HEADER_JOIN = " LEFT JOIN message_headers h ON h.message_id = m.id"
HEADER_SQL = (
    "CASE WHEN m.path IS NOT NULL THEN NULL"
    " ELSE coalesce(h.header, ifnull(substr(m.body, 1, m.header_size), X'')) END"
)


def list_messages(
    conn: sqlite3.Connection, mailbox_id: int, viewer: int | None = None
) -> list[MessageState]:
    """Every message of the mailbox in UID order, flags and modseqs as ``viewer`` sees
    them (what SELECT builds a view from)."""
    pmask = _selectable(conn, mailbox_id).private_mask(viewer)
    join, cols = _columns(pmask)
    rows = conn.execute(
        f"SELECT mm.uid, {cols} FROM mailbox_messages mm{join} WHERE mm.mailbox_id = ?"
        " ORDER BY mm.uid",
        _params(pmask, viewer, mailbox_id),
    ).fetchall()
    return [_state(r) for r in rows]


def select_summary(
    conn: sqlite3.Connection, mailbox_id: int, viewer: int | None = None
) -> SelectSummary:
    """SELECT's view of a mailbox in three index scans and no per-message Python objects:
    a 100,000-message mailbox opens in tens of milliseconds (bench/README.md).  The first
    unseen message is the first without \\Seen as ``viewer`` sees it."""
    pmask = _selectable(conn, mailbox_id).private_mask(viewer)
    info = get_mailbox_by_id(conn, mailbox_id)
    assert info is not None
    uids = array("I")
    cursor = conn.execute(
        "SELECT uid FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid", (mailbox_id,)
    )
    while rows := cursor.fetchmany(10000):
        uids.extend(r[0] for r in rows)
    if pmask & flagbits.SEEN:
        (first_unseen,) = conn.execute(
            "SELECT min(mm.uid) FROM mailbox_messages mm" + PF_JOIN +
            " WHERE mm.mailbox_id = ? AND (coalesce(pf.flags, 0) & ?) = 0",
            (viewer, mailbox_id, flagbits.SEEN),
        ).fetchone()
    else:
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
    conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int], viewer: int | None = None
) -> list[MessageState]:
    """UID, flags and modseq only, for FETCH (UID FLAGS MODSEQ): no blobs."""
    pmask = viewer_mask(conn, mailbox_id, viewer)
    join, cols = _columns(pmask)
    rows = conn.execute(
        f"SELECT mm.uid, {cols} FROM mailbox_messages mm{join}"
        " WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))"
        " ORDER BY mm.uid",
        _params(pmask, viewer, mailbox_id, _uid_json(uids)),
    ).fetchall()
    return [_state(r) for r in rows]


def _modseq_ranges(low: int, skip: Collection[int]) -> list[tuple[int, int | None]]:
    """The open modseq ranges above ``low`` that leave out the modseqs in ``skip``: each
    one an index range (a session's own ``STORE 1:*`` is 100,000 rows at one modseq)."""
    bounds = [low, *sorted(m for m in set(skip) if m > low)]
    return [*pairwise(bounds), (bounds[-1], None)]


def changes_since(
    conn: sqlite3.Connection, mailbox_id: int, modseq: int, viewer: int | None = None,
    skip: Collection[int] = (),
) -> Changes:
    """Messages added or changed, and UIDs expunged, after ``modseq`` (RFC 7162 §3.1.4.1
    CHANGEDSINCE, §3.2.5.2 VANISHED).  A UID may be in ``expunged`` without ever having
    been seen by the caller (appended and expunged since): views ignore unknown UIDs.

    Only changes ``viewer`` can see count: for a non-owner, messages whose shared part
    changed (``shared_modseq``) and those whose private flags *they* changed, each an
    index range scan; another user's private change is invisible to them.

    ``skip``: modseqs whose changes the caller made and answered itself (a session's own
    STORE, ``server/command_spec.py``): messages last changed at one of them are left out."""
    row = conn.execute(
        "SELECT highest_modseq, uidnext, owner_id, private_flags, vanished_floor,"
        " first_recent_uid FROM mailboxes WHERE id = ?",
        (mailbox_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    pmask = 0 if viewer is None or viewer == row[2] else int(row[3])
    if not pmask and int(row[0]) <= modseq:
        # Nothing since: every change, an expunge too, moves ``highest_modseq`` (owner
        # path: private changes of other users are not read here), so the two scans
        # below would find nothing (issue 14: one-message FETCHes, NOOPs).
        return Changes(highest_modseq=int(row[0]), uidnext=int(row[1]), updated=[],
                       expunged=[], first_recent_uid=int(row[5]))
    if not pmask:
        updated = []
        for low, high in _modseq_ranges(modseq, skip):
            updated += conn.execute(
                "SELECT uid, flags, keywords, modseq FROM mailbox_messages"
                # "+uid": without it SQLite walks the whole mailbox in UID order instead of
                # the modseq index (4 ms instead of 0.02 ms at 100,000 messages,
                # bench/README.md)
                " WHERE mailbox_id = ? AND modseq > ? AND modseq < ? ORDER BY +uid",
                (mailbox_id, low, 2**63 - 1 if high is None else high),
            ).fetchall()
        if skip:
            updated.sort()
    else:
        updated = conn.execute(
            f"SELECT mm.uid, {pf_flags(pmask)}, mm.keywords, {PF_MODSEQ}"
            " FROM mailbox_messages mm" + PF_JOIN +
            " WHERE mm.mailbox_id = ? AND mm.uid IN ("
            "SELECT uid FROM mailbox_messages WHERE mailbox_id = ? AND shared_modseq > ?"
            " UNION SELECT uid FROM private_flags"
            " WHERE mailbox_id = ? AND user_id = ? AND modseq > ?) ORDER BY mm.uid",
            (viewer, mailbox_id, mailbox_id, modseq, mailbox_id, viewer, modseq),
        ).fetchall()
        if skip:
            updated = [r for r in updated if r[3] not in skip]
    if modseq < int(row[4]):
        # Tombstones after ``modseq`` were compacted away: report every UID that may have
        # vanished (RFC 7162 §3.2.6, a server "MUST behave as if it was requested to
        # report all expunged messages"; reclaim.py).
        expunged = vanished_superset(conn, mailbox_id, int(row[1]))
    else:
        expunged = [int(r[0]) for r in conn.execute(
            "SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY +uid",
            (mailbox_id, modseq),
        )]
    return Changes(
        highest_modseq=int(row[0]),
        uidnext=int(row[1]),
        updated=[_state(r) for r in updated],
        expunged=expunged,
        first_recent_uid=int(row[5]),
    )


def expunged_states(
    conn: sqlite3.Connection, mailbox_id: int, uids: Sequence[int], viewer: int | None = None
) -> list[MessageState]:
    """UID, flags when expunged and modseq of the expunge, for those of ``uids`` that have a
    tombstone, in UID order: what a session not yet told of the expunge can still show
    (RFC 2180 §4.1).  A non-owner's private flags went with the message (``_remove``), so
    the private bits are shown unset rather than the owner's.  ``NotFound`` if the mailbox
    is gone (``NoSelect`` if only its name is left)."""
    pmask = _selectable(conn, mailbox_id).private_mask(viewer)
    rows = conn.execute(
        "SELECT uid, flags, keywords, modseq FROM expunged WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
        (mailbox_id, _uid_json(uids)),
    ).fetchall()
    return [_state((uid, int(bits) & ~pmask, keywords, modseq))
            for uid, bits, keywords, modseq in rows]


def records(
    conn: sqlite3.Connection,
    mailbox_id: int,
    uids: Sequence[int],
    structure: bool = True,
    viewer: int | None = None,
) -> list[MessageRecord]:
    """FETCH data prepared at APPEND for the given UIDs (missing UIDs are skipped).  Without
    ``structure`` the ENVELOPE/BODYSTRUCTURE/part-tree blobs are not read (left empty):
    the header fetch every client does on first sync needs none of them."""
    return records_and_bodies(conn, mailbox_id, uids, structure, "", viewer)[0]


def records_and_bodies(
    conn: sqlite3.Connection,
    mailbox_id: int,
    uids: Sequence[int],
    structure: bool,
    body: str,
    viewer: int | None = None,
    budget: int | None = None,
) -> tuple[list[MessageRecord], list[tuple[int, bytes | None, str | None, int]]]:
    """``records`` and, in the same query, the bodies (``body`` "full") or just the headers
    ("header") as ``bodies`` returns them; "" reads no body.

    With a ``budget``, rows stop (in UID order, the first row always comes) once the body
    bytes read from the database reach it: a batch is bounded by bytes, not by a count of
    messages (bodies kept in files are not read here and cost nothing)."""
    blobs_sql = "m.envelope, m.bodystructure, m.body_simple, m.part_tree" if structure else (
        "X'', X'', X'', NULL"
    )
    header_join = ""
    if body == "header":
        body_sql = ", " + HEADER_SQL + ", m.path"
        header_join = HEADER_JOIN
    elif body:
        body_sql = ", m.body, m.path"
    else:
        body_sql = ""
    pmask = viewer_mask(conn, mailbox_id, viewer)
    join, cols = _columns(pmask)
    # One message (the FETCH of one body, issue 14): its primary key, no JSON array, and
    # no budget (the first row always comes).
    one = len(uids) == 1
    sql = (
        "SELECT mm.uid, mm.message_id, " + cols + ", mm.internaldate,"
        " mm.internaldate_tz, m.size, m.header_size, m.lines, " + blobs_sql + body_sql +
        " FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id" + join +
        header_join + " WHERE mm.mailbox_id = ? AND mm.uid " +
        ("= ?" if one else "IN (SELECT value FROM json_each(?))")
    )
    params = _params(pmask, viewer, mailbox_id, int(uids[0]) if one else _uid_json(uids))
    if budget is not None and body and not one:
        cost = "m.header_size" if body == "header" else "m.size"
        # The bytes of the rows before this one (window function, SQLite 3.25).
        sql = (
            "SELECT * FROM (" + sql.replace(
                " FROM mailbox_messages mm",
                ", sum(CASE WHEN m.path IS NULL THEN " + cost + " ELSE 0 END) OVER"
                " (ORDER BY mm.uid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
                " AS before_bytes FROM mailbox_messages mm", 1) +
            ") WHERE ifnull(before_bytes, 0) < ?"
        )
        params = (*params, budget)
    rows = conn.execute(sql + " ORDER BY 1", params).fetchall()
    recs = [
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
    found = [(int(r[0]), None if r[14] is None else bytes(r[14]), r[15], int(r[8]))
             for r in rows] if body else []
    return recs, found


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
    body = HEADER_SQL if header_only else "m.body"
    rows = conn.execute(
        f"SELECT mm.uid, {body}, m.path, m.header_size"
        " FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id"
        + (HEADER_JOIN if header_only else "") +
        " WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))"
        " ORDER BY mm.uid",
        (mailbox_id, _uid_json(uids)),
    ).fetchall()
    return [(int(r[0]), None if r[1] is None else bytes(r[1]), r[2], int(r[3])) for r in rows]


# -- STORE ----------------------------------------------------------------------------------
