"""FETCH items of message attributes beyond RFC 3501: EMAILID and THREADID (RFC 8474
§5.3) and SAVEDATE (RFC 8514 §4.2).

Each item is planned once per FETCH (:class:`AttrPlan`). EMAILID and THREADID are written
from the message's record (``crispin.server.objectid`` says what each id is made of);
SAVEDATE is read per batch of messages (:func:`read_batch`, one query), beside the records.
A FETCH that does not ask for them pays nothing: the flag and header fast paths
(``fetch_flags``, ``fetch_headers``) never see these items, and a FETCH naming one takes
the general path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from crispin.protocol import format_datetime
from crispin.server import objectid
from crispin.storage import MessageRecord

if TYPE_CHECKING:
    from crispin.server.session import Session
    from crispin.server.view import View

ITEMS = frozenset({"EMAILID", "THREADID", "SAVEDATE"})
"""The FETCH items planned here."""
READ = frozenset({"SAVEDATE"})
"""Those read from storage per batch."""

Batch = Mapping[str, Mapping[int, bytes]]
"""Per item name of ``READ``: UID -> the item's bytes, for one batch of messages."""


@dataclass(frozen=True)
class AttrPlan:
    """One of ``ITEMS`` for a whole FETCH."""

    name: str

    def piece(self, rec: MessageRecord, batch: Batch) -> bytes:
        """The data item of one message."""
        if self.name == "EMAILID":
            # RFC 8474 §5.3: fetch-emailid-resp = "EMAILID" SP "(" objectid ")".
            return b"EMAILID (%s)" % objectid.email_id(rec.message_id,
                                                       rec.internaldate).encode()
        if self.name == "SAVEDATE":
            # RFC 8514 §4.2; NIL only if the row went between the two reads.
            return batch.get(self.name, {}).get(rec.uid, b"SAVEDATE NIL")
        # RFC 8474 §5.2: a server that computes no threads answers NIL for every message.
        return b"THREADID NIL"

    def placeholder(self) -> bytes | None:
        """The item for a message another session expunged (``fetch_expunged``): its
        body and dates are gone with it, so there is no EMAILID to give (the item is left
        out, RFC 2180 §4.1); SAVEDATE is NIL (RFC 8514 §5 allows it), THREADID is NIL
        for every message."""
        if self.name == "EMAILID":
            return None
        return self.name.encode() + b" NIL"


async def read_batch(session: Session, view: View, plans: Sequence[AttrPlan],
                     uids: Sequence[int]) -> Batch:
    """What the ``READ`` items among ``plans`` need for the messages ``uids``: no trip
    to the database when there is none."""
    out: dict[str, dict[int, bytes]] = {}
    names = {p.name for p in plans} & READ
    if "SAVEDATE" in names and uids:
        dates = await session.server.store.save_dates(view.mailbox_id, uids)
        # RFC 8514 §5: msg-att-static =/ "SAVEDATE" SP (date-time / nil); shown in UTC.
        out["SAVEDATE"] = {
            uid: b'SAVEDATE "%s"' % format_datetime(datetime.fromtimestamp(t, UTC)).encode()
            for uid, t in dates.items()}
    return out
