"""The background reclaimer empties a large WAL once its work is done (storage/reclaim.py
``WAL_BYTES_KEPT``): after a VACUUM the WAL holds the whole rewritten database, and an idle
server writes nothing that would cut it back (bench/README "Full size, fourth try")."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crispin.storage import reclaim
from tests.server.harness import ServerThread, expect_ok, raw_login


def message(i: int) -> bytes:
    return b"From: a@example.org\r\nSubject: s%d\r\n\r\n" % i + b"x" * 4000 + b"\r\n"


def wal(data: Path) -> int:
    path = data / "crispin.db-wal"
    return path.stat().st_size if path.exists() else 0


def test_the_reclaimer_empties_a_large_wal(server: ServerThread,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reclaim, "WAL_BYTES_KEPT", 0)
    raw = raw_login(server)
    for i in range(20):
        expect_ok(raw, b"a%d" % i, b"APPEND INBOX {%d+}\r\n" % len(message(i)) + message(i))
    data = server.running.ctx.store.data_dir
    assert wal(data) > 0  # the APPENDs' commits, not yet cut back
    expect_ok(raw, b"s", b"SELECT INBOX")
    expect_ok(raw, b"d", b"STORE 1:10 +FLAGS.SILENT (\\Deleted)")
    expect_ok(raw, b"e", b"EXPUNGE")
    server.call(server.running.reclaimer.settled())
    assert wal(data) == 0
    conn = sqlite3.connect(data / "crispin.db")
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 10
    conn.close()
