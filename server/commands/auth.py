"""Not-authenticated state: STARTTLS, AUTHENTICATE, LOGIN (RFC 3501 §6.2)."""

from __future__ import annotations

from crispin.protocol import Authenticate, Login, StartTLS, oauthbearer, scram
from crispin.server.auth import Credentials, SaslError, decode_base64, parse_plain
from crispin.server.commands import auth_sasl
from crispin.server.commands.login_steps import (
    challenge,
    logged_in,
    login_failed,
    require_privacy,
)
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session


async def starttls(session: Session, tag: str, cmd: StartTLS) -> Result:
    """RFC 3501 §6.2.1. The tagged OK goes out in clear, then the handshake; everything the
    client pipelined after STARTTLS is discarded (CVE-2011-0411), and CAPABILITY no longer
    lists STARTTLS because the capability list is computed from the live connection."""
    if session.channel.tls_active:
        raise CommandFailed("TLS is already active", status="BAD")
    return Result("Begin TLS negotiation now", after=session.channel.start_tls)


async def _finish_login(session: Session, creds: Credentials, how: str) -> Result:
    user = await session.server.authenticator.verify(creds)
    if user is None:
        await login_failed(session, creds.authcid)
    assert user is not None
    return logged_in(session, user, how)


async def login(session: Session, tag: str, cmd: Login) -> Result:
    """RFC 3501 §6.2.3."""
    require_privacy(session)
    return await _finish_login(session, Credentials(cmd.username, cmd.password), "LOGIN")


async def authenticate(session: Session, tag: str, cmd: Authenticate) -> Result:
    """RFC 3501 §6.2.2 with SASL-IR (RFC 4959); mechanisms PLAIN (RFC 4616), LOGIN, and
    those of :mod:`crispin.server.commands.auth_sasl` (SCRAM-SHA-256, OAUTHBEARER).

    A client line of "*" cancels the exchange with BAD (RFC 3501 §6.2.2)."""
    mechanism = cmd.mechanism.upper()
    if mechanism not in session.server.sasl_mechanisms(session, usable_only=False):
        raise CommandFailed(f"Unsupported authentication mechanism {mechanism}", "CANNOT")
    if mechanism in (scram.MECHANISM, scram.MECHANISM_PLUS):
        return await auth_sasl.scram(session, cmd, plus=mechanism == scram.MECHANISM_PLUS)
    if mechanism == oauthbearer.MECHANISM:
        return await auth_sasl.oauthbearer(session, cmd)
    require_privacy(session)
    try:
        if mechanism == "PLAIN":
            if cmd.initial_response is not None:
                message = decode_base64(cmd.initial_response)
            else:
                message = await challenge(session, b"")
            creds = parse_plain(message)
        else:
            if cmd.initial_response is not None:
                username = decode_base64(cmd.initial_response)
            else:
                username = await challenge(session, b"Username:")
            password = await challenge(session, b"Password:")
            creds = Credentials(username.decode("utf-8", "surrogateescape"),
                                password.decode("utf-8", "surrogateescape"))
    except SaslError as exc:
        raise CommandFailed(str(exc), status="BAD") from None
    return await _finish_login(session, creds, mechanism)
