"""Who may use a URLAUTH-authorized URL, and what it names (RFC 4467 §3, §6, §7).

Shared by URLFETCH (``crispin.server.commands.urlauth``) and by CATENATE's URL parts
(``crispin.server.urlparts``): a URL authorized here gives the same data to both.

The token (INTERNAL mechanism) is an HMAC over the "rump" URL (everything before
``:internal:``, exactly as sent: §6 allows no decoding or case-folding) keyed with the mailbox
access key of the URL's user for that mailbox (§2.2, kept in storage, made from
``secrets``). It starts with a version byte ("01": HMAC-SHA-256), so the algorithm can change
later without guessing (§2.4.1, §10: "SHOULD incorporate some means of identifying the token
generation algorithm").

A validated URL "effectively executes with the access of the userid in the server component
of the URL ... That access may have changed since the GENURLAUTH was done" (§7 URLFETCH):
the mailbox is named as that user sees it (their own, ``Other Users/bob/Projects``,
``Shared/support``, RFC 2342) and that user must hold the "r" right on it now (RFC 4314 §4).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from crispin.protocol.imapurl import ImapUrl
from crispin.server.access import mailbox_as
from crispin.server.outcome import CommandFailed
from crispin.server.session import Session
from crispin.server.urlhost import names_this_server
from crispin.storage import MailboxInfo

MECHANISM = "INTERNAL"
VERSION = "01"  # HMAC-SHA-256 over the rump URL


def token(key: bytes, rump: str) -> str:
    return VERSION + hmac.new(key, rump.encode("utf-8", "surrogateescape"),
                              hashlib.sha256).hexdigest()


def submit_users(session: Session) -> frozenset[str]:
    raw = str(session.server.config.get("auth", "submit_users"))
    return frozenset(n.strip() for n in raw.split(",") if n.strip())


def access_allows(session: Session, url: ImapUrl) -> bool:
    """§3: who may use the URL. Every session here is logged in as a real user (there is
    no anonymous login), so "anonymous" and "authuser" allow any; "user+X" only X;
    "submit+X" a submission server (``auth.submit_users``), which has checked X itself."""
    assert session.user is not None and url.access is not None
    if url.access in ("anonymous", "authuser"):
        return True
    prefix, _, name = url.access.partition("+")
    if prefix == "user":
        return name == session.user.name
    return session.user.name in submit_users(session)


async def authorized_mailbox(session: Session, url: ImapUrl) -> MailboxInfo | None:
    """The mailbox of a URLAUTH-authorized message URL that validates for this session and
    whose user may read it now; None otherwise, whatever the reason (§7 URLFETCH: "NIL if
    the URL is invalid for any reason"). Tokens are compared in constant time, and when the
    user or mailbox is not found a token is still computed, with a random key (§6: so that
    timing does not tell which mailboxes exist)."""
    if not url.absolute or url.user is None or url.token is None or url.rump is None \
            or not url.is_message or url.mailbox is None or url.mechanism != MECHANISM:
        return None
    if url.expire is not None and datetime.now(UTC) > url.expire:
        return None  # §3: "server implementations MUST reject the URL"
    if not names_this_server(session, url):
        return None  # another server's URL: not one this server can resolve
    if not access_allows(session, url):
        return None
    store = session.server.store
    owner = await store.get_user(url.user)
    info = None
    if owner is not None:
        try:
            info = (await mailbox_as(session, owner, url.mailbox, "r")).info
        except CommandFailed:
            info = None  # gone, or the URL's user may no longer read it (§7)
    key = None if owner is None or info is None else \
        await store.urlauth_key(owner.id, info.id)
    expected = token(key or secrets.token_bytes(32), url.rump)
    if not hmac.compare_digest(expected, url.token) or key is None:
        return None
    return info
