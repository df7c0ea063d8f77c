"""FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8, §7.4.2).

Everything but body sections comes ready from storage (ENVELOPE and BODYSTRUCTURE were
serialised at APPEND); bodies are loaded in batches bounded by count and by bytes, and only
the header when the items ask for nothing more (the header fetch every client does on first
sync). Bodies kept in files are not loaded with the batch: ``fetch_body`` reads the span each
item needs and streams large literals under back-pressure (issue 10.2, 10.3).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from crispin.protocol import (
    Atom,
    BodySection,
    DataResponse,
    Fetch,
    FetchAttr,
    FetchItem,
    PartialRange,
    Raw,
)
from crispin.server.access import (
    Folded,
    apply_access,
    current_rights,
    recheck,
    require_selected,
    session_key,
)
from crispin.server.binary import BinaryPlan
from crispin.server.commands.fetch_ahead import one_uid, read_one, take
from crispin.server.commands.fetch_attrs import ITEMS as ATTR_ITEMS
from crispin.server.commands.fetch_attrs import AttrPlan, Batch, read_batch
from crispin.server.commands.fetch_batches import in_uid_order
from crispin.server.commands.fetch_body import Body, item_pieces, send_fetch
from crispin.server.commands.fetch_expunged import expunged_items, expunged_states
from crispin.server.commands.fetch_flags import fetch_flags, fetch_flags_from_index
from crispin.server.commands.fetch_headers import bulk_fetchable, fetch_headers
from crispin.server.flags import SEEN
from crispin.server.outcome import CommandFailed, Result
from crispin.server.sections import SectionPlan
from crispin.server.session import Session
from crispin.server.sets import compact_set
from crispin.server.view import InvalidSequence, View
from crispin.storage import MessageRecord

BATCH = 500
# Bodies read from the database per batch (each at most storage's inline size); bodies in
# files are streamed and do not count (issue 10.2).
BATCH_BYTES = 4 * 1024 * 1024
FETCH = Atom("FETCH")
# FETCH of flags only (what every client does to resynchronise) reads no blobs and can
# take far bigger batches.
FLAGS_BATCH = 5000
FLAG_ITEMS = frozenset({"UID", "FLAGS", "MODSEQ"})
STRUCTURE_ITEMS = frozenset({"ENVELOPE", "BODYSTRUCTURE", "BODY"})
SIMPLE_ITEMS = frozenset({"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE",
                          "BODYSTRUCTURE", "BODY", "RFC822", "RFC822.HEADER", "RFC822.TEXT",
                          "MODSEQ", "BINARY.SIZE"})
HEADER_TEXTS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT"})


def check_items(items: Sequence[FetchItem]) -> None:
    for item in items:
        if isinstance(item, FetchAttr) and item.name not in SIMPLE_ITEMS \
                and item.name not in ATTR_ITEMS:
            raise CommandFailed(f"FETCH item {item.name} is not supported", status="BAD")


def _body_need(items: Sequence[FetchItem]) -> str | None:
    """None: no body needed; "header": the top-level header suffices; "full"."""
    need: str | None = None
    for item in items:
        if isinstance(item, BodySection):
            if item.part or item.text not in HEADER_TEXTS:
                return "full"
            need = "header"
        elif item.name in ("RFC822", "RFC822.TEXT", "BINARY.SIZE"):
            return "full"
        elif item.name == "RFC822.HEADER":
            need = "header"
    return need


def _sets_seen(items: Sequence[FetchItem]) -> bool:
    """RFC 3501 §6.4.5: BODY[...] (not PEEK), RFC822 and RFC822.TEXT set \\Seen."""
    return any((isinstance(i, BodySection) and not i.peek) or
               (isinstance(i, FetchAttr) and i.name in ("RFC822", "RFC822.TEXT"))
               for i in items)


def _modifiers(session: Session, cmd: Fetch
               ) -> tuple[int | None, bool, PartialRange | None]:
    """RFC 7162 §3.1.4.1 CHANGEDSINCE and §3.2.6 VANISHED (UID FETCH only, needs
    CHANGEDSINCE and ENABLE QRESYNC); RFC 9394 §3.3 PARTIAL (UID FETCH only)."""
    changedsince: int | None = None
    vanished = False
    partial: PartialRange | None = None
    for name, value in cmd.modifiers:
        if name == "CHANGEDSINCE" and isinstance(value, int) and value >= 0:
            changedsince = value
        elif name == "VANISHED" and value is None:
            vanished = True
        elif name == "PARTIAL" and cmd.uid and partial is None \
                and (rng := PartialRange.from_param(value)) is not None:
            partial = rng
        else:
            raise CommandFailed(f"Invalid FETCH modifier {name}", status="BAD")
    if vanished and not (cmd.uid and changedsince is not None and session.qresync):
        raise CommandFailed("VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC",
                            status="BAD")
    return changedsince, vanished, partial


async def fetch(session: Session, tag: str, cmd: Fetch) -> Result:
    view = session.view
    assert view is not None
    changedsince, vanished, partial = _modifiers(session, cmd)
    check_items(cmd.items)
    try:
        runs = view.runs(cmd.sequence_set, cmd.uid)
    except InvalidSequence as exc:
        raise CommandFailed(str(exc), status="BAD") from None
    items: list[FetchItem] = list(cmd.items)
    has_modseq = any(isinstance(i, FetchAttr) and i.name == "MODSEQ" for i in items)
    if changedsince is not None and not has_modseq:
        items.append(FetchAttr("MODSEQ"))  # RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ
    if cmd.uid and not any(isinstance(i, FetchAttr) and i.name == "UID" for i in items):
        # RFC 3501 §6.4.8: UID FETCH always includes the UID.
        items.insert(0, FetchAttr("UID"))
    flags_only = all(isinstance(i, FetchAttr) and i.name in FLAG_ITEMS for i in items)
    # RFC 4314 §4: the rights as they stand now (``access.recheck``). A FETCH of one
    # message that sets no flag reads them in the same trip as the message (issue 14:
    # 1,000 random ``UID FETCH u (BODY.PEEK[])``) and checks them before answering.
    folded = len(runs) == 1 and runs[0][1] - runs[0][0] == 1 and changedsince is None \
        and not vanished and partial is None and not flags_only \
        and not bulk_fetchable(items) and not _sets_seen(items)
    # The flag resync (``FETCH 1:* (UID FLAGS)``): the recheck with its first read of
    # flags and the sync's changes with its last (``access.Folded``; issue 14).
    # The untagged FETCH of new messages inside a sync (``Session._fetch_new``, no tag)
    # reads no changes for the sync already under way.
    fold = Folded(session, changes=bool(tag)) if flags_only and changedsince is None \
        and partial is None and runs else None
    # A UID not in the view, pipelined behind one that read for both (``fetch_ahead``):
    # the rights and changes of that read.
    if not folded and fold is None and (runs or take(session, view, cmd) is None):
        await recheck(session)
        require_selected(session, "r")
    if session.channel.slice_over():  # 100,000 pairs took a slice of the loop (issue 14)
        await session.channel.give_way()
    if changedsince is not None or has_modseq:
        # RFC 7162 §3.1: both are CONDSTORE enabling.
        session.enable_condstore()
    store = session.server.store
    if vanished:
        assert changedsince is not None
        await _report_vanished(session, view, cmd, changedsince)
    need = _body_need(items)
    # RFC 4314 §4: a FETCH that implies \Seen does not set it without the "s" right.
    set_seen = _sets_seen(items) and not view.readonly and "s" in await current_rights(session)
    wants_flags = any(isinstance(i, FetchAttr) and i.name == "FLAGS" for i in items)
    wants_uid = any(isinstance(i, FetchAttr) and i.name == "UID" for i in items)
    # Messages expunged by another session keep their numbers until this session is told
    # (RFC 3501 §7.4.1); every one of them is answered too (``fetch_expunged``). A UID FETCH
    # has no numbers to keep, and the EXPUNGE follows it: like a UID that does not exist, an
    # expunged one is skipped (RFC 3501 §6.4.8). CHANGEDSINCE asks only for messages that
    # changed, which they did not.
    answer_expunged = changedsince is None and not cmd.uid
    if flags_only and changedsince is None and partial is None and not any(
            isinstance(i, FetchAttr) and i.name == "MODSEQ" for i in items) and \
            await fetch_flags_from_index(session, view, runs, items, fold):
        return _done(False, cmd)
    pairs = view.pairs(runs)
    if not answer_expunged:
        pairs = [(n, u) for n, u in pairs if u not in view.ghosts]
    if partial is not None:
        # RFC 9394 §3.3: only the messages at these positions among those the UID set
        # names (ascending UIDs), chosen before CHANGEDSINCE filters them (§3.4).
        pairs = partial.pick(pairs)
    if folded and not pairs and take(session, view, cmd) is None:
        # The UID of an expunged message: nothing read below.
        await recheck(session)
        require_selected(session, "r")
    if fold is not None and not pairs:  # nothing to read the rights with
        await fold.settle()
    missing = False
    if flags_only:
        gone = await fetch_flags(session, view, pairs, items, changedsince,
                                 answer_expunged, fold)
        return _done(gone, cmd)
    if changedsince is None and bulk_fetchable(items):
        # The header fetch of a first sync (issue 14): rows and bytes, no records.
        gone = await fetch_headers(session, view, pairs, items, answer_expunged)
        return _done(gone, cmd)
    plans = [_plan(i) for i in items]
    binary = [p for p in plans if isinstance(p, BinaryPlan)]
    structure = any((isinstance(i, SectionPlan | BinaryPlan) and i.needs_tree) or
                    (isinstance(i, FetchAttr) and i.name in STRUCTURE_ITEMS) for i in plans)
    # Batches are cut at a UID (storage returns a prefix in UID order, see load()); a
    # set like "5,1:3" is answered in ascending order, each message once.
    live = in_uid_order(pairs)

    attrs = [p for p in plans if isinstance(p, AttrPlan)]

    async def load(start: int) -> tuple[
            list[tuple[int, int]], dict[int, MessageRecord], dict[int, Body], int, Batch]:
        """The batch of ``live`` from ``start``: at most BATCH messages, and only as many
        as fit BATCH_BYTES of bodies read from the database (issue 10.2); returns where
        the next batch starts."""
        uids = [u for _, u in live[start:start + BATCH]]
        if folded and need == "full" and not structure and start == 0 and len(live) == 1 \
                and one_uid(cmd) == uids[0]:
            # ``UID FETCH u (BODY.PEEK[])``: with the same commands pipelined behind it,
            # read in one trip (``fetch_ahead``).
            recs, bodies = await read_one(session, view, cmd, uids[0])
        elif start == 0 and len(live) == 1 and not set_seen:
            # One message, nothing written: the changes the sync after the command
            # reports are read in the same trip (issue 14: 1,000 random BODY.PEEK[]),
            # and so is the access recheck if it was left for this read.
            modseq = view.modseq
            recs, bodies, changes, found = await store.fetch_records_bodies_and_changes(
                view.mailbox_id, uids, structure, need or "", modseq,
                viewer=session.viewer, budget=BATCH_BYTES,
                access=session_key(session) if folded else None)
            if changes is not None:
                session.prefetched = (modseq, changes)
            if folded:
                apply_access(session, found)
                require_selected(session, "r")  # before a byte of it is answered
        else:
            recs, bodies = await store.fetch_records_and_bodies(
                view.mailbox_id, uids, structure, need or "", viewer=session.viewer,
                budget=BATCH_BYTES)
        following = start + _consumed(live, start, recs)
        batch = live[start:following]
        records = {r.uid: r for r in recs}
        if changedsince is not None:
            records = {u: r for u, r in records.items() if r.modseq > changedsince}
            batch = [(n, u) for n, u in batch if u in records]
        # SAVEDATE and the like (RFC 8514): one more read, only when asked for.
        extra = await read_batch(session, view, attrs, records) if attrs else {}
        return batch, records, bodies, following, extra

    # The next batch is read from the database while this one is formatted and sent.
    pending: asyncio.Future[tuple[list[tuple[int, int]], dict[int, MessageRecord],
                                  dict[int, Body], int, Batch]] | None = None
    if len(live) == 1:  # no task to read ahead with: one read, awaited here
        pending = asyncio.get_running_loop().create_future()
        pending.set_result(await load(0))
    elif live:
        pending = asyncio.ensure_future(load(0))
    try:
        while pending is not None:
            batch, records, bodies, following, extra = await pending
            pending = asyncio.ensure_future(load(following)) if following < len(live) \
                else None
            flags = {u: r.flags for u, r in records.items()}
            modseqs = {u: r.modseq for u, r in records.items()}
            seen_now: set[int] = set()
            for plan in binary:
                for record in records.values():
                    # RFC 3516 §4.3: an encoding that cannot be undone fails the FETCH
                    # (NO [UNKNOWN-CTE]) before this batch sets any \Seen.
                    plan.locate(record)
            if set_seen:
                unseen = [u for u, f in flags.items() if SEEN not in f]
                if unseen:
                    result = await session.store_flags(unseen, "add", [SEEN])
                    for m in result.messages:
                        flags[m.uid] = m.flags
                        modseqs[m.uid] = m.modseq
                    seen_now = set(result.changed)
            send = session.channel.send
            expunged = {} if not answer_expunged else await expunged_states(
                session, view, [u for _, u in batch
                                if u not in records or (need and u not in bodies)])
            for n, uid in batch:
                rec = records.get(uid)
                if rec is None or (need and uid not in bodies):
                    if answer_expunged:  # expunged by another session
                        known, lost = expunged_items(view, uid, expunged.get(uid), plans)
                        missing = missing or lost
                        send(DataResponse((n, FETCH, Raw(b"(" + b" ".join(known) + b")"))))
                    continue
                parts = await item_pieces(session, view, rec, flags[uid], modseqs[uid],
                                          bodies.get(uid), plans, extra)
                if uid in seen_now:
                    # RFC 3501 §6.4.5: report the \Seen that this FETCH set; with
                    # CONDSTORE, with its UID and new MODSEQ (RFC 7162 §3.2.4).
                    if not wants_flags:
                        parts.append([b"FLAGS " + view.flags_bytes(uid, flags[uid])])
                    if view.condstore and not wants_uid:
                        parts.append([b"UID %d" % uid])
                    if view.condstore and not has_modseq and changedsince is None:
                        parts.append([b"MODSEQ (%d)" % modseqs[uid]])
                await send_fetch(session, n, parts)
            if pending is not None:
                # The last batch is not flushed here: the tagged answer goes with it, in
                # one write (``Connection.next_event`` flushes when no command waits).
                await session.channel.flush()
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
    return _done(missing, cmd)


def _plan(item: FetchItem) -> FetchAttr | SectionPlan | BinaryPlan | AttrPlan:
    """Work each body item out once for the whole FETCH; BINARY (RFC 3516) has its own,
    and so have the attributes of ``fetch_attrs`` (RFC 8474)."""
    if isinstance(item, BodySection):
        return BinaryPlan(item) if item.binary else SectionPlan(item)
    if item.name in ATTR_ITEMS:
        return AttrPlan(item.name, "LAZY" in item.modifiers)
    return BinaryPlan(item) if item.name == "BINARY.SIZE" else item


def _consumed(live: list[tuple[int, int]], start: int, recs: list[MessageRecord]) -> int:
    """How many of ``live`` from ``start`` a batch that returned ``recs`` covered: up to
    its last record, or the whole batch if none came (all expunged)."""
    if not recs:
        return min(BATCH, len(live) - start)
    last = recs[-1].uid
    for i in range(start, min(start + BATCH, len(live))):
        if live[i][1] == last:
            return i - start + 1
    return min(BATCH, len(live) - start)


def _done(missing: bool, cmd: Fetch) -> Result:
    if missing and not cmd.uid:
        # RFC 5530 §3: the FETCH worked, but some data of expunged messages was gone (an OK,
        # as Dovecot answers: a NO makes client libraries throw on an ordinary sync).
        return Result("Some messages were already expunged", "EXPUNGEISSUED")
    return Result("FETCH completed")


async def _report_vanished(session: Session, view: View, cmd: Fetch, since: int) -> None:
    """RFC 7162 §3.2.6: UIDs in the set expunged since ``since``, as VANISHED (EARLIER),
    before the FETCH responses."""
    changes = await session.server.store.changes_since(view.mailbox_id, since,
                                                       viewer=session.viewer)
    if not changes.expunged:
        return
    largest = max(view.uids[-1] if view.uids else 0, max(changes.expunged))
    gone = sorted(u for u in changes.expunged
                  if cmd.sequence_set.contains(u, largest) and u not in view.ghosts)
    if gone:
        session.untagged(Atom("VANISHED"), [Atom("EARLIER")], compact_set(gone))
