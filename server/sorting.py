"""SORT and THREAD evaluation (RFC 5256 §3, SORT=DISPLAY RFC 5957): the search program
becomes storage criteria exactly as for SEARCH (``crispin.server.search``), storage orders the
matches by keys prepared at APPEND, and the numbers go back through the session's view.

Keys at APPEND: :func:`sort_columns` (``crispin.protocol.mime.sortkeys`` computes them from the
header).  Messages stored before the keys existed (migration 8) get them from their stored
header the first time anything sorts or threads (:func:`ensure_sort_keys`), so a result is
never computed over missing keys.

Only messages the view knows are sorted, and ghosts (expunged elsewhere, still numbered
here) are left out, as for SEARCH.  No EXPUNGE is sent during SORT or THREAD (RFC 5256 §3;
the command table's ``BY_NUMBER``); their UID forms may.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from crispin.protocol import Sort, Thread
from crispin.protocol.mime import SortFields, sort_fields
from crispin.protocol.mime.headers import Headers
from crispin.server import backfill
from crispin.server.search import criteria
from crispin.server.search_budget import TIME_LIMIT_TEXT, SearchBudget, deadline_check
from crispin.server.session import CommandFailed
from crispin.server.threader import ALGORITHMS, Check, render
from crispin.server.view import View
from crispin.storage import ROW_UID, SortKey, Store, ThreadRow, TimeLimitExceeded
from crispin.storage import search as s

SORT_KEYS: dict[str, SortKey] = {
    "ARRIVAL": "arrival", "CC": "cc", "DATE": "date", "FROM": "from", "SIZE": "size",
    "SUBJECT": "subject", "TO": "to", "DISPLAYFROM": "display_from",
    "DISPLAYTO": "display_to",
}


def sort_columns(f: SortFields) -> dict[str, str | int | bytes | None]:
    """The ``sort_keys`` of one message (``storage/sorting.py``, migration 8)."""
    return {
        "sort_sent": f.date,
        "sort_subject": f.subject,
        "sort_reply": int(f.reply),
        "sort_from": f.from_,
        "sort_to": f.to,
        "sort_cc": f.cc,
        "sort_display_from": f.display_from,
        "sort_display_to": f.display_to,
        "thread_id": f.message_id,
        "thread_refs": " ".join(f.references),
    }


class SortKeyJob:
    """The ``crispin.server.backfill`` job of migration 8: a message's keys and its
    ``sort_version`` are saved together, so what is left is what a restart resumes."""

    name = "sort-keys"
    done_message = "SORT/THREAD keys filled"

    async def pending(self, store: Store) -> bool:
        return await store.sort_keys_pending()

    async def next_batch(self, store: Store, limit: int) -> list[tuple[int, bytes]]:
        return await store.rows_without_sort_keys(limit)

    def compute(self, header: bytes) -> Mapping[str, object]:
        return sort_columns(sort_fields(Headers(header)))

    async def save(self, store: Store, rows: Sequence[backfill.Row]) -> None:
        await store.set_sort_keys(rows)

    async def finish(self, store: Store) -> None:
        pass  # each message's sort_version already says it is done


async def ensure_sort_keys(store: Store) -> int:
    """Fill the keys of every message stored without them; returns how many.  One filler
    per store at a time (a SORT waits for the one the server started)."""
    return await backfill.run(store, SortKeyJob())


def _numbers(view: View, uids: list[int], uid: bool) -> list[int]:
    if uid:
        return uids
    msn = {u: i for i, u in enumerate(view.uids, 1)}
    return [msn[u] for u in uids]


async def run_sort(store: Store, view: View, cmd: Sort, viewer: int | None,
                   budget: SearchBudget) -> tuple[list[int], list[int]]:
    """RFC 5256 §3 SORT: message numbers (UIDs for UID SORT) in sort order, and each
    one's modseq (for MODSEQ in the criteria, RFC 7162 §3.1.9).  Within ``budget``, as
    SEARCH (``crispin.server.search_budget``): the ordering is done by the time-limited query."""
    budget.check(cmd.search.criteria)
    crit = criteria(cmd.search, view)
    if not view.uids:
        return [], []
    keys = [(SORT_KEYS[c.key], c.reverse) for c in cmd.criteria]
    await ensure_sort_keys(store)
    try:
        found = await store.sort(view.mailbox_id, crit, keys, max_uid=view.uids[-1],
                                 viewer=viewer, time_limit=budget.time_limit)
    except s.SearchTooComplex:
        raise CommandFailed("Search program too complex", "LIMIT") from None
    except TimeLimitExceeded:
        raise CommandFailed(TIME_LIMIT_TEXT, "LIMIT") from None
    ghosts = view.ghosts
    if ghosts:
        found = [(u, m) for u, m in found if u not in ghosts]
    return _numbers(view, [u for u, _ in found], cmd.uid), [m for _, m in found]


async def run_thread(store: Store, view: View, cmd: Thread, viewer: int | None,
                     budget: SearchBudget) -> bytes:
    """RFC 5256 §3 THREAD: the ``thread-list`` bytes (empty when nothing matches).  Within
    ``budget``: the query is time-limited, and so is the threading itself, which runs in
    a worker thread so that a large mailbox's threads do not hold the event loop."""
    algorithm = ALGORITHMS.get(cmd.algorithm)
    if algorithm is None:
        raise CommandFailed(f"Unknown threading algorithm {cmd.algorithm[:40]}", status="BAD")
    budget.check(cmd.search.criteria)
    crit = criteria(cmd.search, view)
    if not view.uids:
        return b""
    await ensure_sort_keys(store)
    try:
        rows = await store.thread_rows(view.mailbox_id, crit, max_uid=view.uids[-1],
                                       viewer=viewer, time_limit=budget.time_limit)
    except s.SearchTooComplex:
        raise CommandFailed("Search program too complex", "LIMIT") from None
    except TimeLimitExceeded:
        raise CommandFailed(TIME_LIMIT_TEXT, "LIMIT") from None
    ghosts = view.ghosts
    if ghosts:
        rows = [r for r in rows if r[ROW_UID] not in ghosts]
    if cmd.uid:
        numbered = [(r, r[ROW_UID]) for r in rows]
    else:
        msn = {u: i for i, u in enumerate(view.uids, 1)}
        numbered = [(r, msn[r[ROW_UID]]) for r in rows]
    # The linking of step 1 is the costly part: the algorithm checks the deadline there.
    check = deadline_check(budget.deadline())
    return await asyncio.to_thread(_threads, cmd.algorithm, numbered, check)


def _threads(algorithm: str, numbered: list[tuple[ThreadRow, int]], check: Check) -> bytes:
    return render(ALGORITHMS[algorithm](numbered, check))
