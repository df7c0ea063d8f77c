"""Numbered schema migrations, tracked in ``PRAGMA user_version``.

Each entry of ``MIGRATIONS`` is ``(version, sql)``; versions are 1, 2, 3… in order.  On
open, every migration above the database's ``user_version`` runs in its own ``BEGIN
IMMEDIATE`` transaction together with the ``user_version`` bump, so a crash leaves the
database at a whole version and two processes opening a fresh file at once cannot both
apply a step.  Never edit a released migration: append a new one.

What each table and column holds, version by version, is described in ``docs/schema.md``;
a migration that changes the schema updates it in the same commit.
"""

from __future__ import annotations

import sqlite3

from .errors import SchemaTooNew

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE mailboxes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id         INTEGER REFERENCES users(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    uidvalidity      INTEGER NOT NULL,
    uidnext          INTEGER NOT NULL DEFAULT 1,
    highest_modseq   INTEGER NOT NULL DEFAULT 1,
    first_recent_uid INTEGER NOT NULL DEFAULT 1,
    noselect         INTEGER NOT NULL DEFAULT 0,
    special_use      TEXT,
    created_at       INTEGER NOT NULL,
    UNIQUE (owner_id, name)
);
CREATE UNIQUE INDEX mailboxes_shared_name ON mailboxes(name) WHERE owner_id IS NULL;

CREATE TABLE subscriptions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
) WITHOUT ROWID;

CREATE TABLE acl (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    identifier TEXT NOT NULL,
    rights     TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, identifier)
) WITHOUT ROWID;

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256          BLOB NOT NULL UNIQUE,
    size            INTEGER NOT NULL,
    body            BLOB,
    path            TEXT,
    header_size     INTEGER NOT NULL DEFAULT 0,
    lines           INTEGER NOT NULL DEFAULT 0,
    envelope        BLOB NOT NULL,
    bodystructure   BLOB NOT NULL,
    body_simple     BLOB NOT NULL,
    part_tree       BLOB,
    hdr_date        INTEGER,
    sent_on         TEXT,
    hdr_subject     TEXT,
    hdr_from        TEXT,
    hdr_to          TEXT,
    hdr_cc          TEXT,
    hdr_bcc         TEXT,
    hdr_message_id  TEXT,
    hdr_in_reply_to TEXT,
    hdr_references  TEXT,
    sort_subject    TEXT,
    sort_from       TEXT,
    sort_to         TEXT,
    sort_cc         TEXT,
    refcount        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    CHECK (body IS NOT NULL OR path IS NOT NULL)
);
CREATE INDEX messages_unreferenced ON messages(id) WHERE refcount <= 0;

