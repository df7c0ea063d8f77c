"""The header fetch of a first sync, built in bulk (RFC 3501 §6.4.5; issue 14).

Every client opening a folder asks, for every message, a few plain items and a header
section: Thunderbird ``UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To ...)]``,
others ``BODY.PEEK[HEADER]`` or ``HEADER.FIELDS.NOT``. Such a FETCH reads no body: storage
hands out plain rows (UID, flag bits, size, the stored header block: ``header_reads.py``),
the field list is one compiled pattern for the whole command
(``crispin.protocol.mime.field_select``), and each response line is one ``%`` format of a
template made once per command; the lines of a batch go out in one write while the next
batch is read on a database thread, and other sessions get the event loop every few
milliseconds (``Channel.slice_over``).

Filtering every header block is the largest cost left (a regex scan of ~650 bytes per
message), and the answer never changes for a message: a FETCH of many messages with one
HEADER.FIELDS[.NOT] section keeps what it selected (``header_selections``, migration 19,
written in the background after the batches that made them), and the next one with the
same field list reads those bytes instead of the header block.

What the general path (``fetch.py``) answers is answered here byte for byte
(``tests/server/test_fetch_headers.py`` compares the two); anything else — a section that
sets \\Seen, a part number, CHANGEDSINCE, other items — goes the general way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from operator import itemgetter

from crispin.protocol import BodySection, FetchAttr, FetchItem
from crispin.protocol.mime.field_select import FieldSelector
from crispin.server.commands.fetch_batches import in_uid_order, read_ahead
from crispin.server.commands.fetch_expunged import expunged_items, expunged_states
from crispin.server.sections import SectionPlan
from crispin.server.session import Session
from crispin.server.view import View
from crispin.storage import BlobFile, MessageState, StorageError, Store, flag_names

log = logging.getLogger("crispin.fetch")

# Messages per database read and per write: ~1 KB of header each; formatting gives way to
# other sessions every few milliseconds (``Channel.slice_over``; bench/README.md "Opening a
# big folder").
BATCH = 500
PLAIN = frozenset({"UID", "FLAGS", "RFC822.SIZE", "MODSEQ"})
SECTIONS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT"})
# A FETCH of at least this many messages (a folder's first sync) keeps its selections; a
# smaller one (new mail) costs no write. They are written KEEP_WRITE at a time.
KEEP_MIN = 1000
KEEP_WRITE = 5000
# The per-message values a template picks from: (n, uid, size, flags, modseq, then the
# length and bytes of each section).
_PLAIN_AT = {"UID": (b"UID %d", 1), "RFC822.SIZE": (b"RFC822.SIZE %d", 2),
             "FLAGS": (b"FLAGS (%s)", 3), "MODSEQ": (b"MODSEQ (%d)", 4)}
_keeping: set[asyncio.Task[None]] = set()

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

    def select(self, header: bytes) -> bytes:
        return header if self.selector is None else self.selector.select(header)

    def cut(self, data: bytes) -> bytes:
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
    sections = [_Section(i) for i in items if isinstance(i, BodySection)]
    plans = [i if isinstance(i, FetchAttr) else SectionPlan(i) for i in items]
    # The line as one template: "* %d FETCH (UID %d ... BODY[...] {%d}\r\n%s)\r\n".
    templates: list[bytes] = []
    at: list[int] = [0]
    k = 0
    for item in items:
        if isinstance(item, FetchAttr):
            template, index = _PLAIN_AT[item.name]
            templates.append(template)
            at.append(index)
        else:
            templates.append(sections[k].name + b" {%d}\r\n%s")
            at += [5 + 2 * k, 6 + 2 * k]
            k += 1
    line = b"* %d FETCH (" + b" ".join(templates) + b")\r\n"
    pick = itemgetter(*at)
    # One field list, HEADER.FIELDS[.NOT]: its selections are read where kept, and kept.
    only = sections[0] if len(sections) == 1 else None
    fields = only.selector.key if only is not None and only.selector is not None else None
    keep = fields is not None and len(live) >= KEEP_MIN
    fresh: list[tuple[int, bytes, int]] = []
    texts = [" ".join(flag_names(bits, "")).encode() for bits in range(32)]
    keyword_texts: dict[tuple[int, str], bytes] = {}
    recent = view.recent
    live = in_uid_order(live)
    if channel.slice_over():
        await channel.give_way()

    async def read(batch: list[tuple[int, int]]) -> list[tuple]:  # type: ignore[type-arg]
        rows: list[tuple] = await store.header_rows(  # type: ignore[type-arg]
            view.mailbox_id, [u for _, u in batch], viewer=session.viewer, fields=fields)
        for i, row in enumerate(rows):
            if row[8] is not None:
                # A body in a file stored before migration 13, not backfilled yet.
                header = await store.read_blob(BlobFile(store.data_dir / row[8]), 0, row[9])
                rows[i] = (*row[:5], header, *row[6:])
        return rows

    batches = [live[k:k + BATCH] for k in range(0, len(live), BATCH)]
    missing = False
    async with read_ahead(batches, read) as pairs:
        async for batch, rows in pairs:
            if len(rows) == len(batch):
                # Every message is there (rows are of the batch's UIDs, both ascending).
                found = zip(batch, rows, strict=True)
                expunged: dict[int, MessageState] = {}
            else:
                by_uid = {r[0]: r for r in rows}
                found = ((pair, by_uid.get(pair[1])) for pair in batch)  # type: ignore[assignment]
                expunged = {} if not answer_expunged else await expunged_states(
                    session, view, [u for _, u in batch if u not in by_uid])
            out: list[bytes] = []
            for i, ((n, uid), row) in enumerate(found):
                if not i & 15 and channel.slice_over():
                    # Let other sessions' commands and database replies in (issue 14:
                    # another session's NOOP waited for whole slices of this loop).
                    await channel.give_way()
                if row is None:
                    if answer_expunged:  # expunged by another session
                        known, lost = expunged_items(view, uid, expunged.get(uid), plans)
                        missing = missing or lost
                        out.append(b"* %d FETCH (%s)\r\n" % (n, b" ".join(known)))
                    continue
                _, bits, keywords, modseq, size, header, selected = row[:7]
                if keywords:
                    flags = keyword_texts.get((bits, keywords))
                    if flags is None:
                        flags = keyword_texts[(bits, keywords)] = " ".join(
                            flag_names(bits, keywords)).encode()
                else:
                    flags = texts[bits & 31]
                if uid in recent:
                    flags = flags + b" \\Recent" if flags else b"\\Recent"
                values: list[object] = [n, uid, size, flags, modseq]
                for section in sections:
                    if section is only and selected is not None:
                        data = selected
                    else:
                        data = section.select(header)
                        if keep and section is only:
                            fresh.append((row[7], data, size))
                    data = section.cut(data)
                    values += [len(data), data]
                out.append(line % pick(values))
            channel.write(b"".join(out))
            await channel.flush()
            if len(fresh) >= KEEP_WRITE:
                _keep(store, fields, fresh)
                fresh = []
    if fresh:
        _keep(store, fields, fresh)
    return missing


def _keep(store: Store, fields: str | None, rows: list[tuple[int, bytes, int]]) -> None:
    """Store selections in the background: the answer does not wait for them, and a
    failure costs only the next fetch's speed."""
    assert fields is not None

    async def write() -> None:
        try:
            await store.store_header_selections(fields, rows)
        except StorageError as exc:
            log.warning("keeping header selections failed: %r", exc)

    task = asyncio.get_running_loop().create_task(write())
    _keeping.add(task)
    task.add_done_callback(_keeping.discard)
