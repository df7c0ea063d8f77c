"""Mailboxes and their hierarchy: functions run on the database thread (see ``db.py``).

Invariant kept by every function here: each proper superior of an existing name exists as
a row (selectable, or a ``noselect`` placeholder), so the inferiors of "a" are exactly the
owner's rows in the name range ["a/", "a0") — see ``names.inferior_range``.

Owners: the ``*_in`` functions take ``owner_id: int | None``, where None is the owner of
the shared mailboxes (``mailboxes.owner_id`` NULL, see migrations.py), a hierarchy of
its own.  Their SQL compares with ``owner_id IS ?`` (``= ?`` never matches NULL), which
SQLite serves from the UNIQUE(owner_id, name) index like ``=``.  The user-id functions
(``get_mailbox``, ``create_mailbox``…) are the same code with an ``int`` owner.  INBOX
is special (cannot be deleted, RENAME moves its messages) only in a user's hierarchy; a
shared mailbox called "INBOX" is an ordinary name.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from . import serial
from .errors import AlreadyExists, HasChildren, InvalidName, NotFound, StorageError
from .flags import DELETED, FLAGGED, SEEN
from .metadata import copy_entries
from .models import MailboxInfo, MailboxStatus
from .names import INBOX, ancestors, inferior_range, is_inferior, validate_name

_COLUMNS = (
    "id, owner_id, name, uidvalidity, uidnext, highest_modseq, noselect, special_use,"
    " private_flags"
)
_MAX_UIDVALIDITY = 0xFFFFFFFF


def _info(row: tuple[Any, ...]) -> MailboxInfo:
    return MailboxInfo(
        id=int(row[0]),
        owner_id=None if row[1] is None else int(row[1]),
        name=str(row[2]),
        uidvalidity=int(row[3]),
        uidnext=int(row[4]),
        highest_modseq=int(row[5]),
        noselect=bool(row[6]),
        special_use=None if row[7] is None else str(row[7]),
        private_flags=int(row[8]),
    )


def next_uidvalidity(conn: sqlite3.Connection) -> int:
    """A UIDVALIDITY larger than any handed out before in this database.

    RFC 3501 §2.3.1.1: UIDVALIDITY must change when a mailbox is re-created under the same
    name.  The value is the current Unix time, or the last value + 1 when that is not
    larger (several creations in one second, clock stepped back), so it strictly increases
    and stays a 32-bit nz-number until 2106.
    """
    row = conn.execute("SELECT value FROM meta WHERE key = 'last_uidvalidity'").fetchone()
    last = 0 if row is None else int(row[0])
    value = max(int(time.time()), last + 1)
    if value > _MAX_UIDVALIDITY:
        raise StorageError("UIDVALIDITY space exhausted")
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (value,),
    )
    return value


def insert_mailbox(
    conn: sqlite3.Connection, owner_id: int | None, name: str, special_use: str | None = None
) -> int:
    """Insert one selectable mailbox row with a fresh UIDVALIDITY; return its id."""
    try:
        cur = conn.execute(
            "INSERT INTO mailboxes (owner_id, name, uidvalidity, special_use, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (owner_id, name, next_uidvalidity(conn), special_use, int(time.time())),
        )
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"mailbox {name!r} exists") from None
    assert cur.lastrowid is not None
    return cur.lastrowid


def _require_owner(conn: sqlite3.Connection, user_id: int) -> None:
    if conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
        raise NotFound(f"no user with id {user_id}")


def list_mailboxes_in(conn: sqlite3.Connection, owner_id: int | None) -> list[MailboxInfo]:
    """All mailboxes of ``owner_id`` (None: the shared ones), placeholders included,
    sorted by name (binary order)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM mailboxes WHERE owner_id IS ? ORDER BY name", (owner_id,)
    ).fetchall()
    return [_info(row) for row in rows]


def list_mailboxes(conn: sqlite3.Connection, user_id: int) -> list[MailboxInfo]:
    """All of the user's mailboxes, placeholders included, sorted by name (binary order)."""
    return list_mailboxes_in(conn, user_id)


