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
from bisect import bisect_left
from collections.abc import Callable, Sequence
from itertools import chain

from crispin.protocol import FetchAttr, FetchItem
from crispin.server.access import Folded
from crispin.server.commands.fetch_expunged import expunged_states
from crispin.server.number_text import message_numbers, uid_text
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
                      answer_expunged: bool, fold: Folded | None = None) -> bool:
    """Answer ``live`` ((msn, uid) pairs). A message expunged by another session is
    answered from its tombstone (RFC 2180 §4.1); True if one had none left. ``fold``:
    the access recheck comes with the first batch's rows and the sync's changes with the
    last's (one trip for a mailbox of up to FLAGS_BATCH messages; issue 14), applied
    before the batch is answered."""
    names = [i.name for i in items if isinstance(i, FetchAttr)]
    line = b"* %d FETCH (" + b" ".join(_TEMPLATES[n] for n in names) + b")\r\n"
    store = session.server.store
    channel = session.channel
    recent = view.recent
    flags_text = flag_text_cache()

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

    async def read(batch: list[tuple[int, int]], last: bool) -> dict[int, tuple[bytes, int]]:
        uids = [u for _, u in batch]
        low, high = min(uids), max(uids)
        mailbox, viewer = view.mailbox_id, session.viewer
        if high - low < DENSE * len(uids):
            if fold is None:
                rows = await store.flag_rows(mailbox, low, high, viewer=viewer)
            else:
                rows = await fold.read(lambda also: store.flag_rows_with(
                    mailbox, low, high, also, viewer=viewer), last)
            return {r[0]: (flags_text(r[1], r[2]), r[3]) for r in rows}
        if fold is None:
            states = await store.flag_records(mailbox, uids, viewer=viewer)
        else:
            states = await fold.read(lambda also: store.flag_records_with(
                mailbox, uids, also, viewer=viewer), last)
        return {s.uid: (" ".join(s.flags).encode(), s.modseq) for s in states}

    batches = [live[k:k + FLAGS_BATCH] for k in range(0, len(live), FLAGS_BATCH)]
    gone = False
    pending = asyncio.ensure_future(read(batches[0], len(batches) == 1)) if batches else None
    try:
        for k, batch in enumerate(batches):
            assert pending is not None
            found = await pending
            pending = asyncio.ensure_future(read(batches[k + 1], k + 2 == len(batches))) \
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
            if channel.slice_over():  # issue 14: other sessions get the loop meanwhile
                await channel.give_way()
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
    return gone


def flag_text_cache() -> Callable[[int, str], bytes]:
    """``flags_text(bits, keywords)``: the FLAGS text of each distinct flag set made once."""
    texts: dict[tuple[int, str], bytes] = {}

    def flags_text(bits: int, keywords: str) -> bytes:
        text = texts.get((bits, keywords))
        if text is None:
            text = texts[(bits, keywords)] = " ".join(flag_names(bits, keywords)).encode()
        return text

    return flags_text


async def fetch_flags_from_index(session: Session, view: View, runs: list[tuple[int, int]],
                                 items: list[FetchItem], fold: Folded | None = None) -> bool:
    """``FETCH (UID FLAGS)`` (no MODSEQ) of the positions ``runs`` from the shared index,
    brought up to date first, when the view's numbers are the index's positions (its UID
    array is the index's: nothing added or removed since, so no ghost either). False when
    they are not (the caller answers from rows). ``fold``: the access recheck and the
    sync's changes read with the index (issue 14)."""
    names = [i.name for i in items if isinstance(i, FetchAttr)]
    store = session.server.store
    known = store.cached_index(view.mailbox_id, viewer=session.viewer)
    if known is None or known.uids is not view.uids:
        # Messages came or went since the view was made (the index kept now is not the
        # one it shares), and bringing it up to date never gives back the view's array:
        # the read would be wasted (bench/README.md "Mixed load").
        return False
    if fold is None:
        index = await store.mailbox_index(view.mailbox_id, viewer=session.viewer)
    else:
        index = await fold.read(lambda also: store.mailbox_index_with(
            view.mailbox_id, also, viewer=session.viewer))
    if index.uids is not view.uids:
        return False
    await _from_index(session, view, index, runs, names)
    return True


