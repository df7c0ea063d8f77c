"""The header fetch of a first sync, built in bulk (RFC 3501 §6.4.5; issue 14).

Every client opening a folder asks, for every message, a few plain items and a header
section: Thunderbird ``UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To ...)]``,
others ``BODY.PEEK[HEADER]`` or ``HEADER.FIELDS.NOT``. Such a FETCH reads no body: storage
hands out plain rows (UID, flag bits, size, the stored header block: ``header_reads.py``),
the field list is one compiled pattern for the whole command
(``crispin.protocol.mime.field_select``), and each response line is one ``%`` format; the
lines of a batch go out in one write while the next batch is read on a database thread,
and other sessions get the event loop every few milliseconds (``Channel.slice_over``).

What the general path (``fetch.py``) answers is answered here byte for byte
(``tests/server/test_fetch_headers.py`` compares the two); anything else — a section that
sets \\Seen, a part number, CHANGEDSINCE, other items — goes the general way.
"""

from __future__ import annotations

from collections.abc import Sequence

from crispin.protocol import BodySection, FetchAttr, FetchItem
from crispin.protocol.mime.field_select import FieldSelector
from crispin.server.commands.fetch_batches import in_uid_order, read_ahead
from crispin.server.commands.fetch_expunged import expunged_items, expunged_states
from crispin.server.sections import SectionPlan
from crispin.server.session import Session
from crispin.server.view import View
from crispin.storage import BlobFile, MessageState, flag_names

# Messages per database read and per write: ~1 KB of header each; formatting gives way to
# other sessions every few milliseconds (``Channel.slice_over``; bench/README.md "Opening a
# big folder").
BATCH = 500
PLAIN = frozenset({"UID", "FLAGS", "RFC822.SIZE", "MODSEQ"})
SECTIONS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT"})


def bulk_fetchable(items: Sequence[FetchItem]) -> bool:
    """Whether ``items`` are plain items and top-level header sections that do not set
    \\Seen (``BODY.PEEK``), with at least one section."""
    sections = 0
    for item in items:
        if isinstance(item, FetchAttr):
            if item.name not in PLAIN:
                return False
        elif item.part or item.text not in SECTIONS or not item.peek or item.binary:
            return False
        else:
            sections += 1
    return sections > 0


class _Section:
    """One header section: its response name and how to cut its bytes from the block."""

    def __init__(self, item: BodySection) -> None:
        self.name = item.response_name()
        self.selector = None if item.text == "HEADER" else FieldSelector(
            item.fields, item.text == "HEADER.FIELDS.NOT")
        self.partial = item.partial

    def data(self, header: bytes) -> bytes:
        data = header if self.selector is None else self.selector.select(header)
        if self.partial is not None:
            # RFC 3501 §6.4.5 <origin.octets>, after the fields were selected.
            origin, count = self.partial
            data = data[origin:origin + count]
        return data


async def fetch_headers(session: Session, view: View, live: list[tuple[int, int]],
                        items: list[FetchItem], answer_expunged: bool) -> bool:
    """Answer ``live`` ((msn, uid) pairs) in UID order; a message expunged by another
    session is answered from its tombstone (RFC 2180 §4.1). True if data was missing."""
    store = session.server.store
    channel = session.channel
    kinds: list[str | _Section] = [
        i.name if isinstance(i, FetchAttr) else _Section(i) for i in items]
    plans = [i if isinstance(i, FetchAttr) else SectionPlan(i) for i in items]
    texts: dict[tuple[int, str], bytes] = {}
    recent = view.recent
    live = in_uid_order(live)
    if channel.slice_over():
        await channel.give_way()

    def flags_text(uid: int, bits: int, keywords: str) -> bytes:
        text = texts.get((bits, keywords))
        if text is None:
            text = texts[(bits, keywords)] = " ".join(flag_names(bits, keywords)).encode()
        if uid in recent:
            return b"(" + text + b" \\Recent)" if text else b"(\\Recent)"
        return b"(" + text + b")"

    async def read(batch: list[tuple[int, int]]) -> dict[int, tuple[int, int, str, int,
                                                                   bytes]]:
        rows = await store.header_rows(view.mailbox_id, [u for _, u in batch],
                                       viewer=session.viewer)
        out = {}
        for uid, bits, keywords, modseq, size, header, path, header_size in rows:
            if header is None:
                assert path is not None
                # A body in a file stored before migration 13, not backfilled yet.
                header = await store.read_blob(BlobFile(store.data_dir / path), 0,
                                               header_size)
            out[uid] = (size, bits, keywords, modseq, header)
        return out

    batches = [live[k:k + BATCH] for k in range(0, len(live), BATCH)]
    missing = False
    async with read_ahead(batches, read) as pairs:
        async for batch, found in pairs:
            expunged: dict[int, MessageState] = {} if not answer_expunged else \
                await expunged_states(session, view, [u for _, u in batch if u not in found])
            out: list[bytes] = []
            for i, (n, uid) in enumerate(batch):
                if not i & 15 and channel.slice_over():
                    # Let other sessions' commands and database replies in (issue 14:
                    # another session's NOOP waited for whole slices of this loop).
                    await channel.give_way()
                row = found.get(uid)
                if row is None:
                    if answer_expunged:  # expunged by another session
                        known, lost = expunged_items(view, uid, expunged.get(uid), plans)
                        missing = missing or lost
                        out.append(b"* %d FETCH (%s)\r\n" % (n, b" ".join(known)))
                    continue
                size, bits, keywords, modseq, header = row
                parts: list[bytes] = []
                for kind in kinds:
                    if kind == "UID":
                        parts.append(b"UID %d" % uid)
                    elif kind == "FLAGS":
                        parts.append(b"FLAGS " + flags_text(uid, bits, keywords))
                    elif kind == "RFC822.SIZE":
                        parts.append(b"RFC822.SIZE %d" % size)
                    elif kind == "MODSEQ":
                        parts.append(b"MODSEQ (%d)" % modseq)
                    else:
                        assert isinstance(kind, _Section)
                        data = kind.data(header)
                        parts.append(b"%s {%d}\r\n%s" % (kind.name, len(data), data))
                out.append(b"* %d FETCH (%s)\r\n" % (n, b" ".join(parts)))
            channel.write(b"".join(out))
            await channel.flush()
    return missing