def get_mailbox_in(conn: sqlite3.Connection, owner_id: int | None, name: str) -> MailboxInfo | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM mailboxes WHERE owner_id IS ? AND name = ?", (owner_id, name)
    ).fetchone()
    return None if row is None else _info(row)


def get_mailbox(conn: sqlite3.Connection, user_id: int, name: str) -> MailboxInfo | None:
    return get_mailbox_in(conn, user_id, name)


def get_mailbox_by_id(conn: sqlite3.Connection, mailbox_id: int) -> MailboxInfo | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone()
    return None if row is None else _info(row)


def has_inferiors_in(conn: sqlite3.Connection, owner_id: int | None, name: str) -> bool:
    lo, hi = inferior_range(name)
    row = conn.execute(
        "SELECT 1 FROM mailboxes WHERE owner_id IS ? AND name >= ? AND name < ? LIMIT 1",
        (owner_id, lo, hi),
    ).fetchone()
    return row is not None


def has_inferiors(conn: sqlite3.Connection, user_id: int, name: str) -> bool:
    return has_inferiors_in(conn, user_id, name)


def _create_ancestors(conn: sqlite3.Connection, owner_id: int | None, name: str) -> None:
    """RFC 3501 §6.3.3: create missing superiors as ordinary selectable mailboxes (as
    Dovecot does), so the hierarchy invariant holds for ``name``."""
    for superior in ancestors(name):
        if get_mailbox_in(conn, owner_id, superior) is None:
            insert_mailbox(conn, owner_id, superior)


def create_mailbox(
    conn: sqlite3.Connection, user_id: int, name: str, special_use: str | None
) -> MailboxInfo:
    """RFC 3501 §6.3.3 CREATE; see ``create_mailbox_in``."""
    return create_mailbox_in(conn, user_id, name, special_use)


def create_mailbox_in(
    conn: sqlite3.Connection, owner_id: int | None, name: str, special_use: str | None
) -> MailboxInfo:
    """RFC 3501 §6.3.3 CREATE in the hierarchy of ``owner_id`` (None: shared).

    A name held by a ``noselect`` placeholder (left by DELETE of a mailbox with inferiors)
    becomes selectable again with a new UIDVALIDITY and UIDNEXT 1 (RFC 3501 §2.3.1.1).
    ``NotFound`` for an unknown user id.
    """
    validate_name(name)
    if owner_id is not None:
        _require_owner(conn, owner_id)
    existing = get_mailbox_in(conn, owner_id, name)
    if existing is not None:
        if not existing.noselect:
            raise AlreadyExists(f"mailbox {name!r} exists")
        conn.execute(
            "UPDATE mailboxes SET noselect = 0, uidvalidity = ?, uidnext = 1,"
            " first_recent_uid = 1, special_use = ? WHERE id = ?",
            (next_uidvalidity(conn), special_use, existing.id),
        )
        mailbox_id = existing.id
    else:
        _create_ancestors(conn, owner_id, name)
        mailbox_id = insert_mailbox(conn, owner_id, name, special_use)
    info = get_mailbox_by_id(conn, mailbox_id)
    assert info is not None
    return info


def _clear_contents(conn: sqlite3.Connection, mailbox_id: int) -> None:
    """Drop a mailbox's messages, private flags, tombstones and ACL (the refcount trigger
    releases the message bodies).  Private flags must go: the UIDs restart at 1 when the
    name is created again."""
    conn.execute("DELETE FROM mailbox_messages WHERE mailbox_id = ?", (mailbox_id,))
    conn.execute("DELETE FROM private_flags WHERE mailbox_id = ?", (mailbox_id,))
    conn.execute("DELETE FROM expunged WHERE mailbox_id = ?", (mailbox_id,))
    conn.execute("DELETE FROM acl WHERE mailbox_id = ?", (mailbox_id,))
    serial.bump(conn)


