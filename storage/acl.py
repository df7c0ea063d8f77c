"""Access control lists (RFC 4314): functions run on the database thread (see ``db.py``).

Storage deals in mailbox ids, identifiers and rights strings; the IMAP side (SETACL's
"+"/"-" modifiers, the virtual "c"/"d" rights in responses, which right each command
needs, RFC 4314 §4) belongs to the server.

- An identifier is a user name (case-sensitive, as users are), ``ANYONE``, or one of those
  prefixed "-" for a negative right (RFC 4314 §2).  Entries are kept by name: an entry
  may name a user that does not exist (yet).  Deleting a user deletes the entries naming
  them (trigger ``users_delete_acl_quota``, migrations.py version 3).
- Rights are stored normalised: each letter once, in ``ALL_RIGHTS`` order.  The obsolete
  RFC 2086 rights are accepted on input and expanded as RFC 4314 §2.1.1 allows: "c" to
  "kx" (create), "d" to "et" (delete).  Other letters, digits (no implementation-defined
  rights here) and upper case are ``InvalidRights``.
- Effective rights (``rights_of``): a mailbox's owner has every right implicitly, whatever
  the ACL says (so an owner cannot lock themselves out); anyone else gets the union of the
  entries for their name and "anyone", minus the union of "-name" and "-anyone".  Shared
  mailboxes (no owner) are reachable only through their ACL.
- The ACL belongs to the mailbox id: RENAME keeps it, DELETE drops it (also when the
  mailbox stays as a ``noselect`` placeholder), CREATE starts with an empty one (no
  inheritance from the parent).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from . import serial
from .errors import InvalidName, NotFound
from .mailboxes import _COLUMNS, _info
from .models import AclEntry, MailboxInfo

ALL_RIGHTS = "lrswipkxtea"
"""Every standard right, in RFC 4314 §2.1 order."""

ANYONE = "anyone"
NEGATIVE = "-"

OBSOLETE_RIGHTS = {"c": "kx", "d": "et"}
"""RFC 4314 §2.1.1 virtual rights and what they expand to on input."""

MAX_IDENTIFIER_LENGTH = 256


class InvalidRights(InvalidName):
    """A rights string with a letter that is not a known right (RFC 4314 §2.1), or a
    malformed identifier.  A subclass of ``InvalidName``, so it maps to ``NO [CANNOT]``
    where the server does not tell them apart."""


def normalise_rights(rights: str) -> str:
    """``rights`` as a set in ``ALL_RIGHTS`` order, "c"/"d" expanded; ``InvalidRights``
    for any other character.  "" stays ""."""
    letters: set[str] = set()
    for ch in rights:
        if ch in OBSOLETE_RIGHTS:
            letters.update(OBSOLETE_RIGHTS[ch])
        elif ch in ALL_RIGHTS:
            letters.add(ch)
        else:
            raise InvalidRights(f"unknown right {ch!r}")
    return "".join(r for r in ALL_RIGHTS if r in letters)


def validate_identifier(identifier: str) -> None:
    """``InvalidRights`` for an empty identifier (or a lone "-"), a control character, or
    one longer than a user name can be."""
    base = identifier[1:] if identifier.startswith(NEGATIVE) else identifier
    if not base:
        raise InvalidRights("empty ACL identifier")
    if len(identifier) > MAX_IDENTIFIER_LENGTH:
        raise InvalidRights("ACL identifier too long")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in identifier):
        raise InvalidRights("control character in ACL identifier")


def combine(granted: Iterable[str], denied: Iterable[str]) -> str:
    """Union of ``granted`` rights strings minus the union of ``denied``, in
    ``ALL_RIGHTS`` order."""
    plus = set("".join(granted))
    minus = set("".join(denied))
    return "".join(r for r in ALL_RIGHTS if r in plus and r not in minus)


def _require_mailbox(conn: sqlite3.Connection, mailbox_id: int) -> int | None:
    """The mailbox's owner id (None: shared); ``NotFound`` when it does not exist."""
    row = conn.execute("SELECT owner_id FROM mailboxes WHERE id = ?", (mailbox_id,)).fetchone()
    if row is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    return None if row[0] is None else int(row[0])


