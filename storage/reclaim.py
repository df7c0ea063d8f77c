"""Reclaiming what expunged mail leaves behind: message bodies, blob files, tombstones, free
database pages (issue 10, "Resources over time").

An EXPUNGE (or MOVE, DELETE of a mailbox, deletion of a user) removes ``mailbox_messages``
rows; the body they shared stays in ``messages`` with ``refcount`` 0, its file (if large)
under ``blobs/``, and each expunged UID leaves a tombstone in ``expunged`` (RFC 7162
§3.2.10). ``reclaim_step`` takes away a bounded amount of each per write transaction, so the
background reclaimer (``server/reclaimer.py``) never holds the writer for long; ``crispin
maintenance`` loops it to the end.

Bodies
    Rows with ``refcount <= 0`` are deleted (``message_text`` and ``message_headers`` go
    with them: ON DELETE CASCADE); their files are unlinked by ``unlink_orphans`` in a
    *later* write transaction, after the deletion committed, and only if no row references
    the path by then (an APPEND of the same body may have re-added it: content-addressed
    files are shared by identical bodies).

Tombstones (RFC 7162 §6 "expiring" expunged mod-sequences)
    Each mailbox keeps its newest ``TOMBSTONES_KEPT`` tombstones; older ones are deleted
    and ``mailboxes.vanished_floor`` (migration 7) remembers the highest modseq deleted.
    ``changes_since`` a modseq below the floor cannot list exactly what vanished since, so
    it reports every UID below UIDNEXT that is not in the mailbox: a superset, which RFC
    7162 §3.2.5.1 / §3.2.6 ask for ("MUST behave as if it was requested to report all
    expunged messages") when a client's modseq is older than the tombstones kept.

Full-text index (migration 11)
    Deleting a body deletes its ``message_text`` row, and the trigger adds an FTS5 delete
    marker; the document's trigrams stay in the older segments until FTS5 merges the two.
    FTS5's own automerge never brings every segment together, so left alone the index of
    expunged mail stayed: 94 MB for 10 MB of live index in a scaled ``bench/reclaim.py``
    run, most of the 2.4x the data folder had grown to.  Once no body is left to delete
    and ``fts_garbage.deleted`` reaches ``MERGE_AFTER`` of the live messages, each step
    does ``MERGE_PAGES`` pages of an FTS5 ``'merge'`` (``merge_index_step``: bounded by
    the index's size, so mail arriving meanwhile cannot keep it going); the pages it
    frees then go with the next steps.  ``Store.reclaim`` waits before each step until
    no session's write is queued (``Database.quiet``): merging costs about 0.3 s of the
    writer per step, and sharing every transaction with it cut APPEND throughput tenfold
    in the benchmark.
    ``crispin maintenance`` merges whatever the count says (``merge_index=True``): a data
    folder from before migration 11 starts at 0.

Free pages
    Databases created from migration 7 on use ``auto_vacuum = INCREMENTAL``: a step
    returns up to ``VACUUM_PAGES`` free pages to the file system (``give_back``). Older
    databases get it by one ``VACUUM`` (``crispin maintenance --vacuum``, which rewrites
    the file).

    Python's ``sqlite3`` runs ``PRAGMA incremental_vacuum(N)`` for one page only: the
    pragma returns an empty row per page, and a statement without result columns is reset
    after its first step; so ``give_back`` executes it once per page.  Each page costs a
    search of the free list's trunk chain for that exact page (SQLite's
    ``allocateBtreePage``, ``BTALLOC_EXACT``), which grows with the free list: 40 µs a page
    with 18,000 free pages, 225 µs with 180,000, 12 ms with 3 million (bench/README
    "Reclaiming expunged mail").  So once the free pages are both many
    (``FULL_VACUUM_MIN_PAGES``) and more than the pages in use, a step gives none back
    (``full_vacuum_due``) and ``Store.reclaim`` rewrites the file with one ``VACUUM``
    instead (``vacuum``: 6 s for the 12 GB file of 320 MB of live mail that incremental
    steps would have taken hours over), when no session's write is queued, and in the
    background only up to ``AUTO_VACUUM_MAX_BYTES`` of live pages: the rewrite holds the
    writer for its whole duration (sessions' writes wait; reads go on in WAL mode).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import blobs
from .db import connect

log = logging.getLogger("crispin.storage")

TOMBSTONES_KEPT = 10_000
"""Tombstones kept per mailbox: a client that resynchronises (QRESYNC) after fewer expunges
than this gets the exact VANISHED list; after more, a superset."""

BATCH = 2_000
"""Message rows or tombstones removed per step (one short write transaction each)."""

VACUUM_PAGES = 2_000
"""Free pages returned to the file system per step (8 MB with 4 KiB pages)."""

FULL_VACUUM_MIN_PAGES = 65_536
"""Free pages (256 MB with 4 KiB pages) from which, if they also outnumber the pages in use,
one ``VACUUM`` replaces the incremental steps (see the module docstring)."""

AUTO_VACUUM_MAX_BYTES = 1 << 30
"""Live pages up to which the background reclaimer runs that ``VACUUM`` by itself (about
20 s of the writer on this project's 2-core test machine); beyond, it is left to ``crispin
maintenance``, and logged."""


MERGE_PAGES = 100
"""FTS5 index pages written per merge step (about 0.3 s of the writer when most of what it
reads is deleted, measured on the benchmark's index)."""

MERGE_AFTER = 0.25
"""Merge the full-text index once the documents deleted from it reach this fraction of the
live messages (the garbage, then, is about half the live index: delete markers and the
deleted documents' entries), and at least ``MERGE_MIN``: merging rewrites the whole index."""

MERGE_MIN = 200


@dataclass(frozen=True)
class StepResult:
    """What one ``reclaim_step`` did."""

    messages: int
    """Unreferenced message rows deleted."""
    tombstones: int
    """Tombstones compacted away."""
    pages: int
    """Free pages given back (incremental vacuum)."""
    paths: tuple[str, ...]
    """Blob files of the deleted rows, for ``unlink_orphans`` after the commit."""
    merged: int = 0
    """Full-text index merge steps that did work (0 or 1)."""
    seconds: float = 0.0
    """How long the step held the writer (its own work, not the wait for its turn)."""
    full_vacuum: bool = False
    """The free pages are too many for incremental steps: a ``VACUUM`` is due."""

    @property
    def idle(self) -> bool:
        """Nothing left to do (as of this step)."""
        return not (self.messages or self.tombstones or self.pages or self.merged)


def reclaim_step(conn: sqlite3.Connection, batch: int = BATCH, keep: int = TOMBSTONES_KEPT,
                 vacuum_pages: int = VACUUM_PAGES, tombstone_batch: int | None = None,
                 merge_index: bool = False, merge_pages: int = MERGE_PAGES) -> StepResult:
    """Writer thread, in a write transaction: delete up to ``batch`` unreferenced bodies and
    up to ``tombstone_batch`` (default ``batch``) surplus tombstones; once no body is left,
    merge ``merge_pages`` of the full-text index if it holds enough deleted documents (any,
    with ``merge_index``); give back up to ``vacuum_pages`` free pages."""
    started = time.perf_counter()
    rows = conn.execute(
        "DELETE FROM messages WHERE id IN"
        " (SELECT id FROM messages WHERE refcount <= 0 LIMIT ?) RETURNING path",
        (batch,),
    ).fetchall() if batch else []
    paths = tuple(str(r[0]) for r in rows if r[0] is not None)
    tombstones = compact_tombstones(
        conn, keep, batch if tombstone_batch is None else tombstone_batch)
    merged = 0
    if len(rows) < batch or not batch:  # no body left to delete (or none may be)
        merged = merge_index_step(conn, merge_pages, force=merge_index)
    pages = 0
    full = full_vacuum_due(conn)
    if vacuum_pages and not full and _auto_vacuum(conn) == 2:
        pages = give_back(conn, vacuum_pages)
    return StepResult(len(rows), tombstones, pages, paths, merged,
                      time.perf_counter() - started, full)


def give_back(conn: sqlite3.Connection, pages: int) -> int:
    """Return up to ``pages`` free pages to the file system (incremental auto-vacuum), in
    the caller's write transaction; returns how many.  One ``incremental_vacuum`` statement
    per page: Python's ``sqlite3`` steps the pragma once (module docstring)."""
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    n = min(int(free), pages)
    for _ in range(n):
        conn.execute("PRAGMA incremental_vacuum(1)")
    return n


def page_counts(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(pages in use, free pages, page size in bytes) of the database file."""
    (total,) = conn.execute("PRAGMA page_count").fetchone()
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    return int(total) - int(free), int(free), int(size)


def full_vacuum_due(conn: sqlite3.Connection) -> bool:
    """Whether the free pages are many and outnumber those in use (module docstring)."""
    used, free, _ = page_counts(conn)
    return free >= FULL_VACUUM_MIN_PAGES and free > used


CHECKPOINT_TRIES = 6
# Once a reclaim is done, a WAL larger than this is emptied (journal_size_limit cuts it to
# 4 MiB only when a later write starts it again, and an idle server may write nothing):
# after a VACUUM it holds the whole rewritten database (325 MB in the full-size run,
# bench/README "Full size, fourth try"). Tried every WAL_RETRY_SECONDS while readers hold
# older snapshots, WAL_TRIES times.
WAL_BYTES_KEPT = 16 << 20
WAL_RETRY_SECONDS = 5.0
WAL_TRIES = 120
"""Checkpoints tried after a ``VACUUM`` (each waits up to the connection's busy timeout for
the readers of older snapshots)."""


def vacuum(conn: sqlite3.Connection, on_busy: Callable[[], None] | None = None) -> int:
    """Writer thread, outside any transaction (``Database.write_alone``): rewrite the file
    compactly, then copy the WAL the rewrite went through (it holds every live page) back
    into the file, which only then shrinks, and empty it.  Returns the pages given back.

    ``PRAGMA wal_checkpoint(TRUNCATE)`` does not raise while a reader holds an older
    snapshot: it answers busy (first column 1) once the busy timeout has passed.  Taken as
    done, that left the full-size benchmark's folder at 10.5 GB (the old file and a 325 MB
    WAL) after a ``VACUUM`` down to 323 MB (bench/README "Full size, third try"), so it is
    tried again, up to ``CHECKPOINT_TRIES`` times (``on_busy`` is called after each busy
    answer: for tests)."""
    before = int(conn.execute("PRAGMA page_count").fetchone()[0])
    conn.execute("VACUUM")
    for _ in range(CHECKPOINT_TRIES):
        if empty_wal(conn, wait=True):
            break
        if on_busy is not None:
            on_busy()
    else:
        log.warning("the database file keeps its old size until the next checkpoint:"
                    " readers held older snapshots through %d tries", CHECKPOINT_TRIES)
    return max(0, before - int(conn.execute("PRAGMA page_count").fetchone()[0]))


def empty_wal(conn: sqlite3.Connection, wait: bool = False) -> bool:
    """Writer thread, outside any transaction: copy the WAL back into the database file and
    truncate it to nothing (``wal_checkpoint(TRUNCATE)``); False while a reader still holds
    a snapshot that needs it (SQLite answers busy, it does not raise).  Without ``wait`` the
    busy timeout is set aside, so that the writer is not held while readers finish: the
    caller tries again later (``WAL_RETRY_SECONDS``)."""
    timeout = None
    if not wait:
        timeout = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
        conn.execute("PRAGMA busy_timeout = 0")
    try:
        return int(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]) == 0
    except sqlite3.OperationalError:
        return False
    finally:
        if timeout is not None:
            conn.execute(f"PRAGMA busy_timeout = {timeout}")


class Pace:
    """How the background reclaimer shares the one writer with the sessions.

    Without it, a step deleted ``BATCH`` bodies at once: each deletion also deletes the
    body's full-text entries (the trigger of migration 15 re-tokenises the text), so after
    100,000 expunges a step held the writer for seconds, and APPENDs arriving meanwhile
    (8 clients) fell from 116/s to 2-3/s for as long as the reclaiming lasted (bench/README
    "Reclaiming expunged mail").  So each step is sized to take about ``step_seconds``
    (every size scaled by one factor, from the last step's measured time), and while
    sessions write, the reclaimer takes at most ``share`` of the writer's time: after a
    step that others waited on or wrote beside, it pauses ``(1 - share) / share`` times
    as long as the step took.  With nobody else writing it runs flat out.
    ``crispin maintenance`` uses no pace: full-size steps, no pauses.

    The share grows with the backlog (``behind``): at a quarter, 100 APPENDs a second of
    churn left 372,000 deleted bodies (12.8 GB) waiting in the full-size run, whose pages
    new mail could have reused; so from ``share`` with nothing waiting it rises to
    ``MAX_SHARE`` once as many bodies wait as are in use."""

    MIN_SCALE = 0.005
    GROWTH = 2.0
    """At most this factor up per step: one fast step (little left to do) must not make the
    next one huge."""
    MAX_SHARE = 0.5

    def __init__(self, share: float = 0.25, step_seconds: float = 0.05) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be in (0, 1]")
        self.base_share = share
        self.share = share
        self.step_seconds = step_seconds
        self.scale = 0.1

    def behind(self, waiting: int, live: int) -> None:
        """Take the backlog into the share: ``waiting`` bodies to reclaim, ``live`` in use."""
        if self.base_share >= self.MAX_SHARE:
            return
        ratio = min(1.0, waiting / max(live, 1))
        self.share = self.base_share + (self.MAX_SHARE - self.base_share) * ratio

    def sizes(self, batch: int = BATCH, merge_pages: int = MERGE_PAGES,
              vacuum_pages: int = VACUUM_PAGES) -> tuple[int, int, int]:
        """(bodies, merge pages, free pages) for the next step."""
        return (max(1, round(batch * self.scale)), max(1, round(merge_pages * self.scale)),
                max(1, round(vacuum_pages * self.scale)))

    def after(self, seconds: float, contended: bool) -> float:
        """Take the last step's time into the sizes; the pause before the next step."""
        if seconds > 0:
            wanted = self.scale * self.step_seconds / seconds
            self.scale = min(1.0, max(self.MIN_SCALE, min(wanted, self.scale * self.GROWTH)))
        if not contended or self.share >= 1:
            return 0.0
        return seconds * (1 - self.share) / self.share


def backlog(conn: sqlite3.Connection) -> tuple[int, int]:
    """(bodies waiting to be reclaimed, bodies in use)."""
    (waiting,) = conn.execute("SELECT count(*) FROM messages WHERE refcount <= 0").fetchone()
    (total,) = conn.execute("SELECT count(*) FROM messages").fetchone()
    return int(waiting), int(total) - int(waiting)


def index_garbage(conn: sqlite3.Connection) -> int:
    """Documents deleted from the full-text index since it was last merged into one."""
    row = conn.execute("SELECT deleted FROM fts_garbage").fetchone()
    return int(row[0]) if row else 0


def merge_due(conn: sqlite3.Connection) -> bool:
    """Whether the full-text index holds enough deleted documents to be merged."""
    garbage = index_garbage(conn)
    if garbage < MERGE_MIN:
        return False
    # count(*) over the smallest index of ``messages``, not over the text itself.
    (live,) = conn.execute("SELECT count(*) FROM messages").fetchone()
    return garbage >= MERGE_AFTER * int(live)


def merge_index_step(conn: sqlite3.Connection, pages: int = MERGE_PAGES,
                     force: bool = False) -> int:
    """One bounded FTS5 ``'merge'`` of the full-text index; returns 1 if it did work.

    A merge begins when due (or ``force``): its budget is the index's size then (pages of
    ``message_text_fts_data``, a row each), and the deleted-document count restarts from 0
    (deletions from now on count towards the next merge).  Each step writes about
    ``pages`` pages with a negative budget (every segment onto one level, "as few as two
    b-trees ... may be merged together", SQLite FTS5 documentation, "The 'merge'
    Command"), until the budget is spent or a step does nothing.  The budget is what ends
    it while mail keeps arriving: each APPEND adds a segment, so "until nothing is left to
    merge" would rewrite the whole index after every new message."""
    row = conn.execute("SELECT merge_left FROM fts_garbage").fetchone()
    left = int(row[0]) if row else 0
    if left <= 0:
        if not (force or merge_due(conn)):
            return 0
        (left,) = conn.execute("SELECT count(*) FROM message_text_fts_data").fetchone()
        left = max(int(left), 1)
        conn.execute("UPDATE fts_garbage SET deleted = 0")
    before = conn.total_changes
    conn.execute("INSERT INTO message_text_fts (message_text_fts, rank) VALUES ('merge', ?)",
                 (-abs(pages),))
    # "If the difference is less than 2, then no work was done" (same section).
    worked = conn.total_changes - before >= 2
    left = left - pages if worked else 0
    conn.execute("UPDATE fts_garbage SET merge_left = ?", (max(left, 0),))
    return int(worked)


def compact_tombstones(conn: sqlite3.Connection, keep: int, batch: int) -> int:
    """Delete the oldest tombstones of mailboxes holding more than ``keep``, at most
    ``batch`` in all; raise each such mailbox's ``vanished_floor`` to the highest modseq
    deleted.  Returns how many went."""
    crowded = conn.execute(
        "SELECT mailbox_id, count(*) - ? FROM expunged GROUP BY mailbox_id HAVING count(*) > ?",
        (keep, keep),
    ).fetchall()
    removed = 0
    for mailbox_id, surplus in crowded:
        n = min(int(surplus), batch - removed)
        if n <= 0:
            break
        gone = conn.execute(
            "DELETE FROM expunged WHERE mailbox_id = ? AND uid IN (SELECT uid FROM expunged"
            " WHERE mailbox_id = ? ORDER BY modseq, uid LIMIT ?) RETURNING modseq",
            (mailbox_id, mailbox_id, n),
        ).fetchall()
        if gone:
            conn.execute(
                "UPDATE mailboxes SET vanished_floor = max(vanished_floor, ?) WHERE id = ?",
                (max(int(r[0]) for r in gone), mailbox_id),
            )
        removed += len(gone)
    return removed


def unlink_orphans(conn: sqlite3.Connection, data_dir: Path, paths: list[str]) -> int:
    """Writer thread, in a write transaction *after* the one that deleted the rows (so no
    APPEND installs a file meanwhile): unlink each file no row references any more."""
    removed = 0
    for path in paths:
        if conn.execute("SELECT 1 FROM messages WHERE path = ?", (path,)).fetchone() is None:
            blobs.unlink(data_dir, path)
            removed += 1
    return removed


def vanished_superset(conn: sqlite3.Connection, mailbox_id: int, uidnext: int) -> list[int]:
    """Every UID below ``uidnext`` that is not in the mailbox: what may have vanished when
    the tombstones asked about were compacted (RFC 7162 §3.2.6 note on <minmodseq>)."""
    present = {int(r[0]) for r in conn.execute(
        "SELECT uid FROM mailbox_messages WHERE mailbox_id = ?", (mailbox_id,))}
    return [uid for uid in range(1, uidnext) if uid not in present]


def _auto_vacuum(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA auto_vacuum").fetchone()[0])


def compact(path: Path, vacuum: bool) -> None:
    """Outside any transaction, on a connection of its own: optionally VACUUM (switching an
    older database to incremental auto-vacuum on the way, which only a VACUUM can do), then
    empty the WAL into the database file (skipped while readers hold it)."""
    conn = connect(path)
    try:
        if vacuum:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("VACUUM")
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError:
            pass
    finally:
        conn.close()
