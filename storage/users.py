"""User accounts: functions run on the database thread (see ``db.py``).

Each function does a whole operation on the connection it is given; the transaction is
opened and committed by ``Database``.  Password hashing happens before, off the event loop.
"""

from __future__ import annotations

import sqlite3
import time

from . import serial
from .errors import AlreadyExists, InvalidName, NotFound
from .mailboxes import insert_mailbox
from .models import User
from .names import INBOX

MAX_USER_NAME_LENGTH = 255


def validate_user_name(name: str) -> None:
    """Raise ``InvalidName`` for an empty, over-long or control-character user name."""
    if not name:
        raise InvalidName("empty user name")
    if len(name) > MAX_USER_NAME_LENGTH:
        raise InvalidName("user name too long")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InvalidName("control character in user name")
    # RFC 4314 §2: "anyone" and "-name" are ACL identifiers, never a user's name; "/" would
    # make "Other Users/<name>/..." ambiguous.
    if name.lower() == "anyone" or name.startswith("-") or "/" in name:
        raise InvalidName("user name reserved or with '/'")


def create_user(conn: sqlite3.Connection, name: str, password_hash: str,
                scram: str | None = None) -> User:
    """Insert the user and its INBOX (RFC 3501 §5.1: every user has an INBOX). ``scram``:
    the SCRAM keys of the same password (``scram.py``), None when not known."""
    try:
        cur = conn.execute(
            "INSERT INTO users (name, password_hash, scram_sha256, created_at)"
            " VALUES (?, ?, ?, ?)",
            (name, password_hash, scram, int(time.time())),
        )
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"user {name!r} exists") from None
    user_id = cur.lastrowid
    assert user_id is not None
    insert_mailbox(conn, user_id, INBOX)
    return User(user_id, name)


def set_password(conn: sqlite3.Connection, name: str, password_hash: str,
                 scram: str | None = None) -> None:
    """The SCRAM keys always change with the hash: keys of an older password (or none, for a
    bare hash from a users file) must never outlive it."""
    cur = conn.execute("UPDATE users SET password_hash = ?, scram_sha256 = ? WHERE name = ?",
                       (password_hash, scram, name))
    if cur.rowcount == 0:
        raise NotFound(f"no user {name!r}")


def add_scram_keys(conn: sqlite3.Connection, name: str, password_hash: str,
                   scram: str) -> bool:
    """Store SCRAM keys derived at a password login, only while ``password_hash`` (the one
    the password was checked against) is still the stored one and no keys are there: a
    password changed meanwhile by another process keeps its own keys."""
    cur = conn.execute("UPDATE users SET scram_sha256 = ? WHERE name = ? AND password_hash = ?"
                       " AND scram_sha256 IS NULL", (scram, name, password_hash))
    return cur.rowcount > 0


def get_user_and_scram(conn: sqlite3.Connection, name: str) -> tuple[User, str | None] | None:
    row = conn.execute(
        "SELECT id, name, scram_sha256 FROM users WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else (User(row[0], row[1]), row[2])


def get_login(conn: sqlite3.Connection, name: str) -> tuple[User, str, bool] | None:
    """The user, their password hash, and whether they have SCRAM keys."""
    row = conn.execute(
        "SELECT id, name, password_hash, scram_sha256 IS NOT NULL FROM users WHERE name = ?",
        (name,)).fetchone()
    return None if row is None else (User(row[0], row[1]), row[2], bool(row[3]))


def delete_user(conn: sqlite3.Connection, name: str) -> None:
    """Delete the user; foreign keys cascade to mailboxes (and their messages, tombstones
    and ACLs) and subscriptions.  Message bodies left unreferenced are swept later."""
    cur = conn.execute("DELETE FROM users WHERE name = ?", (name,))
    if cur.rowcount == 0:
        raise NotFound(f"no user {name!r}")
    serial.bump(conn)  # their open sessions end at their next command


def list_users(conn: sqlite3.Connection) -> list[User]:
    rows = conn.execute("SELECT id, name FROM users ORDER BY name").fetchall()
    return [User(row[0], row[1]) for row in rows]


def get_user(conn: sqlite3.Connection, name: str) -> User | None:
    row = conn.execute("SELECT id, name FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else User(row[0], row[1])


def get_user_and_hash(conn: sqlite3.Connection, name: str) -> tuple[User, str] | None:
    row = conn.execute(
        "SELECT id, name, password_hash FROM users WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else (User(row[0], row[1]), row[2])


def user_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])


def require_user(conn: sqlite3.Connection, user_id: int) -> None:
    if conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
        raise NotFound(f"no user with id {user_id}")
