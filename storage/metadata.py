"""Annotations of mailboxes and of the server (RFC 5464 METADATA), in the ``metadata`` table.

One row per entry: ``mailbox_id`` NULL for a server entry (RFC 5464 §3.2.1.1), ``user_id``
NULL for a shared entry ("/shared/...") and the owning user for a private one
("/private/...", RFC 5464 §3.3: "stored on a per-user basis and not visible to other
users"). Names are stored lower-cased: entry names are case-insensitive (§3.2). Rows go
with their mailbox and their user (ON DELETE CASCADE: §4.1 "Servers SHOULD delete
annotations for a mailbox when the mailbox is deleted"); RENAME keeps the mailbox id, so the
entries follow it (§4.1), and renaming INBOX copies them (``copy_entries``).

Storage knows no IMAP syntax: the server validates entry names and checks rights; here are
the reads, and the one write that applies a whole SETMETADATA or none of it (§4.3: "When any
one annotation fails to be set ... the server MUST NOT change the values for other
annotations").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import NotFound, StorageError

PRIVATE = "/private"
SHARED = "/shared"


class MetadataTooBig(StorageError):
    """An entry value is larger than the limit (RFC 5464 §4.3 ``[METADATA MAXSIZE n]``)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"annotation values are limited to {limit} octets")
        self.limit = limit


class MetadataTooMany(StorageError):
    """The change would exceed the number of entries allowed (``[METADATA TOOMANY]``)."""


@dataclass(frozen=True)
class MetadataLimits:
    max_size: int
    """Octets of one value."""
    max_entries: int
    """Entries on one mailbox (or on the server) as one user sees them: the shared ones plus
    that user's private ones."""
    max_user_entries: int
    """Private entries one user holds over every mailbox and the server."""


def _is_private(name: str) -> bool:
    return name == PRIVATE or name.startswith(PRIVATE + "/")


def _owner_clause(user_id: int) -> tuple[str, tuple[int, ...]]:
    """The rows a user sees on one target: the shared ones and their own private ones."""
    return "(user_id IS NULL OR user_id = ?)", (user_id,)


def get_entries(conn: sqlite3.Connection, mailbox_id: int | None, user_id: int,
                names: Iterable[str], infinite: bool) -> dict[str, bytes]:
    """The entries ``user_id`` sees on ``mailbox_id`` (None: the server) named in ``names``
    (lower-cased) or below them: every level below when ``infinite``, else one (the server
    cuts DEPTH 0 and 1 further; RFC 5464 §4.2.2)."""
    owner, args = _owner_clause(user_id)
    found: dict[str, bytes] = {}
    for name in names:
        scope_user: int | None = user_id if _is_private(name) else None
        rows = conn.execute(
            "SELECT name, value FROM metadata WHERE mailbox_id IS ? AND user_id IS ?"
            f" AND {owner} AND (name = ? OR (name > ? AND name < ?))",
            (mailbox_id, scope_user, *args, name, name + "/", name + "0"),
        ).fetchall()
        depth = name.count("/")
        for entry, value in rows:
            if infinite or entry.count("/") <= depth + 1:
                found[str(entry)] = bytes(value)
    return found


def set_entries(conn: sqlite3.Connection, mailbox_id: int | None, user_id: int,
                entries: list[tuple[str, bytes | None]], limits: MetadataLimits) -> None:
    """Writer thread: set (bytes) or delete (None) each entry (lower-cased names) of
    ``mailbox_id`` (None: the server) as ``user_id``; all or nothing (RFC 5464 §4.3).
    ``MetadataTooBig``, ``MetadataTooMany``; ``NotFound`` for a mailbox deleted since the
    server looked it up."""
    if mailbox_id is not None and conn.execute(
            "SELECT 1 FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone() is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    for _, value in entries:
        if value is not None and len(value) > limits.max_size:
            raise MetadataTooBig(limits.max_size)
    grew = False
    for name, value in entries:
        scope_user = user_id if _is_private(name) else None
        if value is None:
            conn.execute(
                "DELETE FROM metadata WHERE mailbox_id IS ? AND user_id IS ? AND name = ?",
                (mailbox_id, scope_user, name),
            )
            continue
        updated = conn.execute(
            "UPDATE metadata SET value = ? WHERE mailbox_id IS ? AND user_id IS ? AND name = ?"
            " AND value IS NOT ?",
            (value, mailbox_id, scope_user, name, value),
        ).rowcount
        if updated:
            continue
        exists = conn.execute(
            "SELECT 1 FROM metadata WHERE mailbox_id IS ? AND user_id IS ? AND name = ?",
            (mailbox_id, scope_user, name),
        ).fetchone()
        if exists is None:
            conn.execute(
                "INSERT INTO metadata (mailbox_id, user_id, name, value) VALUES (?, ?, ?, ?)",
                (mailbox_id, scope_user, name, value),
            )
            grew = True
    if grew:
        # Counted after the whole change, so that a command deleting one entry and adding
        # another at the limit succeeds; raising rolls every change of it back.
        owner, args = _owner_clause(user_id)
        on_target = int(conn.execute(
            f"SELECT count(*) FROM metadata WHERE mailbox_id IS ? AND {owner}",
            (mailbox_id, *args),
        ).fetchone()[0])
        private = int(conn.execute(
            "SELECT count(*) FROM metadata WHERE user_id = ?", (user_id,)
        ).fetchone()[0])
        if on_target > limits.max_entries or private > limits.max_user_entries:
            raise MetadataTooMany("too many annotations")


def copy_entries(conn: sqlite3.Connection, source_id: int, target_id: int) -> None:
    """Writer thread: give ``target_id`` a copy of every entry of ``source_id``: RFC 5464
    §4.1, "the annotations are copied from the original INBOX to the renamed mailbox"."""
    conn.execute(
        "INSERT INTO metadata (mailbox_id, user_id, name, value)"
        " SELECT ?, user_id, name, value FROM metadata WHERE mailbox_id = ?",
        (target_id, source_id),
    )
