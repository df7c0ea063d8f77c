"""AUTHENTICATE with SCRAM-SHA-256(-PLUS) (RFC 5802, RFC 7677) and OAUTHBEARER (RFC 7628):
the IMAP framing (RFC 3501 §6.2.2, SASL-IR RFC 4959) around the sans-I/O mechanisms of
:mod:`crispin.protocol.scram` and :mod:`crispin.protocol.oauthbearer`."""

from __future__ import annotations

import secrets

from crispin.protocol import Authenticate
from crispin.protocol import oauthbearer as bearer
from crispin.protocol.scram import MECHANISM, MECHANISM_PLUS, ScramError, ScramServer
from crispin.server.auth import SaslError, decode_base64
from crispin.server.commands.login_steps import (
    challenge,
    logged_in,
    login_failed,
    require_privacy,
)
from crispin.server.context import scram_plus_offered
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session
from crispin.storage import User

NO_KEYS_HINT = ("Authentication failed (an account whose password was set before SCRAM "
                "support needs one login with LOGIN or PLAIN, or its password set again)")


async def _first_response(session: Session, cmd: Authenticate) -> bytes:
    """SASL-IR's argument (RFC 4959 §3), or the answer to an empty challenge."""
    if cmd.initial_response is not None:
        return decode_base64(cmd.initial_response)
    return await challenge(session, b"")


async def scram(session: Session, cmd: Authenticate, plus: bool) -> Result:
    """RFC 5802 §5: client-first, server-first, client-final, server-final. IMAP4rev1 has
    no room for data with the tagged OK (RFC 4422 §5 item 2b), so the server-final-message
    goes as a last challenge, which the client answers with an empty line."""
    bindings = session.channel.channel_bindings()
    exchange = ScramServer(plus, bindings, secrets.token_urlsafe(24),
                           advertised_plus=scram_plus_offered(bindings))
    who = why = ""
    user: User | None = None
    try:
        first = exchange.client_first(await _first_response(session, cmd))
        who = first.username
        user, keys, why = await session.server.authenticator.scram_keys(first.username)
        final = await challenge(session, exchange.server_first(
            keys.salt, keys.iterations, keys.stored_key, keys.server_key))
        server_final = exchange.client_final(final)
        if user is None:  # made-up keys cannot be proved; kept as a second lock
            await login_failed(session, who, why)
        if first.authzid and first.authzid not in (first.username, user.name):
            # RFC 5802 §5.1 "a": no proxy authorisation here (RFC 4422 §3.4.1 lets a
            # server refuse it).
            await login_failed(session, who, f"may not act as {first.authzid!r}")
        if await challenge(session, server_final):
            raise SaslError("The answer to the server-final-message must be empty")
    except SaslError as exc:
        raise CommandFailed(str(exc), status="BAD") from None
    except ScramError as exc:
        if exc.malformed:
            raise CommandFailed(f"{exc} ({exc.error})", status="BAD") from None
        text = NO_KEYS_HINT if exc.error == "invalid-proof" else f"{exc} ({exc.error})"
        reason = why if exc.error == "invalid-proof" and user is None else exc.error
        await login_failed(session, who, reason, text)
    assert user is not None
    return logged_in(session, user, MECHANISM_PLUS if plus else MECHANISM)


async def oauthbearer(session: Session, cmd: Authenticate) -> Result:
    """RFC 7628 §3: one client message with the token; on failure the JSON error of
    §3.2.2 as a challenge, the client's dummy response (§3.2.3), then NO."""
    require_privacy(session)  # §3: "TLS MUST be used for OAUTHBEARER" (a bearer token)
    try:
        data = await _first_response(session, cmd)
        if data == bearer.DUMMY_RESPONSE:
            # §3.1: a lone kvsep first "MAY simply fail": nothing names a user or server.
            await login_failed(session, "", "OAUTHBEARER without a token")
        try:
            message = bearer.parse_client_response(data)
        except bearer.OAuthBearerError as exc:
            raise CommandFailed(f"Malformed OAUTHBEARER response: {exc}", status="BAD") from None
        checker = session.server.token_checker
        name = await checker.user_for(message.token)
        user = None
        if name is not None and message.authzid in ("", name):
            user = await session.server.store.get_user(name)
        if user is None:
            why = ("no token" if not message.token else "token refused" if name is None
                   else f"token of {name!r}, not {message.authzid!r}"
                   if message.authzid not in ("", name) else f"no user {name!r}")
            await challenge(session, bearer.error_message(
                "invalid_token", checker.scope, checker.openid_configuration))
            # Whatever the client answered (RFC 7628 §3.2.3 asks for ^A), it fails now.
            await login_failed(session, message.authzid or name or "", why)
    except SaslError as exc:  # "*" instead of the dummy response: an abort, BAD (§3.2.3)
        raise CommandFailed(str(exc), status="BAD") from None
    return logged_in(session, user, bearer.MECHANISM)