CREATE TABLE mailbox_messages (
    mailbox_id      INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid             INTEGER NOT NULL,
    message_id      INTEGER NOT NULL REFERENCES messages(id),
    modseq          INTEGER NOT NULL,
    flags           INTEGER NOT NULL DEFAULT 0,
    keywords        TEXT NOT NULL DEFAULT '',
    internaldate    INTEGER NOT NULL,
    internaldate_tz INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX mailbox_messages_modseq ON mailbox_messages(mailbox_id, modseq);
CREATE INDEX mailbox_messages_message ON mailbox_messages(message_id);

CREATE TRIGGER mailbox_messages_ref AFTER INSERT ON mailbox_messages
BEGIN
    UPDATE messages SET refcount = refcount + 1 WHERE id = NEW.message_id;
END;

CREATE TRIGGER mailbox_messages_unref AFTER DELETE ON mailbox_messages
BEGIN
    UPDATE messages SET refcount = refcount - 1 WHERE id = OLD.message_id;
END;

CREATE TABLE expunged (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);
""",
    ),
    (
        2,
        """
CREATE TABLE message_text (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    headers    TEXT NOT NULL,
    body       TEXT NOT NULL
);
""",
    ),
    (
        3,
        """
CREATE INDEX acl_identifier ON acl(identifier);

CREATE TABLE quotas (
    root_kind   TEXT NOT NULL CHECK (root_kind IN ('user', 'mailbox')),
    root_id     INTEGER NOT NULL,
    storage_kib INTEGER CHECK (storage_kib >= 0),
    messages    INTEGER CHECK (messages >= 0),
    PRIMARY KEY (root_kind, root_id),
    CHECK (storage_kib IS NOT NULL OR messages IS NOT NULL)
) WITHOUT ROWID;

CREATE TRIGGER users_delete_acl_quota AFTER DELETE ON users
BEGIN
    DELETE FROM acl WHERE identifier IN (OLD.name, '-' || OLD.name);
    DELETE FROM quotas WHERE root_kind = 'user' AND root_id = OLD.id;
END;

CREATE TRIGGER mailboxes_delete_quota AFTER DELETE ON mailboxes
WHEN OLD.owner_id IS NULL
BEGIN
    DELETE FROM quotas WHERE root_kind = 'mailbox' AND root_id = OLD.id;
END;

CREATE TRIGGER mailboxes_rename_quota AFTER UPDATE OF name ON mailboxes
WHEN OLD.owner_id IS NULL AND instr(NEW.name, '/') > 0
BEGIN
    DELETE FROM quotas WHERE root_kind = 'mailbox' AND root_id = OLD.id;
END;
""",
    ),
    (
        4,
        """
ALTER TABLE mailboxes ADD COLUMN private_flags INTEGER NOT NULL DEFAULT 1;

ALTER TABLE mailbox_messages ADD COLUMN shared_modseq INTEGER;
UPDATE mailbox_messages SET shared_modseq = modseq;
CREATE INDEX mailbox_messages_shared_modseq ON mailbox_messages(mailbox_id, shared_modseq);

CREATE TRIGGER mailbox_messages_shared_modseq AFTER INSERT ON mailbox_messages
WHEN NEW.shared_modseq IS NULL
BEGIN
    UPDATE mailbox_messages SET shared_modseq = NEW.modseq
    WHERE mailbox_id = NEW.mailbox_id AND uid = NEW.uid;
END;

CREATE TABLE private_flags (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    flags      INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, user_id, uid)
) WITHOUT ROWID;
CREATE INDEX private_flags_modseq ON private_flags(mailbox_id, user_id, modseq);
CREATE INDEX private_flags_user ON private_flags(user_id);
""",
    ),
    (
        5,
        """
DROP INDEX private_flags_user;
CREATE INDEX private_flags_user ON private_flags(user_id, mailbox_id, uid, flags);
CREATE INDEX private_flags_message ON private_flags(mailbox_id, uid);
""",
    ),
    (
        6,
        """
CREATE TABLE message_headers (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    header     BLOB NOT NULL
);
INSERT INTO message_headers (message_id, header)
    SELECT id, ifnull(substr(body, 1, header_size), X'') FROM messages WHERE path IS NULL;
""",
    ),
    (
        7,
        """
ALTER TABLE expunged ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;
ALTER TABLE expunged ADD COLUMN keywords TEXT NOT NULL DEFAULT '';
""",
    ),
    (
        8,
        """
ALTER TABLE messages ADD COLUMN sort_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_sort_pending ON messages(id) WHERE sort_version = 0;

CREATE TABLE sort_keys (
    message_id   INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    sent         INTEGER,
    subject      TEXT NOT NULL,
    reply        INTEGER NOT NULL,
    from_addr    TEXT NOT NULL,
    to_addr      TEXT NOT NULL,
    cc_addr      TEXT NOT NULL,
    display_from TEXT NOT NULL,
    display_to   TEXT NOT NULL,
    thread_id    TEXT,
    thread_refs  TEXT NOT NULL
);
""",
    ),
    (
        9,
        """
CREATE VIRTUAL TABLE message_text_fts USING fts5(
    headers, body, content='message_text', content_rowid='message_id',
    tokenize='trigram case_sensitive 1', detail='column'
);

CREATE TRIGGER message_text_fts_insert AFTER INSERT ON message_text
BEGIN
    INSERT INTO message_text_fts (rowid, headers, body)
        VALUES (NEW.message_id, NEW.headers, NEW.body);
END;

CREATE TRIGGER message_text_fts_delete AFTER DELETE ON message_text
BEGIN
    INSERT INTO message_text_fts (message_text_fts, rowid, headers, body)
        VALUES ('delete', OLD.message_id, OLD.headers, OLD.body);
END;

CREATE TRIGGER message_text_fts_update AFTER UPDATE ON message_text
BEGIN
    INSERT INTO message_text_fts (message_text_fts, rowid, headers, body)
        VALUES ('delete', OLD.message_id, OLD.headers, OLD.body);
    INSERT INTO message_text_fts (rowid, headers, body)
        VALUES (NEW.message_id, NEW.headers, NEW.body);
END;

