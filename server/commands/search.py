"""SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8): ``* SEARCH`` with the matching message
numbers (UIDs for UID SEARCH) in ascending order, nothing after SEARCH when none match.

With RETURN options (ESEARCH, RFC 4731 §3.1) the answer is one ``* ESEARCH (TAG "t")
[UID] MIN n MAX n COUNT n ALL set`` instead: MIN/MAX/ALL left out when nothing matches,
COUNT always there when asked, ``RETURN ()`` meaning ALL, and with MODSEQ in the criteria a
MODSEQ item chosen as §3.2 says.  SAVE (SEARCHRES, RFC 5182 §2.1, §2.4) keeps the result
as "$" (only the MIN and/or MAX message when those are the only other options); SAVE
alone answers with no ESEARCH at all.  A SEARCH with SAVE that fails with NO empties "$";
a BAD one leaves it alone.

The evaluation is in ``server.search``.  No EXPUNGE is sent during a non-UID SEARCH
(RFC 3501 §7.4.1): the session's flush rule sees to it, and messages expunged by others
stay numbered as ghosts that never match.
"""

from __future__ import annotations

from protocol import Atom, Search, Value
from server.access import require_selected
from server.outcome import CommandFailed, Result
from server.search import run_search, uses_modseq
from server.search_budget import SearchBudget
from server.session import Session
from server.sets import compact_set
from server.view import View


async def search(session: Session, tag: str, cmd: Search) -> Result:
    view = session.view
    assert view is not None
    require_selected(session, "r")  # RFC 4314 §4, as it stands now (access.recheck)
    if uses_modseq(cmd.criteria):
        session.enable_condstore()  # RFC 7162 §3.1: SEARCH MODSEQ enables CONDSTORE
    save = cmd.returns is not None and "SAVE" in cmd.returns
    try:
        numbers, modseqs = await run_search(session.server.store, view, cmd, session.viewer,
                                            SearchBudget.of(session.server.config))
    except CommandFailed as exc:
        if save and exc.status == "NO":
            view.saved = []  # RFC 5182 §2.1: a failed SEARCH with SAVE empties "$"
        raise
    if cmd.returns is None:
        session.channel.write(search_line(numbers, modseqs))
        return Result("SEARCH completed")
    opts = set(cmd.returns) or {"ALL"}
    if save:
        _save(view, cmd, numbers, opts)
        if opts == {"SAVE"}:
            return Result("SEARCH completed, result saved")
    session.untagged(*esearch(tag, cmd.uid, opts, numbers, modseqs))
    return Result("SEARCH completed")


def search_line(numbers: list[int], modseqs: list[int] | None) -> bytes:
    """``* SEARCH n n n`` (RFC 3501 §7.2.5), with ``(MODSEQ m)`` after a search that used
    MODSEQ (RFC 7162 §3.1.5), written in one join: 70,000 numbers (``UNSEEN`` in a big
    mailbox) through the generic serializer cost more than the search (issue 14)."""
    line = b"* SEARCH"
    if numbers:
        line += b" " + " ".join(map(str, numbers)).encode()
    if modseqs:
        line += b" (MODSEQ %d)" % max(modseqs)
    return line + b"\r\n"


def esearch(tag: str, uid: bool, opts: set[str], numbers: list[int],
            modseqs: list[int] | None) -> list[Value]:
    """The items of an ESEARCH response (RFC 4731 §3.1, §3.2, §4) for ascending
    ``numbers``."""
    items: list[Value] = [Atom("ESEARCH"), [Atom("TAG"), tag]]
    if uid:
        items.append(Atom("UID"))
    if numbers and "MIN" in opts:
        items += [Atom("MIN"), numbers[0]]
    if numbers and "MAX" in opts:
        items += [Atom("MAX"), numbers[-1]]
    if "COUNT" in opts:
        items += [Atom("COUNT"), len(numbers)]
    if numbers and "ALL" in opts:
        items += [Atom("ALL"), compact_set(numbers)]
    if modseqs:
        # §3.2: the returned message's modseq for MIN or MAX alone, the higher of the two
        # for MIN and MAX, else the highest of all found.
        if opts & {"ALL", "COUNT"} or not opts & {"MIN", "MAX"}:
            chosen = modseqs
        else:
            chosen = []
            if "MIN" in opts:
                chosen.append(modseqs[0])
            if "MAX" in opts:
                chosen.append(modseqs[-1])
        items += [Atom("MODSEQ"), max(chosen)]
    return items


def _save(view: View, cmd: Search, numbers: list[int], opts: set[str]) -> None:
    """RFC 5182 §2.4: "$" is every message found, or only MIN and/or MAX when neither ALL
    nor COUNT was asked."""
    uids = numbers if cmd.uid else [view.uids[n - 1] for n in numbers]
    if uids and not opts & {"ALL", "COUNT"} and opts & {"MIN", "MAX"}:
        kept = []
        if "MIN" in opts:
            kept.append(uids[0])
        if "MAX" in opts and uids[-1] not in kept:
            kept.append(uids[-1])
        uids = kept
    view.saved = list(uids)
