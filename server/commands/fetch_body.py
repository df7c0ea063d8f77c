"""One FETCH response on the wire, bodies included, with memory bounded by bytes.

Issue 10.2: a FETCH of many large messages used to hold whole bodies, batch after batch,
each copied several times on its way out. Here a message's data items are built as pieces:
ready bytes, or a :class:`Stream` for a literal larger than ``STREAM_MIN`` kept in a file,
which goes out in ``CHUNK`` reads, each paced by the client's reading (back-pressure,
``Channel.pace``). A body kept in the database is at most ``storage``'s inline size and
comes with its batch; a body in a file is read only over the span the item asks for
(issue 10.3: ``BODY.PEEK[]<n.65536>`` reads 64 KiB).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from crispin.protocol import FetchAttr, format_datetime
from crispin.server.binary import BinaryPlan, DecodedStream
from crispin.server.commands.fetch_attrs import AttrPlan, Batch
from crispin.server.commands.fetch_structure import differs_in_rev2, rev2_structure
from crispin.server.sections import SectionPlan
from crispin.server.session import Disconnect, Session
from crispin.server.view import View
from crispin.storage import BlobFile, MessageRecord

log = logging.getLogger("crispin.fetch")

# A literal from a file above this size is streamed; below it, read in one go.
STREAM_MIN = 256 * 1024
CHUNK = 256 * 1024

Body = bytes | BlobFile


@dataclass(frozen=True)
class Stream:
    """``length`` bytes of ``blob`` from ``start``, to be sent as a literal's payload."""

    blob: BlobFile
    start: int
    length: int


Piece = bytes | Stream | DecodedStream


def _rfc822_span(name: str, rec: MessageRecord) -> tuple[int, int]:
    if name == "RFC822":
        return 0, rec.size
    if name == "RFC822.HEADER":
        return 0, rec.header_size
    return rec.header_size, rec.size  # RFC822.TEXT


async def _content(session: Session, body: Body, start: int, end: int) -> bytes | Stream:
    if isinstance(body, bytes):
        return body[start:end]
    if end - start > STREAM_MIN:
        return Stream(body, start, end - start)
    return await session.server.store.read_blob(body, start, end - start)


def _literal(name: bytes, content: bytes | Stream | None) -> list[Piece]:
    if content is None:
        return [name + b" NIL"]
    size = content.length if isinstance(content, Stream) else len(content)
    return [name + b" {%d}\r\n" % size, content]


async def item_pieces(session: Session, view: View, rec: MessageRecord,
                      flags: tuple[str, ...], modseq: int, body: Body | None,
                      items: Sequence[FetchAttr | SectionPlan | BinaryPlan | AttrPlan],
                      extra: Batch | None = None) -> list[list[Piece]]:
    """The FETCH data items of one message, each a list of pieces: 100,000 of these go
    out in a first sync, so they are written directly rather than through the generic
    serializer (every value here is a number, a literal, prepared bytes or a flag atom)."""
    out: list[list[Piece]] = []
    rev2: tuple[bytes, bytes] | None = None  # BODYSTRUCTURE and BODY in the rev2 form
    for item in items:
        if isinstance(item, BinaryPlan):  # RFC 3516, crispin.server.binary
            assert body is not None
            out.append(list(await item.pieces(session, rec, body)))
            continue
        if isinstance(item, AttrPlan):  # RFC 8474, crispin.server.commands.fetch_attrs
            out.append([item.piece(rec, extra or {})])
            continue
        if isinstance(item, SectionPlan):
            assert body is not None
            span = item.span(rec)
            content: bytes | Stream | None = None
            if span is not None:
                start, end, filt = span
                if filt is not None:
                    header = await _content(session, body, start, end)
                    assert isinstance(header, bytes)  # a header is read whole
                    content = item.finish(header, filt)
                else:
                    start, end = item.clip(start, end)
                    content = await _content(session, body, start, end)
            out.append(_literal(bytes(item.name), content))
            continue
        name = item.name
        if name == "UID":
            out.append([b"UID %d" % rec.uid])
        elif name == "MODSEQ":
            out.append([b"MODSEQ (%d)" % modseq])
        elif name == "FLAGS":
            out.append([b"FLAGS " + view.flags_bytes(rec.uid, flags)])
        elif name == "INTERNALDATE":
            out.append([b'INTERNALDATE "%s"' % format_datetime(rec.internaldate).encode()])
        elif name == "RFC822.SIZE":
            out.append([b"RFC822.SIZE %d" % rec.size])
        elif name == "ENVELOPE":
            out.append([b"ENVELOPE " + rec.envelope])
        elif name in ("BODYSTRUCTURE", "BODY"):
            if session.rev2 and differs_in_rev2(rec):  # message/global, fetch_structure
                rev2 = rev2 or await rev2_structure(session, view, rec, body)
                structure, simple = rev2
            else:
                structure, simple = rec.bodystructure, rec.body_simple
            out.append([b"BODYSTRUCTURE " + structure if name == "BODYSTRUCTURE"
                        else b"BODY " + simple])
        else:
            assert body is not None
            start, end = _rfc822_span(name, rec)
            out.append(_literal(name.encode(), await _content(session, body, start, end)))
    return out


async def send_fetch(session: Session, n: int, items: list[list[Piece]]) -> None:
    """``* n FETCH (items)``: small items joined, file literals streamed chunk by chunk."""
    channel = session.channel
    pieces: list[Piece] = []
    for i, item in enumerate(items):
        if i:
            pieces.append(b" ")
        pieces += item
    if all(isinstance(p, bytes) for p in pieces):
        channel.write(b"* %d FETCH (%s)\r\n" % (n, b"".join(
            p for p in pieces if isinstance(p, bytes))))
        await channel.pace()
        return
    channel.write(b"* %d FETCH (" % n)
    for piece in pieces:
        if isinstance(piece, bytes):
            channel.write(piece)
        elif isinstance(piece, DecodedStream):
            await piece.send(session)
        else:
            await _stream(session, piece)
    channel.write(b")\r\n")
    await channel.pace()


async def _stream(session: Session, stream: Stream) -> None:
    channel = session.channel
    store = session.server.store
    pos, left = stream.start, stream.length
    while left:
        chunk = await store.read_blob(stream.blob, pos, min(CHUNK, left))
        if not chunk:
            # The literal's size is already sent: the response cannot be finished.
            log.error("%s: body file %s shorter than recorded", session.peer,
                      stream.blob.path)
            raise Disconnect
        channel.write(chunk)
        await channel.pace()
        pos += len(chunk)
        left -= len(chunk)
