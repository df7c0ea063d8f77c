"""Reads for the server's shared per-mailbox state (issue 14, DESIGN.md "Speed"): the
in-memory index of each (mailbox, viewer) (``flag_index``: UIDs, system flags, keywords),
shared by every session and kept current from the changes, which answers SELECT and the
flag searches; and flags read as plain rows over a UID range for the bulk
``FETCH (UID FLAGS)``.

A mixin, so ``store.py`` (being split into modules) does not grow; the sync functions run on
a database thread inside one read snapshot, like those of ``message_reads``.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from functools import partial

from .alongside import Alongside, AlongsideFound, with_alongside
from .db import Database
from .flag_index import MailboxIndex, answerable, match, read_index, refresh_index
from .mailboxes import get_mailbox_in
from .models import MailboxInfo, SelectSummary
from .private import columns, params, viewer_mask
from .search import Criterion

# (uid, system flag bits, keywords as stored, modseq), as ``viewer`` sees them.
FlagRow = tuple[int, int, str, int]
# Indexes kept (most recently used first out last): a 100,000-message mailbox's is 400 KB
# of UIDs and 100 KB of flags, so at most about 16 MB.
SUMMARIES_KEPT = 32


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


def _lookup_and_index(
    conn: sqlite3.Connection, owner_id: int | None, name: str, viewer: int | None,
    known: dict[int, MailboxIndex],
) -> tuple[MailboxInfo | None, MailboxIndex | None]:
    info = get_mailbox_in(conn, owner_id, name)
    if info is None or info.noselect:
        return info, None
    cached = known.get(info.id)
    if cached is None:
        return info, read_index(conn, info.id, viewer)
    return info, refresh_index(conn, info.id, cached)


class IndexMixin:
    _db: Database

    def _indexes(self) -> OrderedDict[tuple[int, int | None], MailboxIndex]:
        cache: OrderedDict[tuple[int, int | None], MailboxIndex] | None = \
            self.__dict__.get("_mailbox_indexes")
        if cache is None:
            cache = self.__dict__["_mailbox_indexes"] = OrderedDict()
        return cache

    async def mailbox_index(self, mailbox_id: int, *, viewer: int | None = None
                            ) -> MailboxIndex:
        """The mailbox as ``viewer`` sees it now (``flag_index``), shared by every caller:
        the last one read for this viewer brought up to date with what changed since, in
        one read (a SELECT of an unchanged 100,000-message mailbox: 61 ms -> a few ms;
        after a flag change: the changed rows, not the whole mailbox). Its arrays must
        not be changed in place."""
        return (await self.mailbox_index_with(mailbox_id, None, viewer=viewer))[0]

    async def mailbox_index_with(self, mailbox_id: int, also: Alongside | None, *,
                                 viewer: int | None = None
                                 ) -> tuple[MailboxIndex, AlongsideFound | None]:
        """``mailbox_index`` and what ``also`` asks (``alongside``) in one read: a
        ``FETCH 1:* (UID FLAGS)`` or ``UID SEARCH UNSEEN`` answered from the index, its
        access recheck and the changes for the sync after it in one trip (issue 14)."""
        cache = self._indexes()
        key = (mailbox_id, viewer)
        cached = cache.get(key)
        if cached is None:
            fn = partial(read_index, mailbox_id=mailbox_id, viewer=viewer)
        else:
            fn = partial(refresh_index, mailbox_id=mailbox_id, known=cached)
        index, found = await self._db.read(with_alongside(fn, also))
        return self._keep(key, index), found

    def cached_index(self, mailbox_id: int, *, viewer: int | None = None
                     ) -> MailboxIndex | None:
        """The index ``mailbox_index`` last gave for ``viewer``, as it was (no read)."""
        return self._indexes().get((mailbox_id, viewer))

    async def select_index(self, owner_id: int | None, name: str, *,
                           viewer: int | None = None
                           ) -> tuple[MailboxInfo | None, MailboxIndex | None]:
        """The mailbox ``name`` of ``owner_id`` (``get_mailbox_in``) and, unless it is
        missing or \\Noselect, its index as ``mailbox_index`` gives it, in one read: a
        SELECT's lookup and summary in one trip (bench/README.md "Mixed load")."""
        cache = self._indexes()
        known = {mailbox_id: index for (mailbox_id, who), index in cache.items()
                 if who == viewer}
        info, index = await self._db.read(partial(
            _lookup_and_index, owner_id=owner_id, name=name, viewer=viewer, known=known))
        if index is not None:
            index = self._keep((index.mailbox.id, viewer), index)
        return info, index

    def _keep(self, key: tuple[int, int | None], index: MailboxIndex) -> MailboxIndex:
        cache = self._indexes()
        # Two callers may refresh at once; the later state wins (counters only grow
        # within one UIDVALIDITY; a restore forgets everything).
        current = cache.get(key)
        if current is None or current.mailbox.uidvalidity != index.mailbox.uidvalidity or \
                current.mailbox.highest_modseq <= index.mailbox.highest_modseq:
            cache[key] = index
        cache.move_to_end(key)
        while len(cache) > SUMMARIES_KEPT:
            cache.popitem(last=False)
        return index

    async def shared_select_summary(
        self, mailbox_id: int, *, viewer: int | None = None
    ) -> SelectSummary:
        """SELECT's summary from the shared index (``mailbox_index``): the UID array is
        shared by every caller and must not be changed in place."""
        return (await self.mailbox_index(mailbox_id, viewer=viewer)).summary()

    async def search_flags(self, mailbox_id: int, criteria: Criterion,
                           max_uid: int | None = None, *, viewer: int | None = None
                           ) -> list[int] | None:
        """``Store.search`` for criteria of system flags and UID sets only (``SEARCH
        UNSEEN``, ``FLAGGED``, ``1:* NOT DELETED``...), answered from the shared index
        brought up to date: the same UIDs, without a scan of the mailbox's rows. None
        for any other criteria (``Store.search`` answers them)."""
        if not answerable(criteria):
            return None
        return match(await self.mailbox_index(mailbox_id, viewer=viewer), criteria, max_uid)

    def forget_summaries(self) -> None:
        """After a restore the same counters may stand for other contents."""
        self._indexes().clear()

    async def flag_rows(
        self, mailbox_id: int, low: int, high: int, *, viewer: int | None = None
    ) -> list[FlagRow]:
        """(uid, flag bits, keywords, modseq) of every message in the UID range."""
        return (await self.flag_rows_with(mailbox_id, low, high, None, viewer=viewer))[0]

    async def flag_rows_with(
        self, mailbox_id: int, low: int, high: int, also: Alongside | None, *,
        viewer: int | None = None,
    ) -> tuple[list[FlagRow], AlongsideFound | None]:
        """``flag_rows`` and what ``also`` asks (``alongside``) in one read."""
        return await self._db.read(with_alongside(
            partial(flag_rows, mailbox_id=mailbox_id, low=low, high=high, viewer=viewer),
            also))