def _prune_placeholders(conn: sqlite3.Connection, owner_id: int | None, name: str) -> None:
    """Remove ``noselect`` superiors of ``name`` that no longer have any inferior,
    innermost first; stop at the first superior that must stay."""
    for superior in reversed(ancestors(name)):
        info = get_mailbox_in(conn, owner_id, superior)
        if info is None or not info.noselect or has_inferiors_in(conn, owner_id, superior):
            return
        conn.execute("DELETE FROM mailboxes WHERE id = ?", (info.id,))


def delete_mailbox(conn: sqlite3.Connection, user_id: int, name: str) -> None:
    """RFC 3501 §6.3.4 DELETE; see ``delete_mailbox_in``."""
    delete_mailbox_in(conn, user_id, name)


def delete_mailbox_in(conn: sqlite3.Connection, owner_id: int | None, name: str) -> None:
    """RFC 3501 §6.3.4 DELETE in the hierarchy of ``owner_id`` (None: shared).

    - A user's INBOX cannot be deleted: ``InvalidName``.
    - With inferiors: a selectable mailbox loses its messages and becomes ``noselect`` (the
      row stays so the inferiors remain reachable); an existing placeholder raises
      ``HasChildren`` ("It is an error to attempt to delete a name that has inferior
      hierarchical names and also has the \\Noselect mailbox name attribute").
    - Without inferiors: the row goes (cascading to messages, tombstones, ACL), then any
      placeholder superiors left without inferiors go too.
    Subscriptions are kept (RFC 3501 §6.3.6).
    """
    if name == INBOX and owner_id is not None:
        raise InvalidName("INBOX cannot be deleted")
    info = get_mailbox_in(conn, owner_id, name)
    if info is None:
        raise NotFound(f"no mailbox {name!r}")
    if has_inferiors_in(conn, owner_id, name):
        if info.noselect:
            raise HasChildren(f"{name!r} has inferior mailboxes and is \\Noselect")
        _clear_contents(conn, info.id)
        conn.execute(
            "UPDATE mailboxes SET noselect = 1, special_use = NULL WHERE id = ?", (info.id,)
        )
        return
    conn.execute("DELETE FROM mailboxes WHERE id = ?", (info.id,))
    _prune_placeholders(conn, owner_id, name)


def rename_mailbox(conn: sqlite3.Connection, user_id: int, old: str, new: str) -> None:
    """RFC 3501 §6.3.5 RENAME; see ``rename_mailbox_in``."""
    rename_mailbox_in(conn, user_id, old, new)


def rename_mailbox_in(conn: sqlite3.Connection, owner_id: int | None, old: str, new: str) -> None:
    """RFC 3501 §6.3.5 RENAME within the hierarchy of ``owner_id`` (None: shared).

    The mailbox and all its inferiors move ("a" -> "b" renames "a/x" to "b/x"), keeping
    their ids, UIDVALIDITY and messages; missing superiors of ``new`` are created;
    placeholders left without inferiors under ``old`` are removed.  Renaming into one's own
    inferior ("a" -> "a/b") is ``InvalidName``.  A user's INBOX is special, see
    ``_rename_inbox``.
    """
    validate_name(new)
    source = get_mailbox_in(conn, owner_id, old)
    if source is None:
        raise NotFound(f"no mailbox {old!r}")
    if get_mailbox_in(conn, owner_id, new) is not None:
        raise AlreadyExists(f"mailbox {new!r} exists")
    if old == INBOX and owner_id is not None:
        _rename_inbox(conn, owner_id, source, new)
        return
    if is_inferior(new, old):
        raise InvalidName(f"cannot rename {old!r} into its own inferior {new!r}")
    _create_ancestors(conn, owner_id, new)
    lo, hi = inferior_range(old)
    try:
        conn.execute(
            "UPDATE mailboxes SET name = ? || substr(name, ?)"
            " WHERE owner_id IS ? AND (name = ? OR (name >= ? AND name < ?))",
            (new, len(old) + 1, owner_id, old, lo, hi),
        )
    except sqlite3.IntegrityError:  # cannot happen while the hierarchy invariant holds
        raise AlreadyExists(f"an inferior of {new!r} exists") from None
    _prune_placeholders(conn, owner_id, old)


