"""Bringing messages stored by an older Crispin up to date with what APPEND computes now.

ENVELOPE and the SEARCH address columns are computed once, at APPEND (DESIGN.md "Storage"),
so a better parser helps only new messages unless the stored ones are recomputed. Since
issue 9 (points 7 and 8), ENVELOPE keeps source routes (RFC 3501 §7.4.2 adl) and SEARCH
FROM/TO/CC/BCC also match the parsed addresses: ``crispin serve`` recomputes those columns
for every message stored before, from the stored headers, in the background, in batches
(one transaction each, the progress saved with it, so a restart resumes), as
``crispin.server.backfill`` runs every such job. Until it has finished, an old message may still
show the old ENVELOPE or miss such a SEARCH match.

Since MESSAGE/GLOBAL (RFC 6532 §3.7; RFC 9051 §6.4.5: such a part "also has nested part
numbers"), the part tree stored at APPEND holds the message inside a message/global part;
``GlobalPartsJob`` recomputes the part tree of messages stored before, which kept such a part
as a leaf (their sections inside answered NIL).  Only messages whose stored tree names a
message/global part are parsed again: rare, so the job is one scan of ``messages``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from crispin.protocol.mime import parse_message, part_tree_to_bytes
from crispin.protocol.mime.envelope import build_envelope
from crispin.protocol.mime.headers import Headers
from crispin.protocol.mime.searchtext import search_fields
from crispin.server import backfill
from crispin.server.search import address_columns
from crispin.storage import REDERIVE_DONE as DONE
from crispin.storage import Store

# One key per change of what is computed at APPEND: a new key runs over every message again.
ADDRESSES = "rederive.addresses.1"
GLOBAL_PARTS = "rederive.global-parts.1"


def address_fields(header: bytes) -> dict[str, bytes | str | None]:
    headers = Headers(header)
    return {"envelope": build_envelope(headers), **address_columns(search_fields(headers))}


class AddressJob:
    """The ``crispin.server.backfill`` job of issue 9 (points 7 and 8); progress: the id of the last
    message done, in ``meta`` under ``ADDRESSES``."""

    name = ADDRESSES
    done_message = "recomputed ENVELOPE and SEARCH addresses"

    def __init__(self) -> None:
        self._after = 0

    async def pending(self, store: Store) -> bool:
        self._after = await store.rederive_progress(ADDRESSES)
        return self._after != DONE

    async def next_batch(self, store: Store, limit: int) -> list[tuple[int, bytes]]:
        return await store.headers_after(self._after, limit)

    def compute(self, header: bytes) -> Mapping[str, object]:
        return address_fields(header)

    async def save(self, store: Store, rows: Sequence[backfill.Row]) -> None:
        last = rows[-1][0]
        await store.save_rederived(ADDRESSES, rows, last)
        self._after = last

    async def finish(self, store: Store) -> None:
        await store.save_rederived(ADDRESSES, [], DONE)


async def refresh_address_fields(store: Store) -> int:
    """Recompute ENVELOPE and ``hdr_from`` … ``hdr_bcc`` of messages not yet done;
    returns how many were."""
    return await backfill.run(store, AddressJob())


class GlobalPartsJob:
    """Part trees of messages holding a message/global part (module docstring): a job that
    brings a batch up to date by itself (``backfill.StorageJob``), parsing off the event
    loop; progress: the id the scan reached, in ``meta`` under ``GLOBAL_PARTS``."""

    name = GLOBAL_PARTS
    done_message = "recomputed the part trees of message/global parts"
    batch = 50

    def __init__(self) -> None:
        self._after = 0

    async def pending(self, store: Store) -> bool:
        self._after = await store.rederive_progress(GLOBAL_PARTS)
        return self._after != DONE

    async def step(self, store: Store, limit: int) -> int:
        while True:
            rows, reached = await store.global_parts_after(self._after, limit)
            if not reached:
                await store.save_rederived(GLOBAL_PARTS, [], DONE)
                return 0
            self._after = reached
            if rows:
                break
        trees = await asyncio.to_thread(
            lambda: [(mid, {"part_tree": part_tree_to_bytes(parse_message(raw).part_tree)})
                     for mid, raw in rows])
        await store.save_rederived(GLOBAL_PARTS, trees, reached)
        return len(trees)


async def refresh_global_parts(store: Store) -> int:
    """Recompute the part trees of stored messages holding a message/global part; returns
    how many."""
    return await backfill.run_storage_job(store, GlobalPartsJob())


def start(store: Store) -> asyncio.Task[int]:
    return backfill.start(store, AddressJob(), GlobalPartsJob())
