"""What a command's own read also reads for its session, in the same read transaction
(issue 14, bench/README.md "Mixed load"): the access recheck (``acl.session_access``) and
the selected mailbox's changes since the session's modseq (``changes_since``, for the
sync after the command).

Under load each trip to a database thread waits for a thread and then for the event loop
(1-2 ms), while the reads themselves take ~0.05 ms: a ``FETCH 1:* (UID FLAGS)`` made three
trips (the recheck, the rows, the changes) where one does. The server applies what was
read (the rights, a deleted user) before it answers a byte of the command's data.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from . import acl, message_reads
from .errors import NotFound
from .models import Changes

T = TypeVar("T")


@dataclass(frozen=True)
class Alongside:
    """What to read with a command's own read. ``access``: the session's known access
    serial, user id and name (None: not asked); ``modseq``: read the changes of
    ``mailbox_id`` after it, as ``viewer`` sees them (None: not asked)."""

    mailbox_id: int
    access: tuple[int, int, str] | None = None
    modseq: int | None = None
    viewer: int | None = None


@dataclass(frozen=True)
class AlongsideFound:
    """``access``: as ``acl.session_access`` answers (None: the serial did not move, or
    it was not asked); ``changes``: None when not asked, or the mailbox is gone."""

    access: acl.SessionAccess | None
    changes: Changes | None
    modseq: int | None
    access_read: bool = False


def read_alongside(conn: sqlite3.Connection, also: Alongside) -> AlongsideFound:
    found = None if also.access is None else acl.session_access(
        conn, also.access[0], also.access[1], also.access[2], also.mailbox_id)
    changes: Changes | None = None
    if also.modseq is not None:
        try:
            changes = message_reads.changes_since(conn, also.mailbox_id, also.modseq,
                                                  also.viewer)
        except NotFound:
            changes = None
    return AlongsideFound(found, changes, also.modseq, also.access is not None)


def with_alongside(fn: Callable[[sqlite3.Connection], T], also: Alongside | None
                   ) -> Callable[[sqlite3.Connection], tuple[T, AlongsideFound | None]]:
    """``fn`` and, when ``also`` is given, ``read_alongside`` on the same connection: one
    read snapshot. ``NotFound`` from ``fn`` (the mailbox deleted meanwhile) is raised as
    it is: the caller rechecks access on its own then (a deleted user is told BYE)."""
    def read(conn: sqlite3.Connection) -> tuple[T, AlongsideFound | None]:
        result = fn(conn)
        return result, None if also is None else read_alongside(conn, also)

    # Named for what it reads (bench/_wait_timer.py counts the reads by name).
    inner = fn
    while hasattr(inner, "func"):  # functools.partial
        inner = inner.func
    name = getattr(inner, "__qualname__", "read")
    read.__qualname__ = name if also is None else name + "+alongside"
    # What the read's cost depends on (inline_reads.kind): the function it wraps.
    read.__wrapped__ = fn  # type: ignore[attr-defined]
    return read
