"""A background task woken by storage's commit reports (DESIGN.md "Storage reports, the
server reacts"): the reclaimer and the full-text indexer each do their work after the
commits that concern them, one run at a time, and say when nothing is left."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from crispin.storage import ChangeKind, CommitReport, Store


class CommitWorker:
    """Runs :meth:`work` after each commit whose changes carry one of ``kinds`` (commits
    that arrive meanwhile give one more run, not one each); ``delay`` seconds after the
    wake-up, so that the commits of that moment are handled together."""

    name = "crispin-commit-worker"
    delay = 0.0

    def __init__(self, store: Store, kinds: Iterable[ChangeKind]) -> None:
        self._store = store
        self._kinds = frozenset(kinds)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = store.on_commit(self._on_commit)

    def _on_commit(self, report: CommitReport) -> None:
        if any(change.kinds & self._kinds for change in report.changes):
            self.wake()

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def settled(self) -> None:
        """Until what was committed so far has been handled (tests, benchmarks)."""
        await self._idle.wait()

    async def work(self) -> None:
        """One run; an exception is the subclass's to log (the loop goes on)."""
        raise NotImplementedError

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
            self._wake.clear()
            await self.work()
            if not self._wake.is_set():
                self._idle.set()

    async def stop(self) -> None:
        self._unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
