"""The ``Store`` methods for annotations (RFC 5464 METADATA, ``metadata.py``)."""

from __future__ import annotations

from functools import partial

from . import metadata
from .db import Database
from .metadata import MetadataLimits


class MetadataMixin:
    _db: Database

    async def get_metadata(self, mailbox_id: int | None, user_id: int, names: list[str],
                           infinite: bool = False) -> dict[str, bytes]:
        """The entries named (lower-cased), and those below them (one level, or every level
        when ``infinite``), that ``user_id`` sees on ``mailbox_id`` (None: the server):
        shared ones and the user's own private ones.  One read."""
        return await self._db.read(partial(
            metadata.get_entries, mailbox_id=mailbox_id, user_id=user_id, names=names,
            infinite=infinite))

    async def set_metadata(self, mailbox_id: int | None, user_id: int,
                           entries: list[tuple[str, bytes | None]],
                           limits: MetadataLimits) -> None:
        """Set (bytes) or remove (None) entries as ``user_id``, all or none of them
        (RFC 5464 §4.3): ``metadata.MetadataTooBig``, ``metadata.MetadataTooMany``;
        ``NotFound`` for a mailbox deleted meanwhile."""
        await self._db.write(partial(
            metadata.set_entries, mailbox_id=mailbox_id, user_id=user_id, entries=entries,
            limits=limits))
