"""Messages in mailboxes: append, flags, expunge, copy/move and the change log.

Functions run on the database thread (see ``db.py``).  DESIGN.md "Many clients, one
mailbox": every change bumps the mailbox's ``highest_modseq`` by one and stamps the changed
rows with it in the same transaction; expunges leave tombstones in ``expunged``.  A
session's view pulls ``changes_since(modseq)`` after it is woken, so the change log is
the ``modseq`` column itself (RFC 7162 §3.1), indexed per mailbox.

UID sets arrive as Python sequences of UIDs (the server resolves sequence sets against its
view) and go to SQLite as one JSON array (``json_each``), not one query per UID.

Private flags (migrations.py, version 4): every function that reads or writes flags takes
``viewer``, the id of the user asking.  The owner of the mailbox, and ``viewer=None`` (the
behaviour before private flags: administration, import, tests), take the *owner path*:
``mailbox_messages`` alone, exactly the queries of a personal mailbox.  Any other user of a
mailbox with a non-zero ``private_flags`` mask takes the *private path*: the same queries
with a LEFT JOIN of their ``private_flags`` rows, flags ``(mm.flags & ~mask) | (pf.flags &
mask)`` and modseq ``max(mm.shared_modseq, pf.modseq)``.  A change of shared bits or
keywords moves ``modseq`` and ``shared_modseq``; an owner's change of private bits moves
``modseq`` only, a non-owner's moves their ``private_flags`` row only.  So
``changes_since`` shows a user exactly the changes they can see, and no session of
another user is told of a private change (not even as a FETCH with unchanged flags).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal, NamedTuple

from . import blobs, commits, quota
from . import flags as flagbits
from .attributes import PREVIEW_KEY, store_preview
from .blobs import PreparedBody
from .errors import NoSelect, NotFound
from .models import (
    CopyResult,
    MessageState,
    StoreResult,
)
from .private import ALL_BITS, PF_JOIN, pf_flags
from .private import params as _params
from .search import TEXT_KEYS, store_text
from .sorting import SORT_KEYS, has_keys, store_keys

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
        *TEXT_KEYS,
        *SORT_KEYS,
        PREVIEW_KEY,
    }
)
"""Keys accepted in ``parsed`` at APPEND: columns of ``messages`` (see migrations.py),
``TEXT_KEYS`` for ``message_text`` (see ``search.store_text``), ``SORT_KEYS`` for
``sort_keys`` (see ``sorting.store_keys``) and ``PREVIEW_KEY`` for ``message_previews``
(see ``attributes.store_preview``)."""

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


class _Box(NamedTuple):
    uidnext: int
    highest: int
    uidvalidity: int
    owner_id: int | None
    mask: int
    """``mailboxes.private_flags``."""
    name: str

    def private_mask(self, viewer: int | None) -> int:
        """The private bits ``viewer`` keeps in ``private_flags``; 0 means the owner path
        (``viewer`` None or the owner, or nothing private in this mailbox)."""
        if viewer is None or viewer == self.owner_id:
            return 0
        return self.mask


def _selectable(conn: sqlite3.Connection, mailbox_id: int) -> _Box:
    """Counters and private-flag settings of a mailbox that can hold messages."""
    row = conn.execute(
        "SELECT uidnext, highest_modseq, uidvalidity, noselect, owner_id, private_flags, name"
        " FROM mailboxes WHERE id = ?",
        (mailbox_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    if row[3]:
        raise NoSelect(f"mailbox {mailbox_id} is \\Noselect")
    return _Box(int(row[0]), int(row[1]), int(row[2]), row[4], int(row[5]), str(row[6]))


def _stored_flags(
    conn: sqlite3.Connection,
    mailbox_id: int,
    uid_modseq_bits: list[tuple[int, int, int]],
    pmask: int,
    viewer: int | None,
) -> None:
    """New messages (APPEND, COPY) given ``bits`` by a non-owner ``viewer``: their private
    part goes to the viewer's ``private_flags`` rows (the caller stored the shared part)."""
    if pmask:
        conn.executemany(
            "INSERT OR REPLACE INTO private_flags (mailbox_id, user_id, uid, flags, modseq)"
            " VALUES (?, ?, ?, ?, ?)",
            [(mailbox_id, viewer, uid, bits & pmask, modseq)
             for uid, modseq, bits in uid_modseq_bits],
        )


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
    viewer: int | None = None,
) -> tuple[int, int]:
    """RFC 3501 §6.3.11 APPEND: store the body once (deduplicated by SHA-256), add it to
    the mailbox with the next UID and a new modseq.  Returns (uid, modseq).  The private
    part of ``bits`` is ``viewer``'s (see the module docstring).

    Each statement counts at delivery (a dozen per message, issue 12): the mailbox row is
    read once (its quota root comes from it), a new body's row is marked keyed and each
    mailbox entry gets its save date as they are inserted, rather than by an UPDATE each
    after (the ``mailbox_messages_savedate`` trigger fills only a missing one)."""
    box = _selectable(conn, mailbox_id)
    uidnext, highest = box.uidnext, box.highest
    pmask = box.private_mask(viewer)
    # RFC 9208 §4.3, in this transaction.
    quota.enforce(conn, mailbox_id, body.size, 1,
                  quota.root_of(conn, mailbox_id, box.owner_id, box.name))
    row = conn.execute("SELECT id, path FROM messages WHERE sha256 = ?",
                       (body.sha256,)).fetchone()
    keyed = False
    if row is not None:
        message_id, path = int(row[0]), row[1]
        if path is not None and path == body.relpath:
            blobs.install(data_dir, body)  # no-op if the file is there; repairs it if not
        else:
            blobs.discard(body)
    else:
        blobs.install(data_dir, body)
        stored = {k: v for k, v in parsed.items()
                  if k not in TEXT_KEYS and k not in SORT_KEYS and k != PREVIEW_KEY}
        keyed = has_keys(parsed)
        columns = ["sha256", "size", "body", "path", "created_at", "sort_version", *stored]
        values = [body.sha256, body.size, body.inline, body.relpath, int(time.time()),
                  int(keyed)]
        values.extend(stored.values())
        cur = conn.execute(
            f"INSERT INTO messages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            values,
        )
        assert cur.lastrowid is not None
        message_id = cur.lastrowid
        header_size = parsed.get("header_size")
        if body.inline is not None:
            size = header_size if isinstance(header_size, int) else len(body.inline)
            header: bytes | None = body.inline[:size]
        else:
            # The header block of a body kept in a file too (migration 13), so the header
            # fetch never opens the file.
            header = blobs.read_header(data_dir, body, header_size)
        if header is not None:
            conn.execute(
                "INSERT INTO message_headers (message_id, header, size) VALUES (?, ?, ?)",
                (message_id, header, body.size),
            )
    store_text(conn, message_id, parsed)
    store_keys(conn, message_id, parsed, mark=not keyed)
    store_preview(conn, message_id, parsed)
    modseq = highest + 1
    conn.execute(
        "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq, shared_modseq,"
        " flags, keywords, internaldate, internaldate_tz, savedate)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            mailbox_id,
            uidnext,
            message_id,
            modseq,
            modseq,
            bits & ~pmask,
            flagbits.join_keywords(keywords),
            internaldate[0],
            internaldate[1],
            int(time.time()),  # RFC 8514 §3: the save date, what the trigger would set
        ),
    )
    if pmask and bits & pmask:
        _stored_flags(conn, mailbox_id, [(uidnext, modseq, bits)], pmask, viewer)
    _bump(conn, mailbox_id, modseq, uidnext + 1)
    return uidnext, modseq