def get_acl(conn: sqlite3.Connection, mailbox_id: int) -> list[AclEntry]:
    """The stored entries sorted by identifier (binary order); the owner's implicit
    rights are not among them.  ``NotFound`` for an unknown mailbox."""
    _require_mailbox(conn, mailbox_id)
    rows = conn.execute(
        "SELECT identifier, rights FROM acl WHERE mailbox_id = ? ORDER BY identifier",
        (mailbox_id,),
    ).fetchall()
    return [AclEntry(str(r[0]), str(r[1])) for r in rows]


def set_acl(conn: sqlite3.Connection, mailbox_id: int, identifier: str, rights: str) -> None:
    """Replace the entry of ``identifier`` with ``rights`` (normalised); empty rights
    delete it.  Nothing else changes (no modseq: ACLs are not message state).
    ``NotFound``, ``InvalidRights``."""
    validate_identifier(identifier)
    normal = normalise_rights(rights)
    _require_mailbox(conn, mailbox_id)
    serial.bump(conn)
    if not normal:
        conn.execute(
            "DELETE FROM acl WHERE mailbox_id = ? AND identifier = ?", (mailbox_id, identifier)
        )
        return
    conn.execute(
        "INSERT INTO acl (mailbox_id, identifier, rights) VALUES (?, ?, ?)"
        " ON CONFLICT (mailbox_id, identifier) DO UPDATE SET rights = excluded.rights",
        (mailbox_id, identifier, normal),
    )


def delete_acl(conn: sqlite3.Connection, mailbox_id: int, identifier: str) -> None:
    """RFC 4314 DELETEACL: remove the entry of ``identifier``, if any.  ``NotFound`` only
    for an unknown mailbox."""
    _require_mailbox(conn, mailbox_id)
    serial.bump(conn)
    conn.execute(
        "DELETE FROM acl WHERE mailbox_id = ? AND identifier = ?", (mailbox_id, identifier)
    )


def _identifiers(user_name: str) -> tuple[str, str, str, str]:
    return user_name, ANYONE, NEGATIVE + user_name, NEGATIVE + ANYONE


def rights_of(conn: sqlite3.Connection, mailbox_id: int, user_id: int, user_name: str) -> str:
    """The effective rights of the user on the mailbox (RFC 4314 §2, MYRIGHTS): all of
    ``ALL_RIGHTS`` for the owner, else entries for the name and "anyone" minus those of
    "-name" and "-anyone"; "" when none.  One query.  ``NotFound``."""
    ids = _identifiers(user_name)
    rows = conn.execute(
        "SELECT m.owner_id, a.identifier, a.rights FROM mailboxes m"
        " LEFT JOIN acl a ON a.mailbox_id = m.id AND a.identifier IN (?, ?, ?, ?)"
        " WHERE m.id = ?",
        (*ids, mailbox_id),
    ).fetchall()
    if not rows:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    if rows[0][0] is not None and int(rows[0][0]) == user_id:
        return ALL_RIGHTS
    granted = [str(r[2]) for r in rows if r[1] is not None and not str(r[1]).startswith("-")]
    denied = [str(r[2]) for r in rows if r[1] is not None and str(r[1]).startswith("-")]
    return combine(granted, denied)


