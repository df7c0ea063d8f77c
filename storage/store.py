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
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Self

from . import blobs, mailboxes, passwords, subscriptions
from . import flags as flags_mod
from .attributes import AttributesMixin
from .commits import Subscriber
from .db import Database
from .errors import InvalidFlag
from .header_reads import HeaderReadsMixin
from .index_reads import IndexMixin
from .models import MailboxInfo, MailboxStatus
from .rederive import RederiveMixin
from .sorting import SortMixin
from .store_access import AccessMixin
from .store_browse import BrowseMixin
from .store_checked import CheckedWritesMixin
from .store_maintenance import MaintenanceMixin
from .store_messages import MessagesMixin
from .store_metadata import MetadataMixin
from .store_urlauth import UrlAuthMixin
from .store_users import UsersMixin
from .text_index import TextIndexMixin

DB_FILE = "crispin.db"
HASH_THREADS = 2


class Store(UsersMixin, MessagesMixin, CheckedWritesMixin, AccessMixin, BrowseMixin,
            IndexMixin, RederiveMixin, SortMixin, MaintenanceMixin, HeaderReadsMixin,
            TextIndexMixin, MetadataMixin, AttributesMixin, UrlAuthMixin):
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
        self._warming: Future[str] = Future()
        self._warming.set_result("")  # until open() starts the real one
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
        # Warm the dummy hash so the first unknown-user login costs the same as the others,
        # on a hashing thread while the server goes on starting (one scrypt, ~0.1-0.3 s:
        # issue 12, container start to healthy within 5 s); ``warmed`` waits for it, and a
        # login that needs it before then waits for it too (passwords.dummy_hash).
        store._warming = store._hash_pool.submit(passwords.dummy_hash, scrypt_n)
        return store

    async def warmed(self) -> None:
        """Until the start-up hash of :meth:`open` is done (a server says it is ready only
        then: its memory peak and first logins are those of a warm server)."""
        await asyncio.wrap_future(self._warming)

    async def close(self) -> None:
        self._hash_pool.shutdown(wait=False)
        await self._db.close()

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
        self, mailbox_id: int, *, viewer: int | None = None, deleted_storage: bool = False,
        size: bool = False,
    ) -> MailboxStatus:
        """RFC 3501 §6.3.10 counters (UNSEEN as ``viewer`` sees it), RFC 9208 DELETED
        (always) and DELETED-STORAGE (when asked), RFC 8438 SIZE (when asked).
        ``NotFound`` for an unknown id."""
        return await self._db.read(
            partial(
                mailboxes.mailbox_status,
                mailbox_id=mailbox_id,
                viewer=viewer,
                deleted_storage=deleted_storage,
                size=size,
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

    # -- mailboxes of any owner, shared mailboxes --------------------------------------

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
