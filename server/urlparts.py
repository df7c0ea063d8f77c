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
from crispin.storage import BlobFile, MailboxInfo, Store

CHUNK = 1024 * 1024


class BadUrl(Exception):
    """The URL cannot be used: NO [BADURL url] (RFC 4469 §4.1). The text says why (for the
    log; the response does not tell a mailbox the user may not see from a missing one)."""


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
    """A CATENATE ``URL`` part (RFC 4469 §3): a relative message or part URL, resolved
    against ``imap://user@server/`` — an absolute-path reference to one of the user's
    mailboxes (RFC 5092 §7.1) that the user may read (RFC 4314 §4: the "r" right).
    Anything else — absolute URLs, other servers or users, URLAUTH, a server, mailbox or
    search URL — is outside RFC 4469's scope, which answers NO: BadUrl."""
    try:
        url = parse_url(text)
    except UrlError as exc:
        raise BadUrl(str(exc)) from None
    if url.absolute or url.host is not None:
        raise BadUrl("only URLs relative to this session are supported (RFC 4469 §3)")
    if url.access is not None:
        raise BadUrl("URLAUTH has no place in CATENATE")
    if not url.is_message or url.mailbox is None:
        raise BadUrl("not a message or message part URL")
    try:
        access = await mailbox_for(session, url.mailbox, "r")
    except CommandFailed as exc:
        raise BadUrl(exc.text) from None
    return await locate(session.server.store, access.info, url, session.viewer)
