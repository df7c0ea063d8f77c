"""The SQL of private flags, in one place (migrations.py version 4; ``messages.py`` explains
the owner and private paths).

Every read or write of flags takes the *owner path* (``mailbox_messages`` alone) or, for a
user other than the owner of a mailbox with private flags, the *private path*: the same
query joined to that user's ``private_flags`` rows.  ``messages``, ``message_reads`` and
``search`` all build their queries from these pieces.
"""

from __future__ import annotations

import sqlite3
from typing import Any

ALL_BITS = 31
"""Every system flag bit (``flags.py``)."""

PF_JOIN = (
    " LEFT JOIN private_flags pf ON pf.mailbox_id = mm.mailbox_id AND pf.user_id = ?"
    " AND pf.uid = mm.uid"
)
"""The private path's join; its parameter (the viewer) comes first."""

PF_MODSEQ = "max(mm.shared_modseq, coalesce(pf.modseq, 0))"
"""The per-message modseq a non-owner sees."""


def pf_flags(pmask: int) -> str:
    """SQL for the system flags a non-owner sees (``pmask`` their private bits)."""
    return f"((mm.flags & {~pmask & ALL_BITS}) | (coalesce(pf.flags, 0) & {pmask}))"


def columns(pmask: int) -> tuple[str, str]:
    """(join, "flags, keywords, modseq" select list) for the owner or private path."""
    if not pmask:
        return "", "mm.flags, mm.keywords, mm.modseq"
    return PF_JOIN, f"{pf_flags(pmask)}, mm.keywords, {PF_MODSEQ}"


def params(pmask: int, viewer: int | None, *rest: Any) -> tuple[Any, ...]:
    """Query parameters: the viewer first on the private path (``PF_JOIN``)."""
    return (viewer, *rest) if pmask else rest


def viewer_mask(conn: sqlite3.Connection, mailbox_id: int, viewer: int | None) -> int:
    """The viewer's private bits (0: owner path) for queries that do not otherwise need
    the mailbox row; no query at all for ``viewer`` None."""
    if viewer is None:
        return 0
    row = conn.execute(
        "SELECT owner_id, private_flags FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    if row is None or row[0] == viewer:
        return 0
    return int(row[1])
