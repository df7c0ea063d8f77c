"""Reclaiming expunged mail in the background (storage/reclaim.py), so a server that runs for
months does not grow with everything it ever stored.

Woken by storage's commit reports (DESIGN.md "Storage reports, the server reacts") when a
commit expunged messages or deleted a mailbox, and once at start for what an earlier run
left. It then runs ``Store.reclaim_step`` until nothing is left: each step is one short
write transaction in the writer's queue like any session's write, so sessions keep being
served between steps.
"""

from __future__ import annotations

import logging

from crispin.storage import ChangeKind, ReclaimPace, Store

from .commit_worker import CommitWorker

log = logging.getLogger("crispin.reclaim")

_TRIGGERS = frozenset({ChangeKind.EXPUNGED, ChangeKind.DELETED})


class Reclaimer(CommitWorker):
    name = "crispin-reclaimer"

    def __init__(self, store: Store) -> None:
        super().__init__(store, _TRIGGERS)

    def start(self) -> None:
        self.wake()  # whatever an earlier run left
        super().start()

    async def work(self) -> None:
        try:
            total = await self._store.reclaim(pace=ReclaimPace())
        except Exception:
            log.exception("reclaiming expunged mail failed; retrying at the next expunge")
            return
        # After a VACUUM the WAL holds the whole rewritten database until it is emptied;
        # an idle server writes nothing that would cut it back (storage/reclaim.py).
        await self._store.empty_wal()
        if not total.idle:
            log.info("reclaimed %d message(s), %d file(s), %d tombstone(s), %d page(s),"
                     " %d index merge step(s)", total.messages, total.files,
                     total.tombstones, total.pages, total.merges)