def _rename_inbox(conn: sqlite3.Connection, user_id: int, inbox: MailboxInfo, new: str) -> None:
    """RFC 3501 §6.3.5: renaming INBOX moves all its messages to a new mailbox ``new``
    and leaves INBOX empty; INBOX's inferiors do not move.

    The new mailbox gets a new UIDVALIDITY and UIDs 1..n in the old UID order, flags and
    INTERNALDATE kept.  INBOX keeps its UIDVALIDITY and UIDNEXT; the moved messages leave
    expunge tombstones at a new modseq so sessions with INBOX selected learn of it.
    """
    _create_ancestors(conn, user_id, new)
    new_id = insert_mailbox(conn, user_id, new)
    # RFC 5464 §4.1: INBOX's annotations are copied to the new mailbox and kept on INBOX.
    copy_entries(conn, inbox.id, new_id)
    count = int(
        conn.execute(
            "SELECT count(*) FROM mailbox_messages WHERE mailbox_id = ?", (inbox.id,)
        ).fetchone()[0]
    )
    if count == 0:
        return
    new_modseq = 2  # a fresh mailbox starts at highest_modseq 1; this is its first change
    conn.execute(
        "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq, shared_modseq,"
        " flags, keywords, internaldate, internaldate_tz)"
        " SELECT ?, row_number() OVER (ORDER BY uid), message_id, ?, ?, flags, keywords,"
        " internaldate, internaldate_tz FROM mailbox_messages WHERE mailbox_id = ?",
        (new_id, new_modseq, new_modseq, inbox.id),
    )
    conn.execute(
        "UPDATE mailboxes SET uidnext = ?, highest_modseq = ? WHERE id = ?",
        (count + 1, new_modseq, new_id),
    )
    inbox_modseq = inbox.highest_modseq + 1
    conn.execute(
        "INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq)"
        " SELECT mailbox_id, uid, ? FROM mailbox_messages WHERE mailbox_id = ?",
        (inbox_modseq, inbox.id),
    )
    conn.execute("DELETE FROM mailbox_messages WHERE mailbox_id = ?", (inbox.id,))
    # Other users' private flags stay behind: the new mailbox has no ACL, nobody else sees it.
    conn.execute("DELETE FROM private_flags WHERE mailbox_id = ?", (inbox.id,))
    conn.execute("UPDATE mailboxes SET highest_modseq = ? WHERE id = ?", (inbox_modseq, inbox.id))


