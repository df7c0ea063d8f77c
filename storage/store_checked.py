"""The ``Store`` methods for a session's writes to its selected mailbox that take one trip
to the database thread instead of three (issue 14, bench/README.md "Mixed load"): the
access recheck before the write, the write, and the "changes since" read of the sync after
the command, all in the write's own transaction on the writer thread.

Under a mixed load each trip waits 1-2 ms for a thread and then for the event loop, while
the work itself is 0.02-0.2 ms; here the recheck and the read add that work to the writer
but no wait. The write is still group-committed with other sessions' writes, and the
caller gets its outcome only after the COMMIT (``db.py``): nothing answered OK is lost.

The recheck (``acl.session_access``, RFC 4314 §4: a right revoked by another session or
another process takes effect at once) comes first: when the access serial moved and the
rights read now lack one of ``need``, or the user is gone, nothing is written and the
caller, after applying the access it is handed, answers as the rights now say. The changes
are read after the write, in the same snapshot the COMMIT makes durable: what the sync
would read right after the command, less what other sessions commit meanwhile (reported
at the next command, as any change committed after a sync).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from . import acl, message_reads, messages
from . import flags as flags_mod
from .db import Database
from .models import Changes, StoreResult

T = TypeVar("T")

#: The session's known access serial, its user's id and name (``acl.session_access``).
AccessKey = tuple[int, int, str]


@dataclass(frozen=True)
class Checked(Generic[T]):
    """What a checked write did. ``access``: the recheck's finding, None while the serial
    is still the one the session knew (to apply before answering); ``result``: the write's
    outcome, None when the recheck refused it (nothing written); ``changes``: the mailbox's
    changes since the modseq asked for, read after the write (None if not asked for or not
    written)."""

    access: acl.SessionAccess | None
    result: T | None
    changes: Changes | None


def _refused(found: acl.SessionAccess | None, need: str) -> bool:
    """Whether the access read now forbids the write: the user is gone, or a right in
    ``need`` was revoked. A mailbox gone (rights None) is not refused here: the write
    raises ``NotFound`` as it would without the recheck."""
    if found is None:
        return False
    if not found.user_exists:
        return True
    return found.rights is not None and any(r not in found.rights for r in need)


class CheckedWritesMixin:
    _db: Database

    async def _checked(
        self, mailbox_id: int, access: AccessKey, need: str,
        write: Callable[[sqlite3.Connection], T], since: int | None,
        viewer: int | None, skip: Callable[[T], Collection[int]],
    ) -> Checked[T]:
        def run(conn: sqlite3.Connection) -> Checked[T]:
            found = acl.session_access(conn, access[0], access[1], access[2], mailbox_id)
            if _refused(found, need):
                return Checked(found, None, None)
            result = write(conn)
            changes = None if since is None else message_reads.changes_since(
                conn, mailbox_id, since, viewer, skip(result))
            return Checked(found, result, changes)

        # What ``tests/server/harness.count_writes`` and ``bench/_wait_timer.py`` report.
        run.__name__ = f"{getattr(write, '__name__', 'write')}_checked"
        return await self._db.write(run)

    async def store_flags_checked(
        self, mailbox_id: int, uids: Sequence[int], mode: messages.StoreMode,
        flags: Collection[str], unchanged_since: int | None, *, viewer: int | None,
        want_states: bool, access: AccessKey, need: str, since: int,
    ) -> Checked[StoreResult]:
        """``store_flags`` after the access recheck, and the changes since ``since`` but
        the STORE's own (its modseq: the command answers them itself, RFC 3501 §6.4.6)."""
        bits, keywords = flags_mod.encode(flags)

        def store_flags(conn: sqlite3.Connection) -> StoreResult:
            return messages.store_flags(conn, mailbox_id, uids, mode, bits, keywords,
                                        unchanged_since, viewer, want_states)

        def own(result: StoreResult) -> Collection[int]:
            return (result.highest_modseq,) if result.changed else ()

        return await self._checked(mailbox_id, access, need, store_flags, since, viewer,
                                   own)

    async def expunge_checked(
        self, mailbox_id: int, uids: Sequence[int] | None, *, viewer: int | None,
        access: AccessKey, need: str, since: int | None,
    ) -> Checked[tuple[list[int], int]]:
        """``expunge`` after the access recheck, and the changes since ``since`` (None:
        none read, CLOSE deselects)."""
        def expunge(conn: sqlite3.Connection) -> tuple[list[int], int]:
            return messages.expunge(conn, mailbox_id, uids, viewer)

        return await self._checked(mailbox_id, access, need, expunge, since, viewer,
                                   lambda _: ())
