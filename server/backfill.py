"""The one runner for bringing stored messages up to date with what APPEND computes now.

Some columns are computed once, at APPEND, from the message header (DESIGN.md "Storage"):
when that computation changes or a column is added, the messages stored before need it
computed from their stored header.  Each such change is a :class:`Job` (today three:
``crispin.server.rederive.AddressJob``, ENVELOPE and the SEARCH address columns of issue 9,
``crispin.server.sorting.SortKeyJob``, the SORT/THREAD keys of migration 8, and
``crispin.server.header_backfill.HeaderBlockJob``, the header blocks of migration 13);
this module runs any of them the same way:

- in batches of ``BATCH`` messages, each saved in one write transaction *with its
  progress* (a key in ``meta``, or the message's own ``sort_version``), so a restart
  resumes where the last run stopped and a finished job costs one read at the next start;
- one run per job and store at a time (a SORT that needs its keys waits for the run the
  server started instead of racing it);
- in the background at start (:func:`start`): a failure is logged and the next start
  resumes; it never takes the server down.

Storage does not parse (it knows no MIME syntax): it hands out (message id, header) rows
and stores the values the server computed.

A :class:`StorageJob` has nothing to compute here: storage brings a batch up to date by
itself (``crispin.server.text_index.TextIndexJob``, the full-text index of mail stored before
it existed), or the job does the whole batch itself (``crispin.server.rederive.GlobalPartsJob``,
the part trees of messages holding a message/global part, parsed off the event loop).  It
runs the same way (:func:`run_storage_job`, :func:`start`): batches, each
with its progress in one transaction, one run at a time, in the background at start.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from crispin.storage import Store

log = logging.getLogger("crispin.backfill")

BATCH = 500

Row = tuple[int, Mapping[str, object]]


class Job(Protocol):
    """One backfill: which messages still need it, what to compute, where to save it."""

    name: str
    """For logs and for the one-run-at-a-time lock."""
    done_message: str
    """Logged with the count once a run did something, e.g. "SORT keys filled"."""

    async def pending(self, store: Store) -> bool:
        """Whether any message may still need it (and load the saved progress)."""
        ...

    async def next_batch(self, store: Store, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` (message id, header block) in id order; [] when none is left."""
        ...

    def compute(self, header: bytes) -> Mapping[str, object]:
        """The columns for one message, from its header."""
        ...

    async def save(self, store: Store, rows: Sequence[Row]) -> None:
        """Store ``rows`` and the progress they make, in one transaction."""
        ...

    async def finish(self, store: Store) -> None:
        """Record that every message has been seen."""
        ...


@runtime_checkable
class StorageJob(Protocol):
    """A backfill that storage does by itself, a batch per call."""

    name: str
    done_message: str
    batch: int
    """Messages per call (per write transaction)."""

    async def pending(self, store: Store) -> bool:
        """Whether any message may still need it."""
        ...

    async def step(self, store: Store, limit: int) -> int:
        """Bring up to ``limit`` more messages up to date, with the progress, in one
        transaction; returns how many (0: none was left)."""
        ...


_locks: weakref.WeakKeyDictionary[Store, dict[str, asyncio.Lock]] = \
    weakref.WeakKeyDictionary()


def lock(store: Store, name: str) -> asyncio.Lock:
    """The lock that keeps job ``name`` to one run at a time over ``store`` (also taken by
    ``crispin.server.text_index.TextIndexer`` between its runs of the text-index job)."""
    return _locks.setdefault(store, {}).setdefault(name, asyncio.Lock())


async def run(store: Store, job: Job, batch: int = BATCH) -> int:
    """Run ``job`` to the end over ``store``; returns how many messages it computed."""
    done = 0
    async with lock(store, job.name):
        if not await job.pending(store):
            return 0
        while rows := await job.next_batch(store, batch):
            await job.save(store, [(mid, job.compute(header)) for mid, header in rows])
            done += len(rows)
        await job.finish(store)
    if done:
        log.info("%s for %d stored messages", job.done_message, done)
    return done


async def run_storage_job(store: Store, job: StorageJob) -> int:
    """Run ``job`` to the end over ``store``; returns how many messages it did."""
    done = 0
    async with lock(store, job.name):
        if not await job.pending(store):
            return 0
        while count := await job.step(store, job.batch):
            done += count
    if done:
        log.info("%s for %d stored messages", job.done_message, done)
    return done


def start(store: Store, *jobs: Job | StorageJob) -> asyncio.Task[int]:
    """Run ``jobs`` one after the other in the background; the task's result is the
    count (a failure is logged, counts 0, and the next job still runs: the next start
    resumes the failed one)."""
    async def guarded() -> int:
        done = 0
        for job in jobs:
            try:
                if isinstance(job, StorageJob):
                    done += await run_storage_job(store, job)
                else:
                    done += await run(store, job)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: bringing stored messages up to date failed", job.name)
        return done

    return asyncio.create_task(guarded(), name="backfill-" + "+".join(j.name for j in jobs))
