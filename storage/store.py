"""``Store``: the storage facade the server uses.

Every method is one trip to the database thread: a write is one function run inside the
writer's transaction (``Database.write``), committed — fsynced — before the coroutine
returns, so the server may answer OK right after.  A read is one function in one read
snapshot.  The sync functions doing the work live in ``users``, ``mailboxes`` and
``subscriptions``; this module only sequences them with password hashing, which runs in a
worker thread because scrypt costs ~50 ms.

Private flags: the methods that read or write flags take a keyword-only ``viewer`` (the
id of the user asking).  None reads and writes as the mailbox's owner, as before private
flags existed; see ``messages.py`` for the owner and private paths.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Self, TypeVar

from . import blobs, mailboxes, message_reads, messages, passwords, subscriptions, users
from . import flags as flags_mod
from . import search as search_mod
from .commits import Subscriber
from .db import Database
from .errors import InvalidFlag, NotFound
from .index_reads import IndexMixin
from .models import (
    Changes,
    CopyResult,
    MailboxInfo,
    MailboxStatus,
    MessageRecord,
    MessageState,
    SelectSummary,
    StoreResult,
    User,
)
from .rederive import RederiveMixin
from .sorting import SortMixin
from .store_access import AccessMixin
from .store_browse import BrowseMixin
from .store_maintenance import MaintenanceMixin

DB_FILE = "crispin.db"
HASH_THREADS = 2
T = TypeVar("T")


class Store(AccessMixin, BrowseMixin, IndexMixin, RederiveMixin, SortMixin, MaintenanceMixin):
    """Users, mailboxes, subscriptions and messages in ``<data_dir>/crispin.db``.

    Safe to use from many tasks at once, and alongside other ``Store`` objects or processes
    on the same file.  Bound to the event loop that opened it.
    """

    def __init__(self, db: Database, data_dir: Path, scrypt_n: int) -> None:
        self._db = db
        self.data_dir = data_dir
        self._scrypt_n = scrypt_n
        # Password hashing (scrypt: ~100 ms of CPU and 16 MiB each) has its own small pool,
        # so a burst of logins queues behind itself, not in front of blob reads and MIME
        # parsing in the default pool (issue 10.6).
        self._hash_pool = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="crispin-scrypt")
        self._snapshots: list[sqlite3.Connection] = []  # see MaintenanceMixin
        self.inline_max = blobs.INLINE_MAX
        """Bodies up to this many bytes are stored inside the database."""

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        *,
        scrypt_n: int = passwords.SCRYPT_N,
        **db_options: Any,
    ) -> Self:
        """Create ``data_dir`` (mode 0700) and the database (mode 0600) if needed, and
        bring the schema up to date.  ``scrypt_n`` lowers the hashing cost in tests only."""
        data_dir = Path(data_dir)
        if not data_dir.exists():
            data_dir.mkdir(mode=0o700, parents=True)
            os.chmod(data_dir, 0o700)  # mkdir's mode is filtered by the umask
        db = await Database.open(data_dir / DB_FILE, **db_options)
        store = cls(db, data_dir, scrypt_n)
        # Warm the dummy hash so the first unknown-user login costs the same as the others.
        await store._hashing(passwords.dummy_hash, scrypt_n)
        return store

    async def close(self) -> None:
        self._hash_pool.shutdown(wait=False)
        await self._db.close()

    async def _hashing(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._hash_pool, fn, *args)

    @property
    def database(self) -> Database:
        """The underlying database (for the message API and tests)."""
        return self._db

    def on_commit(self, callback: Subscriber) -> Callable[[], None]:
        """Have ``callback(report)`` called on the event loop after every commit of this
        Store that changed a mailbox: the report (``commits.CommitReport``) lists each
        mailbox changed, its new highest modseq and the kinds of change (appended, flags,
        expunged, created, renamed, deleted, settings).  Returns the function that
        unsubscribes.  The callback must not block; see ``commits.py`` for the contract.
        This is how the IDLE hub learns of changes, and how any other front end should."""
        return self._db.on_commit(callback)

    # -- users ----------------------------------------------------------------------------

    async def create_user(self, name: str, password: str) -> User:
        """Create a user and its INBOX.  ``AlreadyExists``, ``InvalidName``,
        ``InvalidPassword`` (empty)."""
        users.validate_user_name(name)
        passwords.validate_password(password)
        hashed = await self._hash(password)
        return await self._db.write(partial(users.create_user, name=name, password_hash=hashed))

    async def set_password(self, name: str, password: str) -> None:
        """``NotFound`` for an unknown user, ``InvalidPassword`` for an empty one."""
        passwords.validate_password(password)
        hashed = await self._hash(password)
        await self._db.write(partial(users.set_password, name=name, password_hash=hashed))

    async def create_user_hashed(self, name: str, password_hash: str) -> User:
        """:meth:`create_user` with a hash already in the stored form (a users file)."""
        users.validate_user_name(name)
        if not passwords.is_hash(password_hash):
            raise ValueError("not a password hash in the stored form")
        return await self._db.write(partial(users.create_user, name=name,
                                            password_hash=password_hash))

    async def update_password(self, name: str, password: str | None = None,
                              password_hash: str | None = None) -> bool:
        """Make ``name``'s password ``password`` (or the stored-form ``password_hash``);
        False when it already was (nothing written). ``NotFound`` for an unknown user."""
        found = await self._db.read(partial(users.get_user_and_hash, name=name))
        if found is None:
            raise NotFound(f"no user {name!r}")
        if password_hash is not None:
            if not passwords.is_hash(password_hash):
                raise ValueError("not a password hash in the stored form")
            if found[1] == password_hash:
                return False
            new = password_hash
        else:
            assert password is not None
            if await asyncio.to_thread(passwords.verify_password, password, found[1]):
                return False
            new = await self._hash(password)
        await self._db.write(partial(users.set_password, name=name, password_hash=new))
        return True

    async def delete_user(self, name: str) -> None:
        """Delete the user with its mailboxes, messages and subscriptions.  ``NotFound``."""
        await self._db.write(partial(users.delete_user, name=name))

    async def list_users(self) -> list[User]:
        return await self._db.read(users.list_users)

    async def get_user(self, name: str) -> User | None:
        return await self._db.read(partial(users.get_user, name=name))

    async def password_hash(self, name: str) -> tuple[User, str] | None:
        """The user and their stored password hash (the auth cache checks it is unchanged)."""
        return await self._db.read(partial(users.get_user_and_hash, name=name))

    async def verify_password(self, name: str, password: str) -> User | None:
        """The user if ``password`` is right, else None.

        An unknown user is checked against a dummy hash of the same cost, so the answer
        takes as long as for a known user with a wrong password.
        """
        if not password:
            return None  # an account made with an empty password before it was refused
        found = await self._db.read(partial(users.get_user_and_hash, name=name))
        stored = found[1] if found is not None else passwords.dummy_hash(self._scrypt_n)
        ok = await self._hashing(passwords.verify_password, password, stored)
        return found[0] if found is not None and ok else None

    async def has_messages(self) -> bool:
        """Whether any mailbox holds a message (a preload goes only into an empty store)."""
        def query(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM mailbox_messages)").fetchone()
            return bool(row[0])

        return await self._db.read(query)

    async def user_count(self) -> int:
        return await self._db.read(users.user_count)

    async def _hash(self, password: str) -> str:
        return await self._hashing(passwords.hash_password, password, self._scrypt_n)

    # -- mailboxes ------------------------------------------------------------------------

    async def list_mailboxes(self, user_id: int) -> list[MailboxInfo]:
        """All of the user's mailboxes (``noselect`` placeholders too), sorted by name."""
        return await self._db.read(partial(mailboxes.list_mailboxes, user_id=user_id))

    async def get_mailbox(self, user_id: int, name: str) -> MailboxInfo | None:
        return await self._db.read(partial(mailboxes.get_mailbox, user_id=user_id, name=name))

    async def get_mailbox_by_id(self, mailbox_id: int) -> MailboxInfo | None:
        return await self._db.read(partial(mailboxes.get_mailbox_by_id, mailbox_id=mailbox_id))

    async def create_mailbox(
        self, user_id: int, name: str, special_use: str | None = None
    ) -> MailboxInfo:
        """RFC 3501 §6.3.3; see ``mailboxes.create_mailbox``."""
        return await self._db.write(
            partial(mailboxes.create_mailbox, user_id=user_id, name=name, special_use=special_use)
        )

    async def delete_mailbox(self, user_id: int, name: str) -> None:
        """RFC 3501 §6.3.4; see ``mailboxes.delete_mailbox``."""
        await self._db.write(partial(mailboxes.delete_mailbox, user_id=user_id, name=name))

    async def rename_mailbox(self, user_id: int, old: str, new: str) -> None:
        """RFC 3501 §6.3.5; see ``mailboxes.rename_mailbox``."""
        await self._db.write(partial(mailboxes.rename_mailbox, user_id=user_id, old=old, new=new))

    async def mailbox_status(
        self, mailbox_id: int, *, viewer: int | None = None, deleted_storage: bool = False
    ) -> MailboxStatus:
        """RFC 3501 §6.3.10 counters (UNSEEN as ``viewer`` sees it), and RFC 9208 DELETED
        (always) and DELETED-STORAGE (when asked).  ``NotFound`` for an unknown id."""
        return await self._db.read(
            partial(
                mailboxes.mailbox_status,
                mailbox_id=mailbox_id,
                viewer=viewer,
                deleted_storage=deleted_storage,
            )
        )

    async def set_private_flags(self, mailbox_id: int, flags: int | Iterable[str]) -> None:
        """Which system flags each user keeps for themselves in this mailbox: names (one of
        ``PRIVATE_FLAG_CHOICES``' values), or a mask of ``flags.py`` bits (see
        ``mailboxes.PRIVATE_FLAG_MASKS``).  Applies from now on; every message gets a new
        modseq.  ``ValueError`` for \\Deleted or unknown flags; ``NotFound``."""
        try:
            mask = flags if isinstance(flags, int) else flags_mod.mask_of(flags)
        except InvalidFlag as exc:
            raise ValueError(str(exc)) from None
        await self._db.write(
            partial(mailboxes.set_private_flags, mailbox_id=mailbox_id, mask=mask)
        )

    # -- subscriptions --------------------------------------------------------------------

    async def highest_modseqs(self, mailbox_ids: Iterable[int]) -> dict[int, int]:
        """The current highest modseq of each mailbox (absent: deleted), in one query: how a
        server notices changes made by another process."""
        ids = json.dumps(list(mailbox_ids))

        def query(conn: sqlite3.Connection) -> dict[int, int]:
            rows = conn.execute(
                "SELECT id, highest_modseq FROM mailboxes"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (ids,),
            ).fetchall()
            return {int(r[0]): int(r[1]) for r in rows}

        return await self._db.read(query)

    async def subscribe(self, user_id: int, name: str) -> None:
        """RFC 3501 §6.3.6; idempotent; the mailbox need not exist."""
        await self._db.write(partial(subscriptions.subscribe, user_id=user_id, name=name))

    async def unsubscribe(self, user_id: int, name: str) -> None:
        """RFC 3501 §6.3.7; ``NotFound`` when not subscribed."""
        await self._db.write(partial(subscriptions.unsubscribe, user_id=user_id, name=name))

    async def list_subscriptions(self, user_id: int) -> list[str]:
        return await self._db.read(partial(subscriptions.list_subscriptions, user_id=user_id))

    # -- messages -------------------------------------------------------------------------

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
        parsed = dict(parsed or {})
        messages.check_parsed(parsed)
        bits, keywords = flags_mod.encode(flags)
        when = messages.to_stored_date(internaldate or datetime.now(UTC))
        if isinstance(body, blobs.PreparedBody):
            prepared = body
        else:
            prepared = await asyncio.to_thread(blobs.prepare, self.data_dir, body,
                                               self.inline_max)
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
                    parsed=parsed,
                    viewer=viewer,
                )
            )
        finally:
            blobs.discard(prepared)  # installed files have moved; a leftover temp goes

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
        prepared = await asyncio.to_thread(blobs.prepare, self.data_dir, body, self.inline_max)

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
        self, mailbox_id: int, modseq: int, *, viewer: int | None = None
    ) -> Changes:
        """Messages added/changed and UIDs expunged after ``modseq``, as ``viewer`` sees
        them (another user's private flag changes are not there)."""
        return await self._db.read(
            partial(
                message_reads.changes_since, mailbox_id=mailbox_id, modseq=modseq, viewer=viewer
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
        return await self._db.read(
            partial(
                message_reads.flag_records, mailbox_id=mailbox_id, uids=uids, viewer=viewer
            )
        )

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
        if body == "header":
            return recs, dict(await self._read_bodies(rows, True))
        out: dict[int, bytes | blobs.BlobFile] = {}
        for uid, inline, path, _header_size in rows:
            if inline is not None:
                out[uid] = inline
            elif path is not None:
                out[uid] = blobs.BlobFile(self.data_dir / path)
        return recs, out

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
    ) -> StoreResult:
        """RFC 3501 §6.4.6 STORE (``mode`` "set", "add" or "remove"), RFC 7162 §3.1.3;
        private flags go to ``viewer``'s place, UNCHANGEDSINCE tests their modseq."""
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
        return await self._db.read(
            partial(
                search_mod.search,
                mailbox_id=mailbox_id,
                criteria=criteria,
                max_uid=max_uid,
                viewer=viewer,
            ),
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

    # -- users by id, shared mailboxes, ACL (RFC 4314), quotas (RFC 9208) ------------------

    async def get_user_by_id(self, user_id: int) -> User | None:
        def query(conn: sqlite3.Connection) -> User | None:
            row = conn.execute("SELECT id, name FROM users WHERE id = ?", (user_id,)).fetchone()
            return None if row is None else User(int(row[0]), str(row[1]))

        return await self._db.read(query)

    async def get_mailbox_in(self, owner_id: int | None, name: str) -> MailboxInfo | None:
        """``get_mailbox`` for any owner; None is the owner of the shared mailboxes."""
        return await self._db.read(partial(mailboxes.get_mailbox_in, owner_id=owner_id, name=name))

    async def list_mailboxes_in(self, owner_id: int | None) -> list[MailboxInfo]:
        """``list_mailboxes`` for any owner (None: shared), sorted by name."""
        return await self._db.read(partial(mailboxes.list_mailboxes_in, owner_id=owner_id))

    async def create_mailbox_in(
        self, owner_id: int | None, name: str, special_use: str | None = None
    ) -> MailboxInfo:
        """RFC 3501 §6.3.3 for any owner (None: shared); see ``mailboxes.create_mailbox_in``."""
        return await self._db.write(
            partial(
                mailboxes.create_mailbox_in,
                owner_id=owner_id,
                name=name,
                special_use=special_use,
            )
        )

    async def rename_mailbox_in(self, owner_id: int | None, old: str, new: str) -> None:
        """RFC 3501 §6.3.5 within one owner's hierarchy (None: shared)."""
        await self._db.write(
            partial(mailboxes.rename_mailbox_in, owner_id=owner_id, old=old, new=new)
        )

    async def delete_mailbox_in(self, owner_id: int | None, name: str) -> None:
        """RFC 3501 §6.3.4 for any owner (None: shared)."""
        await self._db.write(partial(mailboxes.delete_mailbox_in, owner_id=owner_id, name=name))

    async def create_shared_mailbox(self, name: str, special_use: str | None = None) -> MailboxInfo:
        """A mailbox of no single user (owner NULL), superiors created as for a user's.
        Reachable by users only through its ACL.  ``AlreadyExists``, ``InvalidName``."""
        return await self.create_mailbox_in(None, name, special_use)

    async def get_shared_mailbox(self, name: str) -> MailboxInfo | None:
        return await self.get_mailbox_in(None, name)

    async def list_shared_mailboxes(self) -> list[MailboxInfo]:
        return await self.list_mailboxes_in(None)

    async def rename_shared_mailbox(self, old: str, new: str) -> None:
        await self.rename_mailbox_in(None, old, new)

    async def delete_shared_mailbox(self, name: str) -> None:
        """RFC 3501 §6.3.4 rules; "INBOX" is an ordinary shared name."""
        await self.delete_mailbox_in(None, name)
