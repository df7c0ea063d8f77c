"""FETCH BINARY[section]<partial>, BINARY.PEEK and BINARY.SIZE (RFC 3516 §4.2, §4.3).

The section is located in the stored message like BODY[section] (its part tree), then its
Content-Transfer-Encoding is undone (``crispin.protocol.mime.cte``). The literal's size
must be sent before its bytes, so a part kept in a file is decoded twice, a chunk at a time:
once to count the decoded octets (and look for NUL, which decides between a string and a
literal8, §4.3), once while sending. Memory stays flat whatever the part's size (bench/
binary_fetch.py); a part kept in the database row (at most storage's inline size) is
decoded once, in memory.

Choices the RFC leaves open, as Dovecot makes them:
- ``BINARY[]`` (no part) is the whole message as stored: a message has no transfer encoding
  of its own to undo, only its body parts do; literal8 if it holds a NUL.
- A multipart or message/rfc822 part is returned as stored (its encoding can only be an
  identity one, RFC 2045 §6.4).
- A part that does not exist is NIL for BINARY and 0 for BINARY.SIZE.
- Base64 and quoted-printable are decoded leniently (junk skipped), as for SEARCH.
An encoding the server does not know fails the whole FETCH with ``NO [UNKNOWN-CTE]``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crispin.protocol import BodySection, FetchAttr
from crispin.protocol.mime import find_part, part_tree_from_bytes
from crispin.protocol.mime.cte import Decoder, known
from crispin.server.outcome import CommandFailed, Disconnect
from crispin.storage import BlobFile, MessageRecord

if TYPE_CHECKING:
    from crispin.server.session import Session

log = logging.getLogger("crispin.fetch")

CHUNK = 256 * 1024
# A part in a file up to this many encoded octets is read and decoded in one go.
WHOLE_MAX = 256 * 1024


@dataclass(frozen=True)
class Located:
    """A section's encoded bytes [start, end) in the stored message, and how to decode."""

    start: int
    end: int
    encoding: str
    textual: bool


@dataclass(frozen=True)
class DecodedStream:
    """A literal's payload decoded while it is sent: octets [lo, lo+length) of the decoded
    section."""

    blob: BlobFile
    where: Located
    lo: int
    length: int

    async def send(self, session: Session) -> None:
        channel = session.channel
        sent = 0
        async for piece in _decoded(session, self.blob, self.where, self.lo,
                                    self.lo + self.length):
            channel.write(piece)
            sent += len(piece)
            await channel.pace()
        if sent != self.length:
            # The literal's size is already sent: the response cannot be finished.
            log.error("%s: body file %s changed while being sent", session.peer,
                      self.blob.path)
            raise Disconnect


class BinaryPlan:
    """One BINARY / BINARY.PEEK / BINARY.SIZE item of a FETCH, worked out once per command."""

    def __init__(self, item: BodySection | FetchAttr) -> None:
        self.size_only = isinstance(item, FetchAttr)
        self.part = item.part
        self.needs_tree = bool(item.part)
        spec = ".".join(str(n) for n in item.part).encode()
        if isinstance(item, FetchAttr):
            self.name = b"BINARY.SIZE[" + spec + b"]"
            self.partial: tuple[int, int] | None = None
        else:
            self.name = item.response_name()
            self.partial = item.partial

    def placeholder(self) -> bytes:
        """For a message expunged meanwhile (``fetch_expunged``)."""
        return self.name + (b" 0" if self.size_only else b" NIL")

    def locate(self, rec: MessageRecord) -> Located | None:
        if not self.part:
            return Located(0, rec.size, "binary", False)
        if rec.part_tree is None:
            return None
        target = find_part(part_tree_from_bytes(rec.part_tree), self.part)
        if target is None:
            return None
        encoding = target.encoding.lower() or "7bit"
        if target.is_multipart or target.message is not None:
            encoding = "binary"
        if not known(encoding):
            # RFC 3516 §4.3: MUST fail the request with UNKNOWN-CTE.
            raise CommandFailed(f"Cannot decode Content-Transfer-Encoding {encoding!r} of "
                                f"part {'.'.join(map(str, self.part))}", "UNKNOWN-CTE")
        return Located(target.body_start, target.body_end, encoding,
                       target.media_type.lower() == "text")

    async def pieces(self, session: Session, rec: MessageRecord,
                     body: bytes | BlobFile) -> list[bytes | DecodedStream]:
        where = self.locate(rec)
        if where is None:
            return [self.placeholder()]
        lo, hi = 0, None
        if self.partial is not None:
            lo, count = self.partial
            hi = lo + count
        small = isinstance(body, bytes) or where.end - where.start <= WHOLE_MAX
        if small:
            data = b"".join([p async for p in _decoded(session, body, where, 0, None)])
            if self.size_only:
                return [self.name + b" %d" % len(data)]
            data = data[lo:hi]
            return [self.name + _literal_head(len(data), b"\0" in data), data]
        assert isinstance(body, BlobFile)
        total, nul = await _scan(session, body, where, lo, hi)
        if self.size_only:
            return [self.name + b" %d" % total]
        length = max(0, min(total, hi if hi is not None else total) - lo)
        return [self.name + _literal_head(length, nul), DecodedStream(body, where, lo, length)]


def _literal_head(size: int, nul: bool) -> bytes:
    """RFC 3516 §4.3: a literal8 only when the data holds a NUL; else a plain literal."""
    return b" ~{%d}\r\n" % size if nul else b" {%d}\r\n" % size


async def _encoded(session: Session, body: bytes | BlobFile, where: Located
                   ) -> AsyncIterator[bytes]:
    if isinstance(body, bytes):
        yield body[where.start:where.end]
        return
    store = session.server.store
    pos = where.start
    while pos < where.end:
        chunk = await store.read_blob(body, pos, min(CHUNK, where.end - pos))
        if not chunk:
            return
        yield chunk
        pos += len(chunk)


async def _decoded(session: Session, body: bytes | BlobFile, where: Located, lo: int,
                   hi: int | None) -> AsyncIterator[bytes]:
    """The decoded section's octets [lo, hi), in pieces."""
    decoder = Decoder(where.encoding, where.textual)
    pos = 0

    def clip(out: bytes) -> bytes:
        nonlocal pos
        first, pos = pos, pos + len(out)
        a = max(lo - first, 0)
        b = len(out) if hi is None else max(min(hi - first, len(out)), 0)
        return out[a:b] if a < b else b""

    async for chunk in _encoded(session, body, where):
        if hi is not None and pos >= hi:
            return
        if piece := clip(decoder.feed(chunk)):
            yield piece
    if piece := clip(decoder.finish()):
        yield piece


async def _scan(session: Session, body: BlobFile, where: Located, lo: int,
                hi: int | None) -> tuple[int, bool]:
    """The decoded size of the whole section, and whether [lo, hi) of it holds a NUL."""
    decoder = Decoder(where.encoding, where.textual)
    total = 0
    nul = False

    def look(out: bytes) -> None:
        nonlocal total, nul
        if not nul:
            a = max(lo - total, 0)
            b = len(out) if hi is None else max(min(hi - total, len(out)), 0)
            nul = a < b and out.find(b"\0", a, b) >= 0
        total += len(out)

    async for chunk in _encoded(session, body, where):
        look(decoder.feed(chunk))
    look(decoder.finish())
    return total, nul
