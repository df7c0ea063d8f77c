"""FETCH items of message attributes beyond RFC 3501: EMAILID and THREADID (RFC 8474
§5.3).

Each item is planned once per FETCH (:class:`AttrPlan`) and written from the message's
record (``crispin.server.objectid`` says what each id is made of). A FETCH that does not
ask for them pays nothing: the flag and header fast paths (``fetch_flags``,
``fetch_headers``) never see these items, and a FETCH naming one takes the general path.
"""

from __future__ import annotations

from dataclasses import dataclass

from crispin.server import objectid
from crispin.storage import MessageRecord

ITEMS = frozenset({"EMAILID", "THREADID"})
"""The FETCH items planned here (RFC 8474 §5.3)."""


@dataclass(frozen=True)
class AttrPlan:
    """One of ``ITEMS`` for a whole FETCH."""

    name: str

    def piece(self, rec: MessageRecord) -> bytes:
        """The data item of one message."""
        if self.name == "EMAILID":
            # RFC 8474 §5.3: fetch-emailid-resp = "EMAILID" SP "(" objectid ")".
            return b"EMAILID (%s)" % objectid.email_id(rec.message_id,
                                                       rec.internaldate).encode()
        # RFC 8474 §5.2: a server that computes no threads answers NIL for every message.
        return b"THREADID NIL"

    def placeholder(self) -> bytes | None:
        """The item for a message another session expunged (``fetch_expunged``): its
        body and date are gone with it, so there is no EMAILID to give (the item is left
        out, RFC 2180 §4.1); THREADID is NIL for every message."""
        return None if self.name == "EMAILID" else b"THREADID NIL"
