"""Helpers for storage tests that reach into the database file with plain sqlite3."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

FAST_N = 2**4
"""Test-only scrypt cost; the production default stays 2**14."""

# Placeholder derived columns for stored messages whose ENVELOPE/BODYSTRUCTURE no test reads.
BASE = {"envelope": b"(ENV)", "bodystructure": b"(BS)", "body_simple": b"(B)"}


def db_path(data_dir: Path) -> Path:
    return data_dir / "crispin.db"


def raw_connect(data_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path(data_dir), isolation_level=None, timeout=10)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def insert_message(
    data_dir: Path,
    mailbox_id: int,
    body: bytes = b"Subject: hi\r\n\r\nhello\r\n",
    *,
    flags: int = 0,
    keywords: str = "",
    internaldate: int = 1_700_000_000,
) -> int:
    """Append a message with plain SQL (as the message API will): returns its UID."""
    conn = raw_connect(data_dir)
    try:
        conn.execute("BEGIN IMMEDIATE")
        uidnext, modseq = conn.execute(
            "SELECT uidnext, highest_modseq FROM mailboxes WHERE id = ?", (mailbox_id,)
        ).fetchone()
        sha = hashlib.sha256(body).digest()
        conn.execute(
            "INSERT OR IGNORE INTO messages (sha256, size, body, envelope, bodystructure,"
            " body_simple, created_at) VALUES (?, ?, ?, X'', X'', X'', 0)",
            (sha, len(body), body),
        )
        (message_id,) = conn.execute("SELECT id FROM messages WHERE sha256 = ?", (sha,)).fetchone()
        conn.execute(
            "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, modseq, flags, keywords,"
            " internaldate) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (mailbox_id, uidnext, message_id, modseq + 1, flags, keywords, internaldate),
        )
        conn.execute(
            "UPDATE mailboxes SET uidnext = ?, highest_modseq = ? WHERE id = ?",
            (uidnext + 1, modseq + 1, mailbox_id),
        )
        conn.execute("COMMIT")
        return int(uidnext)
    finally:
        conn.close()


def query(data_dir: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = raw_connect(data_dir)
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def text_parsed(headers: str, body: str) -> dict[str, bytes | int | str | None]:
    """``parsed`` at APPEND with the SEARCH text (case-folded, as the server computes it)."""
    return {**BASE, "text_headers": headers.casefold(), "text_body": body.casefold()}


def schema_at(path: Path, version: int) -> sqlite3.Connection:
    """A new database file at ``path`` with the schema of ``version`` (migrations 1 to
    ``version`` applied), in autocommit mode, for testing the migrations after it."""
    from crispin.storage.migrations import MIGRATIONS, split_statements

    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in MIGRATIONS[:version]:
        for statement in split_statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    return conn


def as_before_the_index(data_dir: Path) -> None:
    """Take a database back to schema version 8 (the full-text index, and what came after
    it, gone), as a store last opened by a Crispin before issue 15's text index: the next
    open runs migrations 9 and later on mail already stored."""
    conn = raw_connect(data_dir)
    conn.execute("BEGIN IMMEDIATE")
    for trigger in ("message_text_fts_insert", "message_text_fts_delete",
                    "message_text_fts_update"):
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DROP TABLE message_text_fts")
    conn.execute("DROP TABLE fts_garbage")  # migration 11
    conn.execute("ALTER TABLE mailboxes DROP COLUMN vanished_floor")  # migration 10
    conn.execute("ALTER TABLE users DROP COLUMN scram_sha256")  # migration 12
    conn.execute("ALTER TABLE message_headers DROP COLUMN size")  # migration 13
    conn.execute("DELETE FROM meta WHERE key LIKE 'fts_backlog_%'")  # migration 14
    conn.execute("DELETE FROM meta WHERE key = 'fts_tail'")  # migration 15
    conn.execute("DROP TABLE metadata")  # migration 16
    conn.execute("DROP TRIGGER mailbox_messages_savedate")  # migration 17
    conn.execute("ALTER TABLE mailbox_messages DROP COLUMN savedate")
    conn.execute("DROP TABLE message_previews")
    conn.execute("DROP TABLE urlauth_keys")  # migration 18
    conn.execute("DROP TABLE header_selections")  # migration 19
    conn.execute("DROP TABLE header_selection_lists")
    conn.execute("PRAGMA user_version = 8")
    conn.execute("COMMIT")
    conn.close()


def fts_documents(data_dir: Path) -> int:
    """How many messages the full-text index holds."""
    conn = raw_connect(data_dir)
    (n,) = conn.execute("SELECT count(*) FROM message_text_fts_docsize").fetchone()
    conn.close()
    return int(n)
