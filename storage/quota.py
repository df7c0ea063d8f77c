"""Quotas (RFC 9208): functions run on the database thread (see ``db.py``).

Quota roots:
- ``("user", user_id)``: every mailbox the user owns;
- ``("mailbox", mailbox_id)``: a top-level shared mailbox (owner NULL) and its inferiors.
Every mailbox has exactly one root (``quota_root_of``); a root has a quota when a row of
``quotas`` sets a limit for STORAGE (units of 1024 octets) or MESSAGE (migrations.py
version 3).

Usage is not stored but summed when asked, in one query over the root's mailboxes
joined to their messages' sizes: a message counts once per mailbox holding it (as
RFC 9208 §5.2 suggests for copies), its size in octets; the STORAGE total is rounded
up to whole KiB.  Cost: about 20 ms per 100,000 messages under the root, warm cache,
paid only when the root has a quota (``check_quota`` without one is two indexed
lookups).

Writers check inside their own transaction (``enforce``, called by ``messages.append`` and
``messages.copy``): the single writer serialises transactions, so two concurrent APPENDs
to one root cannot both pass the check and overshoot.  ``check_quota`` remains for the
server's early answer before a client sends an APPEND literal (RFC 9208 §4.3 allows
refusing then); the authoritative check is ``enforce``.
"""

from __future__ import annotations

import sqlite3

from .errors import NotFound, OverQuota
from .mailboxes import get_mailbox_in
from .models import Quota, QuotaResource
from .names import DELIMITER, inferior_range

USER = "user"
MAILBOX = "mailbox"
ROOT_KINDS = (USER, MAILBOX)
STORAGE = "STORAGE"
MESSAGE = "MESSAGE"
KIB = 1024


