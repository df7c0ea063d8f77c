"""Reclaiming expunged mail in the background (storage/reclaim.py), so a server that runs for
months does not grow with everything it ever stored.

Woken by storage's commit reports (DESIGN.md "Storage reports, the server reacts") when a
commit expunged messages or deleted a mailbox, and once at start for what an earlier run
left. It then runs ``Store.reclaim_step`` until nothing is left: each step is one short
write transaction in the writer's queue like any session's write, so sessions keep being
served between steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from crispin.storage import ChangeKind, CommitReport, Store

log = logging.getLogger("crispin.reclaim")

_TRIGGERS = frozenset({ChangeKind.EXPUNGED, ChangeKind.DELETED})


class Reclaimer:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = store.on_commit(self._on_commit)

    def _on_commit(self, report: CommitReport) -> None:
        if any(change.kinds & _TRIGGERS for change in report.changes):
            self._idle.clear()
            self._wake.set()

    def start(self) -> None:
        self._wake.set()  # whatever an earlier run left
        self._task = asyncio.get_running_loop().create_task(self._run(),
                                                            name="crispin-reclaimer")

    async def settled(self) -> None:
        """Until everything reclaimable so far has been reclaimed (tests, benchmarks)."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                total = await self._store.reclaim()
            except Exception:
                log.exception("reclaiming expunged mail failed; retrying at the next expunge")
                total = None
            if total is not None and not total.idle:
                log.info("reclaimed %d message(s), %d file(s), %d tombstone(s), %d page(s),"
                         " %d index merge step(s)", total.messages, total.files,
                         total.tombstones, total.pages, total.merges)
            if not self._wake.is_set():
                self._idle.set()

    async def stop(self) -> None:
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