def mailbox_status(
    conn: sqlite3.Connection,
    mailbox_id: int,
    viewer: int | None = None,
    deleted_storage: bool = False,
    size: bool = False,
) -> MailboxStatus:
    """Counters for STATUS / SELECT (RFC 3501 §6.3.10, §6.3.1), computed in one pass over
    the mailbox's rows.  \\Recent: UIDs at or above ``first_recent_uid``.  UNSEEN counts
    \\Seen as ``viewer`` sees it: when \\Seen is private and the viewer is not the owner,
    it is the messages minus the viewer's private \\Seen rows.  HIGHESTMODSEQ is the
    mailbox's, the same for every user (RFC 7162 §3.1.2.1 only asks that it never go
    below any message's modseq the user can see)."""
    row = conn.execute(
        "SELECT uidnext, uidvalidity, highest_modseq, first_recent_uid, owner_id, private_flags"
        " FROM mailboxes WHERE id = ?",
        (mailbox_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    uidnext, uidvalidity, highest_modseq, first_recent, owner_id, mask = row
    private_seen = viewer is not None and viewer != owner_id and (mask & SEEN)
    counts = conn.execute(
        "SELECT count(*), coalesce(sum(uid >= ?), 0), coalesce(sum((flags & ?) = 0), 0),"
        " coalesce(sum((flags & ?) != 0), 0)"
        " FROM mailbox_messages WHERE mailbox_id = ?",
        (first_recent, 0 if private_seen else SEEN, DELETED, mailbox_id),
    ).fetchone()
    kib = total = 0
    if size and counts[0]:
        # RFC 8438 §3: the octets of every message, counted as the STORAGE quota counts
        # them (storage/quota.py: once per mailbox holding it), so SIZE equals the usage.
        (total, deleted_octets) = conn.execute(
            "SELECT coalesce(sum(m.size), 0), coalesce(sum(CASE WHEN (mm.flags & ?) != 0"
            " THEN m.size ELSE 0 END), 0) FROM mailbox_messages mm"
            " JOIN messages m ON m.id = mm.message_id WHERE mm.mailbox_id = ?",
            (DELETED, mailbox_id),
        ).fetchone()
        kib = (int(deleted_octets) + 1023) // 1024
    elif deleted_storage and counts[3]:
        # \Deleted is never private, so the shared bits decide (RFC 9208 §4.1.4: what an
        # EXPUNGE would free, here the messages' sizes, in the STORAGE unit of 1024 octets).
        (octets,) = conn.execute(
            "SELECT coalesce(sum(m.size), 0) FROM mailbox_messages mm"
            " JOIN messages m ON m.id = mm.message_id"
            " WHERE mm.mailbox_id = ? AND (mm.flags & ?) != 0",
            (mailbox_id, DELETED),
        ).fetchone()
        kib = (int(octets) + 1023) // 1024
    unseen = int(counts[2])
    if private_seen:
        # Rows of expunged messages are deleted with them, so no join is needed.
        (seen,) = conn.execute(
            "SELECT count(*) FROM private_flags"
            " WHERE mailbox_id = ? AND user_id = ? AND (flags & ?) != 0",
            (mailbox_id, viewer, SEEN),
        ).fetchone()
        unseen = int(counts[0]) - int(seen)
    return MailboxStatus(
        messages=int(counts[0]),
        recent=int(counts[1]),
        uidnext=int(uidnext),
        uidvalidity=int(uidvalidity),
        unseen=unseen,
        highest_modseq=int(highest_modseq),
        deleted=int(counts[3]),
        deleted_storage=kib,
        size=int(total),
    )


PRIVATE_FLAG_MASKS = (0, SEEN, SEEN | FLAGGED)
"""The masks offered to administrators: none, \\Seen, \\Seen and \\Flagged."""


def set_private_flags(conn: sqlite3.Connection, mailbox_id: int, mask: int) -> None:
    """Which system flags are kept per user in this mailbox (see migrations.py, version 4).

    ``mask`` is a bitmask of system flags other than \\Deleted (``ValueError``
    otherwise).  The new mask applies from now on: nothing is copied between the shared
    and private places, so a flag that becomes private starts clear for every non-owner
    (the owner keeps theirs), and one that becomes shared shows the owner's value to all
    (for a mailbox of no owner: the value last stored in the shared row).  Since what
    users see may change, every message gets a new modseq (one bump of the mailbox's
    modseq), so CONDSTORE/QRESYNC clients and selected sessions refetch the flags.
    ``NotFound``.
    """
    if mask & ~31 or mask & DELETED or mask < 0:
        raise ValueError(f"invalid private flag mask {mask}")
    row = conn.execute(
        "SELECT private_flags, highest_modseq FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    if int(row[0]) == mask:
        return
    modseq = int(row[1]) + 1
    conn.execute(
        "UPDATE mailboxes SET private_flags = ?, highest_modseq = ? WHERE id = ?",
        (mask, modseq, mailbox_id),
    )
    conn.execute(
        "UPDATE mailbox_messages SET modseq = ?, shared_modseq = ? WHERE mailbox_id = ?",
        (modseq, modseq, mailbox_id),
    )
