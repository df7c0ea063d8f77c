"""The ``Store`` methods for access control (RFC 4314 ACL) and quotas (RFC 9208).

A mixin so that ``store.py`` stays the facade of users, mailboxes and messages; every
method is still one function run on a database thread (``db.py``).
"""

from __future__ import annotations

from functools import partial

from . import acl, quota
from .alongside import Alongside, read_alongside
from .db import Database
from .models import AclEntry, Changes, MailboxInfo, Quota, QuotaResource


class AccessMixin:
    _db: Database
    #: Bumped by every ``set_quota`` of this Store: what caches of ``has_quota`` answers
    #: compare (the SMTP router's; another process's changes are not counted).
    quota_changes: int = 0

    async def get_acl(self, mailbox_id: int) -> list[AclEntry]:
        """Stored ACL entries sorted by identifier (owner's implicit rights not included).
        ``NotFound``."""
        return await self._db.read(partial(acl.get_acl, mailbox_id=mailbox_id))

    async def set_acl(self, mailbox_id: int, identifier: str, rights: str) -> None:
        """Replace ``identifier``'s entry; "" deletes it.  Rights normalised to
        ``acl.ALL_RIGHTS`` order ("c"/"d" expanded); ``acl.InvalidRights`` (an
        ``InvalidName``) for unknown letters; ``NotFound``."""
        await self._db.write(
            partial(acl.set_acl, mailbox_id=mailbox_id, identifier=identifier, rights=rights)
        )

    async def delete_acl(self, mailbox_id: int, identifier: str) -> None:
        """No error when the entry is absent; ``NotFound`` for an unknown mailbox."""
        await self._db.write(partial(acl.delete_acl, mailbox_id=mailbox_id, identifier=identifier))

    async def rights_of(self, mailbox_id: int, user_id: int, user_name: str) -> str:
        """Effective rights (RFC 4314 §2) in ``acl.ALL_RIGHTS`` order; ``NotFound``."""
        return await self._db.read(
            partial(acl.rights_of, mailbox_id=mailbox_id, user_id=user_id, user_name=user_name)
        )

    async def session_access(self, known: int, user_id: int, user_name: str,
                             mailbox_id: int | None) -> acl.SessionAccess | None:
        """None while the access serial is still ``known``; else the user's existence and
        rights on ``mailbox_id`` now (``acl.session_access``).  One read."""
        return await self._db.read(partial(
            acl.session_access, known=known, user_id=user_id, user_name=user_name,
            mailbox_id=mailbox_id))

    async def session_access_and_changes(
        self, known: int, user_id: int, user_name: str, mailbox_id: int, modseq: int,
        viewer: int | None = None,
    ) -> tuple[acl.SessionAccess | None, Changes | None]:
        """``session_access`` and ``changes_since(modseq)`` of ``mailbox_id`` in one read:
        a command that reads nothing else (NOOP, CHECK) then costs one trip to a database
        thread, not two (issue 14: another session's NOOP while a big FETCH runs waits
        for the event loop at every trip). The changes are None if the mailbox is gone
        (``changes_since`` raises it)."""
        found = await self._db.read(partial(read_alongside, also=Alongside(
            mailbox_id, (known, user_id, user_name), modseq, viewer)))
        return found.access, found.changes

    async def visible_mailboxes(
        self, user_id: int, user_name: str
    ) -> list[tuple[MailboxInfo, str, str | None]]:
        """Other users' and shared mailboxes the user may look up ("l"), with the effective
        rights and the owner's name (None: shared); see ``acl.visible_mailboxes``."""
        return await self._db.read(
            partial(acl.visible_mailboxes, user_id=user_id, user_name=user_name)
        )

    async def mailboxes_as_seen(
        self, mailbox_ids: list[int], user_id: int, user_name: str
    ) -> list[tuple[MailboxInfo, str, str | None]]:
        """These mailboxes (those that exist) with the user's rights and the owner's name;
        one read (``acl.mailboxes_as_seen``)."""
        return await self._db.read(partial(
            acl.mailboxes_as_seen, mailbox_ids=mailbox_ids, user_id=user_id,
            user_name=user_name))

    async def set_quota(
        self, root_kind: str, root_id: int, storage_kib: int | None, messages: int | None
    ) -> None:
        """RFC 9208 SETQUOTA; see ``quota.set_quota``."""
        try:
            await self._db.write(
                partial(
                    quota.set_quota,
                    root_kind=root_kind,
                    root_id=root_id,
                    storage_kib=storage_kib,
                    messages=messages,
                )
            )
        finally:
            # After the commit: an answer read before it carries the older count.
            self.quota_changes += 1

    async def get_quota(self, root_kind: str, root_id: int) -> Quota | None:
        """Limits and current usage; None without a quota."""
        return await self._db.read(partial(quota.get_quota, root_kind=root_kind, root_id=root_id))

    async def quota_root_of(self, mailbox_id: int) -> tuple[str, int]:
        """("user", owner id) or ("mailbox", top-level shared mailbox id); ``NotFound``."""
        return await self._db.read(partial(quota.quota_root_of, mailbox_id=mailbox_id))

    async def has_quota(self, mailbox_id: int) -> bool:
        """Whether the mailbox's quota root has limits; ``NotFound``."""
        return await self._db.read(partial(quota.has_quota, mailbox_id=mailbox_id))

    async def check_quota(
        self, mailbox_id: int, add_octets: int, add_messages: int
    ) -> QuotaResource | None:
        """The first resource the addition would exceed, or None.  Not atomic with the
        write that follows (see ``quota.py``)."""
        return await self._db.read(
            partial(
                quota.check_quota,
                mailbox_id=mailbox_id,
                add_octets=add_octets,
                add_messages=add_messages,
            )
        )
