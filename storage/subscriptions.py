"""Subscriptions (RFC 3501 §6.3.6, §6.3.7): kept by name, per user.

A user may subscribe to a name that does not exist, and a subscription is not removed when
the mailbox is deleted or renamed; LSUB/LIST (SUBSCRIBED) report it as it is.
"""

from __future__ import annotations

import sqlite3

from .errors import NotFound
from .names import validate_name
from .users import require_user


def subscribe(conn: sqlite3.Connection, user_id: int, name: str) -> None:
    """Idempotent: subscribing twice leaves one subscription."""
    validate_name(name)
    require_user(conn, user_id)
    conn.execute(
        "INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)", (user_id, name)
    )


def unsubscribe(conn: sqlite3.Connection, user_id: int, name: str) -> None:
    """``NotFound`` when the name is not subscribed (RFC 3501 §6.3.7 allows NO)."""
    cur = conn.execute("DELETE FROM subscriptions WHERE user_id = ? AND name = ?", (user_id, name))
    if cur.rowcount == 0:
        raise NotFound(f"not subscribed to {name!r}")


def list_subscriptions(conn: sqlite3.Connection, user_id: int) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name", (user_id,)
    ).fetchall()
    return [row[0] for row in rows]
