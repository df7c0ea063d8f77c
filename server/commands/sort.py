"""SORT, THREAD and their UID forms (RFC 5256 §3, RFC 5957): ``* SORT`` with the numbers in
sort order, ``* THREAD`` with the thread lists.  Evaluation in ``crispin.server.sorting``.

ESORT (RFC 5267 §3): with RETURN options, SORT answers one ESEARCH response as SEARCH does
(``commands.search.esearch``), where MIN and MAX are the first and last message in sort
order and ALL lists them in sort order (runs only where numbers ascend, §3.2).  SAVE is a
SEARCH option (RFC 5182): BAD here.  CONTEXT=SORT (RFC 5267 §4): UPDATE, PARTIAL (positions
in sort order) and CONTEXT as for SEARCH (``commands.search``), the updates keeping the
sort order (``crispin.server.contexts``).

CONDSTORE (RFC 7162 §3.1.9, §3.1.10): MODSEQ in the criteria adds ``(MODSEQ n)``, the
highest of the returned messages, to a non-empty SORT response (the ESEARCH MODSEQ item
with RETURN); THREAD responses are unchanged.  Neither is a CONDSTORE enabling command
(§3.1 lists FETCH and SEARCH only).
"""

from __future__ import annotations

from crispin.protocol import Atom, Raw, Sort, Thread, Value
from crispin.server.commands.search import check_update, esearch, open_context, return_set
from crispin.server.search import uses_modseq
from crispin.server.search_budget import SearchBudget
from crispin.server.session import CommandFailed, Result, Session
from crispin.server.sorting import SORT_KEYS, run_sort, run_thread


async def sort(session: Session, tag: str, cmd: Sort) -> Result:
    view = session.view
    assert view is not None
    returns = cmd.search.returns
    if returns is not None and "SAVE" in returns:
        raise CommandFailed("SAVE is a SEARCH return option (RFC 5182)", status="BAD")
    check_update(session, tag, cmd.search)
    modseq = uses_modseq(cmd.search.criteria)
    numbers, modseqs = await run_sort(session.server.store, view, cmd, session.viewer,
                                      SearchBudget.of(session.server.config))
    if returns is not None:
        opts = return_set(cmd.search)
        session.untagged(*esearch(tag, cmd.uid, opts, numbers, modseqs if modseq else None,
                                  cmd.search.partial))
        keys = tuple((SORT_KEYS[c.key], c.reverse) for c in cmd.criteria)
        return Result("SORT completed" + open_context(session, tag, cmd.search, keys,
                                                      numbers))
    extra: list[Value] = [[Atom("MODSEQ"), max(modseqs)]] if modseq and modseqs else []
    session.untagged(Atom("SORT"), *numbers, *extra)
    return Result("SORT completed")


async def thread(session: Session, tag: str, cmd: Thread) -> Result:
    view = session.view
    assert view is not None
    threads = await run_thread(session.server.store, view, cmd, session.viewer,
                               SearchBudget.of(session.server.config))
    # thread-data = "THREAD" [SP 1*thread-list]: the lists follow each other without SP.
    if threads:
        session.untagged(Atom("THREAD"), Raw(threads))
    else:
        session.untagged(Atom("THREAD"))
    return Result("THREAD completed")