# -- reading a mailbox ----------------------------------------------------------------------


def store_flags(
    conn: sqlite3.Connection,
    mailbox_id: int,
    uids: Sequence[int],
    mode: StoreMode,
    bits: int,
    keywords: list[str],
    unchanged_since: int | None,
    viewer: int | None = None,
    want_states: bool = True,
) -> StoreResult:
    """RFC 3501 §6.4.6 STORE FLAGS / +FLAGS / -FLAGS, with RFC 7162 §3.1.3 UNCHANGEDSINCE.

    Messages whose flags really change get one new modseq; unchanged ones keep theirs
    (no modseq bump when nothing changed).  With ``unchanged_since``, messages whose modseq
    is above it are left alone and listed in ``modified``.  Flags, modseqs and the
    UNCHANGEDSINCE test are ``viewer``'s.  One function for both paths (see the module
    docstring), ``pmask`` being the viewer's private bits (0 on the owner path):
    - bits outside ``pmask``, and keywords, live in ``mailbox_messages`` (the owner's
      private bits too); a change there moves ``modseq``, and ``shared_modseq`` as well
      when everybody sees it (keywords, or bits outside the mailbox's private mask);
    - bits inside ``pmask`` live in the viewer's ``private_flags`` row, whose own modseq
      moves (the owner's private bits in ``mailbox_messages`` are kept).
    System flags alone on the owner path (``STORE 1:* +FLAGS.SILENT (\\Seen)``) are one
    UPDATE (``_store_bits``).  ``want_states`` False: the caller needs no message's state (a
    .SILENT STORE, RFC 3501 §6.4.6), so ``messages`` lists only the ``modified`` ones.
    """
    box = _selectable(conn, mailbox_id)
    pmask = box.private_mask(viewer)
    visible = ~box.mask & ALL_BITS  # bits whose change every user sees
    if not pmask and not keywords:
        return _store_bits(conn, box, mailbox_id, uids, mode, bits, unchanged_since, visible,
                           want_states)
    if pmask:
        rows = conn.execute(
            "SELECT mm.uid, mm.flags, mm.keywords, mm.shared_modseq, pf.flags, pf.modseq"
            " FROM mailbox_messages mm" + PF_JOIN +
            " WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))"
            " ORDER BY mm.uid",
            (viewer, mailbox_id, _uid_json(uids)),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT uid, flags, keywords, modseq, NULL, NULL FROM mailbox_messages"
            " WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid",
            (mailbox_id, _uid_json(uids)),
        ).fetchall()
    new_modseq = box.highest + 1
    states: list[MessageState] = []
    changed: list[int] = []
    modified: list[int] = []
    seen_by_all: list[tuple[int, str, int, int, int, int]] = []
    owner_only: list[tuple[int, str, int, int, int]] = []
    private: list[tuple[int, int | None, int, int, int]] = []
    for uid, mm_bits, old_kw, mm_modseq, pf_bits, pf_modseq in rows:
        old_bits = (mm_bits & ~pmask) | ((pf_bits or 0) & pmask)
        modseq = max(mm_modseq, pf_modseq or 0)
        if unchanged_since is not None and modseq > unchanged_since:
            modified.append(uid)
            states.append(_state((uid, old_bits, old_kw, modseq)))
            continue
        nb, new_kw = _apply(mode, bits, keywords, old_bits, old_kw)
        diff = nb ^ old_bits
        if not diff and new_kw == old_kw:
            states.append(_state((uid, old_bits, old_kw, modseq)))
            continue
        new_mm = (mm_bits & pmask) | (nb & ~pmask)
        if new_kw != old_kw or diff & visible:
            seen_by_all.append((new_mm, new_kw, new_modseq, new_modseq, mailbox_id, uid))
        elif diff & ~pmask:
            owner_only.append((new_mm, new_kw, new_modseq, mailbox_id, uid))
        if diff & pmask:
            private.append((mailbox_id, viewer, uid, nb & pmask, new_modseq))
        changed.append(uid)
        states.append(_state((uid, nb, new_kw, new_modseq)))
    if seen_by_all:
        conn.executemany(
            "UPDATE mailbox_messages SET flags = ?, keywords = ?, modseq = ?, shared_modseq = ?"
            " WHERE mailbox_id = ? AND uid = ?",
            seen_by_all,
        )
    if owner_only:
        # Only the owner's private bits: shared_modseq (and its index) untouched.
        conn.executemany(
            "UPDATE mailbox_messages SET flags = ?, keywords = ?, modseq = ?"
            " WHERE mailbox_id = ? AND uid = ?",
            owner_only,
        )
    if private:
        conn.executemany(
            "INSERT INTO private_flags (mailbox_id, user_id, uid, flags, modseq)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (mailbox_id, user_id, uid)"
            " DO UPDATE SET flags = excluded.flags, modseq = excluded.modseq",
            private,
        )
    highest = box.highest
    if changed:
        _bump(conn, mailbox_id, new_modseq)
        highest = new_modseq
    return StoreResult(states, changed, modified, highest)