async def _from_index(session: Session, view: View, index: MailboxIndex,
                      runs: list[tuple[int, int]], names: list[str]) -> None:
    """Each line is pieces joined (``_Layout``): message numbers and UIDs are slices of
    text written once (``number_text``), split; the flags with the constant text around
    them come from a table by flag byte; only messages with keywords or \\Recent get
    their own text. FLAGS_BATCH lines per write, and the event loop is yielded between
    writes, so other sessions run meanwhile (issue 14: no 50 ms hold)."""
    channel = session.channel
    flags_text = flag_text_cache()
    layout = _Layout(names)
    tables = [layout.table(k, flags_text) for k in range(layout.flag_columns)]
    uids = index.uids
    uid_numbers = uid_text(uids)
    numbers = message_numbers(len(uids))
    recent = view.recent
    # Positions whose flags text is not their system bits' alone, ascending.
    special = sorted({i for u in chain(index.keywords_of, recent)
                      if (i := _position(uids, u)) is not None})
    for a, b in runs:
        for lo in range(a, b, FLAGS_BATCH):
            hi = min(b, lo + FLAGS_BATCH)
            columns: list[Sequence[bytes]] = []
            for kind, value in layout.columns:
                if kind == "N":
                    columns.append(numbers.slice(lo, hi).split())
                elif kind == "U":
                    columns.append(uid_numbers.slice(lo, hi).split())
                elif kind == "F":
                    columns.append(list(map(tables[value].__getitem__, index.flags[lo:hi])))
                else:
                    columns.append(layout.consts[value])
            for i in special[bisect_left(special, lo):bisect_left(special, hi)]:
                uid = uids[i]
                text = flags_text(index.flags[i], index.keywords_of.get(uid, ""))
                if uid in recent:
                    text = text + b" \\Recent" if text else b"\\Recent"
                for k, (kind, value) in enumerate(layout.columns):
                    if kind == "F":
                        column = columns[k]
                        assert isinstance(column, list)
                        column[i - lo] = layout.around(value, text)
            channel.write(layout.join(columns, hi - lo))
            await channel.flush()
            if channel.slice_over():  # issue 14: other sessions get the loop meanwhile
                await channel.give_way()


def _position(uids: Sequence[int], uid: int) -> int | None:
    i = bisect_left(uids, uid)
    return i if i < len(uids) and uids[i] == uid else None


class _Layout:
    """``* n FETCH (UID u FLAGS (...))\\r\\n`` for the items asked, in their order, cut
    into columns: the message number ("N"), the UID ("U"), each FLAGS item ("F": the
    constant text on either side merged into its table entries) and the constant text
    left between two numbers ("C"). A batch's lines are its columns interleaved (a list
    filled by slice assignment) and joined once: C loops, not one per message."""

    def __init__(self, names: list[str]) -> None:
        tokens: list[tuple[str, bytes]] = [("C", b"* "), ("N", b""), ("C", b" FETCH (")]
        for k, name in enumerate(names):
            if k:
                tokens.append(("C", b" "))
            tokens += [("C", b"UID "), ("U", b"")] if name == "UID" else \
                [("C", b"FLAGS ("), ("F", b""), ("C", b")")]
        tokens.append(("C", b")\r\n"))
        seq: list[tuple[str, bytes]] = []
        for kind, text in tokens:
            if kind == "C" and seq and seq[-1][0] == "C":
                seq[-1] = ("C", seq[-1][1] + text)
            else:
                seq.append((kind, text))
        self.columns: list[tuple[str, int]] = []
        self.wraps: list[tuple[bytes, bytes]] = []
        self.consts: list[list[bytes]] = []
        for k, (kind, text) in enumerate(seq):
            before_f = k + 1 < len(seq) and seq[k + 1][0] == "F"
            after_f = k > 0 and seq[k - 1][0] == "F"
            if kind == "C" and not (before_f or after_f):
                self.columns.append(("C", len(self.consts)))
                self.consts.append([text] * FLAGS_BATCH)
            elif kind == "F":
                before = seq[k - 1][1] if k and seq[k - 1][0] == "C" and not (
                    k > 1 and seq[k - 2][0] == "F") else b""
                after = seq[k + 1][1] if k + 1 < len(seq) and seq[k + 1][0] == "C" else b""
                self.columns.append(("F", len(self.wraps)))
                self.wraps.append((before, after))
            elif kind != "C":
                self.columns.append((kind, 0))
        self.flag_columns = len(self.wraps)

    def around(self, column: int, text: bytes) -> bytes:
        before, after = self.wraps[column]
        return before + text + after

    def table(self, column: int, flags_text: Callable[[int, str], bytes]) -> list[bytes]:
        """The text of FLAGS column ``column`` for each system flag byte."""
        return [self.around(column, flags_text(bits & 31, "")) for bits in range(256)]

    def join(self, columns: list[Sequence[bytes]], count: int) -> bytes:
        width = len(columns)
        parts: list[bytes] = [b""] * (width * count)
        for k, column in enumerate(columns):
            parts[k::width] = column[:count] if len(column) != count else column
        return b"".join(parts)
