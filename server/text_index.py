"""The full-text index, kept up to date in the background (``storage/text_index.py``).

Two things wait for the index: mail stored before it existed (issue 15, migration 14),
indexed from server start by ``TextIndexJob`` through ``crispin.server.backfill``; and new
mail (issue 12, migration 15), which a delivery or APPEND no longer indexes in its own
transaction: :class:`TextIndexer` indexes it after the commit, in batches, once the
sessions' queued writes are done.  SEARCH BODY/TEXT is exact meanwhile (storage scans the
messages not indexed yet)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from crispin.storage import ChangeKind, CommitReport, Store

from . import backfill

log = logging.getLogger("crispin.text_index")

BATCH = 50
"""Messages per transaction: indexing costs ~1 ms of CPU a message of 11 KB of text
(bench/README.md), so a batch holds the database writer for ~50 ms."""

COALESCE = 0.2
"""Seconds between new mail's commit and its indexing: the deliveries of that moment are
indexed together, in a few transactions, rather than one index transaction (and fsync)
after each delivery, which would double a lone sender's commits.  The search scans what
is not indexed yet, so this costs a search at most 0.2 s of mail scanned instead of looked
up (bench/README.md "Mail in")."""


class TextIndexJob:
    """The ``crispin.server.backfill`` storage job of migrations 14 and 15."""

    name = "text-index"
    done_message = "full-text index built"
    batch = BATCH

    async def pending(self, store: Store) -> bool:
        return await store.text_index_pending()

    async def step(self, store: Store, limit: int) -> int:
        return await store.index_text_backlog(limit)


class TextIndexer:
    """Indexes new mail after the commits that brought it (``Store.on_commit``: a mailbox
    with messages APPENDED), under the same one-run-at-a-time lock as the start-up job."""

    def __init__(self, store: Store, delay: float = COALESCE) -> None:
        self._store = store
        self._delay = delay
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = store.on_commit(self._on_commit)

    def _on_commit(self, report: CommitReport) -> None:
        if any(ChangeKind.APPENDED in change.kinds for change in report.changes):
            self._idle.clear()
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name="crispin-text-indexer")

    async def settled(self) -> None:
        """Until the mail committed so far is indexed (tests, benchmarks)."""
        await self._idle.wait()

    async def _run(self) -> None:
        job = TextIndexJob()
        while True:
            await self._wake.wait()
            if self._delay:
                await asyncio.sleep(self._delay)
            self._wake.clear()
            try:
                async with backfill.lock(self._store, job.name):
                    while await self._store.index_text_backlog(job.batch):
                        pass
            except Exception:
                log.exception("indexing new mail failed; retrying at the next delivery "
                              "(SEARCH scans it meanwhile)")
            if not self._wake.is_set():
                self._idle.set()

    async def stop(self) -> None:
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
