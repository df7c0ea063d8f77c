"""The full-text index, kept up to date in the background (``storage/text_index.py``).

Two things wait for the index: mail stored before it existed (issue 15, migration 14),
indexed from server start by ``TextIndexJob`` through ``crispin.server.backfill``; and new
mail (issue 12, migration 15), which a delivery or APPEND no longer indexes in its own
transaction: :class:`TextIndexer` indexes it after the commit, in batches, once the
sessions' queued writes are done.  SEARCH BODY/TEXT is exact meanwhile (storage scans the
messages not indexed yet)."""

from __future__ import annotations

import logging

from crispin.storage import ChangeKind, Store

from . import backfill
from .commit_worker import CommitWorker

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


class TextIndexer(CommitWorker):
    """Indexes new mail after the commits that brought it (``Store.on_commit``: a mailbox
    with messages APPENDED), under the same one-run-at-a-time lock as the start-up job."""

    name = "crispin-text-indexer"

    def __init__(self, store: Store, delay: float = COALESCE) -> None:
        super().__init__(store, (ChangeKind.APPENDED,))
        self.delay = delay

    async def work(self) -> None:
        job = TextIndexJob()
        try:
            async with backfill.lock(self._store, job.name):
                while await self._store.index_text_backlog(job.batch):
                    pass
        except Exception:
            log.exception("indexing new mail failed; retrying at the next delivery "
                          "(SEARCH scans it meanwhile)")
