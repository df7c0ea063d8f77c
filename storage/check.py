"""Checking a data folder's invariants, and repairing what can be repaired (``crispin check``,
``crispin check --repair``; the server runs the cheap part at every start).

What must hold (see docs/schema.md for the schema):
- SQLite's own ``integrity_check`` and ``foreign_key_check`` find nothing;
- per mailbox, UIDNEXT is above every UID it ever gave (live, tombstoned, private flags):
  RFC 3501 §2.3.1.1 UIDs strictly ascend and are never reused; no UID is both live and
  tombstoned;
- HIGHESTMODSEQ is at least every MODSEQ in the mailbox (RFC 7162 §3.1.1);
- ``messages.refcount`` equals the number of ``mailbox_messages`` rows referring to it;
- every body kept in a file has its file, of its size; every file under ``blobs/`` belongs
  to a row; no temporary file is left over from an APPEND a crash cut off (issue 11 point
  10: ``blobs/tmp/``, ``spool/``);
- no private-flag row outlives its message, no quota its root;
- every message in a mailbox has its save date (RFC 8514, migration 17; repaired with
  its INTERNALDATE, what the migration gave the rows stored before it).
Quota usage is not stored (``quota.py`` sums it when asked), so it cannot drift.

``Problem.repairable`` says whether ``repair`` fixes it: counters are raised, refcounts
recounted, orphans and leftovers removed.  A missing body file or a corrupt database cannot
be repaired here (restore from a backup; ``sqlite3 crispin.db .recover``).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from . import blobs

SPOOL_DIR = "spool"
"""Where the server spools APPEND literals larger than it keeps in memory."""


@dataclass(frozen=True)
class Problem:
    kind: str
    detail: str
    repairable: bool


# -- counters (cheap: index lookups per mailbox) ----------------------------------------------

_UID_HIGH = (
    "SELECT m.id, m.name, m.uidnext, max(coalesce((SELECT max(uid) FROM mailbox_messages"
    " WHERE mailbox_id = m.id), 0), coalesce((SELECT max(uid) FROM expunged"
    " WHERE mailbox_id = m.id), 0), coalesce((SELECT max(uid) FROM private_flags"
    " WHERE mailbox_id = m.id), 0)) AS top FROM mailboxes m"
)
_MODSEQ_HIGH = (
    "SELECT m.id, m.name, m.highest_modseq, max(coalesce((SELECT max(modseq) FROM"
    " mailbox_messages WHERE mailbox_id = m.id), 0), coalesce((SELECT max(modseq) FROM"
    " expunged WHERE mailbox_id = m.id), 0), coalesce((SELECT max(modseq) FROM private_flags"
    " WHERE mailbox_id = m.id), 0)) AS top FROM mailboxes m"
)


def check_counters(conn: sqlite3.Connection) -> list[Problem]:
    out = []
    for mailbox_id, name, uidnext, top in conn.execute(_UID_HIGH):
        if uidnext <= top:
            out.append(Problem("uidnext", f"mailbox {mailbox_id} ({name}): UIDNEXT {uidnext}"
                               f" not above UID {top}", True))
    for mailbox_id, name, highest, top in conn.execute(_MODSEQ_HIGH):
        if highest < top:
            out.append(Problem("modseq", f"mailbox {mailbox_id} ({name}): HIGHESTMODSEQ"
                               f" {highest} below MODSEQ {top}", True))
    return out


def repair_counters(conn: sqlite3.Connection) -> None:
    for mailbox_id, _, uidnext, top in conn.execute(_UID_HIGH).fetchall():
        if uidnext <= top:
            conn.execute("UPDATE mailboxes SET uidnext = ? WHERE id = ?", (top + 1, mailbox_id))
    for mailbox_id, _, highest, top in conn.execute(_MODSEQ_HIGH).fetchall():
        if highest < top:
            conn.execute("UPDATE mailboxes SET highest_modseq = ? WHERE id = ?",
                         (top, mailbox_id))


# -- leftover temporary files ---------------------------------------------------------------


def temporary_files(data_dir: Path) -> list[Path]:
    """Files an APPEND or import writes before its transaction commits (a body being
    prepared in ``blobs/tmp/``, a literal being spooled in ``spool/``)."""
    found: list[Path] = []
    for folder in (data_dir / blobs.BLOB_DIR / blobs.TMP_DIR, data_dir / SPOOL_DIR):
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.is_file())
    return found


def remove_temporary_files(data_dir: Path) -> int:
    """At start, before anything is accepted: every temporary file left is from an APPEND
    or import a crash (or SIGKILL) cut off, since no operation of this process has begun.
    (A ``crispin import`` running at the very moment the server starts would lose its
    current message's temporary file and fail loudly on it, not silently.)"""
    removed = 0
    for path in temporary_files(data_dir):
        try:
            os.unlink(path)
            removed += 1
        except FileNotFoundError:
            pass
    return removed


# -- the full check -------------------------------------------------------------------------


def check(conn: sqlite3.Connection, data_dir: Path, full: bool = True) -> list[Problem]:
    """Every problem found (``full`` False: counters and leftover files only, what the
    server checks at start).  Runs in one read transaction."""
    problems: list[Problem] = []
    if full:
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
        if rows != ["ok"]:
            problems += [Problem("integrity", r, False) for r in rows[:20]]
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
            problems.append(Problem("foreign_key", f"{table} row {rowid}: no {parent}", True))
    problems += check_counters(conn)
    problems += [Problem("temporary_file", str(p.relative_to(data_dir)), True)
                 for p in temporary_files(data_dir)]
    if not full:
        return problems
    for uid, mailbox_id in conn.execute(
        "SELECT e.uid, e.mailbox_id FROM expunged e JOIN mailbox_messages mm"
        " ON mm.mailbox_id = e.mailbox_id AND mm.uid = e.uid"
    ):
        problems.append(Problem("uid_reused", f"mailbox {mailbox_id}: UID {uid} is live and"
                                " tombstoned", True))
    for message_id, stored, actual in conn.execute(
        "SELECT g.id, g.refcount, count(mm.message_id) FROM messages g"
        " LEFT JOIN mailbox_messages mm ON mm.message_id = g.id GROUP BY g.id"
        " HAVING g.refcount != count(mm.message_id)"
    ):
        problems.append(Problem("refcount", f"message {message_id}: refcount {stored},"
                                f" {actual} references", True))
    (orphan_flags,) = conn.execute(
        "SELECT count(*) FROM private_flags pf WHERE NOT EXISTS (SELECT 1 FROM"
        " mailbox_messages mm WHERE mm.mailbox_id = pf.mailbox_id AND mm.uid = pf.uid)"
    ).fetchone()
    if orphan_flags:
        problems.append(Problem("orphan_private_flags", f"{orphan_flags} rows of messages"
                                " no longer there", True))
    (undated,) = conn.execute(
        "SELECT count(*) FROM mailbox_messages WHERE savedate IS NULL").fetchone()
    if undated:
        problems.append(Problem("no_save_date", f"{undated} messages without a save date",
                                True))
    for kind, root_id in conn.execute(
        "SELECT root_kind, root_id FROM quotas q WHERE (root_kind = 'user' AND NOT EXISTS"
        " (SELECT 1 FROM users WHERE id = q.root_id)) OR (root_kind = 'mailbox' AND NOT"
        " EXISTS (SELECT 1 FROM mailboxes WHERE id = q.root_id AND owner_id IS NULL))"
    ):
        problems.append(Problem("orphan_quota", f"quota of {kind} {root_id}, which is gone",
                                True))
    problems += _check_files(conn, data_dir)
    return problems


def _blob_files(data_dir: Path) -> set[str]:
    root = data_dir / blobs.BLOB_DIR
    if not root.is_dir():
        return set()
    return {f"{blobs.BLOB_DIR}/{d.name}/{f.name}" for d in root.iterdir()
            if d.is_dir() and d.name != blobs.TMP_DIR for f in d.iterdir() if f.is_file()}


def _check_files(conn: sqlite3.Connection, data_dir: Path) -> list[Problem]:
    problems = []
    on_disk = _blob_files(data_dir)
    for message_id, path, size in conn.execute(
        "SELECT id, path, size FROM messages WHERE path IS NOT NULL"
    ):
        if path not in on_disk:
            problems.append(Problem("missing_file", f"message {message_id}: {path}", False))
            continue
        on_disk.discard(path)
        actual = (data_dir / path).stat().st_size
        if actual != size:
            problems.append(Problem("file_size", f"message {message_id}: {path} has {actual}"
                                    f" octets, {size} expected", False))
    problems += [Problem("orphan_file", path, True) for path in sorted(on_disk)]
    return problems


def remove_orphan_files(conn: sqlite3.Connection, data_dir: Path) -> int:
    """Writer thread, in a write transaction (so that no APPEND of any process is between
    installing a file and committing its row): unlink body files no row names.  A crash
    leaves one behind when it strikes between the two, or between a reclaim's commit and
    its unlink.  Returns how many went."""
    referenced = {str(r[0]) for r in conn.execute(
        "SELECT path FROM messages WHERE path IS NOT NULL")}
    orphans = _blob_files(data_dir) - referenced
    for path in orphans:
        blobs.unlink(data_dir, path)
    return len(orphans)


def repair(conn: sqlite3.Connection, data_dir: Path) -> None:
    """Writer thread, in a write transaction: fix every repairable problem ``check``
    reports.  Files are removed only if no row names them (checked in this transaction,
    which no APPEND can interleave with)."""
    conn.execute(
        "DELETE FROM expunged WHERE EXISTS (SELECT 1 FROM mailbox_messages mm"
        " WHERE mm.mailbox_id = expunged.mailbox_id AND mm.uid = expunged.uid)"
    )
    conn.execute(
        "UPDATE messages SET refcount = (SELECT count(*) FROM mailbox_messages mm"
        " WHERE mm.message_id = messages.id) WHERE refcount != (SELECT count(*) FROM"
        " mailbox_messages mm WHERE mm.message_id = messages.id)"
    )
    conn.execute(
        "DELETE FROM private_flags WHERE NOT EXISTS (SELECT 1 FROM mailbox_messages mm"
        " WHERE mm.mailbox_id = private_flags.mailbox_id AND mm.uid = private_flags.uid)"
    )
    conn.execute("UPDATE mailbox_messages SET savedate = internaldate WHERE savedate IS NULL")
    conn.execute(
        "DELETE FROM quotas WHERE (root_kind = 'user' AND NOT EXISTS (SELECT 1 FROM users"
        " WHERE id = quotas.root_id)) OR (root_kind = 'mailbox' AND NOT EXISTS (SELECT 1"
        " FROM mailboxes WHERE id = quotas.root_id AND owner_id IS NULL))"
    )
    # A cached header selection of a message that is gone (WITHOUT ROWID: no rowid below).
    conn.execute(
        "DELETE FROM header_selections WHERE NOT EXISTS (SELECT 1 FROM messages m"
        " WHERE m.id = header_selections.message_id)"
    )
    for table, rowid, _, _ in conn.execute("PRAGMA foreign_key_check").fetchall():
        if table in ("message_text", "message_headers", "message_previews"):
            conn.execute(f"DELETE FROM {table} WHERE rowid = ?", (rowid,))
    repair_counters(conn)  # after the orphans went: they must not raise UIDNEXT
    remove_orphan_files(conn, data_dir)
    remove_temporary_files(data_dir)
