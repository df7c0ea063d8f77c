"""Mailbox access keys of URLAUTH (RFC 4467 §2.2), one per user and mailbox (schema 16).

Functions run on a database thread with the connection; the key material comes from
``secrets`` (§10: "MUST be unpredictable", at least 128 bits: 256 here).
"""

from __future__ import annotations

import secrets
import sqlite3

KEY_BYTES = 32


def get_key(conn: sqlite3.Connection, user_id: int, mailbox_id: int) -> bytes | None:
    row = conn.execute("SELECT key FROM urlauth_keys WHERE user_id = ? AND mailbox_id = ?",
                       (user_id, mailbox_id)).fetchone()
    return None if row is None else bytes(row[0])


def ensure_key(conn: sqlite3.Connection, user_id: int, mailbox_id: int) -> bytes:
    """The key, made the first time (GENURLAUTH needs no RESETKEY before, RFC 4467)."""
    conn.execute("INSERT OR IGNORE INTO urlauth_keys (user_id, mailbox_id, key) "
                 "VALUES (?, ?, ?)", (user_id, mailbox_id, secrets.token_bytes(KEY_BYTES)))
    key = get_key(conn, user_id, mailbox_id)
    assert key is not None
    return key


def reset_key(conn: sqlite3.Connection, user_id: int, mailbox_id: int) -> None:
    """A new key for one mailbox: every URL made with the old one is revoked."""
    conn.execute("INSERT OR REPLACE INTO urlauth_keys (user_id, mailbox_id, key) "
                 "VALUES (?, ?, ?)", (user_id, mailbox_id, secrets.token_bytes(KEY_BYTES)))


def reset_all(conn: sqlite3.Connection, user_id: int) -> int:
    """Remove every key of the user (RESETKEY without arguments); returns how many."""
    return conn.execute("DELETE FROM urlauth_keys WHERE user_id = ?", (user_id,)).rowcount
