"""The ``Store`` methods for looking across mailboxes (HTTP API, web inbox) and for whole-store
snapshots: a mixin, so ``store.py`` stays the facade of users, mailboxes and messages."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path

from . import browse, snapshots
from .browse import Filters, Found
from .db import Database


class BrowseMixin:
    _db: Database
    data_dir: Path
    keep_bodies_for: Callable[[sqlite3.Connection], None]  # MaintenanceMixin
    forget_summaries: Callable[[], None]  # IndexMixin

    async def find_messages(
        self, filters: Filters, limit: int = 50, offset: int = 0
    ) -> tuple[int, list[Found]]:
        """(number of matches, a page of them newest first) with each header block read
        (``header_inline`` set even for bodies kept in files)."""
        total, found = await self._db.read(
            partial(browse.find_messages, filters=filters, limit=limit, offset=offset)
        )
        in_files = [f for f in found if f.header_inline is None and f.path is not None]
        if in_files:

            def read_headers() -> dict[str, bytes]:
                out: dict[str, bytes] = {}
                for f in in_files:
                    assert f.path is not None
                    with open(self.data_dir / f.path, "rb") as fh:
                        out[f.path] = fh.read(f.header_size)
                return out

            headers = await asyncio.to_thread(read_headers)
            found = [
                dataclasses.replace(f, header_inline=headers[f.path])
                if f.path in headers and f.header_inline is None else f
                for f in found
            ]
        return total, found

    async def all_mailbox_ids(self) -> list[int]:
        """Every mailbox of every user, and the shared ones."""
        return await self._db.read(browse.all_mailbox_ids)

    async def bump_uidvalidity(self, mailbox_id: int) -> int:
        """A new UIDVALIDITY for the mailbox (see ``browse.bump_uidvalidity``)."""
        return await self._db.write(partial(browse.bump_uidvalidity, mailbox_id=mailbox_id))

    async def state_token(self) -> str:
        """See ``browse.state_token``."""
        return await self._db.read(browse.state_token)

    async def snapshot(self) -> sqlite3.Connection:
        """An in-memory copy of the whole store (SQLite backup API); see ``snapshots.py``.
        While it is open, reclaiming keeps every body (``MaintenanceMixin``)."""
        snapshot = await asyncio.to_thread(snapshots.take, self._db.path)
        self.keep_bodies_for(snapshot)
        return snapshot

    async def restore(self, snapshot: sqlite3.Connection) -> None:
        """Make the store what it was when ``snapshot`` was taken."""
        await asyncio.to_thread(snapshots.restore, snapshot, self._db.path)
        # Restored counters (UIDNEXT, HIGHESTMODSEQ) no longer identify the contents.
        self.forget_summaries()
