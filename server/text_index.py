"""The full-text index of mail stored before it existed (issue 15; ``storage/text_index.py``):
indexed in the background from server start, a batch per write transaction, after the
sessions' queued writes.  SEARCH BODY/TEXT is exact meanwhile (the backlog is scanned)."""

from __future__ import annotations

from crispin.storage import Store

BATCH = 50
"""Messages per transaction: indexing costs ~1 ms of CPU a message of 11 KB of text
(bench/README.md), so a batch holds the database writer for ~50 ms."""


class TextIndexJob:
    """The ``crispin.server.backfill`` storage job of migration 14."""

    name = "text-index"
    done_message = "full-text index built"
    batch = BATCH

    async def pending(self, store: Store) -> bool:
        return await store.text_index_pending()

    async def step(self, store: Store, limit: int) -> int:
        return await store.index_text_backlog(limit)
