"""The steps every login shares, whatever the mechanism (RFC 3501 §6.2): one SASL
challenge, success (state and capabilities), failure (delayed NO), the privacy rule."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import TYPE_CHECKING, NoReturn

from crispin.protocol import ContinuationResponse
from crispin.server.auth import SaslError, decode_base64
from crispin.server.outcome import CommandFailed, Result, State
from crispin.server.session import Session

if TYPE_CHECKING:
    from crispin.storage import User

log = logging.getLogger("crispin.auth")


async def login_failed(session: Session, who: str, why: str = "",
                       text: str = "Authentication failed") -> NoReturn:
    """NO [AUTHENTICATIONFAILED] after ``auth.failure_delay``."""
    log.info("%s: authentication failed for %r%s", session.peer, who, f" ({why})" if why else "")
    # RFC 3501 §6.2.3 and common practice: a delay slows password guessing; it sleeps
    # in this connection's task only, so others go on.
    await asyncio.sleep(float(session.server.config.get("auth", "failure_delay")))
    raise CommandFailed(text, "AUTHENTICATIONFAILED")


def logged_in(session: Session, user: User, how: str) -> Result:
    """``how``: LOGIN or the SASL mechanism, for the log (the trace masks it)."""
    session.user = user
    session.state = State.AUTHENTICATED
    log.info("%s: %s logged in with %s", session.peer, user.name, how)
    # RFC 3501 §7.1 / RFC 5530: the capability list changes after login, so send it.
    return Result("Logged in", "CAPABILITY", tuple(session.capabilities()))


def require_privacy(session: Session) -> None:
    if not session.plaintext_allowed():
        raise CommandFailed("Plaintext authentication disallowed without TLS; use STARTTLS",
                            "PRIVACYREQUIRED")


async def challenge(session: Session, data: bytes) -> bytes:
    """Send one SASL challenge (``+ base64``) and return the client's decoded answer;
    SaslError for a cancel ("*"), bad base64 or a closed connection."""
    session.channel.send(ContinuationResponse(base64.b64encode(data).decode("ascii")))
    line = await session.channel.read_line(secret=True)
    if line is None:
        raise SaslError("Connection closed during authentication")
    if line.strip() == b"*":
        raise SaslError("Authentication cancelled")
    return decode_base64(line)
