"""Whole-store snapshots with SQLite's online backup API, for test suites that reset to a
known state between tests (https://www.sqlite.org/backup.html).

A snapshot is an in-memory copy of the database: taking one reads a consistent snapshot of
the live file from a connection of its own, and restoring copies it back over the live file
in one step, under SQLite's write lock, so the server's own connections see either the old
or the new store, never a mix.  Message bodies kept in files are content-addressed and never
rewritten; reclaiming (``reclaim.py``) deletes no body while a snapshot taken through
``Store.snapshot`` is open, so a snapshot's rows keep pointing at files that exist.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .db import connect


def take(db_path: Path) -> sqlite3.Connection:
    """Copy the live database into memory; the returned connection is the snapshot."""
    source = connect(db_path)
    try:
        copy = sqlite3.connect(":memory:", check_same_thread=False)
        source.backup(copy)
    finally:
        source.close()
    return copy


def restore(snapshot: sqlite3.Connection, db_path: Path) -> None:
    """Replace the live database's content with the snapshot's."""
    target = connect(db_path)
    try:
        snapshot.backup(target)
        # The copy carries the in-memory database's header; the live file stays in WAL mode.
        mode = target.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"restored database left in {mode} mode")
    finally:
        target.close()
