"""The shared in-memory index of one mailbox as one viewer sees it (issue 14, DESIGN.md
"Speed": "mailbox state in memory, shared"): its UIDs in an ``array``, each message's
system flags as one byte (``flags.py`` bits) at the same position, the keywords in use and
the counters they were read at.

Kept current by the changes, not by re-reading: when the mailbox's HIGHEST MODSEQ moved
(every change to its messages or flags bumps it, private ones included, RFC 7162 §3.1.1),
only what changed since the index's modseq is read (``changes_since``: the modseq index
and the tombstones) and applied to a copy; the whole mailbox is read again only when the
change is large (a ``STORE 1:*``), when the UIDVALIDITY or the private-flag settings
changed, or when the tombstones needed were compacted away (RFC 7162 §3.2.6).

An index is never changed in place: sessions' views hold its UID array (they copy it
before adding to it, ``server/view.py``), and an index that changes gets new arrays.

Searches whose criteria are only system flags, UID sets and their NOT/AND/OR (``SEARCH
UNSEEN``, ``FLAGGED``, ``UNDELETED``, ``1:* NOT SEEN``...) are answered from the index
(``match``) as the SQL query would answer them at the same moment: the index is brought
up to date in the same read that checks the counters.
"""

from __future__ import annotations

import sqlite3
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from itertools import compress
from operator import itemgetter

from . import flags as flagbits
from .mailboxes import get_mailbox_by_id
from .message_reads import changes_since
from .messages import _selectable
from .models import MailboxInfo, SelectSummary
from .private import PF_JOIN, pf_flags
from .search import All, And, Criterion, FlagSet, Not, Or, UidIn

# Above this many changed messages (and a quarter of the mailbox) the whole mailbox is read
# again: one range scan is cheaper than 100,000 change rows made into objects.
DELTA_MAX = 5000
_ONE = b"\x01"


@dataclass(frozen=True)
class MailboxIndex:
    """One mailbox as ``viewer`` sees it, consistent at ``mailbox.highest_modseq``."""

    mailbox: MailboxInfo
    uids: array[int]
    flags: bytes
    """System flag bits of the message at the same position of ``uids``."""
    keywords: tuple[str, ...]
    viewer: int | None
    keywords_of: dict[int, str]
    """The stored keywords of each message that has any, by UID (never changed in place)."""
    first_recent_uid: int = 0
    """``mailboxes.first_recent_uid`` in the same snapshot (RFC 3501 §2.3.2 \\Recent: UIDs
    from here on are unclaimed). A claim moves it without a new modseq, so a refresh
    reads it each time; 0: not read."""

    @property
    def first_unseen_uid(self) -> int | None:
        """RFC 3501 §7.1 [UNSEEN]: the first message without \\Seen."""
        i = self.flags.translate(_TABLES[(flagbits.SEEN, False)]).find(_ONE)
        return None if i < 0 else self.uids[i]

    def summary(self) -> SelectSummary:
        return SelectSummary(self.mailbox, self.uids, self.first_unseen_uid,
                             list(self.keywords), self.first_recent_uid)


def _table(bit: int, present: bool) -> bytes:
    return bytes(1 if bool(v & bit) == present else 0 for v in range(256))


_TABLES = {(bit, present): _table(bit, present)
           for bit, _ in flagbits.SYSTEM_FLAGS for present in (True, False)}
_NOT = bytes([1, 0] + [0] * 254)


# -- reading (database thread, one read snapshot) -------------------------------------------


def _first_recent_uid(conn: sqlite3.Connection, mailbox_id: int) -> int:
    row = conn.execute("SELECT first_recent_uid FROM mailboxes WHERE id = ?",
                       (mailbox_id,)).fetchone()
    return int(row[0])


def _vanished_floor(conn: sqlite3.Connection, mailbox_id: int) -> int:
    """Changes below this modseq can no longer be read (``reclaim.py``)."""
    row = conn.execute("SELECT vanished_floor FROM mailboxes WHERE id = ?",
                       (mailbox_id,)).fetchone()
    return int(row[0])


def read_index(conn: sqlite3.Connection, mailbox_id: int,
               viewer: int | None = None) -> MailboxIndex:
    """The whole mailbox: two range scans of its rows, no per-message objects."""
    pmask = _selectable(conn, mailbox_id).private_mask(viewer)
    info = get_mailbox_by_id(conn, mailbox_id)
    assert info is not None
    if pmask:
        sql = (f"SELECT mm.uid, {pf_flags(pmask)} FROM mailbox_messages mm{PF_JOIN}"
               " WHERE mm.mailbox_id = ? ORDER BY mm.uid")
        params: tuple[object, ...] = (viewer, mailbox_id)
    else:
        sql = "SELECT uid, flags FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid"
        params = (mailbox_id,)
    uids: array[int] = array("I")
    flags = bytearray()
    cursor = conn.execute(sql, params)
    while rows := cursor.fetchmany(20000):
        uids.extend(map(itemgetter(0), rows))
        flags.extend(map(itemgetter(1), rows))
    keywords: dict[str, str] = {}
    for (text,) in conn.execute(
        "SELECT DISTINCT keywords FROM mailbox_messages WHERE mailbox_id = ? AND keywords != ''",
        (mailbox_id,),
    ):
        for kw in str(text).split(" "):
            keywords.setdefault(kw.lower(), kw)
    keywords_of = {int(uid): str(text) for uid, text in conn.execute(
        "SELECT uid, keywords FROM mailbox_messages WHERE mailbox_id = ? AND keywords != ''",
        (mailbox_id,))}
    return MailboxIndex(info, uids, bytes(flags), tuple(keywords.values()), viewer,
                        keywords_of, _first_recent_uid(conn, mailbox_id))


