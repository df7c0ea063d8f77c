"""Numbered schema migrations, tracked in ``PRAGMA user_version``.

Each entry of ``MIGRATIONS`` is ``(version, sql)``; versions are 1, 2, 3… in order.  On
open, every migration above the database's ``user_version`` runs in its own ``BEGIN
IMMEDIATE`` transaction together with the ``user_version`` bump, so a crash leaves the
database at a whole version and two processes opening a fresh file at once cannot both
apply a step.  Never edit a released migration: append a new one.

Schema (version 1)
==================

Ids of ``users``, ``mailboxes`` and ``messages`` are AUTOINCREMENT: never reused, so a
session still holding the id of a deleted mailbox or user cannot reach a newer one that
happened to get the same id.

``meta(key, value)``
    Small server-wide counters.  ``last_uidvalidity`` makes UIDVALIDITY strictly increase
    across the whole database (RFC 3501 §2.3.1.1: a mailbox re-created under the same name
    must get a different, here larger, UIDVALIDITY), even when the clock goes backwards.

``users(id, name UNIQUE, password_hash, created_at)``
    ``name`` in BINARY collation: user names are case-sensitive.  ``password_hash`` is
    ``scrypt$n$r$p$salt$hash`` (see ``passwords.py``).  Times are Unix seconds.

``mailboxes(id, owner_id, name, uidvalidity, uidnext, highest_modseq, first_recent_uid,
noselect, special_use, created_at)``
    ``owner_id`` references ``users`` (ON DELETE CASCADE); NULL is reserved for shared
    mailboxes of no single user.  ``name`` is the full name, levels separated by "/".
    UNIQUE(owner_id, name), plus a partial unique index for names with a NULL owner (NULLs
    are distinct in a UNIQUE constraint).  Invariant: every proper superior of a name exists
    as a row (selectable or ``noselect`` placeholder), so inferiors of "a" are exactly the
    rows in the name range ["a/", "a0").  ``highest_modseq`` is the CONDSTORE mailbox
    modseq (RFC 7162 §3.1.1), bumped once per changing transaction.  Messages with
    ``uid >= first_recent_uid`` are \\Recent (RFC 3501 §2.3.2): the first session to select
    the mailbox claims them by moving ``first_recent_uid`` to ``uidnext``.

``subscriptions(user_id, name)``
    By name, not by mailbox id: RFC 3501 §6.3.6 allows subscribing to a name that does not
    exist, and a subscription survives DELETE of the mailbox.

``acl(mailbox_id, identifier, rights)``
    RFC 4314 access rights; ``rights`` is the string of right letters.

``messages(id, sha256 UNIQUE, size, body, path, ...parsed fields..., refcount, created_at)``
    Immutable message contents, stored once and shared by every mailbox copy (COPY and MOVE
    never copy bytes).  Small bodies live in ``body`` (covered by the commit's fsync); large
    ones in a content-addressed file under the data directory, ``path`` relative to it.
    Parsed once at APPEND: ``envelope``, ``bodystructure`` and ``body_simple`` are ready
    response bytes (RFC 3501 §7.4.2), ``part_tree`` the serialised MIME part offsets for
    BODY[section] fetches, ``header_size``/``lines`` the header length and line count, and
    ``hdr_*``/``sort_*`` the header fields SEARCH (RFC 3501 §6.4.4) and SORT (RFC 5256)
    use (``hdr_date`` the Date header as Unix seconds, ``sent_on`` its calendar day in its
    own zone as "YYYY-MM-DD" for SENTBEFORE/SENTON/SENTSINCE).  ``refcount`` counts
    ``mailbox_messages`` rows (maintained by triggers); rows at 0 are garbage to sweep,
    after which their file (if any) can be unlinked (see ``reclaim.py``).

``mailbox_messages(mailbox_id, uid, message_id, modseq, flags, keywords, internaldate,
internaldate_tz)``
    One row per message in a mailbox; PRIMARY KEY(mailbox_id, uid), WITHOUT ROWID so a
    mailbox's messages are stored together in UID order.  ``flags`` is a bitmask of the
    system flags (\\Seen 1, \\Answered 2, \\Flagged 4, \\Deleted 8, \\Draft 16 — see
    ``flags.py``), ``keywords`` the space-separated keyword list.
    ``modseq`` is the modseq of the last change of this message (RFC 7162 §3.1), so
    ``changes_since(m)`` is an index range scan on (mailbox_id, modseq).
    ``internaldate`` is Unix seconds, ``internaldate_tz`` the zone offset in minutes
    (RFC 3501 §2.3.3 keeps the zone for FETCH INTERNALDATE).

``expunged(mailbox_id, uid, modseq)``
    Tombstones of expunged messages with the modseq of the expunge, for CONDSTORE and
    QRESYNC VANISHED (RFC 7162 §3.2.10).  Dropped with the mailbox.

Schema (version 2)
==================

``message_text(message_id, headers, body)``
    Decoded, case-folded (``str.casefold``) text of a message for SEARCH HEADER, BODY and
    TEXT (RFC 3501 §6.4.4): ``headers`` one ``name: value`` line per header field (RFC
    2047 words decoded, values unfolded), ``body`` the text/* parts with transfer
    encodings undone and charsets converted.  Written at APPEND beside the ``messages``
    row (see ``search.store_text``), deleted with it (ON DELETE CASCADE).  A separate
    table so scans of ``messages`` stay small.  Messages stored before version 2 have no
    row (their text reads as empty); ``hdr_subject``/``hdr_from``/``hdr_to``/``hdr_cc``/
    ``hdr_bcc`` hold case-folded decoded values from version 2 on; the address ones are
    followed by their parsed addresses, one per line (no schema change: ``rederive.py``
    lets the server recompute them, and ENVELOPE, for messages stored before).

Schema (version 3)
==================

``acl`` gains the index ``acl_identifier(identifier)`` so that "every mailbox this user
may see" (``acl.visible_mailboxes``) is a lookup of the user's few identifiers, not a
scan of every ACL.  ``rights`` holds letters of ``acl.ALL_RIGHTS`` in that order (RFC 4314
§2.1); ``identifier`` is a user name, "anyone", or either prefixed "-" for negative
rights (RFC 4314 §2).  Trigger ``users_delete_acl_quota``: deleting a user deletes the ACL
entries naming them ("name" and "-name", on every mailbox), so a later account of the
same name inherits nothing, and their user quota.

``quotas(root_kind, root_id, storage_kib, messages)``
    RFC 9208 limits per quota root: ``root_kind`` "user" (``root_id`` a user id; covers
    every mailbox the user owns) or "mailbox" (``root_id`` a top-level shared mailbox;
    covers it and its inferiors).  ``storage_kib`` is the STORAGE limit in units of 1024
    octets, ``messages`` the MESSAGE limit; NULL is no limit, and a row has at least one.
    Usage is not stored: it is summed when asked (see ``quota.py``).  Triggers drop the
    row with its root: ``users_delete_acl_quota``, ``mailboxes_delete_quota`` (a shared
    mailbox deleted), ``mailboxes_rename_quota`` (a shared mailbox renamed below another
    level is no longer a root).

Schema (version 4)
==================

Private flags in shared mailboxes (RFC 4314 §5.2 "shared flags"; Dovecot's
``INDEXPVT``): a user reading a message of someone else's mailbox sets \\Seen for
themselves only.

``mailboxes.private_flags``
    Bitmask (bits of ``flags.py``) of the system flags kept per user in this mailbox:
    1 (\\Seen, the default), 5 (\\Seen and \\Flagged) or 0 (every flag shared).
    Keywords are always shared; \\Deleted is never private (EXPUNGE must mean one thing
    for everybody).

``private_flags(mailbox_id, user_id, uid, flags, modseq)``
    The private bits of users other than the mailbox's owner (every user, for a shared
    mailbox of no owner): ``flags`` holds only bits of the mask, ``modseq`` the modseq of
    that user's last private change of the message.  The owner's private bits stay in
    ``mailbox_messages.flags``, so a personal mailbox costs nothing.  A user U who is not
    the owner sees ``(mm.flags & ~mask) | (pf.flags & mask)`` (no row: no private flag)
    and the per-message modseq ``max(mm.shared_modseq, pf.modseq)``.  A row is kept with
    ``flags`` 0 once written (dropping it would lower U's modseq).  Rows go with the
    message (EXPUNGE, MOVE, DELETE with inferiors delete them explicitly) and with the
    mailbox or the user (ON DELETE CASCADE).  Index ``private_flags_modseq`` serves
    ``changes_since`` for one user; ``private_flags_user`` the cascade when a user goes.

Schema (version 5)
==================

``private_flags_user`` covers (user_id, mailbox_id, uid, flags): a non-owner's UNSEEN
count in STATUS reads only the index (SQLite preferred the old one-column index and paid a
table lookup per row: 42 ms for 70,000 rows, bench/README.md "Sharing").  New
``private_flags_message`` (mailbox_id, uid) lets EXPUNGE and MOVE delete the rows of the
messages they remove without scanning every user's rows of the mailbox.

Schema (version 6)
==================

``message_headers(message_id, header)``
    The header block of each message stored inside the database, apart from its body:
    the header fetch every client does on first sync reads only these few hundred bytes
    per message instead of pulling each whole body blob through SQLite (the header fetch
    of 100,000 messages read 1.2 GB).  Written at APPEND; bodies kept in files are read
    from the file as before.

``mailbox_messages.shared_modseq``
    The modseq of the message's last change visible to every user: APPEND/COPY, a change
    of shared flags or keywords (``modseq`` also moves for the owner's private changes).
    Backfilled from ``modseq``; a row inserted without it gets ``modseq`` (trigger
    ``mailbox_messages_shared_modseq``).  Index ``mailbox_messages_shared_modseq`` makes
    ``changes_since`` for a non-owner an index range scan like the owner's.

Schema (version 7)
==================

``expunged.flags``, ``expunged.keywords``
    The shared flags (bitmask) and keywords the message had when it was expunged, so that
    a session that has not yet been told of the expunge can still answer a FETCH of it
    with its UID and FLAGS (RFC 2180 §4.1, as Dovecot does; issue 9 point 2). Tombstones
    written before version 7 have no flags.

Schema (version 8)
==================

``sort_keys(message_id, sent, subject, reply, from_addr, to_addr, cc_addr, display_from,
display_to, thread_id, thread_refs)``
    SORT and THREAD keys (RFC 5256, RFC 5957), prepared at APPEND so that a SORT is one
    query with an ORDER BY and THREAD one read of the keys (``sorting.py``).  A narrow
    table of its own: these columns in ``messages`` sit after the inline ``body``, and
    reading them walked every body's overflow pages (SORT of 100,000 messages: 1 s CPU).
    Strings are already in i;unicode-casemap form (RFC 5051), so they compare as BINARY
    (i;octet); an absent header gives "".  ``sent`` is the Date header in UTC seconds
    (NULL: use INTERNALDATE, RFC 5256 §2.2), ``subject`` the base subject (§2.1),
    ``reply`` 1 when the extraction removed a reply/forward marker, ``from_addr`` /
    ``to_addr`` / ``cc_addr`` the addr-mailbox of the first address, ``display_from`` /
    ``display_to`` the RFC 5957 display value, ``thread_id`` the normalised Message-ID
    (NULL: none) and ``thread_refs`` the space-separated normalised references.  Goes
    with the message (ON DELETE CASCADE).  The ``sort_*`` columns of version 1 stay unused.

``messages.sort_version``
    1 once the message has its ``sort_keys`` row; 0 (every message stored before version
    8, or through the bare storage API) means not yet: the server fills those from the
    stored header (``sorting.rows_without_keys`` / ``set_keys``; partial index
    ``messages_sort_pending``) before it sorts.  A later change of the extraction resets
    it to 0 in a new migration.

Schema (version 9)
==================

``message_text_fts``
    An FTS5 index of ``message_text`` (external content, rowid = ``message_id``) with the
    trigram tokenizer, case-sensitive because the text is already case-folded at APPEND:
    SEARCH BODY/TEXT needles of three characters or more find their candidate messages
    here instead of scanning every body (``search.py``).  Kept by triggers on
    ``message_text``, so it changes in the same transaction as APPEND (and as the sweep
    that deletes unreferenced messages; EXPUNGE removes the mailbox row, which is what
    every search joins through).  ``detail='column'``: trigram membership per column, no
    positions (5 KB per message of 11 KB text instead of 26 KB with positions): a
    candidate is confirmed by the substring test on the text itself.  The messages
    already stored are not indexed here (that cost 146 s of CPU at open for 100,000):
    the highest of their ids goes to ``meta.fts_backlog_last`` for the background
    indexing of version 14.  (Until issue 15's fix, this migration ran FTS5's
    ``rebuild`` instead; a database it upgraded that way has no backlog.)

Schema (version 10)
===================

``mailboxes.vanished_floor``
    The highest modseq of the tombstones compacted away (RFC 7162 §6: "for all such
    'expired' records, the server needs to store a single mod-sequence"); 0 while none
    were.  ``changes_since`` a modseq below it reports every UID below UIDNEXT that is not
    in the mailbox (a superset, see ``reclaim.py``).

Databases created from this version on also use ``auto_vacuum = INCREMENTAL`` (set by
``db.py`` before the first table exists; it cannot be switched by a migration, only by a
``VACUUM``), so that reclaiming gives free pages back to the file system.

Schema (version 11)
===================

``fts_garbage``
    One row: ``deleted`` counts the documents removed from ``message_text_fts`` since the
    last merge began; ``merge_left``, the index pages the merge under way still has to
    write (0: none under way).  An FTS5 delete only writes a delete marker into a
    new segment; the deleted document's entries stay in the older segments until a merge
    drops both (measured: 94 MB of index for 2,000 live messages after 20,000 were
    appended and expunged, 10 MB once merged).  ``reclaim.py`` merges when this count is
    large against the live mail.  Counted by the delete and update triggers of
    ``message_text``.

Schema (version 12)
===================

``users.scram_sha256``
    The SCRAM-SHA-256 salted keys (``SCRAM-SHA-256$i$salt$StoredKey$ServerKey``, see
    ``scram.py``), written with every new password; NULL for a password set before this
    version (or as a bare hash from a users file) until its next password login.

Schema (version 13)
===================

``message_headers.size``
    The message's size beside its header block, so the header fetch every client does on
    first sync (``UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (...)]``) reads no
    ``messages`` row (which holds the body: bench/README.md "Opening a big folder").
    Since this version APPEND also stores the header block of a body kept in a file.
    Rows stored before are filled in the background (``crispin.server.header_backfill``,
    progress in ``meta`` under ``header_blocks``); until then a NULL size or a missing row
    is read from ``messages`` (``header_reads.py``).

Schema (version 14)
===================

``meta.fts_backlog_next``, ``meta.fts_backlog_last``
    The messages not yet in ``message_text_fts``: ids from ``next`` to ``last`` (an empty
    range, ``next > last``, once done; the keys stay).  ``last`` comes from version 9 (0
    when the index was built there, or the store had no mail); ``text_index.py`` indexes
    the range in batches, in the background, and SEARCH BODY/TEXT tests the range's
    messages by the scan meanwhile.  The triggers of ``message_text`` now leave the range
    alone: new mail (above it: ``messages.id`` is AUTOINCREMENT) is indexed at APPEND as
    before, and deleting a message that was never indexed must not send FTS5 a delete.

Schema (version 15)
===================

``meta.fts_tail``
    New mail is no longer indexed at APPEND, in the delivery's transaction (issue 12: the
    FTS5 insert was a third of the writer thread's time per message): every message whose
    id is ``>= fts_tail`` is not yet in ``message_text_fts`` either, and the server indexes
    it in the background, in batches, after the sessions' writes (``text_index.py``).
    SEARCH BODY/TEXT tests those messages by the scan meanwhile, as it does the range of
    version 14.  The triggers leave ids ``>= fts_tail`` alone; a ``message_text`` row
    inserted below it (none is today) is still indexed at once.

Schema (version 16)
===================

``metadata(mailbox_id, user_id, name, value)``
    Annotations (RFC 5464 METADATA, see ``metadata.py``): ``mailbox_id`` NULL for a server
    entry, ``user_id`` NULL for a shared ("/shared/...") entry and the owner of a private
    ("/private/...") one; ``name`` lower-cased (entry names are case-insensitive, §3.2).
    Both references are ON DELETE CASCADE: a deleted mailbox or user takes its entries
    along.  Unique per (mailbox, user, name), NULLs counted as one value (an expression
    index, since NULLs are distinct in a UNIQUE constraint).

Schema (version 17)
===================

``mailbox_messages.savedate``
    When the message was saved into this mailbox (RFC 8514 §3), Unix seconds: set by the
    trigger ``mailbox_messages_savedate`` to the current time on every insert that gives
    none, so APPEND (any way in: IMAP, SMTP, LMTP, import), COPY, MOVE and RENAME INBOX
    all give the new row a new save date, and no writer has to remember it.  It never
    changes while the message stays in the mailbox.  Rows stored before this version
    have no record of it: they get their INTERNALDATE (for mail that was delivered, the
    time it arrived; RFC 8514 §4.3 falls back to the internal date too, where a store
    has no save date), so that every mailbox supports the attribute (SAVEDATESUPPORTED).

``message_previews(message_id, preview)``
    The RFC 8970 PREVIEW text of a stored body (at most 200 characters), computed once
    and kept with it (ON DELETE CASCADE).  A body without a row has none computed yet.

Schema (version 18)
===================

``urlauth_keys(user_id, mailbox_id, key)``
    The mailbox access keys of URLAUTH (RFC 4467 §2.2): one random key (at least 128 bits)
    per user and mailbox, so two users of a shared mailbox have different keys.  Both
    references cascade: deleting a mailbox or a user revokes their URLs.

Schema (version 19)
===================

``header_selection_lists(id, fields)``, ``header_selections(message_id, list_id, data, size)``
    What a header fetch of a first sync selects (``BODY.PEEK[HEADER.FIELDS (...)]`` or
    ``.NOT``, RFC 3501 §6.4.5), kept per message for a few field lists
    (``header_reads.MAX_LISTS``), so that the next sync of the folder with the same list
    reads the selected bytes instead of filtering every header block again
    (bench/README.md "Opening a big folder"). ``fields`` is the list's canonical text
    (``FieldSelector.key``: JSON of the negation and the lower-cased names sorted). Filled
    by the fetches themselves, in the background; a message body never changes, so a row
    stays right until the message goes (ON DELETE CASCADE).
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
