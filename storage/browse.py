"""Finding messages across mailboxes and users, for the HTTP API and the web inbox.

IMAP looks at one selected mailbox at a time; a test asking "did a message to bob@… with
'Welcome' in its subject arrive?" looks across every mailbox of a user, or of every user.
One read, filtered in SQL on the header columns stored (case-folded) at APPEND, so a
listing never re-parses a message.  Flags are the owner's (``viewer`` None).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import flags as flags_mod
from .errors import NotFound
from .mailboxes import next_uidvalidity
from .message_reads import HEADER_JOIN, HEADER_SQL
from .messages import from_stored_date


@dataclass(frozen=True)
class Filters:
    """What a listing or a wait matches; every given field must match (AND)."""

    owner_id: int | None = None  # None: every user (and shared mailboxes)
    mailbox_id: int | None = None
    from_: str | None = None  # substring of the decoded From header, any case
    to: str | None = None  # substring of To, Cc or Bcc
    subject: str | None = None
    since: int | None = None  # Unix seconds: internal date at or after


@dataclass(frozen=True)
class Found:
    owner: str | None
    mailbox_id: int
    mailbox: str
    uid: int
    flags: tuple[str, ...]
    size: int
    internaldate: datetime
    sent: int | None  # the Date header, Unix seconds
    header_inline: bytes | None  # the header block, when the body lives in the database
    path: str | None  # the body file, when it does not
    header_size: int


def _where(f: Filters) -> tuple[str, list[Any]]:
    clauses = ["1"]
    params: list[Any] = []
    if f.owner_id is not None:
        clauses.append("b.owner_id = ?")
        params.append(f.owner_id)
    if f.mailbox_id is not None:
        clauses.append("mm.mailbox_id = ?")
        params.append(f.mailbox_id)
    if f.from_:
        clauses.append("instr(ifnull(m.hdr_from, ''), ?) > 0")
        params.append(f.from_.casefold())
    if f.to:
        clauses.append("(instr(ifnull(m.hdr_to, ''), ?) > 0 OR instr(ifnull(m.hdr_cc, ''), ?) > 0"
                       " OR instr(ifnull(m.hdr_bcc, ''), ?) > 0)")
        params += [f.to.casefold()] * 3
    if f.subject:
        clauses.append("instr(ifnull(m.hdr_subject, ''), ?) > 0")
        params.append(f.subject.casefold())
    if f.since is not None:
        clauses.append("mm.internaldate >= ?")
        params.append(f.since)
    return " AND ".join(clauses), params


_FROM = (" FROM mailbox_messages mm JOIN mailboxes b ON b.id = mm.mailbox_id"
         " JOIN messages m ON m.id = mm.message_id LEFT JOIN users u ON u.id = b.owner_id")


def find_messages(
    conn: sqlite3.Connection, filters: Filters, limit: int, offset: int
) -> tuple[int, list[Found]]:
    """(number of matches, one page of them newest first: by internal date, then UID)."""
    where, params = _where(filters)
    total = int(conn.execute(f"SELECT count(*){_FROM} WHERE {where}", params).fetchone()[0])
    rows = conn.execute(
        "SELECT u.name, b.id, b.name, mm.uid, mm.flags, mm.keywords, m.size, mm.internaldate,"
        " mm.internaldate_tz, m.hdr_date,"
        f" {HEADER_SQL}, m.path, m.header_size{_FROM}{HEADER_JOIN} WHERE {where}"
        " ORDER BY mm.internaldate DESC, b.id DESC, mm.uid DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    found = [
        Found(
            owner=r[0], mailbox_id=int(r[1]), mailbox=str(r[2]), uid=int(r[3]),
            flags=flags_mod.decode(int(r[4]), str(r[5])), size=int(r[6]),
            internaldate=from_stored_date(int(r[7]), int(r[8])),
            sent=None if r[9] is None else int(r[9]),
            header_inline=None if r[10] is None else bytes(r[10]), path=r[11],
            header_size=int(r[12]),
        )
        for r in rows
    ]
    return total, found


def bump_uidvalidity(conn: sqlite3.Connection, mailbox_id: int) -> int:
    """Give the mailbox a new, larger UIDVALIDITY (a fault for tests: RFC 3501 §2.3.1.1
    says every cached UID is then void). ``NotFound``."""
    value = next_uidvalidity(conn)
    cur = conn.execute("UPDATE mailboxes SET uidvalidity = ? WHERE id = ?", (value, mailbox_id))
    if cur.rowcount == 0:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    return value


def state_token(conn: sqlite3.Connection) -> str:
    """Changes whenever users, mailboxes or messages change (every message change bumps a
    mailbox's modseq): what the web inbox compares to know it must reload."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM mailboxes),"
        " (SELECT ifnull(max(id), 0) FROM mailboxes), (SELECT total(highest_modseq)"
        " FROM mailboxes), (SELECT ifnull(max(id), 0) FROM users)"
    ).fetchone()
    return "-".join(str(int(v)) for v in row)


def all_mailbox_ids(conn: sqlite3.Connection) -> list[int]:
    return [int(r[0]) for r in conn.execute("SELECT id FROM mailboxes ORDER BY id")]
