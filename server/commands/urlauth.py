"""URLAUTH (RFC 4467): GENURLAUTH, URLFETCH and RESETKEY, with the INTERNAL mechanism.

What a URLAUTH-authorized URL is, who may use it and what it gives live in
``crispin.server.urlauth_access`` (CATENATE uses such URLs too). The URL's user is the one
logged in at GENURLAUTH (§7 (2): the key table is theirs); its mailbox is one the user may
read (their own, or another's shared with them by ACL, RFC 4314, named as they see it); the
token is made with their key for that mailbox. URLFETCH answers NIL for any URL that does not
validate or whose user may no longer read the mailbox (§7: "NIL if the URL is invalid for any
reason"). Only URLs naming this server (``crispin.server.urlhost``, the rule CATENATE
uses) are authorized or fetched. ``submit+<user>`` URLs validate for sessions of the users listed in
``auth.submit_users`` (the submission servers, §3).
"""

from __future__ import annotations

import logging
import secrets

from crispin.protocol import Atom, GenUrlAuth, ResetKey, StatusResponse, UrlFetch
from crispin.protocol.imapurl import UrlError, parse_url
from crispin.protocol.serializer import serialize_value
from crispin.server import names
from crispin.server.access import mailbox_for
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Disconnect, Session
from crispin.server.urlauth_access import MECHANISM, authorized_mailbox, token
from crispin.server.urlhost import names_this_server
from crispin.server.urlparts import BadUrl, locate

log = logging.getLogger("crispin.urlauth")


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
        if not names_this_server(session, url):
            # "The URL ... MUST be ... for this server": no token for another server's.
            raise CommandFailed("The URL names another server", status="BAD")
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
            # (1) an existing mailbox, and one whose data the user may read (RFC 4314
            # "r"): URLFETCH would give nothing else (§7: the user's access at that time).
            access = await mailbox_for(session, url.mailbox, "r")
        except CommandFailed as exc:
            raise CommandFailed(exc.text, status="BAD") from None
        store = session.server.store
        key = await store.urlauth_key(session.user.id, access.info.id, create=True)
        assert key is not None
        named = url.user_access
        if url.access.startswith("user+") and named is not None and \
                await store.get_user(named) is None:
            # (3): "user+" names no user. BAD would tell which users exist; the MAY
            # exception: OK with a token that always fails, even for a user made later.
            key = secrets.token_bytes(len(key))
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


async def urlfetch(session: Session, tag: str, cmd: UrlFetch) -> Result:
    """§7 URLFETCH: one untagged URLFETCH per URL, the data streamed as a literal, NIL
    for a URL that does not validate or names nothing."""
    store = session.server.store
    channel = session.channel
    for text in cmd.urls:
        head = b"* URLFETCH " + serialize_value(text) + b" "
        part = None
        try:
            url = parse_url(text)
        except UrlError:
            url = None
        info = None if url is None else await authorized_mailbox(session, url)
        if url is not None and info is not None:
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
