"""URLAUTH (RFC 4467): GENURLAUTH, URLFETCH and RESETKEY, with the INTERNAL mechanism.

A URLAUTH-authorized URL carries ``;URLAUTH=<access>:internal:<token>``: the token is an
HMAC over the "rump" URL (everything before ``:internal:``, exactly as sent: §6 allows no
decoding or case-folding) keyed with the mailbox access key of the URL's user for that
mailbox (§2.2, kept in storage, made from ``secrets``). The token starts with a version
byte ("01": HMAC-SHA-256), so the algorithm can change later without guessing (§2.4.1,
§10: "SHOULD incorporate some means of identifying the token generation algorithm").

URLFETCH answers NIL for any URL that does not validate, whatever the reason (§7: "NIL if
the URL is invalid for any reason"), and compares tokens in constant time; when the user
or mailbox does not exist, a token is still computed with a random key (§6: so that
timing does not tell which mailboxes exist). A validated URL gives the access its user
has now (§7 URLFETCH), here: the user's own mailboxes (URLs of mailboxes shared with the
user name them under the user's namespace, which URLFETCH does not resolve: NIL).
``submit+<user>`` URLs validate for sessions of the users listed in
``auth.submit_users`` (the submission servers, §3).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime

from crispin.protocol import Atom, GenUrlAuth, ResetKey, StatusResponse, UrlFetch
from crispin.protocol.imapurl import ImapUrl, UrlError, parse_url
from crispin.protocol.serializer import serialize_value
from crispin.server import names
from crispin.server.access import mailbox_for
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Disconnect, Session
from crispin.server.urlparts import BadUrl, locate
from crispin.storage import MailboxInfo

log = logging.getLogger("crispin.urlauth")

MECHANISM = "INTERNAL"
VERSION = "01"  # HMAC-SHA-256 over the rump URL


def token(key: bytes, rump: str) -> str:
    return VERSION + hmac.new(key, rump.encode("utf-8", "surrogateescape"),
                              hashlib.sha256).hexdigest()


def submit_users(session: Session) -> frozenset[str]:
    raw = str(session.server.config.get("auth", "submit_users"))
    return frozenset(n.strip() for n in raw.split(",") if n.strip())


async def genurlauth(session: Session, tag: str, cmd: GenUrlAuth) -> Result:
    """§7 GENURLAUTH: every URL checked first; any failure is BAD for the whole command."""
    assert session.user is not None
    made = []
    for rump, mechanism in cmd.pairs:
        if mechanism != MECHANISM:
            raise CommandFailed(f"Unknown URLAUTH mechanism {mechanism[:40]}", status="BAD")
        try:
            url = parse_url(rump)
        except UrlError as exc:
            raise CommandFailed(f"Invalid URL: {exc}", status="BAD") from None
        if not url.absolute:
            raise CommandFailed("URLAUTH needs an absolute imap:// URL", status="BAD")
        if url.access is None:
            raise CommandFailed("missing access identifier in supplied URL", status="BAD")
        if url.token is not None:
            raise CommandFailed("The URL is already authorized", status="BAD")
        if url.user is None:
            raise CommandFailed("missing owner username in supplied URL", status="BAD")
        if url.user != session.user.name:
            # (2): the key table is the logged-in user's; no other is reachable from here.
            raise CommandFailed("The URL names another user's keys", status="BAD")
        if not url.is_message or url.mailbox is None:
            raise CommandFailed("URLAUTH is only for a message or part (§3)", status="BAD")
        try:
            access = await mailbox_for(session, url.mailbox)
        except CommandFailed:
            raise CommandFailed("No such mailbox", status="BAD") from None
        key = await session.server.store.urlauth_key(session.user.id, access.info.id,
                                                     create=True)
        assert key is not None
        made.append(f"{rump}:internal:{token(key, rump)}")
    session.channel.write(b"* GENURLAUTH " + b" ".join(serialize_value(u) for u in made)
                          + b"\r\n")
    return Result("GENURLAUTH completed")


async def resetkey(session: Session, tag: str, cmd: ResetKey) -> Result:
    """§7 RESETKEY: without a mailbox, every key of the user goes (all URLs revoked);
    with one, its key is replaced."""
    assert session.user is not None
    store = session.server.store
    if cmd.mailbox is None:
        await store.reset_urlauth_keys(session.user.id)
        return Result("All keys removed")
    for mechanism in cmd.mechanisms:
        if mechanism != MECHANISM:
            raise CommandFailed(f"Unknown URLAUTH mechanism {mechanism[:40]}", status="BAD")
    if (bad := names.undecodable(cmd)) is not None:
        raise CommandFailed(f"Invalid mailbox name: {bad.reason}", "CANNOT")
    access = await mailbox_for(session, cmd.mailbox)
    await store.reset_urlauth_key(session.user.id, access.info.id)
    # "Any current IMAP session logged in as the user that has the mailbox selected will
    # receive an untagged OK response with the URLMECH status response code."
    for other in session.server.sessions:
        if other is not session and other.user is not None and \
                other.user.id == session.user.id and other.view is not None and \
                other.view.mailbox_id == access.info.id:
            other.notices.append(StatusResponse(None, "OK", "Key reset", "URLMECH",
                                                (Atom(MECHANISM),)))
    return Result("Key reset", "URLMECH", (Atom(MECHANISM),))


def _access_allows(session: Session, url: ImapUrl) -> bool:
    """§3: who may use the URL. Every session here is logged in as a real user, so
    "anonymous" and "authuser" allow any; "user+X" only X; "submit+X" a submission
    server (``auth.submit_users``), which has checked X itself (§3)."""
    assert session.user is not None and url.access is not None
    if url.access in ("anonymous", "authuser"):
        return True
    prefix, _, name = url.access.partition("+")
    if prefix == "user":
        return name == session.user.name
    return session.user.name in submit_users(session)


async def _validated(session: Session, text: str) -> tuple[ImapUrl, MailboxInfo] | None:
    try:
        url = parse_url(text)
    except UrlError:
        return None
    if not url.absolute or url.user is None or url.token is None or url.rump is None \
            or not url.is_message or url.mailbox is None or url.mechanism != MECHANISM:
        return None
    if url.expire is not None and datetime.now(UTC) > url.expire:
        return None  # §3: "server implementations MUST reject the URL"
    if not _access_allows(session, url):
        return None
    store = session.server.store
    owner = await store.get_user(url.user)
    info = None if owner is None else \
        await store.get_mailbox_in(owner.id, names.normalize(url.mailbox))
    key = None
    if owner is not None and info is not None and not info.noselect:
        key = await store.urlauth_key(owner.id, info.id)
    # §6: with no key (no such user or mailbox, or never generated), a random one, so
    # that the failure takes as long as a wrong token.
    expected = token(key or secrets.token_bytes(32), url.rump)
    if not hmac.compare_digest(expected, url.token) or key is None or info is None:
        return None
    return url, info


async def urlfetch(session: Session, tag: str, cmd: UrlFetch) -> Result:
    """§7 URLFETCH: one untagged URLFETCH per URL, the data streamed as a literal, NIL
    for a URL that does not validate or names nothing."""
    store = session.server.store
    channel = session.channel
    for text in cmd.urls:
        head = b"* URLFETCH " + serialize_value(text) + b" "
        found = await _validated(session, text)
        part = None
        if found is not None:
            url, info = found
            try:
                part = await locate(store, info, url, None)
            except BadUrl as exc:
                log.info("%s: URLFETCH of a validated URL failed: %s", session.peer, exc)
        if part is None:
            channel.write(head + b"NIL\r\n")
            continue
        channel.write(head + b"{%d}\r\n" % part.length)
        try:
            async for chunk in part.chunks(store):
                channel.write(chunk)
                await channel.pace()
        except BadUrl:
            # The literal's size is sent: the response cannot be finished (as FETCH does).
            log.error("%s: URLFETCH body shorter than recorded", session.peer)
            raise Disconnect from None
        channel.write(b"\r\n")
    return Result("URLFETCH completed")
