"""BODYSTRUCTURE and BODY for an IMAP4rev2 session (RFC 9051 §7.5.2, §9).

The stored BODYSTRUCTURE and BODY (prepared once at APPEND) are in the IMAP4rev1 form. The
two forms differ only for a message holding a message/global part (RFC 6532 §3.7): rev1's
grammar (RFC 3501 §9) has no place for its envelope, so it is a basic part there, while
rev2's ``body-type-basic`` "MUST NOT be "RFC822" or "GLOBAL"" and describes it like
message/rfc822 (envelope, body, lines). Such messages are rare (internationalised
delivery reports and forwards), so their rev2 form is computed from the message when a
rev2 session asks for it, not stored beside the rev1 one: the check for every other
message is a byte search in the stored part tree, and a rev1 session pays nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crispin.protocol.mime import has_global, structure_rev2
from crispin.storage import BlobFile, MessageRecord

if TYPE_CHECKING:
    from crispin.server.session import Session
    from crispin.server.view import View


def differs_in_rev2(rec: MessageRecord) -> bool:
    """Whether the rev2 BODYSTRUCTURE of *rec* is not the stored one."""
    if rec.part_tree is not None:
        return has_global(rec.part_tree)
    # No part tree (stored before there was one): the structure itself names the type.
    return b'"global"' in rec.bodystructure.lower()


async def rev2_structure(session: Session, view: View, rec: MessageRecord,
                         body: bytes | BlobFile | None) -> tuple[bytes, bytes]:
    """(BODYSTRUCTURE, BODY) of *rec* for a rev2 session; *body* is the message's body
    when the FETCH loaded it, else it is read here."""
    store = session.server.store
    if body is None:
        _recs, bodies = await store.fetch_records_and_bodies(
            view.mailbox_id, [rec.uid], False, "full", viewer=session.viewer)
        body = bodies.get(rec.uid)
        if body is None:  # expunged meanwhile: what was stored is all there is
            return rec.bodystructure, rec.body_simple
    raw = body if isinstance(body, bytes) else await store.read_blob(body, 0, rec.size)
    return structure_rev2(raw)
