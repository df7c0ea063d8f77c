"""SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8): ``* SEARCH`` with the matching message
numbers (UIDs for UID SEARCH) in ascending order, nothing after SEARCH when none match.

With RETURN options (ESEARCH, RFC 4731 §3.1) the answer is one ``* ESEARCH (TAG "t")
[UID] MIN n MAX n COUNT n ALL set`` instead: MIN/MAX/ALL left out when nothing matches,
COUNT always there when asked, ``RETURN ()`` meaning ALL, and with MODSEQ in the criteria a
MODSEQ item chosen as §3.2 says.  SAVE (SEARCHRES, RFC 5182 §2.1, §2.4) keeps the result
as "$" (only the MIN and/or MAX message when those are the only other options); SAVE
alone answers with no ESEARCH at all.  A SEARCH with SAVE that fails with NO empties "$";
a BAD one leaves it alone.

Contexts (RFC 5267 §4, CONTEXT=SEARCH): CONTEXT is a hint and changes nothing; UPDATE keeps
the result current with ADDTO/REMOVEFROM while the mailbox stays selected
(``crispin.server.contexts``), a reused tag is BAD (§4.3) and past ``MAX_CONTEXTS`` the command is
answered without updates, ``* NO [NOUPDATE "tag"]`` (§4.3.1).  Options that return no data
(CONTEXT, UPDATE) leave the others as if alone: ``RETURN (UPDATE)`` answers ALL, as
``RETURN ()`` does (RFC 4731 §3.1).  PARTIAL (RFC 5267 §4.4, RFC 9394 §3.1) returns the
results at the given positions, negative ones counting from the last; with SAVE, "$" is as
RFC 9394 §3.2 Table 1 says.

The evaluation is in ``crispin.server.search``.  No EXPUNGE is sent during a non-UID SEARCH
(RFC 3501 §7.4.1): the session's flush rule sees to it, and messages expunged by others
stay numbered as ghosts that never match.
"""

from __future__ import annotations

import dataclasses

from crispin.protocol import Atom, CancelUpdate, PartialRange, Search, Value
from crispin.server.access import Folded, recheck, require_selected
from crispin.server.commands.fetch import check_items
from crispin.server.contexts import MAX_CONTEXTS, Context, frozen_sets
from crispin.server.outcome import CommandFailed, Result
from crispin.server.search import (
    NOT_IN_REV2,
    numbers_text,
    run_search,
    search_text,
    uses_modseq,
    uses_term,
)
from crispin.server.search_budget import SearchBudget
from crispin.server.session import Session
from crispin.server.sets import compact_set
from crispin.server.view import View
from crispin.storage import SortKey


async def search(session: Session, tag: str, cmd: Search) -> Result:
    view = session.view
    assert view is not None
    # RFC 4314 §4, as it stands now: a plain SEARCH reads the rights in the same trip as
    # the messages it finds, and the sync's changes with them (``access.Folded``; issue
    # 14); every other form rechecks first (``access.recheck``).
    plain = cmd.returns is None and not uses_modseq(cmd.criteria) and not session.rev2
    fold = Folded(session) if plain else None
    if fold is None:
        await recheck(session)
        require_selected(session, "r")
    if cmd.charset is not None and "UTF8=ACCEPT" in session.enabled:
        # RFC 6855 §3: after ENABLE UTF8=ACCEPT a client "MUST NOT issue a SEARCH command
        # that contains a charset specification"; the server "SHOULD reject the command
        # with a BAD response (due to the conflicting charset labels)".
        raise CommandFailed("No CHARSET after ENABLE UTF8=ACCEPT", "CLIENTBUG", status="BAD")
    if session.rev2:
        if uses_term(cmd.criteria, NOT_IN_REV2):
            raise CommandFailed("NEW, OLD and RECENT are not IMAP4rev2 search keys",
                                "CLIENTBUG", status="BAD")
        if cmd.returns is None:
            # RFC 9051 §6.4.4: always ESEARCH; "If no result option is specified ...,
            # ALL is assumed" (Appendix E item 4). The rev1 path below is untouched.
            cmd = dataclasses.replace(cmd, returns=())
    if uses_modseq(cmd.criteria):
        session.enable_condstore()  # RFC 7162 §3.1: SEARCH MODSEQ enables CONDSTORE
    save = cmd.returns is not None and "SAVE" in cmd.returns
    check_update(session, tag, cmd)
    budget = SearchBudget.of(session.server.config)
    if cmd.returns is None and not uses_modseq(cmd.criteria):
        # The plain answer as bytes, cut from text written once (issue 14).
        try:
            found = await search_text(session.server.store, view, cmd, session.viewer,
                                      budget, fold)
        finally:
            if fold is not None:  # whatever was found or refused, the rights come first
                await fold.settle()
        session.channel.write(b"* SEARCH" + found + b"\r\n")
        return Result("SEARCH completed")
    try:
        numbers, modseqs = await run_search(session.server.store, view, cmd, session.viewer,
                                            budget)
    except CommandFailed as exc:
        if save and exc.status == "NO":
            view.saved = []  # RFC 5182 §2.1: a failed SEARCH with SAVE empties "$"
        raise
    if cmd.returns is None:
        session.channel.write(search_line(numbers, modseqs))
        return Result("SEARCH completed")
    opts = return_set(cmd)
    if save:
        _save(view, cmd, numbers, opts)
    if opts != {"SAVE"}:
        session.untagged(*esearch(tag, cmd.uid, opts, numbers, modseqs, cmd.partial))
    text = open_context(session, tag, cmd, None, numbers)
    if opts == {"SAVE"}:
        return Result("SEARCH completed, result saved" + text)
    return Result("SEARCH completed" + text)


