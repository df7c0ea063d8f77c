"""The ``crispin.server.backfill`` job of migration 13: the header block and size of every
message stored before it, in ``message_headers`` (issue 14).

Nothing is computed (storage cannot read a body file inside SQL, and a size is a copy):
the job hands each header block through as it is, and storage saves the rows with the
message's size and the progress (the last message id looked at, in ``meta``) in one
transaction, so a restart resumes after the last batch and a finished job costs one read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crispin.server import backfill
from crispin.storage import REDERIVE_DONE, Store


class HeaderBlockJob:
    name = "header-blocks"
    done_message = "Header blocks and sizes stored"

    def __init__(self) -> None:
        self.after = 0
        self.last = 0

    async def pending(self, store: Store) -> bool:
        self.after = await store.header_blocks_progress()
        return self.after != REDERIVE_DONE

    async def next_batch(self, store: Store, limit: int) -> list[tuple[int, bytes]]:
        # Batches of messages that need nothing (most, once APPEND stores every header)
        # are skipped here, their progress saved with the next batch that does.
        while True:
            rows, self.last = await store.messages_without_header_block(self.after, limit)
            if rows or self.last == self.after:
                return rows
            self.after = self.last

    def compute(self, header: bytes) -> Mapping[str, object]:
        return {"header": header}

    async def save(self, store: Store, rows: Sequence[backfill.Row]) -> None:
        blocks = []
        for mid, values in rows:
            header = values["header"]
            assert isinstance(header, bytes)
            blocks.append((mid, header))
        await store.store_header_blocks(blocks, self.last)
        self.after = self.last

    async def finish(self, store: Store) -> None:
        await store.store_header_blocks([], REDERIVE_DONE)
