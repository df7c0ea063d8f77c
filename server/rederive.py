"""Bringing messages stored by an older Crispin up to date with what APPEND computes now.

ENVELOPE and the SEARCH address columns are computed once, at APPEND (DESIGN.md "Storage"),
so a better parser helps only new messages unless the stored ones are recomputed. Since
issue 9 (points 7 and 8), ENVELOPE keeps source routes (RFC 3501 §7.4.2 adl) and SEARCH
FROM/TO/CC/BCC also match the parsed addresses: ``crispin serve`` recomputes those columns
for every message stored before, from the stored headers, in the background, in batches
(one transaction each, the progress saved with it, so a restart resumes). Until it has
finished, an old message may still show the old ENVELOPE or miss such a SEARCH match.
"""

from __future__ import annotations

import asyncio
import logging

from protocol.mime.envelope import build_envelope
from protocol.mime.headers import Headers
from protocol.mime.searchtext import search_fields
from server.search import address_columns
from storage import REDERIVE_DONE as DONE
from storage import Store

log = logging.getLogger("crispin.rederive")

# One key per change of what is computed at APPEND: a new key runs over every message again.
ADDRESSES = "rederive.addresses.1"
BATCH = 500


def address_fields(header: bytes) -> dict[str, bytes | str | None]:
    headers = Headers(header)
    return {"envelope": build_envelope(headers), **address_columns(search_fields(headers))}


async def refresh_address_fields(store: Store) -> int:
    """Recompute ENVELOPE and ``hdr_from`` … ``hdr_bcc`` of messages not yet done;
    returns how many were."""
    after = await store.rederive_progress(ADDRESSES)
    done = 0
    while after != DONE:
        batch = await store.headers_after(after, BATCH)
        if not batch:
            after = DONE
            await store.save_rederived(ADDRESSES, [], DONE)
            break
        rows = [(message_id, address_fields(header)) for message_id, header in batch]
        after = batch[-1][0]
        await store.save_rederived(ADDRESSES, rows, after)
        done += len(rows)
    if done:
        log.info("recomputed ENVELOPE and SEARCH addresses of %d stored messages", done)
    return done


def start(store: Store) -> asyncio.Task[int]:
    async def run() -> int:
        try:
            return await refresh_address_fields(store)
        except asyncio.CancelledError:
            raise
        except Exception:  # never take the server down; the next start resumes
            log.exception("recomputing stored messages failed")
            return 0

    return asyncio.create_task(run(), name="rederive")