# How each mode computes a message's new system flags from ``flags`` and ``:bits`` in SQL,
# and which bits it changes (SQLite has no XOR).
_NEW_BITS = {"add": "flags | :bits", "remove": "flags & ~:bits", "set": ":bits"}
_DIFF_BITS = {"add": ":bits & ~flags", "remove": "flags & :bits",
              "set": "(flags | :bits) & ~(flags & :bits)"}
MAX_SPANS = 16
"""UID sets of more runs than this are matched through ``json_each``."""
LOG_ONCE_OVER = 64
"""A STORE of more messages than this records its change once, not per row (the trigger
is taken off for the statement, ``commits.logged_once``: a schema change of the writer's
connection, worth it only when many rows change)."""


def _uid_filter(uids: Sequence[int]) -> tuple[str, dict[str, Any]]:
    """SQL (over ``uid``) for "one of ``uids``": ranges of consecutive UIDs when they are
    few (``1:*`` of a mailbox is one primary-key range), else one JSON array."""
    if isinstance(uids, range) and uids.step == 1:  # a whole run (``STORE 1:*``)
        if not uids:
            return "0", {}
        return "(uid BETWEEN :lo0 AND :hi0)", {"lo0": uids[0], "hi0": uids[-1]}
    spans: list[list[int]] = []
    for uid in sorted(set(uids)):
        if spans and uid == spans[-1][1] + 1:
            spans[-1][1] = uid
        else:
            spans.append([uid, uid])
            if len(spans) > MAX_SPANS:
                return "uid IN (SELECT value FROM json_each(:uids))", {"uids": _uid_json(uids)}
    if not spans:
        return "0", {}
    sql = " OR ".join(f"uid BETWEEN :lo{i} AND :hi{i}" for i in range(len(spans)))
    names = {f"lo{i}": lo for i, (lo, _) in enumerate(spans)}
    names.update({f"hi{i}": hi for i, (_, hi) in enumerate(spans)})
    return f"({sql})", names


