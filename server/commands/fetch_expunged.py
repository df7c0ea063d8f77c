"""What FETCH answers for a message another session expunged, before this session has been
told (RFC 3501 §7.4.1 keeps its number until then; issue 9 point 2).

RFC 2180 §4.1 lets a server answer such a FETCH with NO, or with what it still knows.
Client libraries (imaplib-based code, IMAPClient, imap-tools) raise on a tagged NO during an
ordinary sync, so Crispin answers as Dovecot does: a FETCH response for every number of the
set; the expunged message with its UID, the flags it had when it was expunged (kept in its
tombstone), its MODSEQ; and for what is gone, the placeholders Dovecot sends
(``imap-fetch.c``): NIL for body data, an all-NIL ENVELOPE, an empty text/plain
BODYSTRUCTURE, size 0, the epoch as INTERNALDATE — valid syntax for every parser. The
tagged response is then ``OK [EXPUNGEISSUED]`` (RFC 5530 §3) when anything was missing.
"""

from __future__ import annotations

from collections.abc import Sequence

from crispin.protocol import FetchAttr, FetchItem
from crispin.server.binary import BinaryPlan
from crispin.server.commands.fetch_attrs import AttrPlan
from crispin.server.sections import SectionPlan
from crispin.server.session import Session
from crispin.server.view import View
from crispin.storage import MessageState

NIL_ENVELOPE = b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
NIL_BODY = b'("text" "plain" NIL NIL NIL "7bit" 0 0)'
PLACEHOLDERS = {
    "INTERNALDATE": b'"01-Jan-1970 00:00:00 +0000"',
    "RFC822.SIZE": b"0",
    "ENVELOPE": NIL_ENVELOPE,
    "BODYSTRUCTURE": NIL_BODY,
    "BODY": NIL_BODY,
    "RFC822": b"NIL",
    "RFC822.HEADER": b"NIL",
    "RFC822.TEXT": b"NIL",
}


async def expunged_states(session: Session, view: View,
                          uids: Sequence[int]) -> dict[int, MessageState]:
    """What the tombstones of ``uids`` still know. Raises storage's ``NotFound`` when the
    mailbox itself is gone (the session then ends, see ``Session.check_selected``)."""
    if not uids:
        return {}
    states = await session.server.store.expunged_states(view.mailbox_id, uids,
                                                        viewer=session.viewer)
    return {s.uid: s for s in states}


def expunged_items(view: View, uid: int, state: MessageState | None,
                   items: Sequence[FetchItem | SectionPlan | BinaryPlan | AttrPlan]
                   ) -> tuple[list[bytes], bool]:
    """The FETCH items of an expunged message, and whether any data was missing."""
    out: list[bytes] = []
    missing = state is None
    for item in items:
        if isinstance(item, BinaryPlan):
            out.append(item.placeholder())
            missing = True
            continue
        if isinstance(item, SectionPlan):
            out.append(bytes(item.name) + b" NIL")
            missing = True
            continue
        if isinstance(item, AttrPlan):
            known = item.placeholder()
            if known is None:
                missing = True
            else:
                out.append(known)
            continue
        if not isinstance(item, FetchAttr):
            raise TypeError(f"unplanned FETCH item {item!r}")  # a BodySection: plan it
        name = item.name
        if name == "UID":
            out.append(b"UID %d" % uid)
        elif name == "FLAGS":
            out.append(b"FLAGS " + view.flags_bytes(uid, state.flags if state else ()))
        elif name == "MODSEQ":
            out.append(b"MODSEQ (%d)" % (state.modseq if state else view.modseq))
        else:
            out.append(name.encode() + b" " + PLACEHOLDERS[name])
            missing = True
    return out, missing