def _kib(octets: int) -> int:
    """Octets to units of 1024 octets, rounded up (RFC 9208 §5.1)."""
    return -(-octets // KIB)


def _check_kind(root_kind: str) -> None:
    if root_kind not in ROOT_KINDS:
        raise ValueError(f"unknown quota root kind {root_kind!r}")


def quota_root_of(conn: sqlite3.Connection, mailbox_id: int) -> tuple[str, int]:
    """("user", owner id), or ("mailbox", id of the top-level shared mailbox above this
    one, or itself).  ``NotFound`` for an unknown mailbox."""
    row = conn.execute(
        "SELECT owner_id, name FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    return root_of(conn, mailbox_id, row[0], str(row[1]))


def root_of(conn: sqlite3.Connection, mailbox_id: int, owner_id: int | None,
            name: str) -> tuple[str, int]:
    """``quota_root_of`` for a mailbox whose row the caller has read already (the
    append's own read of it: one statement less per delivery)."""
    if owner_id is not None:
        return USER, int(owner_id)
    top = name.split(DELIMITER, 1)[0]
    if top == name:
        return MAILBOX, mailbox_id
    info = get_mailbox_in(conn, None, top)
    # The hierarchy invariant guarantees the superior; fall back to the mailbox itself.
    return MAILBOX, mailbox_id if info is None else info.id


def _limits(
    conn: sqlite3.Connection, root_kind: str, root_id: int
) -> tuple[int | None, int | None] | None:
    row = conn.execute(
        "SELECT storage_kib, messages FROM quotas WHERE root_kind = ? AND root_id = ?",
        (root_kind, root_id),
    ).fetchone()
    return None if row is None else (row[0], row[1])


def has_quota(conn: sqlite3.Connection, mailbox_id: int) -> bool:
    """Whether the mailbox's root has limits at all (``check_quota`` can only refuse when
    it has): two indexed lookups, no usage sum.  ``NotFound``."""
    return _limits(conn, *quota_root_of(conn, mailbox_id)) is not None


_USAGE_SQL = (
    "SELECT coalesce(sum(g.size), 0), count(*) FROM mailboxes m"
    " JOIN mailbox_messages mm ON mm.mailbox_id = m.id"
    " JOIN messages g ON g.id = mm.message_id"
)


def usage(conn: sqlite3.Connection, root_kind: str, root_id: int) -> tuple[int, int]:
    """(octets, messages) under the root, in one query; (0, 0) for a root that does not
    exist."""
    _check_kind(root_kind)
    if root_kind == USER:
        row = conn.execute(_USAGE_SQL + " WHERE m.owner_id = ?", (root_id,)).fetchone()
        return int(row[0]), int(row[1])
    name_row = conn.execute(
        "SELECT name FROM mailboxes WHERE id = ? AND owner_id IS NULL", (root_id,)
    ).fetchone()
    if name_row is None:
        return 0, 0
    name = str(name_row[0])
    lo, hi = inferior_range(name)
    # One range scan of the shared names from ``name`` to ``name + "0"``, keeping the
    # mailbox itself and its inferiors (not siblings such as "name-x" in between).
    row = conn.execute(
        _USAGE_SQL + " WHERE m.owner_id IS NULL AND m.name >= ? AND m.name < ?"
        " AND (m.name = ? OR m.name >= ?)",
        (name, hi, name, lo),
    ).fetchone()
    return int(row[0]), int(row[1])


def _require_root(conn: sqlite3.Connection, root_kind: str, root_id: int) -> None:
    if root_kind == USER:
        if conn.execute("SELECT 1 FROM users WHERE id = ?", (root_id,)).fetchone() is None:
            raise NotFound(f"no user with id {root_id}")
        return
    row = conn.execute(
        "SELECT name FROM mailboxes WHERE id = ? AND owner_id IS NULL", (root_id,)
    ).fetchone()
    if row is None or DELIMITER in str(row[0]):
        raise NotFound(f"mailbox {root_id} is not a top-level shared mailbox (a quota root)")


def set_quota(
    conn: sqlite3.Connection,
    root_kind: str,
    root_id: int,
    storage_kib: int | None,
    messages: int | None,
) -> None:
    """RFC 9208 SETQUOTA: replace the root's limits; None is no limit for that resource,
    both None removes the quota.  ``NotFound`` when the root does not exist (unknown user,
    or not a top-level shared mailbox); ``ValueError`` for a bad kind or a negative
    limit."""
    _check_kind(root_kind)
    for limit in (storage_kib, messages):
        if limit is not None and limit < 0:
            raise ValueError("quota limits cannot be negative")
    _require_root(conn, root_kind, root_id)
    if storage_kib is None and messages is None:
        conn.execute("DELETE FROM quotas WHERE root_kind = ? AND root_id = ?", (root_kind, root_id))
        return
    conn.execute(
        "INSERT INTO quotas (root_kind, root_id, storage_kib, messages) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (root_kind, root_id) DO UPDATE"
        " SET storage_kib = excluded.storage_kib, messages = excluded.messages",
        (root_kind, root_id, storage_kib, messages),
    )


def _resources(
    limits: tuple[int | None, int | None], octets: int, count: int
) -> list[QuotaResource]:
    storage_kib, messages = limits
    out: list[QuotaResource] = []
    if storage_kib is not None:
        out.append(QuotaResource(STORAGE, _kib(octets), int(storage_kib)))
    if messages is not None:
        out.append(QuotaResource(MESSAGE, count, int(messages)))
    return out


def get_quota(conn: sqlite3.Connection, root_kind: str, root_id: int) -> Quota | None:
    """RFC 9208 GETQUOTA: the limits with usage computed now; None when the root has no
    quota (or does not exist)."""
    _check_kind(root_kind)
    limits = _limits(conn, root_kind, root_id)
    if limits is None:
        return None
    octets, count = usage(conn, root_kind, root_id)
    return Quota(root_kind, root_id, _resources(limits, octets, count))


def check_quota(
    conn: sqlite3.Connection, mailbox_id: int, add_octets: int, add_messages: int,
    root: tuple[str, int] | None = None,
) -> QuotaResource | None:
    """The first resource (STORAGE, then MESSAGE) of the mailbox's root that adding
    ``add_octets`` in ``add_messages`` messages would take past its limit, with the usage
    before the addition; None when it fits or the root has no quota.  STORAGE compares
    octets: usage + add > limit * 1024.  A resource already over its limit (lowered after
    the fact) is reported even for an addition of 0.  ``NotFound``.  ``root``: the
    mailbox's quota root when the caller knows it (``root_of``)."""
    root_kind, root_id = root or quota_root_of(conn, mailbox_id)
    limits = _limits(conn, root_kind, root_id)
    if limits is None:
        return None
    octets, count = usage(conn, root_kind, root_id)
    storage_kib, messages = limits
    if storage_kib is not None and octets + add_octets > int(storage_kib) * KIB:
        return QuotaResource(STORAGE, _kib(octets), int(storage_kib))
    if messages is not None and count + add_messages > int(messages):
        return QuotaResource(MESSAGE, count, int(messages))
    return None


def enforce(conn: sqlite3.Connection, mailbox_id: int, add_octets: int, add_messages: int,
            root: tuple[str, int] | None = None) -> None:
    """Writer thread, inside the write that adds the messages: ``OverQuota`` when
    ``check_quota`` finds a resource past its limit (the caller's transaction, or its
    savepoint, is then rolled back)."""
    over = check_quota(conn, mailbox_id, add_octets, add_messages, root)
    if over is not None:
        raise OverQuota(over.name, over.usage, over.limit)