-- Mail already stored is indexed later, in the background (text_index.py, version 14):
-- building the index here cost 146 s of CPU at open for 100,000 messages.
INSERT OR REPLACE INTO meta (key, value)
    SELECT 'fts_backlog_last', coalesce(max(message_id), 0) FROM message_text;
""",
    ),
    (
        10,
        """
ALTER TABLE mailboxes ADD COLUMN vanished_floor INTEGER NOT NULL DEFAULT 0;
""",
    ),
    (
        11,
        """
CREATE TABLE fts_garbage (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    deleted    INTEGER NOT NULL,
    merge_left INTEGER NOT NULL DEFAULT 0
);
INSERT INTO fts_garbage (id, deleted) VALUES (1, 0);

DROP TRIGGER message_text_fts_delete;
CREATE TRIGGER message_text_fts_delete AFTER DELETE ON message_text
BEGIN
    INSERT INTO message_text_fts (message_text_fts, rowid, headers, body)
        VALUES ('delete', OLD.message_id, OLD.headers, OLD.body);
    UPDATE fts_garbage SET deleted = deleted + 1;
END;

DROP TRIGGER message_text_fts_update;
CREATE TRIGGER message_text_fts_update AFTER UPDATE ON message_text
BEGIN
    INSERT INTO message_text_fts (message_text_fts, rowid, headers, body)
        VALUES ('delete', OLD.message_id, OLD.headers, OLD.body);
    INSERT INTO message_text_fts (rowid, headers, body)
        VALUES (NEW.message_id, NEW.headers, NEW.body);
    UPDATE fts_garbage SET deleted = deleted + 1;
END;
""",
    ),
    (
        12,
        """
ALTER TABLE users ADD COLUMN scram_sha256 TEXT;
""",
    ),
    (
        13,
        """
ALTER TABLE message_headers ADD COLUMN size INTEGER;
""",
    ),
    (
        14,
        """
INSERT OR IGNORE INTO meta (key, value) VALUES ('fts_backlog_next', 1);
INSERT OR IGNORE INTO meta (key, value) VALUES ('fts_backlog_last', 0);

DROP TRIGGER message_text_fts_insert;
CREATE TRIGGER message_text_fts_insert AFTER INSERT ON message_text
WHEN NEW.message_id
    NOT BETWEEN (SELECT value FROM meta WHERE key = 'fts_backlog_next')
            AND (SELECT value FROM meta WHERE key = 'fts_backlog_last')
BEGIN
    INSERT INTO message_text_fts (rowid, headers, body)
        VALUES (NEW.message_id, NEW.headers, NEW.body);
END;

DROP TRIGGER message_text_fts_delete;
CREATE TRIGGER message_text_fts_delete AFTER DELETE ON message_text
WHEN OLD.message_id
    NOT BETWEEN (SELECT value FROM meta WHERE key = 'fts_backlog_next')
            AND (SELECT value FROM meta WHERE key = 'fts_backlog_last')
BEGIN
    INSERT INTO message_text_fts (message_text_fts, rowid, headers, body)
        VALUES ('delete', OLD.message_id, OLD.headers, OLD.body);
    UPDATE fts_garbage SET deleted = deleted + 1;
END;

DROP TRIGGER message_text_fts_update;
CREATE TRIGGER message_text_fts_update AFTER UPDATE ON message_text
WHEN OLD.message_id
    NOT BETWEEN (SELECT value FROM meta WHERE key = 'fts_backlog_next')
            AND (SELECT value FROM meta WHERE key = 'fts_backlog_last')
BEGIN
    INSERT INTO message_text_fts (message_text_fts, rowid, headers, body)
        VALUES ('delete', OLD.message_id, OLD.headers, OLD.body);
    INSERT INTO message_text_fts (rowid, headers, body)
        VALUES (NEW.message_id, NEW.headers, NEW.body);
    UPDATE fts_garbage SET deleted = deleted + 1;
END;
""",
    ),
    (
        15,
        """
INSERT OR IGNORE INTO meta (key, value)
    SELECT 'fts_tail', coalesce(max(message_id), 0) + 1 FROM message_text;

DROP TRIGGER message_text_fts_insert;
CREATE TRIGGER message_text_fts_insert AFTER INSERT ON message_text
WHEN NEW.message_id < (SELECT value FROM meta WHERE key = 'fts_tail')
    AND NEW.message_id
    NOT BETWEEN (SELECT value FROM meta WHERE key = 'fts_backlog_next')
            AND (SELECT value FROM meta WHERE key = 'fts_backlog_last')
