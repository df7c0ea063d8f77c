"""A storage read for health checks (``crispin health``), from another process than the server:
the database opened read-only, one query, closed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import StorageError


def read_check(data_dir: Path) -> int:
    """The number of users; ``StorageError`` when the database cannot be read."""
    path = data_dir / "crispin.db"
    if not path.exists():
        raise StorageError(f"no database at {path}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT count(*) FROM users").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StorageError(f"cannot read {path}: {exc}") from None
    return int(row[0])