def refresh_index(conn: sqlite3.Connection, mailbox_id: int, known: MailboxIndex,
                  ) -> MailboxIndex:
    """``known`` brought up to date: the same object when nothing changed, the changes
    applied to a copy when few changed, else the whole mailbox read again."""
    viewer = known.viewer
    _selectable(conn, mailbox_id)  # NotFound / NoSelect as for a full read
    info = get_mailbox_by_id(conn, mailbox_id)
    assert info is not None
    old = known.mailbox
    if (info.uidvalidity, info.owner_id, info.private_flags) != (
            old.uidvalidity, old.owner_id, old.private_flags):
        return read_index(conn, mailbox_id, viewer)
    if (info.uidnext, info.highest_modseq) == (old.uidnext, old.highest_modseq):
        recent = _first_recent_uid(conn, mailbox_id)
        if info == old and recent == known.first_recent_uid:
            return known
        return replace(known, mailbox=info, first_recent_uid=recent)
    if old.highest_modseq < _vanished_floor(conn, mailbox_id):
        return read_index(conn, mailbox_id, viewer)
    (count,) = conn.execute(
        "SELECT count(*) FROM mailbox_messages WHERE mailbox_id = ? AND modseq > ?",
        (mailbox_id, old.highest_modseq),
    ).fetchone()
    if count > DELTA_MAX or count * 4 > len(known.uids) + 4:
        return read_index(conn, mailbox_id, viewer)
    changes = changes_since(conn, mailbox_id, old.highest_modseq, viewer)
    if changes.highest_modseq != info.highest_modseq:  # pragma: no cover - one snapshot
        return read_index(conn, mailbox_id, viewer)
    uids, flags = known.uids, bytearray(known.flags)
    gone = {u for u in changes.expunged if _position(uids, u) is not None}
    if gone:
        keep = bytes(0 if u in gone else 1 for u in uids)
        uids = array("I", compress(uids, keep))
        flags = bytearray(compress(flags, keep))
    last = uids[-1] if uids else 0
    new = [m for m in changes.updated if m.uid > last]
    if new:
        uids = array("I", uids)
        uids.extend(m.uid for m in new)
        flags.extend(flagbits.mask_of(f for f in m.flags if f.startswith("\\")) for m in new)
    keywords = {k.lower(): k for k in known.keywords}
    keywords_of = known.keywords_of
    worded = [m for m in changes.updated
              if m.uid in keywords_of or any(not f.startswith("\\") for f in m.flags)]
    if worded or gone & keywords_of.keys():
        keywords_of = {u: k for u, k in keywords_of.items() if u not in gone}
        for m in worded:
            words = [f for f in m.flags if not f.startswith("\\")]
            for f in words:
                keywords.setdefault(f.lower(), f)
            if words:
                keywords_of[m.uid] = flagbits.join_keywords(words)
            else:
                keywords_of.pop(m.uid, None)
    for m in changes.updated:
        if m.uid > last:
            continue
        i = _position(uids, m.uid)
        if i is not None:
            flags[i] = flagbits.mask_of(f for f in m.flags if f.startswith("\\"))
    return MailboxIndex(info, uids, bytes(flags), tuple(keywords.values()), viewer,
                        keywords_of, _first_recent_uid(conn, mailbox_id))


def _position(uids: array[int], uid: int) -> int | None:
    i = bisect_left(uids, uid)
    return i if i < len(uids) and uids[i] == uid else None


# -- searching (event loop: C-level byte operations, no per-message Python) -----------------


def answerable(criteria: Criterion) -> bool:
    """Whether ``match`` can answer ``criteria``: system flags, UID sets, NOT/AND/OR."""
    if isinstance(criteria, (All, FlagSet, UidIn)):
        return True
    if isinstance(criteria, Not):
        return answerable(criteria.term)
    if isinstance(criteria, (And, Or)):
        return all(answerable(t) for t in criteria.terms)
    return False


def match(index: MailboxIndex, criteria: Criterion, max_uid: int | None = None) -> list[int]:
    """The UIDs matching ``criteria`` (``answerable``), ascending, up to ``max_uid``:
    what ``search.search`` answers on the same snapshot."""
    mask = match_mask(index, criteria)
    uids = index.uids
    if max_uid is not None:
        end = bisect_right(uids, max_uid)
        if end < len(uids):
            uids, mask = uids[:end], mask[:end]
    return list(compress(uids, mask))


def match_mask(index: MailboxIndex, c: Criterion) -> bytes:
    """One byte per message of ``index.uids``, 1 where ``c`` (``answerable``) holds."""
    n = len(index.uids)
    if isinstance(c, All):
        return _ONE * n
    if isinstance(c, FlagSet):
        return index.flags.translate(_TABLES[(flagbits.bit_of(c.flag), c.present)])
    if isinstance(c, UidIn):
        mask = bytearray(n)
        for lo, hi in c.ranges:
            lo, hi = min(lo, hi), max(lo, hi)
            a, b = bisect_left(index.uids, lo), bisect_right(index.uids, hi)
            mask[a:b] = _ONE * (b - a)
        return bytes(mask)
    if isinstance(c, Not):
        return match_mask(index, c.term).translate(_NOT)
    assert isinstance(c, (And, Or))
    if not c.terms:
        return _ONE * n if isinstance(c, And) else bytes(n)
    acc = int.from_bytes(match_mask(index, c.terms[0]), "big")
    for term in c.terms[1:]:
        other = int.from_bytes(match_mask(index, term), "big")
        acc = acc & other if isinstance(c, And) else acc | other
    return acc.to_bytes(n, "big")