BEGIN
    INSERT INTO message_text_fts (rowid, headers, body)
        VALUES (NEW.message_id, NEW.headers, NEW.body);
END;

DROP TRIGGER message_text_fts_delete;
CREATE TRIGGER message_text_fts_delete AFTER DELETE ON message_text
WHEN OLD.message_id < (SELECT value FROM meta WHERE key = 'fts_tail')
    AND OLD.message_id
    NOT BETWEEN (SELECT value FROM meta WHERE key = 'fts_backlog_next')
            AND (SELECT value FROM meta WHERE key = 'fts_backlog_last')
BEGIN
    INSERT INTO message_text_fts (message_text_fts, rowid, headers, body)
        VALUES ('delete', OLD.message_id, OLD.headers, OLD.body);
    UPDATE fts_garbage SET deleted = deleted + 1;
END;

DROP TRIGGER message_text_fts_update;
CREATE TRIGGER message_text_fts_update AFTER UPDATE ON message_text
WHEN OLD.message_id < (SELECT value FROM meta WHERE key = 'fts_tail')
    AND OLD.message_id
    NOT BETWEEN (SELECT value FROM meta WHERE key = 'fts_backlog_next')
            AND (SELECT value FROM meta WHERE key = 'fts_backlog_last')
BEGIN
    INSERT INTO message_text_fts (message_text_fts, rowid, headers, body)
        VALUES ('delete', OLD.message_id, OLD.headers, OLD.body);
    INSERT INTO message_text_fts (rowid, headers, body)
        VALUES (NEW.message_id, NEW.headers, NEW.body);
    UPDATE fts_garbage SET deleted = deleted + 1;
END;
""",
    ),
    (
        16,
        """
CREATE TABLE metadata (
    mailbox_id INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value BLOB NOT NULL
);
CREATE UNIQUE INDEX metadata_entry
    ON metadata (ifnull(mailbox_id, 0), ifnull(user_id, 0), name);
CREATE INDEX metadata_user ON metadata (user_id) WHERE user_id IS NOT NULL;
""",
    ),
    (
        17,
        """
ALTER TABLE mailbox_messages ADD COLUMN savedate INTEGER;
UPDATE mailbox_messages SET savedate = internaldate;

CREATE TRIGGER mailbox_messages_savedate AFTER INSERT ON mailbox_messages
WHEN NEW.savedate IS NULL
BEGIN
    UPDATE mailbox_messages SET savedate = CAST(strftime('%s', 'now') AS INTEGER)
        WHERE mailbox_id = NEW.mailbox_id AND uid = NEW.uid;
END;

CREATE TABLE message_previews (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    preview    TEXT NOT NULL
);
""",
    ),
    (
        18,
        """
CREATE TABLE urlauth_keys (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    key        BLOB NOT NULL,
    PRIMARY KEY (user_id, mailbox_id)
) WITHOUT ROWID;
CREATE INDEX urlauth_keys_mailbox ON urlauth_keys(mailbox_id);
""",
    ),
    (
        19,
        """
CREATE TABLE header_selection_lists (
    id     INTEGER PRIMARY KEY,
    fields TEXT NOT NULL UNIQUE
);
CREATE TABLE header_selections (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    list_id    INTEGER NOT NULL REFERENCES header_selection_lists(id) ON DELETE CASCADE,
    data       BLOB NOT NULL,
    size       INTEGER NOT NULL,
    PRIMARY KEY (message_id, list_id)
) WITHOUT ROWID;
""",
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]


def split_statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (trigger bodies stay whole).

    ``executescript`` is avoided because it commits any open transaction first; a migration
    must run inside its own transaction.
    """
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement in migration: {current.strip()[:60]!r}")
    return statements


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to ``LATEST_VERSION``; return the version found before.

    Runs on a connection in autocommit mode (``isolation_level=None``).  The version is
    re-read inside each ``BEGIN IMMEDIATE`` so that concurrent openers serialise.
    """
    found = _user_version(conn)
    if found > LATEST_VERSION:
        raise SchemaTooNew(
            f"database schema version {found} is newer than this Crispin ({LATEST_VERSION})"
        )
    for version, script in MIGRATIONS:
        if version <= found:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _user_version(conn) >= version:  # another process got here first
                conn.execute("ROLLBACK")
                continue
            for statement in split_statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(version)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return found


def _user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])
