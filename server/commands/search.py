"""SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8): ``* SEARCH`` with the matching message
numbers (UIDs for UID SEARCH) in ascending order, nothing after SEARCH when none match.

The evaluation is in ``server.search``.  No EXPUNGE is sent during a non-UID SEARCH
(RFC 3501 §7.4.1): the session's flush rule sees to it, and messages expunged by others
stay numbered as ghosts that never match.
"""

from __future__ import annotations

from protocol import Atom, Search, Value
from server.outcome import CommandFailed, Result
from server.search import run_search, uses_modseq
from server.session import Session


async def search(session: Session, tag: str, cmd: Search) -> Result:
    view = session.view
    assert view is not None
    if cmd.returns is not None:
        # RFC 4731 ESEARCH is not advertised.
        raise CommandFailed("SEARCH RETURN is not supported", status="BAD")
    if uses_modseq(cmd.criteria):
        session.enable_condstore()  # RFC 7162 §3.1: SEARCH MODSEQ enables CONDSTORE
    numbers, modseq = await run_search(session.server.store, view, cmd, session.viewer)
    extra: list[Value] = [] if modseq is None else [[Atom("MODSEQ"), modseq]]
    session.untagged(Atom("SEARCH"), *numbers, *extra)
    return Result("SEARCH completed")
