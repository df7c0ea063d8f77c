"""Schema creation and upgrades (PRAGMA user_version)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crispin.storage import SchemaTooNew, Store, migrations
from crispin.storage.migrations import LATEST_VERSION, MIGRATIONS, migrate, split_statements

from .helpers import FAST_N, db_path, query

TABLES = {
    "meta",
    "users",
    "mailboxes",
    "subscriptions",
    "acl",
    "messages",
    "mailbox_messages",
    "expunged",
}


async def test_fresh_database_gets_latest_schema(store: Store, data_dir: Path) -> None:
    assert query(data_dir, "PRAGMA user_version") == [(LATEST_VERSION,)]
    names = {r[0] for r in query(data_dir, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert names >= TABLES
    assert query(data_dir, "PRAGMA journal_mode") == [("wal",)]


async def test_connection_settings(store: Store) -> None:
    def pragmas(conn: sqlite3.Connection) -> tuple[int, int, int]:
        return (
            conn.execute("PRAGMA foreign_keys").fetchone()[0],
            conn.execute("PRAGMA synchronous").fetchone()[0],
            conn.execute("PRAGMA busy_timeout").fetchone()[0],
        )

    for fk, sync, busy in (
        await store.database.write(pragmas),
        await store.database.read(pragmas),
    ):
        assert fk == 1
        assert sync == 2  # FULL
        assert busy > 0


async def test_reopen_is_idempotent_and_keeps_data(data_dir: Path) -> None:
    s = await Store.open(data_dir, scrypt_n=FAST_N)
    u = await s.create_user("bob", "pw")
    await s.create_mailbox(u.id, "Work/2024")
    await s.close()
    for _ in range(2):
        s = await Store.open(data_dir, scrypt_n=FAST_N)
        assert await s.get_user("bob") == u
        names = [m.name for m in await s.list_mailboxes(u.id)]
        assert names == ["INBOX", "Work", "Work/2024"]
        await s.close()
    assert query(data_dir, "PRAGMA user_version") == [(LATEST_VERSION,)]


async def test_database_newer_than_code_is_refused(data_dir: Path) -> None:
    s = await Store.open(data_dir, scrypt_n=FAST_N)
    await s.close()
    conn = sqlite3.connect(db_path(data_dir))
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew):
        await Store.open(data_dir, scrypt_n=FAST_N)


def test_failed_migration_leaves_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = [*MIGRATIONS, (LATEST_VERSION + 1, "CREATE TABLE t1 (x);\nCREATE TABLE oops (;\n")]
    monkeypatch.setattr(migrations, "MIGRATIONS", bad)
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "t1" not in tables  # the failed step rolled back whole
    conn.close()


def test_migration_versions_are_consecutive() -> None:
    assert [v for v, _ in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    script = """
CREATE TABLE a (x);
CREATE TRIGGER t AFTER INSERT ON a
BEGIN
    UPDATE a SET x = 1;
    UPDATE a SET x = 2;
END;
CREATE INDEX i ON a(x);
"""
    parts = split_statements(script)
    assert len(parts) == 3
    assert parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")
    with pytest.raises(ValueError):
        split_statements("CREATE TABLE b (x")
