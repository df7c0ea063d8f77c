"""The ``Store`` methods that keep a data folder healthy over months: reclaiming expunged
mail (``reclaim.py``) and checking invariants (``check.py``).

A mixin so that ``store.py`` stays the facade of users, mailboxes and messages.  Each step
is one short write transaction, so the background reclaimer can run while sessions write.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from . import check as check_mod
from . import reclaim
from .db import Database

log = logging.getLogger("crispin.storage")

BACKLOG_EVERY = 5.0
"""Seconds between two counts of the bodies waiting, for the background reclaimer's share
(``reclaim.Pace.behind``)."""


# (in the class body below, ``reclaim`` names the method)
_WAL_TRIES, _WAL_RETRY_SECONDS = reclaim.WAL_TRIES, reclaim.WAL_RETRY_SECONDS


@dataclass(frozen=True)
class ReclaimTotals:
    """What ``Store.reclaim`` removed."""

    messages: int = 0
    files: int = 0
    tombstones: int = 0
    pages: int = 0
    merges: int = 0
    """Full-text index merge steps (``reclaim.merge_index_step``)."""

    def __add__(self, other: ReclaimTotals) -> ReclaimTotals:
        return ReclaimTotals(self.messages + other.messages, self.files + other.files,
                             self.tombstones + other.tombstones, self.pages + other.pages,
                             self.merges + other.merges)

    @property
    def idle(self) -> bool:
        """Nothing was left to do."""
        return not (self.messages or self.tombstones or self.pages or self.merges)


class MaintenanceMixin:
    _db: Database
    data_dir: Path
    _snapshots: list[sqlite3.Connection]

    def keep_bodies_for(self, snapshot: sqlite3.Connection) -> None:
        """While ``snapshot`` (a copy of the database, ``snapshots.py``) is open, no body is
        reclaimed: restoring it must find every file its rows name."""
        self._snapshots = [s for s in self._snapshots if _open(s)]
        self._snapshots.append(snapshot)

    def _bodies_pinned(self) -> bool:
        self._snapshots = [s for s in self._snapshots if _open(s)]
        return bool(self._snapshots)

    async def reclaim_step(self, batch: int = reclaim.BATCH,
                           keep: int = reclaim.TOMBSTONES_KEPT,
                           merge_index: bool = False,
                           pace: reclaim.Pace | None = None,
                           ) -> tuple[ReclaimTotals, float, int, bool]:
        """One bounded step (see ``reclaim.reclaim_step``), files unlinked in a second
        transaction once the rows' deletion committed.  All zero: nothing was left.  Also
        returns the seconds the step held the writer, the writes it took (1 or 2), and
        whether a full ``VACUUM`` is due instead of incremental steps."""
        merge_pages, vacuum_pages = reclaim.MERGE_PAGES, reclaim.VACUUM_PAGES
        if pace is not None:
            batch, merge_pages, vacuum_pages = pace.sizes(batch, merge_pages, vacuum_pages)
        bodies = 0 if self._bodies_pinned() else batch
        step = await self._db.write(partial(
            reclaim.reclaim_step, batch=bodies, keep=keep, tombstone_batch=batch,
            merge_index=merge_index, merge_pages=merge_pages, vacuum_pages=vacuum_pages))
        files = 0
        seconds = step.seconds
        writes = 1
        if step.paths:
            writes = 2
            started = time.perf_counter()
            files = await self._db.write(partial(
                reclaim.unlink_orphans, data_dir=self.data_dir, paths=list(step.paths)))
            seconds += time.perf_counter() - started
        totals = ReclaimTotals(step.messages, files, step.tombstones, step.pages, step.merged)
        return totals, seconds, writes, step.full_vacuum

    async def reclaim(self, batch: int = reclaim.BATCH,
                      keep: int = reclaim.TOMBSTONES_KEPT,
                      merge_index: bool = False,
                      pace: reclaim.Pace | None = None) -> ReclaimTotals:
        """Steps until nothing is left: every unreferenced body and its file, tombstones
        beyond ``keep`` per mailbox, the full-text index's deleted documents once they are
        many (always, with ``merge_index``: ``crispin maintenance``), free pages
        (incremental vacuum).  With ``pace`` (the background reclaimer), steps are sized
        and spaced so that sessions keep most of the writer (``reclaim.Pace``)."""
        total = ReclaimTotals()
        counted = -BACKLOG_EVERY
        while True:
            if pace is not None and time.monotonic() - counted >= BACKLOG_EVERY:
                counted = time.monotonic()
                pace.behind(*await self._db.read(reclaim.backlog))
            await self._db.quiet()  # sessions' writes first
            writes = self._db.writes
            step, seconds, own, full_vacuum = await self.reclaim_step(
                batch, keep, merge_index, pace)
            total += step
            if step.idle:
                if full_vacuum:
                    total += await self._full_vacuum(background=pace is not None)
                return total
            if pace is not None:
                contended = self._db.writes - writes > own or self._db.queued_writes > 0
                pause = pace.after(seconds, contended)
                if pause:
                    await asyncio.sleep(pause)

    async def _full_vacuum(self, background: bool) -> ReclaimTotals:
        """The ``VACUUM`` that replaces incremental steps once free pages outnumber the
        used ones (``reclaim.full_vacuum_due``), after every session's queued write; in the
        background only up to ``reclaim.AUTO_VACUUM_MAX_BYTES`` of live pages."""
        used, free, page_size = await self._db.read(reclaim.page_counts)
        if background and used * page_size > reclaim.AUTO_VACUUM_MAX_BYTES:
            log.warning("%d free pages (%d MB) outnumber the %d in use; too many in use to"
                        " rewrite the file in the background: run `crispin maintenance"
                        " --vacuum` when the server is quiet", free,
                        free * page_size >> 20, used)
            return ReclaimTotals()
        await self._db.quiet()
        started = time.perf_counter()
        pages = await self._db.write_alone(reclaim.vacuum)
        log.info("rewrote the database (VACUUM): %d free pages given back in %.1f s",
                 pages, time.perf_counter() - started)
        return ReclaimTotals(pages=pages)

    def wal_bytes(self) -> int:
        """The size of the WAL file now (0 when there is none)."""
        try:
            return Path(f"{self._db.path}-wal").stat().st_size
        except FileNotFoundError:
            return 0

    async def empty_wal(self, tries: int = _WAL_TRIES,
                        retry_seconds: float = _WAL_RETRY_SECONDS) -> bool:
        """Once a reclaim is done: a WAL beyond ``reclaim.WAL_BYTES_KEPT`` is emptied (a
        turn of the writer's own, without waiting on readers), tried again every
        ``retry_seconds`` while readers hold older snapshots.  False if it stayed large."""
        for attempt in range(tries):
            if self.wal_bytes() <= reclaim.WAL_BYTES_KEPT:
                return True
            if attempt:
                await asyncio.sleep(retry_seconds)
            await self._db.quiet()
            if await self._db.write_alone(reclaim.empty_wal):
                return True
        log.warning("the WAL stays at %d MB: readers held older snapshots through %d tries",
                    self.wal_bytes() >> 20, tries)
        return False

    async def compact(self, vacuum: bool = False) -> None:
        """Checkpoint the WAL into the database file; with ``vacuum``, first rewrite the
        file compactly (``VACUUM``: holds the write lock for its duration, so best when
        the server is quiet)."""
        await asyncio.to_thread(reclaim.compact, self._db.path, vacuum)

    async def sweep_messages(self) -> int:
        """Delete bodies no mailbox references; returns the number of files unlinked."""
        return (await self.reclaim()).files

    async def check(self, full: bool = True) -> list[check_mod.Problem]:
        """Every broken invariant of the database and the data folder (``check.py``);
        ``full`` False checks only what is cheap (counters, leftover temporary files)."""
        return await self._db.read(partial(check_mod.check, data_dir=self.data_dir, full=full))

    async def repair(self) -> list[check_mod.Problem]:
        """Fix every repairable problem (one write transaction), then reclaim; returns the
        problems left (none repairable)."""
        await self._db.write(partial(check_mod.repair, data_dir=self.data_dir))
        await self.reclaim()
        return await self.check()

    async def start_checks(self) -> tuple[int, list[check_mod.Problem]]:
        """What the server does at start, before it listens: remove the temporary files of
        APPENDs a crash cut off and body files no row names (a crash between installing a
        file and committing its row), and repair the mailbox counters (UIDNEXT,
        HIGHESTMODSEQ) if they fell behind.  Returns (files removed, counter problems
        repaired)."""
        removed = await asyncio.to_thread(check_mod.remove_temporary_files, self.data_dir)
        removed += await self._db.write(
            partial(check_mod.remove_orphan_files, data_dir=self.data_dir))
        problems = await self._db.read(check_mod.check_counters)
        if problems:
            await self._db.write(check_mod.repair_counters)
        return removed, problems


def _open(snapshot: sqlite3.Connection) -> bool:
    try:
        snapshot.total_changes  # noqa: B018 - raises once the connection is closed
    except sqlite3.ProgrammingError:
        return False
    return True
