"""Not-authenticated state: STARTTLS, AUTHENTICATE, LOGIN (RFC 3501 §6.2)."""

from __future__ import annotations

import asyncio
import base64
import logging

from crispin.protocol import Authenticate, ContinuationResponse, Login, StartTLS
from crispin.server.auth import Credentials, SaslError, decode_base64, parse_plain
from crispin.server.outcome import CommandFailed, Result, State
from crispin.server.session import Session

log = logging.getLogger("crispin.auth")


async def starttls(session: Session, tag: str, cmd: StartTLS) -> Result:
    """RFC 3501 §6.2.1. The tagged OK goes out in clear, then the handshake; everything the
    client pipelined after STARTTLS is discarded (CVE-2011-0411), and CAPABILITY no longer
    lists STARTTLS because the capability list is computed from the live connection."""
    if session.channel.tls_active:
        raise CommandFailed("TLS is already active", status="BAD")
    return Result("Begin TLS negotiation now", after=session.channel.start_tls)


async def _finish_login(session: Session, creds: Credentials) -> Result:
    user = await session.server.authenticator.verify(creds)
    if user is None:
        log.info("%s: authentication failed for %r", session.peer, creds.authcid)
        # RFC 3501 §6.2.3 and common practice: a delay slows password guessing; it sleeps
        # in this connection's task only, so others go on.
        await asyncio.sleep(float(session.server.config.get("auth", "failure_delay")))
        raise CommandFailed("Authentication failed", "AUTHENTICATIONFAILED")
    session.user = user
    session.state = State.AUTHENTICATED
    log.info("%s: %s logged in", session.peer, user.name)
    # RFC 3501 §7.1 / RFC 5530: the capability list changes after login, so send it.
    return Result("Logged in", "CAPABILITY", tuple(session.capabilities()))


def _require_privacy(session: Session) -> None:
    if not session.plaintext_allowed():
        raise CommandFailed("Plaintext authentication disallowed without TLS; use STARTTLS",
                            "PRIVACYREQUIRED")


async def login(session: Session, tag: str, cmd: Login) -> Result:
    """RFC 3501 §6.2.3."""
    _require_privacy(session)
    return await _finish_login(session, Credentials(cmd.username, cmd.password))


async def authenticate(session: Session, tag: str, cmd: Authenticate) -> Result:
    """RFC 3501 §6.2.2 with SASL-IR (RFC 4959); mechanisms PLAIN (RFC 4616) and LOGIN.

    A client line of "*" cancels the exchange with BAD (RFC 3501 §6.2.2)."""
    mechanism = cmd.mechanism.upper()
    if mechanism not in ("PLAIN", "LOGIN"):
        raise CommandFailed(f"Unsupported authentication mechanism {mechanism}", "CANNOT")
    _require_privacy(session)
    try:
        if mechanism == "PLAIN":
            if cmd.initial_response is not None:
                message = decode_base64(cmd.initial_response)
            else:
                message = await _challenge(session, b"")
            creds = parse_plain(message)
        else:
            if cmd.initial_response is not None:
                username = decode_base64(cmd.initial_response)
            else:
                username = await _challenge(session, b"Username:")
            password = await _challenge(session, b"Password:")
            creds = Credentials(username.decode("utf-8", "surrogateescape"),
                                password.decode("utf-8", "surrogateescape"))
    except SaslError as exc:
        raise CommandFailed(str(exc), status="BAD") from None
    return await _finish_login(session, creds)


async def _challenge(session: Session, challenge: bytes) -> bytes:
    session.channel.send(ContinuationResponse(base64.b64encode(challenge).decode("ascii")))
    line = await session.channel.read_line(secret=True)
    if line is None:
        raise SaslError("Connection closed during authentication")
    if line.strip() == b"*":
        raise SaslError("Authentication cancelled")
    return decode_base64(line)

