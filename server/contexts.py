"""Search contexts with UPDATE (RFC 5267 §4.3, CONTEXT=SEARCH and CONTEXT=SORT): while a
context lives, ESEARCH responses with ADDTO and REMOVEFROM keep the client's copy of the
result equal to what the same searching command would answer now.

How it is kept (Appendix B's "results cache"): a context holds its search program and the
result the client was last told, as UIDs in the requested order.  The session pulls every
mailbox change from storage (``Session.sync``, after commands and at each IDLE wake-up; the
hub and ``Store.on_commit`` wake it, DESIGN.md "Storage reports, the server reacts"); after
reporting a change, it evaluates each context again and sends the difference.  Evaluating
afresh instead of testing the changed messages one by one keeps the answer exact for every
kind of change (new messages, flags, expunges, RECENT, MODSEQ).

Order of responses (§4.3.3, §4.3.4): a REMOVEFROM for messages being expunged goes out before
their EXPUNGE (``before_expunge``), while their numbers are still valid; an ADDTO for new
messages after their EXISTS (``refresh`` runs after ``View.apply``).

What a context means (§4.3, with the errata the RFC cites): message numbers in the program,
and "$" (RFC 5182), are evaluated once, when the command is received (``frozen_sets``);
everything else (UID sets with "*", RECENT, YOUNGER/OLDER against the clock, RFC 5032 §2)
is evaluated again each time.  Positions: a SEARCH context uses position 0 and sets in
mailbox order (§4.3.3, §4.3.4 RECOMMENDED); a SORT context gives the position of each run,
removals first, then additions, each pair applying to the list as left by the ones before.

New messages and NOTIFY (RFC 5465 §7): ``UPDATE (fetch-att ...)`` asks for a FETCH of
those attributes when a new message joins the result (not when an old one joins it by a
flag change, §7: "No untagged FETCH response SHOULD be returned" then); NOTIFY's own
MessageNew attributes (§5.2) for the same message make one FETCH with them
(``new_message_fetches``), sent by ``Session.sync``.

A context ends when the mailbox is no longer selected (it lives on the session's ``View``;
SELECT, EXAMINE, CLOSE and UNSELECT drop the view) or on CANCELUPDATE (§4.3.5).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

from crispin.protocol import (
    Atom,
    DataResponse,
    FetchItem,
    Response,
    Search,
    SearchAnd,
    SearchKey,
    SearchNot,
    SearchOr,
    SearchTerm,
    SequenceSet,
    Value,
)
from crispin.server.search import criteria, msn_criterion, uids_criterion
from crispin.server.sets import compact_set
from crispin.server.view import View
from crispin.storage import SortKey, Store
from crispin.storage import search as s

# §4.3.1: at least one updating context per client; more are refused with NOUPDATE.  Each
# costs one evaluation per change of the mailbox (a SORT context a sort), hence a bound.
MAX_CONTEXTS = 8


@dataclass(eq=False)
class Context:
    """One UPDATE context: the searching command's tag, its program, and the result as the
    client knows it (UIDs in the requested order)."""

    tag: str
    search: Search
    keys: tuple[tuple[SortKey, bool], ...] | None  # None: SEARCH, in mailbox order
    results: list[int]
    frozen: dict[int, s.UidIn] = field(default_factory=dict)
    fetch: tuple[FetchItem, ...] = ()  # RFC 5465 §7: for new messages joining the result

    @property
    def uid(self) -> bool:
        return self.search.uid


def frozen_sets(search: Search, view: View) -> dict[int, s.UidIn]:
    """Message-number sets and "$" of the program as they are now (keyed by the term's
    identity; the context keeps the program alive)."""
    out: dict[int, s.UidIn] = {}
    for term in _terms(search.criteria):
        if term.name not in ("UID", "SEQSET"):
            continue
        seqset = term.args[0]
        assert isinstance(seqset, SequenceSet)
        if seqset.saved:
            out[id(term)] = uids_criterion(view, view.saved)
        elif term.name == "SEQSET":
            out[id(term)] = msn_criterion(view, seqset)
    return out


def _terms(key: SearchKey) -> Iterator[SearchTerm]:
    if isinstance(key, SearchAnd):
        for k in key.keys:
            yield from _terms(k)
    elif isinstance(key, SearchOr):
        yield from _terms(key.left)
        yield from _terms(key.right)
    elif isinstance(key, SearchNot):
        yield from _terms(key.key)
    else:
        yield key


async def evaluate(store: Store, view: View, ctx: Context, viewer: int | None) -> list[int]:
    """The context's result now: UIDs in the requested order, ghosts left out as a fresh
    SEARCH or SORT leaves them out."""
    if not view.uids:
        return []
    crit = criteria(ctx.search, view, ctx.frozen)
    last = view.uids[-1]
    if ctx.keys is None:
        found = await store.search(view.mailbox_id, crit, max_uid=last, viewer=viewer)
    else:
        pairs = await store.sort(view.mailbox_id, crit, list(ctx.keys), max_uid=last,
                                 viewer=viewer)
        found = [u for u, _ in pairs]
    ghosts = view.ghosts
    return [u for u in found if u not in ghosts] if ghosts else found


def before_expunge(view: View, gone: Collection[int]) -> list[Response]:
    """REMOVEFROM for the messages about to be reported expunged (or to become ghosts),
    numbered as the client still numbers them (§4.3.4)."""
    out: list[Response] = []
    if not gone:
        return out
    gone_set = set(gone)
    for ctx in view.contexts.values():
        if gone_set.isdisjoint(ctx.results):
            continue
        new = [u for u in ctx.results if u not in gone_set]
        response = _update(view, ctx, new)
        if response is not None:
            out.append(response)
    return out


async def refresh(store: Store, view: View, viewer: int | None) -> list[Response]:
    """ADDTO/REMOVEFROM for every context whose result changed; after ``View.apply``."""
    out: list[Response] = []
    for ctx in list(view.contexts.values()):
        response = _update(view, ctx, await evaluate(store, view, ctx, viewer))
        if response is not None:
            out.append(response)
    return out


def new_message_fetches(view: View, last: int, always: tuple[FetchItem, ...]
                        ) -> list[tuple[list[int], tuple[FetchItem, ...]]]:
    """What to FETCH for the messages above UID ``last`` (new since the last sync): the
    ``always`` attributes (NOTIFY's MessageNew, RFC 5465 §5.2) for every one, with those
    of each context (§7) whose result now holds it, merged into one FETCH per message
    without duplicates (§5.2: "These attributes SHOULD be combined into a single FETCH
    response. The server SHOULD avoid sending duplicate data."). Runs of consecutive new
    messages wanting the same attributes (in UID order, skipping those wanting none) share
one entry: (UIDs, attributes)."""
    start = bisect_left(view.uids, last + 1)
    new = view.uids[start:]
    if not new:
        return []
    members = [(set(ctx.results), ctx.fetch) for ctx in view.contexts.values() if ctx.fetch]
    out: list[tuple[list[int], tuple[FetchItem, ...]]] = []
    for uid in new:
        wanted = list(always)
        for results, items in members:
            if uid in results:
                wanted += items
        if not wanted:
            continue
        items = tuple(dict.fromkeys(wanted))
        if out and out[-1][1] == items:
            out[-1][0].append(uid)
        else:
            out.append(([uid], items))
    return out


def _update(view: View, ctx: Context, new: list[int]) -> Response | None:
    """One ESEARCH response taking the client from ``ctx.results`` to ``new`` (None if
    they are equal); ``ctx.results`` becomes ``new``."""
    old = ctx.results
    if old == new:
        return None
    if ctx.keys is None:
        removed, added = _search_diff(old, new)
    else:
        removed, added = _sort_diff(old, new)
    ctx.results = new
    items: list[Value] = [Atom("ESEARCH"), [Atom("TAG"), ctx.tag]]
    if ctx.uid:
        items.append(Atom("UID"))
    if removed:
        items += [Atom("REMOVEFROM"), _pairs(view, ctx, removed)]
    if added:
        items += [Atom("ADDTO"), _pairs(view, ctx, added)]
    return DataResponse(tuple(items))


Runs = list[tuple[int, list[int]]]


def _search_diff(old: list[int], new: list[int]) -> tuple[Runs, Runs]:
    """Mailbox order: position 0 and one set each (§4.3.3, §4.3.4)."""
    old_set, new_set = set(old), set(new)
    removed = [u for u in old if u not in new_set]
    added = [u for u in new if u not in old_set]
    return ([(0, removed)] if removed else []), ([(0, added)] if added else [])


def _sort_diff(old: list[int], new: list[int]) -> tuple[Runs, Runs]:
    """Requested order: keep the longest run of messages whose order did not change,
    remove the others, then insert what is missing; each run at its position in the list
    as the pairs before it left it (§4.3.3, §4.3.4: processed in order)."""
    where = {u: i for i, u in enumerate(new)}
    kept = _longest_increasing([u for u in old if u in where], where)
    removed: Runs = []
    survivors = 0
    previous_removed = False
    for u in old:
        if u in kept:
            survivors += 1
            previous_removed = False
        elif previous_removed:
            removed[-1][1].append(u)
        else:
            removed.append((survivors + 1, [u]))
            previous_removed = True
    added: Runs = []
    previous_added = False
    for i, u in enumerate(new):
        if u in kept:
            previous_added = False
        elif previous_added:
            added[-1][1].append(u)
        else:
            added.append((i + 1, [u]))
            previous_added = True
    return removed, added


def _longest_increasing(common: list[int], where: dict[int, int]) -> set[int]:
    """The largest subset of ``common`` whose order agrees with ``where`` (patience
    sorting, O(n log n))."""
    tails: list[int] = []  # positions in ``where`` ending a subsequence of each length
    tail_items: list[int] = []
    parent: dict[int, int | None] = {}
    for u in common:
        p = where[u]
        i = bisect_left(tails, p)
        parent[u] = tail_items[i - 1] if i else None
        if i == len(tails):
            tails.append(p)
            tail_items.append(u)
        else:
            tails[i] = p
            tail_items[i] = u
    out: set[int] = set()
    item = tail_items[-1] if tail_items else None
    while item is not None:
        out.add(item)
        item = parent[item]
    return out


def _pairs(view: View, ctx: Context, runs: Runs) -> list[Value]:
    out: list[Value] = []
    for position, uids in runs:
        numbers = uids if ctx.uid else [_msn(view, u) for u in uids]
        if position == 0:
            numbers = sorted(numbers)
        out += [position, compact_set(numbers)]
    return out


def _msn(view: View, uid: int) -> int:
    n = view.msn(uid)
    assert n is not None, "a context only holds messages of the view"
    return n