def _store_bits(
    conn: sqlite3.Connection,
    box: _Box,
    mailbox_id: int,
    uids: Sequence[int],
    mode: StoreMode,
    bits: int,
    unchanged_since: int | None,
    visible: int,
    want_states: bool,
) -> StoreResult:
    """``store_flags`` of system flags only, on the owner path, as one UPDATE: the same
    outcome as the per-message path (one new modseq for every message whose flags
    change, RFC 7162 §3.1; ``shared_modseq`` too when the change is one every user sees;
    "set" also clears the keywords), without a Python object per message."""
    where, names = _uid_filter(uids)
    names.update(box=mailbox_id, bits=bits, visible=visible, m=box.highest + 1,
                 since=unchanged_since)
    scope = f"mailbox_id = :box AND {where}"
    # A message above UNCHANGEDSINCE is left alone and reported (RFC 7162 §3.1.3).
    modified: list[MessageState] = []
    untouched = ""
    if unchanged_since is not None:
        modified = [_state(r) for r in conn.execute(
            f"SELECT uid, flags, keywords, modseq FROM mailbox_messages WHERE {scope}"
            " AND modseq > :since ORDER BY uid", names)]
        untouched = " AND modseq <= :since"
    diff = f"({_DIFF_BITS[mode]}) != 0"
    # shared_modseq moves when every user sees the change (bits outside the mailbox's
    # private mask, or keywords): not named at all when that cannot happen (the owner's
    # own \\Seen), so SQLite leaves its index alone; set outright when it always does.
    if mode != "set" and not bits & visible:
        shared = ""
    elif mode != "set" and not bits & ~visible:
        shared = ", shared_modseq = :m"
    else:
        seen_by_all = f"({_DIFF_BITS[mode]}) & :visible != 0"
        if mode == "set":
            seen_by_all += " OR keywords != ''"
        shared = f", shared_modseq = CASE WHEN {seen_by_all} THEN :m ELSE shared_modseq END"
    keywords = ""
    if mode == "set":  # FLAGS (...) without keywords clears them
        diff, keywords = f"({diff} OR keywords != '')", ", keywords = ''"
    # One change record for the whole statement, not the row trigger once per message
    # (``commits.logged_once``): what IDLE and other sessions' sync need is the mailbox,
    # the kind and the new modseq, the same for every row changed here (RFC 7162 §3.1).
    once = len(uids) > LOG_ONCE_OVER
    with commits.logged_once(conn, "commit_message_flags") if once else nullcontext(False) \
            as logs:
        count = conn.execute(
            f"UPDATE mailbox_messages SET flags = {_NEW_BITS[mode]}, modseq = :m{shared}"
            f"{keywords} WHERE {scope}{untouched} AND {diff}",
            names,
        ).rowcount
    if logs and count > 0:
        commits.record(conn, mailbox_id, commits.ChangeKind.FLAGS, box.highest + 1)
    # The messages changed are those at the new modseq (read through its index, cheaper
    # than RETURNING from the UPDATE).
    changed = [] if count <= 0 else [int(r[0]) for r in conn.execute(
        "SELECT uid FROM mailbox_messages WHERE mailbox_id = :box AND modseq = :m"
        " ORDER BY +uid", names)]
    highest = box.highest
    if changed:
        highest = box.highest + 1
        _bump(conn, mailbox_id, highest)
    result = modified
    if want_states:  # after the UPDATE: the modified ones are as they were
        result = [_state(r) for r in conn.execute(
            f"SELECT uid, flags, keywords, modseq FROM mailbox_messages WHERE {scope}"
            " ORDER BY uid", names)]
    return StoreResult(result, changed, [m.uid for m in modified], highest)


