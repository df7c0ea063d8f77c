"""The ``Store`` methods for URLAUTH's mailbox access keys (``urlauth.py``)."""

from __future__ import annotations

from functools import partial

from . import urlauth
from .db import Database


class UrlAuthMixin:
    _db: Database

    async def urlauth_key(self, user_id: int, mailbox_id: int, create: bool = False
                          ) -> bytes | None:
        """The user's access key for the mailbox; with ``create``, made if missing."""
        if create:
            return await self._db.write(partial(urlauth.ensure_key, user_id=user_id,
                                                mailbox_id=mailbox_id))
        return await self._db.read(partial(urlauth.get_key, user_id=user_id,
                                           mailbox_id=mailbox_id))

    async def reset_urlauth_key(self, user_id: int, mailbox_id: int) -> None:
        await self._db.write(partial(urlauth.reset_key, user_id=user_id,
                                     mailbox_id=mailbox_id))

    async def reset_urlauth_keys(self, user_id: int) -> int:
        return await self._db.write(partial(urlauth.reset_all, user_id=user_id))