def visible_mailboxes(
    conn: sqlite3.Connection, user_id: int, user_name: str
) -> list[tuple[MailboxInfo, str, str | None]]:
    """Mailboxes not owned by ``user_id`` on which the user has the "l" right, with the
    effective rights and the owner's name (None for a shared mailbox).

    One query: the user's four identifiers are looked up in ``acl_identifier``, the rights
    of each mailbox folded with ``group_concat``.  Sorted by owner name then mailbox name,
    users' mailboxes first and shared ones (no owner) last.  Only mailboxes with an ACL
    entry appear: a superior without one (say "Other Users/bob/a" of a visible
    "a/b") is the server's to show as \\Noselect if it wants the hierarchy complete.
    """
    name, anyone, neg_name, neg_anyone = _identifiers(user_name)
    cols = ", ".join(f"m.{c.strip()}" for c in _COLUMNS.split(","))
    rows = conn.execute(
        f"SELECT {cols}, u.name,"
        " group_concat(CASE WHEN a.identifier IN (?, ?) THEN a.rights END, ''),"
        " group_concat(CASE WHEN a.identifier IN (?, ?) THEN a.rights END, '')"
        " FROM acl a JOIN mailboxes m ON m.id = a.mailbox_id"
        " LEFT JOIN users u ON u.id = m.owner_id"
        " WHERE a.identifier IN (?, ?, ?, ?) AND m.owner_id IS NOT ?"
        " GROUP BY m.id",
        (name, anyone, neg_name, neg_anyone, name, anyone, neg_name, neg_anyone, user_id),
    ).fetchall()
    ncols = len(_COLUMNS.split(","))
    out: list[tuple[MailboxInfo, str, str | None]] = []
    for row in rows:
        rights = combine([row[ncols + 1] or ""], [row[ncols + 2] or ""])
        if "l" in rights:
            owner = None if row[ncols] is None else str(row[ncols])
            out.append((_info(row[:ncols]), rights, owner))
    out.sort(key=lambda t: (t[2] is None, t[2] or "", t[0].name))
    return out


def mailboxes_as_seen(
    conn: sqlite3.Connection, mailbox_ids: Iterable[int], user_id: int, user_name: str
) -> list[tuple[MailboxInfo, str, str | None]]:
    """The named mailboxes that still exist, each with the user's effective rights
    (``rights_of``) and its owner's name (None: shared): what ``visible_mailboxes`` and
    the user's own list say of them, for a few mailboxes instead of all (NOTIFY keeps its
    picture of names and rights current from what each commit names).  Visibility (the
    "l" right) is the caller's to judge."""
    cols = ", ".join(f"m.{c.strip()}" for c in _COLUMNS.split(","))
    ncols = len(_COLUMNS.split(","))
    out: list[tuple[MailboxInfo, str, str | None]] = []
    for mailbox_id in mailbox_ids:
        row = conn.execute(
            f"SELECT {cols}, u.name FROM mailboxes m LEFT JOIN users u ON u.id = m.owner_id"
            " WHERE m.id = ?", (mailbox_id,)).fetchone()
        if row is None:
            continue
        owner = None if row[ncols] is None else str(row[ncols])
        out.append((_info(row[:ncols]), rights_of(conn, mailbox_id, user_id, user_name),
                    owner))
    return out


def with_obsolete_rights(rights: str) -> str:
    """``rights`` with the virtual RFC 2086 rights added for ACL and MYRIGHTS responses
    (RFC 4314 §2.1.1): "c" when "k" or "x" is present, "d" when "e" or "t" is."""
    extra = ("c" if set(rights) & set("kx") else "") + ("d" if set(rights) & set("et") else "")
    return rights + extra


@dataclass(frozen=True)
class SessionAccess:
    """What a session must know afresh after the serial moved."""

    serial: int
    user_exists: bool
    rights: str | None
    """Rights on the mailbox asked about: None when none was asked, or when it is gone (the
    server ends a session whose selected mailbox was deleted on its own terms)."""


def session_access(
    conn: sqlite3.Connection,
    known: int,
    user_id: int,
    user_name: str,
    mailbox_id: int | None,
) -> SessionAccess | None:
    """None while the serial is still ``known`` (the common case: one indexed read);
    otherwise whether the user still exists (same id and name) and their rights on
    ``mailbox_id``."""
    now = serial.current(conn)
    if now == known:
        return None
    row = conn.execute(
        "SELECT 1 FROM users WHERE id = ? AND name = ?", (user_id, user_name)
    ).fetchone()
    rights: str | None = None
    if mailbox_id is not None:
        try:
            rights = rights_of(conn, mailbox_id, user_id, user_name)
        except NotFound:
            rights = None
    return SessionAccess(now, row is not None, rights)
