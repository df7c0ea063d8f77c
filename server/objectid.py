"""Object identifiers of RFC 8474 (OBJECTID): MAILBOXID, EMAILID and THREADID.

No identifier is stored: each is written from what already identifies the object for
good, so every one survives a restart, a snapshot and restore, and needs no migration.

MAILBOXID ``F<id>_<uidvalidity>`` (lower-case hex)
    ``mailboxes.id`` is AUTOINCREMENT, never reused (a mailbox deleted and created again
    gets a new one), and RENAME changes only ``name``: the same MAILBOXID, as §4 requires
    ("the same MAILBOXID for the source and destination when renaming").  UIDVALIDITY is
    part of it because a row can get a new UIDVALIDITY and lose its messages while
    keeping its id (CREATE over a ``\\Noselect`` placeholder, RFC 3501 §2.3.1.1): that is
    a new mailbox for RFC 3501, so §4 forbids reusing the MAILBOXID.  RENAME INBOX moves
    the messages into a new mailbox (RFC 3501 §6.3.5), which gets its own id (§8.2).

EMAILID ``M<message id>_<internaldate>_<zone>`` (hex, the two last signed)
    §5.1: "Anything that must remain immutable on a {name, uidvalidity, uid} triple must
    also be the same between messages with the same EMAILID".  Crispin stores a body
    once per content (``messages``, keyed by SHA-256) and shares it between every
    mailbox row that holds it, so the body's row id alone would give one EMAILID to two
    separate APPENDs of the same bytes with different INTERNALDATEs, which is immutable
    too (RFC 3501 §2.3.3).  The pair (body, INTERNALDATE with its zone) is what COPY,
    MOVE and RENAME INBOX carry over (they keep the body and the date), so the copy has
    the source's EMAILID (§5.1, the COPYUID pairing); two APPENDs of identical bytes with
    the same date share one, which §5.1 allows ("exactly identical content").  The body's
    id is never reused (AUTOINCREMENT), and a body swept after its last copy went is
    stored again under a new id.

THREADID: NIL
    §5.2 lets a server that does not compute threads answer NIL for every message (and a
    SEARCH THREADID match nothing), which is what Crispin does: its THREAD=REFERENCES
    groups the messages of one mailbox at the time of the command (RFC 5256 §2.2, merging
    threads as replies and subjects arrive), while a THREADID "MUST NOT change ... once
    reported" and must hold across mailboxes.

Every id is 1-255 characters of ``objectid`` (§7), starts with a letter and holds no
upper-case hex, so no two differ only by case (§8.1).
"""

from __future__ import annotations

import re
from datetime import datetime

from crispin.storage import MailboxInfo

_EMAILID = re.compile(r"M([0-9a-f]+)_(-?[0-9a-f]+)_(-?[0-9a-f]+)")
OBJECTID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def is_objectid(text: str) -> bool:
    """RFC 8474 §7 ``objectid = 1*255(ALPHA / DIGIT / "_" / "-")``."""
    return 0 < len(text) <= 255 and all(ch in OBJECTID_CHARS for ch in text)


def mailbox_id(info: MailboxInfo) -> str:
    """The MAILBOXID of a mailbox (§4)."""
    return f"F{info.id:x}_{info.uidvalidity:x}"


def email_id(message_id: int, internaldate: datetime) -> str:
    """The EMAILID of a message (§5.1): its stored body and its INTERNALDATE."""
    offset = internaldate.utcoffset()
    zone = 0 if offset is None else int(offset.total_seconds()) // 60
    return f"M{message_id:x}_{int(internaldate.timestamp()):x}_{zone:x}"


def parse_email_id(text: str) -> tuple[int, int, int] | None:
    """(body id, INTERNALDATE seconds, zone minutes) of an EMAILID this server writes;
    None for any other string (a SEARCH EMAILID for it matches nothing, §6)."""
    m = _EMAILID.fullmatch(text)
    if m is None:
        return None
    found = int(m[1], 16), int(m[2], 16), int(m[3], 16)
    # Ids compare exactly (§7: case-sensitive): "M01_..." is not "M1_...".
    if f"M{found[0]:x}_{found[1]:x}_{found[2]:x}" != text:
        return None
    return found