def _apply(
    mode: StoreMode, bits: int, keywords: list[str], old_bits: int, old_kw: str
) -> tuple[int, str]:
    """The (bits, stored keywords) a STORE in ``mode`` leaves on a message."""
    if mode == "set":
        return bits, flagbits.join_keywords(keywords)
    current = flagbits.split_keywords(old_kw)
    if mode == "add":
        return old_bits | bits, flagbits.join_keywords(flagbits.add_keywords(current, keywords))
    return old_bits & ~bits, flagbits.join_keywords(flagbits.remove_keywords(current, keywords))


# -- EXPUNGE, COPY, MOVE ----------------------------------------------------------------------


def _remove(conn: sqlite3.Connection, mailbox_id: int, uids: list[int], modseq: int) -> None:
    """Delete rows and leave tombstones at ``modseq`` (RFC 7162 §3.2.10), with the shared
    flags the messages had (what a session not yet told of the expunge still shows)."""
    doomed = _uid_json(uids)
    conn.execute(
        "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq, flags, keywords)"
        " SELECT mailbox_id, uid, ?, flags, keywords FROM mailbox_messages"
        " WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))",
        (modseq, mailbox_id, doomed),
    )
    conn.execute(
        "DELETE FROM mailbox_messages WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?))",
        (mailbox_id, doomed),
    )
    # Every user's private flags of these messages (a scan of this mailbox's rows only,
    # which are few: one per user and message they changed).
    conn.execute(
        "DELETE FROM private_flags WHERE mailbox_id = ?"
        " AND uid IN (SELECT value FROM json_each(?))",
        (mailbox_id, doomed),
    )


def expunge(
    conn: sqlite3.Connection,
    mailbox_id: int,
    uids: Sequence[int] | None,
    viewer: int | None = None,
) -> tuple[list[int], int]:
    """RFC 3501 §6.4.3 EXPUNGE of every \\Deleted message, or RFC 4315 §2.1 UID EXPUNGE of
    the \\Deleted ones among ``uids``.  Returns (expunged UIDs ascending, highest modseq).
    \\Deleted is always a shared flag (``mailboxes.set_private_flags`` refuses it), so
    ``viewer`` changes nothing; every user's private flags of the messages go with them."""
    highest = _selectable(conn, mailbox_id).highest
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


def remove_one(conn: sqlite3.Connection, mailbox_id: int, uid: int) -> int:
    """RFC 8508 §3.4: the message REPLACE removes, \\Deleted or not (the effect of
    ``STORE +FLAGS.SILENT (\\Deleted)`` then ``UID EXPUNGE`` of it alone); returns the
    new modseq. ``NotFound`` if the UID is no longer there (expunged meanwhile)."""
    highest = _selectable(conn, mailbox_id).highest
    found = conn.execute("SELECT 1 FROM mailbox_messages WHERE mailbox_id = ? AND uid = ?",
                         (mailbox_id, uid)).fetchone()
    if found is None:
        raise NotFound(f"no message with UID {uid} in mailbox {mailbox_id}")
    modseq = highest + 1
    _remove(conn, mailbox_id, [uid], modseq)
    _bump(conn, mailbox_id, modseq)
    return modseq


