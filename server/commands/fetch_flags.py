"""FETCH of UID, FLAGS and MODSEQ only: what every client sends to resynchronise a folder
(RFC 3501 §6.4.5, RFC 7162 §3.1.4.1), so it is built in bulk (issue 14).

Flags come from storage as plain rows over a UID range, the text of each distinct flag set is
made once per command, and each response line is one ``%`` format into bytes: no
per-message Python objects and no generic serializer. The lines of a batch go out in one
write; the next batch is read on a database thread while this one is formatted, and the
event loop is yielded between batches, so a 100,000-message answer never holds it long.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from itertools import chain

from crispin.protocol import FetchAttr, FetchItem
from crispin.server.commands.fetch_expunged import expunged_states
from crispin.server.session import Session
from crispin.server.view import View
from crispin.storage import MailboxIndex, MessageState, flag_names

FLAGS_BATCH = 5000
# A range read pays for every message between the lowest and highest UID asked for; when
# the set is sparser than this (e.g. "1,100000"), the UIDs are looked up one by one instead.
DENSE = 2
_TEMPLATES = {"UID": b"UID %d", "FLAGS": b"FLAGS (%s)", "MODSEQ": b"MODSEQ (%d)"}


async def fetch_flags(session: Session, view: View, live: list[tuple[int, int]],
                      items: list[FetchItem], changedsince: int | None,
                      answer_expunged: bool) -> bool:
    """Answer ``live`` ((msn, uid) pairs). A message expunged by another session is
    answered from its tombstone (RFC 2180 §4.1); True if one had none left."""
    names = [i.name for i in items if isinstance(i, FetchAttr)]
    line = b"* %d FETCH (" + b" ".join(_TEMPLATES[n] for n in names) + b")\r\n"
    store = session.server.store
    channel = session.channel
    texts: dict[tuple[int, str], bytes] = {}
    recent = view.recent

    def flags_text(bits: int, keywords: str) -> bytes:
        text = texts.get((bits, keywords))
        if text is None:
            text = texts[(bits, keywords)] = " ".join(flag_names(bits, keywords)).encode()
        return text

    def format_line(n: int, uid: int, flags: bytes, modseq: int) -> bytes:
        if uid in recent:
            flags = flags + b" \\Recent" if flags else b"\\Recent"
        args: list[int | bytes] = [n]
        for name in names:
            args.append(uid if name == "UID" else flags if name == "FLAGS" else modseq)
        return line % tuple(args)

    if changedsince is not None:
        # RFC 7162 §3.1.4.1: only what changed, read through the modseq index rather than
        # every message of the set (a resync of a 100,000-message mailbox).
        changes = await store.changes_since(view.mailbox_id, changedsince,
                                            viewer=session.viewer)
        wanted = {uid: n for n, uid in live}
        for m in changes.updated:
            n = wanted.get(m.uid)
            if n is not None:
                channel.write(format_line(n, m.uid, " ".join(m.flags).encode(), m.modseq))
        return False

    if "MODSEQ" not in names:
        index = await store.mailbox_index(view.mailbox_id, viewer=session.viewer)
        if index.uids is view.uids:
            await _from_index(session, index, live, names, line, flags_text)
            return False

    async def read(batch: list[tuple[int, int]]) -> dict[int, tuple[bytes, int]]:
        uids = [u for _, u in batch]
        low, high = min(uids), max(uids)
        if high - low < DENSE * len(uids):
            rows = await store.flag_rows(view.mailbox_id, low, high, viewer=session.viewer)
            return {r[0]: (flags_text(r[1], r[2]), r[3]) for r in rows}
        states = await store.flag_records(view.mailbox_id, uids, viewer=session.viewer)
        return {s.uid: (" ".join(s.flags).encode(), s.modseq) for s in states}

    batches = [live[k:k + FLAGS_BATCH] for k in range(0, len(live), FLAGS_BATCH)]
    gone = False
    pending = asyncio.ensure_future(read(batches[0])) if batches else None
    try:
        for k, batch in enumerate(batches):
            assert pending is not None
            found = await pending
            pending = asyncio.ensure_future(read(batches[k + 1])) \
                if k + 1 < len(batches) else None
            expunged: dict[int, MessageState] = {} if not answer_expunged else \
                await expunged_states(session, view, [u for _, u in batch if u not in found])
            out: list[bytes] = []
            for n, uid in batch:
                got = found.get(uid)
                if got is None:
                    if not answer_expunged:
                        continue
                    state = expunged.get(uid)
                    if state is None:
                        gone = True  # expunged, and its tombstone compacted away
                        state = MessageState(uid, (), view.modseq)
                    got = (" ".join(state.flags).encode(), state.modseq)
                out.append(format_line(n, uid, got[0], got[1]))
            channel.write(b"".join(out))
            await channel.flush()
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
    return gone


async def _from_index(session: Session, index: MailboxIndex, live: list[tuple[int, int]],
                      names: list[str], line: bytes,
                      flags_text: Callable[[int, str], bytes]) -> None:
    """``FETCH (UID FLAGS)`` from the shared index, brought up to date by the caller, when
    the view's numbers are the index's positions (its UID array is the index's: nothing
    added or removed since). A run of consecutive numbers is formatted in one ``%`` of
    the line repeated (C, not a Python loop per message); the few messages with keywords
    or \\Recent get their own text."""
    view = session.view
    assert view is not None
    channel = session.channel
    by_bits = [flags_text(bits, "") for bits in range(32)]
    special = set(index.keywords_of) | view.recent
    for start in range(0, len(live), FLAGS_BATCH):
        batch = live[start:start + FLAGS_BATCH]
        first = batch[0][0]
        runs = [batch]
        if [n for n, _ in batch] != list(range(first, first + len(batch))):
            runs = [[pair] for pair in batch]  # not one run: one message at a time
        for run in runs:
            lo = run[0][0] - 1
            hi = lo + len(run)
            texts = [by_bits[b & 31] for b in index.flags[lo:hi]]
            if special:
                for k, uid in enumerate(index.uids[lo:hi]):
                    if uid in special:
                        text = flags_text(index.flags[lo + k],
                                          index.keywords_of.get(uid, ""))
                        if uid in view.recent:
                            text = text + b" \\Recent" if text else b"\\Recent"
                        texts[k] = text
            columns: list[Iterable[object]] = [range(lo + 1, hi + 1)]
            columns += [index.uids[lo:hi] if n == "UID" else texts for n in names]
            values = tuple(chain.from_iterable(zip(*columns, strict=True)))
            channel.write((line * len(run)) % values)
        await channel.flush()