def return_set(cmd: Search) -> set[str]:
    """The RETURN options that shape the answer: CONTEXT and UPDATE return no data
    (RFC 5267 §4.2, §4.3), and nothing else means ALL (RFC 4731 §3.1)."""
    assert cmd.returns is not None
    return set(cmd.returns) - {"CONTEXT", "UPDATE"} or {"ALL"}


def check_update(session: Session, tag: str, cmd: Search) -> None:
    """RFC 5267 §4.3: UPDATE with the tag of a live context is BAD, and has no effect.
    RFC 5465 §7: UPDATE's fetch-atts are checked as FETCH checks them (BAD)."""
    if cmd.returns is not None and "UPDATE" in cmd.returns:
        view = session.view
        assert view is not None
        if tag in view.contexts:
            raise CommandFailed("Tag reuse: a context with this tag is live", "CLIENTBUG",
                                status="BAD")
        check_items(cmd.update_fetch)


def open_context(session: Session, tag: str, cmd: Search,
                 keys: tuple[tuple[SortKey, bool], ...] | None, numbers: list[int]) -> str:
    """After a searching command answered: with UPDATE, start its context (RFC 5267
    §4.3), or refuse with ``* NO [NOUPDATE "tag"]`` past the limit (§4.3.1).  Returns
    what the tagged OK adds."""
    if cmd.returns is None or "UPDATE" not in cmd.returns:
        return ""
    view = session.view
    assert view is not None
    if len(view.contexts) >= MAX_CONTEXTS:
        session.untagged_status("NO", "Too many contexts", "NOUPDATE", (tag,))
        return ", will not notify"
    uids = numbers if cmd.uid else [view.uids[n - 1] for n in numbers]
    view.contexts[tag] = Context(tag, cmd, keys, list(uids), frozen_sets(cmd, view),
                                 cmd.update_fetch)
    return ", will notify"


def search_line(numbers: list[int], modseqs: list[int] | None) -> bytes:
    """``* SEARCH n n n`` (RFC 3501 §7.2.5), with ``(MODSEQ m)`` after a search that used
    MODSEQ (RFC 7162 §3.1.5), written in one join: 70,000 numbers (``UNSEEN`` in a big
    mailbox) through the generic serializer cost more than the search (issue 14)."""
    line = b"* SEARCH" + numbers_text(numbers)
    if modseqs:
        line += b" (MODSEQ %d)" % max(modseqs)
    return line + b"\r\n"


def esearch(tag: str, uid: bool, opts: set[str], numbers: list[int],
            modseqs: list[int] | None, partial: PartialRange | None = None) -> list[Value]:
    """The items of an ESEARCH response (RFC 4731 §3.1, §3.2, §4; PARTIAL RFC 9394 §3.1)
    for ``numbers`` in the requested order."""
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
    if partial is not None:
        picked = partial.pick(numbers)
        items += [Atom("PARTIAL"),
                  [Atom(str(partial)), compact_set(picked) if picked else None]]
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
    nor COUNT was asked; RFC 9394 §3.2 Table 1: with PARTIAL and no COUNT, the messages
    PARTIAL returned, with MIN and/or MAX."""
    uids = numbers if cmd.uid else [view.uids[n - 1] for n in numbers]
    if uids and not opts & {"ALL", "COUNT"} and opts & {"MIN", "MAX", "PARTIAL"}:
        kept = set(cmd.partial.pick(uids)) if cmd.partial is not None else set()
        if "MIN" in opts:
            kept.add(uids[0])
        if "MAX" in opts:
            kept.add(uids[-1])
        uids = sorted(kept)
    view.saved = list(uids)


async def cancelupdate(session: Session, tag: str, cmd: CancelUpdate) -> Result:
    """RFC 5267 §4.3.5 CANCELUPDATE: no more updates for the contexts named.  A tag that
    names no live context is NO [NONEXISTENT] (RFC 5530 §3), and then none is cancelled."""
    view = session.view
    assert view is not None
    for name in cmd.tags:
        if name not in view.contexts:
            raise CommandFailed(f"No search context with tag {name[:40]}", "NONEXISTENT")
    for name in cmd.tags:
        view.contexts.pop(name, None)
    return Result("No further updates")
