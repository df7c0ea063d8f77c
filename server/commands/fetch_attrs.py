"""FETCH items of message attributes beyond RFC 3501: EMAILID and THREADID (RFC 8474
§5.3), SAVEDATE (RFC 8514 §4.2) and PREVIEW (RFC 8970).

Each item is planned once per FETCH (:class:`AttrPlan`). EMAILID and THREADID are written
from the message's record (``crispin.server.objectid`` says what each id is made of);
SAVEDATE and PREVIEW are read per batch of messages (:func:`read_batch`, one query each),
beside the records. A FETCH that does not ask for them pays nothing: the flag and header
fast paths (``fetch_flags``, ``fetch_headers``) never see these items, and a FETCH naming
one takes the general path.

PREVIEW is computed once per stored body, at APPEND (``crispin.server.ingest``). A body
stored before the server computed previews has none until a FETCH asks for it without
LAZY: the preview is then computed from the body (its first text part, read from the
database or the start of its file) and stored, so it is computed once here too. With
LAZY (RFC 8970 §4.1) such a message answers NIL instead: computing it is the "undue
delay" the client asked to avoid, and it will ask again without LAZY (§4.2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from crispin.protocol import format_datetime, serialize_value
from crispin.protocol.mime import parse_message, part_tree_from_bytes
from crispin.protocol.mime.preview import message_preview
from crispin.server import objectid
from crispin.storage import BlobFile, MessageRecord

if TYPE_CHECKING:
    from crispin.server.session import Session
    from crispin.server.view import View

ITEMS = frozenset({"EMAILID", "THREADID", "SAVEDATE", "PREVIEW"})
"""The FETCH items planned here."""
READ = frozenset({"SAVEDATE", "PREVIEW"})
"""Those read from storage per batch."""

Batch = Mapping[str, Mapping[int, bytes]]
"""Per item name of ``READ``: UID -> the item's bytes, for one batch of messages."""


@dataclass(frozen=True)
class AttrPlan:
    """One of ``ITEMS`` for a whole FETCH."""

    name: str
    lazy: bool = False
    """PREVIEW (LAZY), RFC 8970 §4.1."""

    def piece(self, rec: MessageRecord, batch: Batch) -> bytes:
        """The data item of one message."""
        if self.name == "EMAILID":
            # RFC 8474 §5.3: fetch-emailid-resp = "EMAILID" SP "(" objectid ")".
            return b"EMAILID (%s)" % objectid.email_id(rec.message_id,
                                                       rec.internaldate).encode()
        if self.name == "SAVEDATE":
            # RFC 8514 §4.2; NIL only if the row went between the two reads.
            return batch.get(self.name, {}).get(rec.uid, b"SAVEDATE NIL")
        if self.name == "PREVIEW":
            # RFC 8970 §3.2: NIL only with LAZY; "" for a body that has gone meanwhile.
            return batch.get(self.name, {}).get(
                rec.uid, b"PREVIEW NIL" if self.lazy else b'PREVIEW ""')
        # RFC 8474 §5.2: a server that computes no threads answers NIL for every message.
        return b"THREADID NIL"

    def placeholder(self) -> bytes | None:
        """The item for a message another session expunged (``fetch_expunged``): its
        body and dates are gone with it, so there is no EMAILID to give (the item is left
        out, RFC 2180 §4.1); SAVEDATE is NIL (RFC 8514 §5 allows it), THREADID is NIL
        for every message; PREVIEW is NIL with LAZY, else the empty string ("no
        meaningful preview", RFC 8970 §3.2: NIL is not allowed without LAZY)."""
        if self.name == "EMAILID":
            return None
        if self.name == "PREVIEW" and not self.lazy:
            return b'PREVIEW ""'
        return self.name.encode() + b" NIL"


async def read_batch(session: Session, view: View, plans: Sequence[AttrPlan],
                     records: Mapping[int, MessageRecord]) -> Batch:
    """What the ``READ`` items among ``plans`` need for the messages of ``records``: no
    trip to the database when there is none."""
    out: dict[str, dict[int, bytes]] = {}
    uids = list(records)
    names = {p.name for p in plans} & READ
    if "SAVEDATE" in names and uids:
        dates = await session.server.store.save_dates(view.mailbox_id, uids)
        # RFC 8514 §5: msg-att-static =/ "SAVEDATE" SP (date-time / nil); shown in UTC.
        out["SAVEDATE"] = {
            uid: b'SAVEDATE "%s"' % format_datetime(datetime.fromtimestamp(t, UTC)).encode()
            for uid, t in dates.items()}
    preview = next((p for p in plans if p.name == "PREVIEW"), None)
    if preview is not None and uids:
        texts = await session.server.store.previews(view.mailbox_id, uids)
        missing = [u for u in uids if u not in texts]
        if missing and not any(p.name == "PREVIEW" and not p.lazy for p in plans):
            missing = []  # LAZY only: NIL for these (RFC 8970 §4.1)
        if missing:
            texts.update(await _compute_previews(session, view, missing))
        # RFC 8970 §6: msg-att-dynamic =/ "PREVIEW" SP nstring; UTF-8 text (§3.3) goes
        # out as a literal when it is not plain ASCII.
        out["PREVIEW"] = {uid: b"PREVIEW " + serialize_value(text)
                          for uid, text in texts.items()}
    return out


SCAN_FILE = 1024 * 1024
"""Octets of a body kept in a file read to compute its preview (its first text part is
near the start; ``message_preview`` counts parts beyond what was read as empty)."""


async def _compute_previews(session: Session, view: View, uids: Sequence[int]
                            ) -> dict[int, str]:
    """The previews of bodies stored without one, computed and stored (one read of the
    records with their part trees and bodies, one write)."""
    store = session.server.store
    recs, bodies = await store.fetch_records_and_bodies(
        view.mailbox_id, uids, True, "full", viewer=session.viewer)
    computed: dict[int, str] = {}
    rows: list[tuple[int, str]] = []
    for rec in recs:
        body = bodies.get(rec.uid)
        if body is None:
            continue
        if isinstance(body, BlobFile):
            raw = await store.read_blob(body, 0, min(rec.size, SCAN_FILE))
        else:
            raw = body
        tree = part_tree_from_bytes(rec.part_tree) if rec.part_tree else \
            parse_message(raw).part_tree
        text = message_preview(raw, tree)
        computed[rec.uid] = text
        rows.append((rec.message_id, text))
    if rows:
        await store.save_previews(rows)
    return computed
