"""The access serial: one counter that moves whenever who may do what changes.

An ACL entry set or deleted, a mailbox deleted (its ACL goes with it), a user deleted: each
bumps ``meta.access_serial`` inside the same transaction. A server session reads the counter
once per command (``acl.session_access``) and re-reads its user and rights only when it moved, so
a right revoked by another session, by the CLI or by another process applies to the very next
command of every session (RFC 4314 §4 leaves the timing to the server; a revocation that waits
for a re-SELECT is no revocation). The ``meta`` table exists since version 1: no migration.
"""

from __future__ import annotations

import sqlite3

KEY = "access_serial"


def bump(conn: sqlite3.Connection) -> None:
    """Called by every write that changes rights or removes a user; in its transaction."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, 1)"
        " ON CONFLICT (key) DO UPDATE SET value = value + 1",
        (KEY,),
    )


def current(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (KEY,)).fetchone()
    return 0 if row is None else int(row[0])