def copy(
    conn: sqlite3.Connection,
    source_id: int,
    uids: Sequence[int],
    target_id: int,
    move: bool,
    viewer: int | None = None,
) -> CopyResult:
    """RFC 3501 §6.4.7 COPY (flags and INTERNALDATE kept, bodies shared, never copied) or
    RFC 6851 MOVE (copy, then expunge from the source in the same transaction).  UIDs
    missing from the source are skipped; the map is in source UID order for COPYUID.
    The copies carry the flags as ``viewer`` sees them in the source, stored by the
    target's rules for ``viewer`` (their private bits are theirs in the target too; the
    target's owner, if someone else, starts without them)."""
    source_mask = _selectable(conn, source_id).private_mask(viewer)
    target = _selectable(conn, target_id)
    uidnext, highest, uidvalidity = target.uidnext, target.highest, target.uidvalidity
    target_mask = target.private_mask(viewer)
    flags_sql = pf_flags(source_mask) if source_mask else "mm.flags"
    rows = conn.execute(
        f"SELECT mm.uid, mm.message_id, {flags_sql}, mm.keywords, mm.internaldate,"
        " mm.internaldate_tz FROM mailbox_messages mm" + (PF_JOIN if source_mask else "") +
        " WHERE mm.mailbox_id = ? AND mm.uid IN (SELECT value FROM json_each(?))"
        " ORDER BY mm.uid",
        _params(source_mask, viewer, source_id, _uid_json(uids)),
    ).fetchall()
    if not rows:
        return CopyResult(uidvalidity, [], [])
    if not (move and quota.quota_root_of(conn, source_id) == quota.quota_root_of(conn, target_id)):
        # RFC 9208 §4.3: checked here, in the transaction that adds them.  A MOVE within
        # one quota root changes no usage.
        (octets,) = conn.execute(
            "SELECT coalesce(sum(m.size), 0) FROM json_each(?) j JOIN messages m ON m.id = j.value",
            (json.dumps([int(r[1]) for r in rows]),),
        ).fetchone()
        quota.enforce(conn, target_id, int(octets), len(rows))
    modseq = highest + 1
    uid_map = [(int(r[0]), uidnext + i) for i, r in enumerate(rows)]
    conn.executemany(
        "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq, shared_modseq,"
        " flags, keywords, internaldate, internaldate_tz) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (target_id, new_uid, r[1], modseq, modseq, r[2] & ~target_mask, r[3], r[4], r[5])
            for (_, new_uid), r in zip(uid_map, rows, strict=True)
        ],
    )
    if target_mask:
        _stored_flags(
            conn,
            target_id,
            [(new_uid, modseq, int(r[2])) for (_, new_uid), r in zip(uid_map, rows, strict=True)
             if int(r[2]) & target_mask],
            target_mask,
            viewer,
        )
    _bump(conn, target_id, modseq, uidnext + len(rows))
    expunged: list[int] = []
    if move:
        # Re-read: with source == target the modseq was just bumped.
        source_highest = _selectable(conn, source_id).highest
        expunged = [src for src, _ in uid_map]
        _remove(conn, source_id, expunged, source_highest + 1)
        _bump(conn, source_id, source_highest + 1)
    return CopyResult(uidvalidity, uid_map, expunged)


def recent_uids(conn: sqlite3.Connection, mailbox_id: int) -> list[int]:
    """The UIDs no session has claimed as \\Recent yet (RFC 3501 §2.3.2), what STATUS
    counts: ``uid >= first_recent_uid``."""
    _selectable(conn, mailbox_id)
    return [
        int(r[0])
        for r in conn.execute(
            "SELECT mm.uid FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id"
            " WHERE mm.mailbox_id = ? AND mm.uid >= m.first_recent_uid ORDER BY mm.uid",
            (mailbox_id,),
        )
    ]


def claim_recent(conn: sqlite3.Connection, mailbox_id: int) -> list[int]:
    """RFC 3501 §2.3.2 \\Recent: the first session to select the mailbox since messages
    arrived gets their UIDs (returned); later sessions get none."""
    uidnext = _selectable(conn, mailbox_id).uidnext
    recent = recent_uids(conn, mailbox_id)
    conn.execute(
        "UPDATE mailboxes SET first_recent_uid = ? WHERE id = ? AND first_recent_uid != ?",
        (uidnext, mailbox_id, uidnext),
    )
    return recent
