"""The ``Store`` methods for messages: APPEND (one mailbox or several at once), the reads
FETCH, SELECT and the change log need, bodies (in the database or in files under
``blobs/``), STORE, EXPUNGE, COPY, MOVE, \\Recent and SEARCH.

A mixin so that ``store.py`` stays the facade (as ``store_access.py`` for ACL and quotas);
each method is one function run on a database thread (``db.py``): a write is committed
before the coroutine returns.  Private flags: the methods that read or write flags take a
keyword-only ``viewer`` (see ``messages.py``).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from . import acl, blobs, message_reads, messages
from . import flags as flags_mod
from . import search as search_mod
from .alongside import Alongside, AlongsideFound, read_alongside, with_alongside
from .db import Database
from .models import (
    Changes,
    CopyResult,
    MessageRecord,
    MessageState,
    SelectSummary,
    StoreResult,
)


def _append_columns(
    flags: Iterable[str], internaldate: datetime | None,
    parsed: Mapping[str, bytes | int | str | None],
) -> tuple[int, list[str], tuple[int, int], dict[str, bytes | int | str | None]]:
    """What one APPEND stores besides its body: flag bits and keywords, the stored
    INTERNALDATE (now when the client gave none, RFC 3501 §6.3.11) and the checked
    APPEND-time columns."""
    fields = dict(parsed)
    messages.check_parsed(fields)
    bits, keywords = flags_mod.encode(flags)
    return bits, keywords, messages.to_stored_date(internaldate or datetime.now(UTC)), fields


class MessagesMixin:
    _db: Database
    data_dir: Path
    inline_max: int

    async def _prepare(self, body: bytes | Path) -> blobs.PreparedBody:
        """``blobs.prepare`` off the event loop when it writes a file; a body kept inline is
        only hashed (~20 µs for 10 KB), cheaper than the thread hop (SMTP 8 clients x 10 KB,
        bench/README.md "Mail in")."""
        if isinstance(body, bytes) and len(body) <= self.inline_max:
            return blobs.prepare(self.data_dir, body, self.inline_max)
        return await asyncio.to_thread(blobs.prepare, self.data_dir, body, self.inline_max)

    async def append_message(
        self,
        mailbox_id: int,
        body: bytes | Path | blobs.PreparedBody,
        flags: Iterable[str] = (),
        internaldate: datetime | None = None,
        parsed: Mapping[str, bytes | int | str | None] | None = None,
        *,
        viewer: int | None = None,
    ) -> tuple[int, int]:
        """RFC 3501 §6.3.11 APPEND; returns (uid, modseq).  Private flags among ``flags``
        are ``viewer``'s.

        ``body`` is the raw message, or a file holding it (left in place for the caller to
        delete), or a body spooled with :meth:`spool` (its file is moved into place, or
        removed if the append fails).  ``parsed`` holds the fields computed once at APPEND, keyed by
        ``messages.PARSED_COLUMNS`` (``envelope``, ``bodystructure``, ``body_simple``
        required).  ``NotFound`` (``NoSelect`` for a placeholder) → [TRYCREATE];
        ``InvalidFlag``.
        """
        bits, keywords, when, fields = _append_columns(flags, internaldate, parsed or {})
        prepared = body if isinstance(body, blobs.PreparedBody) else await self._prepare(body)
        try:
            return await self._db.write(
                partial(
                    messages.append,
                    data_dir=self.data_dir,
                    mailbox_id=mailbox_id,
                    body=prepared,
                    bits=bits,
                    keywords=keywords,
                    internaldate=when,
                    parsed=fields,
                    viewer=viewer,
                )
            )
        finally:
            blobs.discard(prepared)  # installed files have moved; a leftover temp goes

    async def append_synced(
        self,
        mailbox_id: int,
        body: bytes | blobs.PreparedBody,
        flags: Iterable[str],
        internaldate: datetime | None,
        parsed: Mapping[str, bytes | int | str | None],
        *,
        viewer: int | None,
        claim: bool,
        since: int,
    ) -> tuple[tuple[int, int], list[int], Changes]:
        """:meth:`append_message` into the mailbox the appending session has selected,
        and in the same transaction what the sync after the APPEND reads (issue 14: one
        trip instead of three): with ``claim``, the \\Recent claim of every message no
        session has claimed yet, this one included (RFC 3501 §2.3.2: this session is told
        of it first, in the APPEND's own answer), and the changes since ``since``.
        Returns ((uid, modseq), the UIDs claimed, the changes)."""
        bits, keywords, when, fields = _append_columns(flags, internaldate, parsed)
        prepared = body if isinstance(body, blobs.PreparedBody) else await self._prepare(body)

        def append_synced(conn: sqlite3.Connection
                          ) -> tuple[tuple[int, int], list[int], Changes]:
            done = messages.append(conn, self.data_dir, mailbox_id, prepared, bits, keywords,
                                   when, fields, viewer)
            recent = messages.claim_recent(conn, mailbox_id) if claim else []
            changes = message_reads.changes_since(conn, mailbox_id, since, viewer)
            return done, recent, changes

        try:
            return await self._db.write(append_synced)
        finally:
            blobs.discard(prepared)

    async def append_messages(
        self,
        mailbox_id: int,
        items: Sequence[tuple[blobs.PreparedBody, Iterable[str], datetime | None,
                              Mapping[str, bytes | int | str | None]]],
        *,
        viewer: int | None = None,
        replace: tuple[int, int] | None = None,
    ) -> list[tuple[int, int]]:
        """Several messages into one mailbox in ONE write transaction: all of them or none
        (MULTIAPPEND, RFC 3502 §6.3.11).  ``replace`` = (mailbox id, UID): that message is
        removed first in the same transaction (REPLACE, RFC 8508 §3.4: one action, and the
        quota counts the net change); ``NotFound`` if it is gone.  Each item is (body
        from :meth:`prepare_body` or :meth:`spool`, flags, internal date, parsed
        columns); the quota is enforced for
        the whole in that transaction (each append sees the ones before it).  Returns
        (uid, modseq) per message, in order; every body's temporary file is gone after
        (moved into place, or removed when the transaction failed)."""
        rows = [(body, *_append_columns(flags, internaldate, parsed))
                for body, flags, internaldate, parsed in items]

        def write(conn: sqlite3.Connection) -> list[tuple[int, int]]:
            if replace is not None:
                messages.remove_one(conn, *replace)
            return [messages.append(conn, self.data_dir, mailbox_id, body, bits, keywords,
                                    when, fields, viewer)
                    for body, bits, keywords, when, fields in rows]

        try:
            return await self._db.write(write)
        finally:
            for body, *_ in items:
                blobs.discard(body)

    async def prepare_body(self, body: bytes) -> blobs.PreparedBody:
        """Hash a body held in memory (and write it to a temporary file when it is too
        large to live in the database row), for :meth:`append_messages`."""
        return await self._prepare(body)

    async def append_to_mailboxes(
        self,
        targets: Sequence[tuple[int, Iterable[str]]],
        body: bytes | Path,
        internaldate: datetime | None = None,
        parsed: Mapping[str, bytes | int | str | None] | None = None,
    ) -> list[tuple[int, int]]:
        """One message into several mailboxes (``(mailbox_id, flags)`` each, flags as the
        owner's) in ONE write transaction: delivery to several recipients either happens
        for all or for none (RFC 5321 §4.2.5: one 250 covers every recipient).  The body is
        stored once.  Returns (uid, modseq) per target, in order."""
        parsed = dict(parsed or {})
        messages.check_parsed(parsed)
        encoded = [(mailbox_id, flags_mod.encode(flags)) for mailbox_id, flags in targets]
        when = messages.to_stored_date(internaldate or datetime.now(UTC))
        prepared = await self._prepare(body)

        def write(conn: sqlite3.Connection) -> list[tuple[int, int]]:
            return [messages.append(conn, self.data_dir, mailbox_id, prepared, bits, keywords,
                                    when, parsed)
                    for mailbox_id, (bits, keywords) in encoded]

        try:
            return await self._db.write(write)
        finally:
            blobs.discard(prepared)

    async def list_messages(
        self, mailbox_id: int, *, viewer: int | None = None
    ) -> list[MessageState]:
        """All messages in UID order, for building a view at SELECT."""
        return await self._db.read(
            partial(message_reads.list_messages, mailbox_id=mailbox_id, viewer=viewer)
        )

    async def changes_since(
        self, mailbox_id: int, modseq: int, *, viewer: int | None = None,
        skip: Collection[int] = (),
    ) -> Changes:
        """Messages added/changed and UIDs expunged after ``modseq``, as ``viewer`` sees
        them (another user's private flag changes are not there); those last changed at a
        modseq in ``skip`` (the caller's own, already answered) left out."""
        return await self._db.read(
            partial(
                message_reads.changes_since, mailbox_id=mailbox_id, modseq=modseq,
                viewer=viewer, skip=tuple(skip),
            )
        )

    async def fetch_records(
        self, mailbox_id: int, uids: Sequence[int], structure: bool = True,
        *, viewer: int | None = None,
    ) -> list[MessageRecord]:
        """FETCH metadata (ENVELOPE, BODYSTRUCTURE, sizes, dates, flags) for ``uids``;
        ``structure=False`` skips the ENVELOPE/BODYSTRUCTURE/part-tree blobs."""
        return await self._db.read(
            partial(
                message_reads.records,
                mailbox_id=mailbox_id,
                uids=uids,
                structure=structure,
                viewer=viewer,
            )
        )

    async def flag_records(
        self, mailbox_id: int, uids: Sequence[int], *, viewer: int | None = None
    ) -> list[MessageState]:
        """UID, flags and modseq of ``uids``: the cheapest FETCH."""
        return (await self.flag_records_with(mailbox_id, uids, None, viewer=viewer))[0]

    async def flag_records_with(
        self, mailbox_id: int, uids: Sequence[int], also: Alongside | None, *,
        viewer: int | None = None,
    ) -> tuple[list[MessageState], AlongsideFound | None]:
        """``flag_records`` and what ``also`` asks (``alongside``) in one read."""
        return await self._db.read(with_alongside(
            partial(message_reads.flag_records, mailbox_id=mailbox_id, uids=uids,
                    viewer=viewer),
            also))

    async def expunged_states(
        self, mailbox_id: int, uids: Sequence[int], *, viewer: int | None = None
    ) -> list[MessageState]:
        """UID and the flags they had, of messages of ``uids`` since expunged (RFC 2180
        §4.1: what a session not yet told of the expunge still shows)."""
        return await self._db.read(
            partial(
                message_reads.expunged_states, mailbox_id=mailbox_id, uids=uids, viewer=viewer
            )
        )

    async def select_summary(
        self, mailbox_id: int, *, viewer: int | None = None
    ) -> SelectSummary:
        """Everything SELECT reports, in one consistent read."""
        return await self._db.read(
            partial(message_reads.select_summary, mailbox_id=mailbox_id, viewer=viewer)
        )

    async def message_body(self, mailbox_id: int, uid: int) -> bytes | None:
        """The raw message, or None if the UID is not in the mailbox."""
        found = await self._db.read(
            partial(message_reads.body_location, mailbox_id=mailbox_id, uid=uid)
        )
        if found is None:
            return None
        inline, path = found
        if inline is not None:
            return inline
        assert path is not None
        return await asyncio.to_thread(blobs.read, self.data_dir, path)

    async def message_bodies(
        self, mailbox_id: int, uids: Sequence[int], header_only: bool = False
    ) -> dict[int, bytes]:
        """Raw messages (or just their headers) for many UIDs in one database trip; UIDs
        not in the mailbox are absent from the result."""
        rows = await self._db.read(
            partial(
                message_reads.bodies, mailbox_id=mailbox_id, uids=uids, header_only=header_only
            )
        )
        return await self._read_bodies(rows, header_only)

    async def fetch_records_and_bodies(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        structure: bool,
        body: str,
        *,
        viewer: int | None = None,
        budget: int | None = None,
    ) -> tuple[list[MessageRecord], dict[int, bytes | blobs.BlobFile]]:
        """``fetch_records`` and the bodies (``body`` "header" or "full"; "" none) in one
        database trip: what a FETCH of many messages needs per batch.

        Headers come as bytes.  Whole bodies come as bytes when kept in the database and as
        a :class:`blobs.BlobFile` (not read) when kept in a file: read what you need with
        :meth:`read_blob`.  With a ``budget`` (bytes), the batch may stop early: records
        come for a prefix of ``uids`` (in UID order) whose in-database bodies fit it."""
        recs, rows = await self._db.read(
            partial(
                message_reads.records_and_bodies,
                mailbox_id=mailbox_id,
                uids=uids,
                structure=structure,
                body=body,
                viewer=viewer,
                budget=budget,
            )
        )
        return recs, await self._fetch_bodies(rows, body)

    async def fetch_records_bodies_and_changes(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        structure: bool,
        body: str,
        modseq: int,
        *,
        viewer: int | None = None,
        budget: int | None = None,
        access: tuple[int, int, str] | None = None,
    ) -> tuple[list[MessageRecord], dict[int, bytes | blobs.BlobFile], Changes | None,
               acl.SessionAccess | None]:
        """``fetch_records_and_bodies`` and ``changes_since(modseq)`` in one read: a FETCH
        of one message then costs one trip to a database thread, not two (issue 14). The
        changes are None if the mailbox is gone (``changes_since`` raises it).

        ``access`` (the session's known access serial, user id and name): the access
        recheck of ``acl.session_access`` in the same read transaction, so the command
        needs no trip of its own for it; the caller must apply it before it answers."""
        def read(conn: sqlite3.Connection) -> tuple[
                list[MessageRecord], list[tuple[int, bytes | None, str | None, int]],
                AlongsideFound]:
            recs, rows = message_reads.records_and_bodies(
                conn, mailbox_id, uids, structure, body, viewer, budget)
            return recs, rows, read_alongside(
                conn, Alongside(mailbox_id, access, modseq, viewer))

        recs, rows, found = await self._db.read(read)
        return recs, await self._fetch_bodies(rows, body), found.changes, found.access

    async def _fetch_bodies(self, rows: list[tuple[int, bytes | None, str | None, int]],
                            body: str) -> dict[int, bytes | blobs.BlobFile]:
        if body == "header":
            return dict(await self._read_bodies(rows, True))
        out: dict[int, bytes | blobs.BlobFile] = {}
        for uid, inline, path, _header_size in rows:
            if inline is not None:
                out[uid] = inline
            elif path is not None:
                out[uid] = blobs.BlobFile(self.data_dir / path)
        return out

    async def spool(self) -> blobs.SpoolWriter:
        """A file to receive a large body as it arrives, hashed on the way (its methods
        block: call them in a worker thread); give ``finish()``'s result to
        :meth:`append_message`, or call ``discard()``."""
        return await asyncio.to_thread(blobs.SpoolWriter, self.data_dir)

    def discard_body(self, body: blobs.PreparedBody) -> None:
        """Drop a spooled body that will not be appended after all."""
        blobs.discard(body)

    async def read_blob(self, blob: blobs.BlobFile, start: int, length: int) -> bytes:
        """``length`` bytes of a body file from ``start``, read in a worker thread."""
        return await asyncio.to_thread(blob.read, start, length)

    async def _read_bodies(
        self, rows: list[tuple[int, bytes | None, str | None, int]], header_only: bool
    ) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        files: list[tuple[int, str, int]] = []
        for uid, inline, path, header_size in rows:
            if inline is not None:
                out[uid] = inline
            elif path is not None:
                files.append((uid, path, header_size))
        if files:

            def read_files() -> None:
                for uid, path, header_size in files:
                    if header_only:
                        with open(self.data_dir / path, "rb") as fh:
                            out[uid] = fh.read(header_size)
                    else:
                        out[uid] = blobs.read(self.data_dir, path)

            await asyncio.to_thread(read_files)
        return out

    async def store_flags(
        self,
        mailbox_id: int,
        uids: Sequence[int],
        mode: messages.StoreMode,
        flags: Iterable[str],
        unchanged_since: int | None = None,
        *,
        viewer: int | None = None,
        want_states: bool = True,
    ) -> StoreResult:
        """RFC 3501 §6.4.6 STORE (``mode`` "set", "add" or "remove"), RFC 7162 §3.1.3;
        private flags go to ``viewer``'s place, UNCHANGEDSINCE tests their modseq.
        ``want_states`` False (.SILENT): ``messages`` holds only the ``modified`` ones."""
        bits, keywords = flags_mod.encode(flags)
        return await self._db.write(
            partial(
                messages.store_flags,
                mailbox_id=mailbox_id,
                uids=uids,
                mode=mode,
                bits=bits,
                keywords=keywords,
                unchanged_since=unchanged_since,
                viewer=viewer,
                want_states=want_states,
            )
        )

    async def expunge(
        self, mailbox_id: int, uids: Sequence[int] | None = None, *, viewer: int | None = None
    ) -> tuple[list[int], int]:
        """Expunge \\Deleted messages (only among ``uids`` for UID EXPUNGE); returns the
        expunged UIDs and the mailbox's highest modseq.  \\Deleted is always shared."""
        return await self._db.write(
            partial(messages.expunge, mailbox_id=mailbox_id, uids=uids, viewer=viewer)
        )

    async def copy_messages(
        self, source_id: int, uids: Sequence[int], target_id: int, *, viewer: int | None = None
    ) -> CopyResult:
        """RFC 3501 §6.4.7 COPY; ``NotFound``/``NoSelect`` for the target → [TRYCREATE].
        The copies get the flags as ``viewer`` sees them."""
        return await self._db.write(
            partial(
                messages.copy,
                source_id=source_id,
                uids=uids,
                target_id=target_id,
                move=False,
                viewer=viewer,
            )
        )

    async def move_messages(
        self, source_id: int, uids: Sequence[int], target_id: int, *, viewer: int | None = None
    ) -> CopyResult:
        """RFC 6851 MOVE: copy and expunge in one transaction."""
        return await self._db.write(
            partial(
                messages.copy,
                source_id=source_id,
                uids=uids,
                target_id=target_id,
                move=True,
                viewer=viewer,
            )
        )

    async def claim_recent(self, mailbox_id: int, claim: bool = True) -> list[int]:
        """UIDs that are \\Recent for the calling session (RFC 3501 §2.3.2); with
        ``claim`` False (a read-only session), the UIDs no session has claimed yet, left
        unclaimed."""
        if not claim:
            return await self._db.read(partial(messages.recent_uids, mailbox_id=mailbox_id))
        return await self._db.write(partial(messages.claim_recent, mailbox_id=mailbox_id))

    async def search(
        self, mailbox_id: int, criteria: search_mod.Criterion, max_uid: int | None = None,
        *, viewer: int | None = None, time_limit: float | None = None,
    ) -> list[int]:
        """UIDs matching ``criteria`` (see ``search.py``) for ``viewer``, ascending, in one
        query; only UIDs up to ``max_uid`` when given.  ``search.SearchTooComplex`` past
        SQLite limits; ``TimeLimitExceeded`` past ``time_limit`` seconds (``db.read``)."""
        return (await self.search_with(mailbox_id, criteria, None, max_uid, viewer=viewer,
                                       time_limit=time_limit))[0]

    async def search_with(
        self, mailbox_id: int, criteria: search_mod.Criterion, also: Alongside | None,
        max_uid: int | None = None, *, viewer: int | None = None,
        time_limit: float | None = None,
    ) -> tuple[list[int], AlongsideFound | None]:
        """``search`` and what ``also`` asks (``alongside``) in one read: a SEARCH, its
        access recheck and the changes for the sync after it in one trip (issue 14)."""
        return await self._db.read(
            with_alongside(partial(
                search_mod.search,
                mailbox_id=mailbox_id,
                criteria=criteria,
                max_uid=max_uid,
                viewer=viewer,
            ), also),
            time_limit=time_limit,
        )

    async def search_with_modseq(
        self, mailbox_id: int, criteria: search_mod.Criterion, max_uid: int | None = None,
        *, viewer: int | None = None, time_limit: float | None = None,
    ) -> list[tuple[int, int]]:
        """(uid, modseq) of the matches, for SEARCH MODSEQ (RFC 7162 §3.1.5); modseqs as
        ``viewer`` sees them."""
        return await self._db.read(
            partial(
                search_mod.search_with_modseq,
                mailbox_id=mailbox_id,
                criteria=criteria,
                max_uid=max_uid,
                viewer=viewer,
            ),
            time_limit=time_limit,
        )
