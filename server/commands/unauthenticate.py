"""UNAUTHENTICATE (RFC 8437): back to the not-authenticated state on the same connection."""

from __future__ import annotations

import logging

from crispin.protocol import Unauthenticate
from crispin.server.outcome import Disconnect, Result, State
from crispin.server.session import Session

log = logging.getLogger("crispin.auth")


async def unauthenticate(session: Session, tag: str, cmd: Unauthenticate) -> Result:
    """RFC 8437 §3: never answered NO (a client may pipeline its next AUTHENTICATE). Only
    TLS survives; everything else is reset by ``Session.unauthenticate``.

    With COMPRESS=DEFLATE active, §4.1 has both sides end their compression layer at the
    CRLFs around this exchange; where the client's deflate stream ends and its plain bytes
    begin is not marked, so rather than guess, the server takes §3's way out for a state it
    cannot reset: an untagged BYE and the connection closed."""
    if session.channel.compression_active:
        session.untagged_status("BYE", "Cannot end compression; reconnect to log in again")
        session.state = State.LOGOUT
        raise Disconnect
    name = session.user.name if session.user is not None else "?"
    session.unauthenticate()
    log.info("%s: %s unauthenticated", session.peer, name)
    return Result("UNAUTHENTICATE completed, now in not authenticated state")
