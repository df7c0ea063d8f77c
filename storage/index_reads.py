"""Reads for the server's shared per-mailbox state (issue 14, DESIGN.md "Speed"): SELECT's
summary kept per (mailbox, viewer) and shared by every session that selects it while the
mailbox is unchanged, and flags read as plain rows over a UID range for the bulk
``FETCH (UID FLAGS)``.

A mixin, so ``store.py`` (being split into modules) does not grow; the sync functions run on
a database thread inside one read snapshot, like those of ``message_reads``.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from functools import partial

from .db import Database
from .mailboxes import get_mailbox_by_id
from .message_reads import select_summary
from .messages import _selectable
from .models import MailboxInfo, SelectSummary
from .private import columns, params, viewer_mask

# (uid, system flag bits, keywords as stored, modseq), as ``viewer`` sees them.
FlagRow = tuple[int, int, str, int]
# Summaries kept (most recently selected first out last): a 100,000-message mailbox's is
# 400 KB of UIDs, so at most about 13 MB.
SUMMARIES_KEPT = 32


def summary_unless_unchanged(
    conn: sqlite3.Connection, mailbox_id: int, known: MailboxInfo, viewer: int | None = None
) -> SelectSummary | MailboxInfo:
    """The mailbox as it is now if nothing in it changed since ``known`` was read (same
    UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ: every change to its messages or flags, private
    ones included, bumps the modseq, RFC 7162 §3.1.1); otherwise a full
    :func:`select_summary`. One read snapshot either way, so the answer is consistent."""
    box = _selectable(conn, mailbox_id)
    if (box.uidvalidity, box.uidnext, box.highest) == (
            known.uidvalidity, known.uidnext, known.highest_modseq):
        info = get_mailbox_by_id(conn, mailbox_id)
        assert info is not None
        return info
    return select_summary(conn, mailbox_id, viewer)


def flag_rows(
    conn: sqlite3.Connection, mailbox_id: int, low: int, high: int, viewer: int | None = None
) -> list[FlagRow]:
    """Every message with ``low <= uid <= high``, in UID order, as plain rows: one range
    scan of the primary key and no per-message objects (a 100,000-message flag resync)."""
    pmask = viewer_mask(conn, mailbox_id, viewer)
    join, cols = columns(pmask)
    return conn.execute(
        f"SELECT mm.uid, {cols} FROM mailbox_messages mm{join}"
        " WHERE mm.mailbox_id = ? AND mm.uid BETWEEN ? AND ? ORDER BY mm.uid",
        params(pmask, viewer, mailbox_id, low, high),
    ).fetchall()


class IndexMixin:
    _db: Database

    def _summaries(self) -> OrderedDict[tuple[int, int | None], SelectSummary]:
        cache: OrderedDict[tuple[int, int | None], SelectSummary] | None = \
            self.__dict__.get("_select_summaries")
        if cache is None:
            cache = self.__dict__["_select_summaries"] = OrderedDict()
        return cache

    async def shared_select_summary(
        self, mailbox_id: int, *, viewer: int | None = None
    ) -> SelectSummary:
        """``select_summary``, but when the mailbox did not change since the last one read
        for this viewer, that one again, with a fresh MailboxInfo: one small read instead
        of 100,000 UIDs (a second SELECT of a big mailbox: 61 ms -> a few ms). The UID
        array is shared by every caller: it must not be changed in place."""
        cache = self._summaries()
        key = (mailbox_id, viewer)
        cached = cache.get(key)
        if cached is None:
            summary = await self._db.read(
                partial(select_summary, mailbox_id=mailbox_id, viewer=viewer))
        else:
            got = await self.summary_unless_unchanged(mailbox_id, cached.mailbox, viewer=viewer)
            summary = got if isinstance(got, SelectSummary) else SelectSummary(
                got, cached.uids, cached.first_unseen_uid, cached.keywords)
        cache[key] = summary
        cache.move_to_end(key)
        while len(cache) > SUMMARIES_KEPT:
            cache.popitem(last=False)
        return summary

    def forget_summaries(self) -> None:
        """After a restore the same counters may stand for other contents."""
        self._summaries().clear()

    async def summary_unless_unchanged(
        self, mailbox_id: int, known: MailboxInfo, *, viewer: int | None = None
    ) -> SelectSummary | MailboxInfo:
        """The fresh MailboxInfo if the mailbox did not change since ``known``, else what
        ``select_summary`` returns."""
        return await self._db.read(
            partial(summary_unless_unchanged, mailbox_id=mailbox_id, known=known, viewer=viewer)
        )

    async def flag_rows(
        self, mailbox_id: int, low: int, high: int, *, viewer: int | None = None
    ) -> list[FlagRow]:
        """(uid, flag bits, keywords, modseq) of every message in the UID range."""
        return await self._db.read(
            partial(flag_rows, mailbox_id=mailbox_id, low=low, high=high, viewer=viewer)
        )
