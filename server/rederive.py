"""Bringing messages stored by an older Crispin up to date with what APPEND computes now.

ENVELOPE and the SEARCH address columns are computed once, at APPEND (DESIGN.md "Storage"),
so a better parser helps only new messages unless the stored ones are recomputed. Since
issue 9 (points 7 and 8), ENVELOPE keeps source routes (RFC 3501 §7.4.2 adl) and SEARCH
FROM/TO/CC/BCC also match the parsed addresses: ``crispin serve`` recomputes those columns
for every message stored before, from the stored headers, in the background, in batches
(one transaction each, the progress saved with it, so a restart resumes), as
``crispin.server.backfill`` runs every such job. Until it has finished, an old message may still
show the old ENVELOPE or miss such a SEARCH match.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from crispin.protocol.mime.envelope import build_envelope
from crispin.protocol.mime.headers import Headers
from crispin.protocol.mime.searchtext import search_fields
from crispin.server import backfill
from crispin.server.search import address_columns
from crispin.storage import REDERIVE_DONE as DONE
from crispin.storage import Store

# One key per change of what is computed at APPEND: a new key runs over every message again.
ADDRESSES = "rederive.addresses.1"


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


def start(store: Store) -> asyncio.Task[int]:
    return backfill.start(store, AddressJob())
