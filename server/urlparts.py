"""The message data an IMAP URL names (RFC 5092 §6): what CATENATE copies (RFC 4469 §3).

A URL's data is "the object returned by a UID FETCH <uid> BODY.PEEK[<section>]<partial>"
(RFC 5092 §6), so it is located exactly as FETCH locates a section
(``crispin.server.sections``), and read from a body file only over that span, in chunks:
catenating a 50 MB attachment never holds it in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from crispin.protocol.imapurl import ImapUrl, UrlError, parse_url
from crispin.server.access import mailbox_for
from crispin.server.outcome import CommandFailed
from crispin.server.sections import SectionPlan
from crispin.server.session import Session
from crispin.server.urlauth_access import authorized_mailbox
from crispin.server.urlhost import names_this_server
from crispin.storage import BlobFile, MailboxInfo, Store

CHUNK = 1024 * 1024


class BadUrl(Exception):
    """The URL cannot be used: NO [BADURL url] (RFC 4469 §4.1). ``reason`` says why, for the
    log; ``shown`` is the response text when saying why reveals nothing (another server or
    user; never a mailbox the user may not see, RFC 4314 §6)."""

    def __init__(self, reason: str, shown: str | None = None) -> None:
        super().__init__(reason)
        self.shown = shown


@dataclass(frozen=True)
class UrlData:
    """``length`` octets of a stored message from ``start`` (or the prepared ``body``
    bytes, for a HEADER.FIELDS section, which is filtered and read whole)."""

    body: bytes | BlobFile
    start: int
    length: int

    async def chunks(self, store: Store) -> AsyncIterator[bytes]:
        if isinstance(self.body, bytes):
            if self.length:
                yield self.body[self.start:self.start + self.length]
            return
        pos, left = self.start, self.length
        while left:
            chunk = await store.read_blob(self.body, pos, min(CHUNK, left))
            if not chunk:
                raise BadUrl("body file shorter than recorded")
            yield chunk
            pos += len(chunk)
            left -= len(chunk)


def response_text(url: str) -> str:
    """The URL as RFC 4469 §5 ``url-resp-text`` can carry it: TEXT-CHARs but "]"
    (anything else percent-encoded, so the response code stays one line of ASCII)."""
    return "".join(ch if " " < ch <= "~" and ch != "]" else
                   "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogateescape"))
                   for ch in url)


async def locate(store: Store, info: MailboxInfo, url: ImapUrl,
                 viewer: int | None) -> UrlData:
    """The data of a message URL in the mailbox ``info`` (already found and allowed)."""
    assert url.uid is not None
    if url.uidvalidity is not None and url.uidvalidity != info.uidvalidity:
        raise BadUrl("UIDVALIDITY changed")  # RFC 5092 §6: the URL is stale
    try:
        plan = SectionPlan(url.body_section())
    except UrlError as exc:
        raise BadUrl(str(exc)) from None
    recs, bodies = await store.fetch_records_and_bodies(info.id, [url.uid], True, "full",
                                                        viewer=viewer)
    if not recs or url.uid not in bodies:
        raise BadUrl("no such message")
    rec, body = recs[0], bodies[url.uid]
    span = plan.span(rec)
    if span is None:
        raise BadUrl("no such body part")
    start, end, filt = span
    if filt is not None:
        header = body[start:end] if isinstance(body, bytes) else \
            await store.read_blob(body, start, end - start)
        data = plan.finish(header, filt)
        return UrlData(data, 0, len(data))
    start, end = plan.clip(start, end)
    return UrlData(body, start, end - start)


async def catenate_part(session: Session, text: str) -> UrlData:
    """A CATENATE ``URL`` part (RFC 4469 §3): a message or part URL of a mailbox the user
    may read (RFC 4314 §4: the "r" right), named as the user sees it.

    - An absolute-path reference (``/INBOX/;UID=5``, RFC 5092 §7.1), resolved against
      ``imap://user@server/`` as RFC 4469 §3 says.
    - An absolute URL or network-path reference naming this server and the logged-in user
      (``imap://alice@host/INBOX/;UID=5``): the same URL written out in full. RFC 4469 §3
      leaves such URLs to extensions; a client building URLs from the server's name sends
      them, and Dovecot accepts those of its own host. Another server or user: BadUrl
      with a text that says which (neither reveals anything about this server's mailboxes).

    - A URLAUTH-authorized URL (RFC 4467 §3), which may name any mailbox its own user may
      read: it is authorized by its token and used as URLFETCH would (RFC 4467 §7), not
      by this user's rights (RFC 4469 §3 leaves such URLs to extensions; a URL that
      URLFETCH would answer gives the same data here, so a client can forward data it
      was given a URL for without downloading it). One that does not validate: BadUrl,
      with one text for every reason (as URLFETCH's NIL).

    Anything else — a server, mailbox or search URL — is BadUrl."""
    assert session.user is not None
    try:
        url = parse_url(text)
    except UrlError as exc:
        raise BadUrl(str(exc)) from None
    if url.access is not None:
        info = await authorized_mailbox(session, url)
        if info is None:
            raise BadUrl("URLAUTH-authorized URL did not validate",
                         "URLAUTH-authorized URL not valid here")
        return await locate(session.server.store, info, url, None)
    if url.host is not None:
        if not names_this_server(session, url):
            raise BadUrl(f"host {url.host!r} port {url.port} is not this server's",
                         "URL names another server")
        # RFC 5092 §3.2: without a user name the URL means anonymous access.
        if url.user != session.user.name:
            raise BadUrl(f"user {url.user!r} is not the one logged in",
                         "URL names a user other than the one logged in")
    if not url.is_message or url.mailbox is None:
        raise BadUrl("not a message or message part URL")
    try:
        access = await mailbox_for(session, url.mailbox, "r")
    except CommandFailed as exc:
        raise BadUrl(exc.text) from None
    return await locate(session.server.store, access.info, url, session.viewer)
