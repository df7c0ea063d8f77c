"""The writer: group commit, isolation of failures, several Stores/processes on one file,
durability across kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from crispin.storage import AlreadyExists, Busy, NotFound, StorageError, Store, User

from .helpers import FAST_N, db_path, query, raw_connect

REPO = Path(__file__).resolve().parents[2]


async def test_fifty_concurrent_creates_all_land(store: Store, user: User) -> None:
    batches_before = store.database.batches
    boxes = await asyncio.gather(*(store.create_mailbox(user.id, f"box{i}") for i in range(50)))
    assert len({b.id for b in boxes}) == 50
    assert len({b.uidvalidity for b in boxes}) == 50
    names = {m.name for m in await store.list_mailboxes(user.id)}
    assert names == {"INBOX"} | {f"box{i}" for i in range(50)}
    # group commit: far fewer transactions than operations
    assert store.database.batches - batches_before < 50


async def test_failure_in_a_batch_is_isolated(store: Store, user: User) -> None:
    results = await asyncio.gather(
        store.create_mailbox(user.id, "x"),
        store.create_mailbox(user.id, "x"),
        store.create_mailbox(user.id, "y/z"),
        store.delete_mailbox(user.id, "nope"),
        store.create_mailbox(user.id, "w"),
        return_exceptions=True,
    )
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["MailboxInfo", "AlreadyExists", "MailboxInfo", "NotFound", "MailboxInfo"]
    names = [m.name for m in await store.list_mailboxes(user.id)]
    assert names == ["INBOX", "w", "x", "y", "y/z"]


async def test_failed_operation_rolls_back_its_partial_work(store: Store, user: User) -> None:
    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO subscriptions (user_id, name) VALUES (?, 'half')", (user.id,))
        raise NotFound("boom")

    for together in (False, True):
        ops = [store.database.write(half_done)]
        if together:
            ops.append(store.subscribe(user.id, "whole"))
        results = await asyncio.gather(*ops, return_exceptions=True)
        assert isinstance(results[0], NotFound)
    assert await store.list_subscriptions(user.id) == ["whole"]


async def test_bug_in_operation_propagates(store: Store) -> None:
    def buggy(conn: sqlite3.Connection) -> None:
        conn.execute("SELECT * FROM no_such_table")

    with pytest.raises(sqlite3.OperationalError):
        await store.database.write(buggy)
    assert await store.user_count() == 0  # the writer still works
    await store.create_user("after", "pw")


async def test_cancelled_waiter_does_not_break_writer(store: Store, user: User) -> None:
    task = asyncio.create_task(store.create_mailbox(user.id, "maybe"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await store.create_mailbox(user.id, "surely")
    assert await store.get_mailbox(user.id, "surely") is not None


async def test_write_of_a_cancelled_caller_still_commits(store: Store, user: User) -> None:
    """Once ``write`` was called, the change happens whenever the caller is cancelled:
    queued behind a running batch, or in the batch running now."""
    started = threading.Event()
    release = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(30)
        conn.execute("INSERT INTO subscriptions (user_id, name) VALUES (?, 'running')",
                     (user.id,))

    running = asyncio.create_task(store.database.write(slow))
    await asyncio.to_thread(started.wait, 30)  # the batch is on the writer thread now
    queued = asyncio.create_task(store.subscribe(user.id, "queued"))
    await asyncio.sleep(0)  # let it queue (one loop turn, no timing involved)
    running.cancel()
    queued.cancel()
    release.set()
    for task in (running, queued):
        with pytest.raises(asyncio.CancelledError):
            await task
    # The next write is queued after both: once it returns, they have committed.
    await store.subscribe(user.id, "after")
    assert await store.list_subscriptions(user.id) == ["after", "queued", "running"]


async def test_dead_writer_fails_writes_loudly(store: Store, user: User,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """If the writer task dies, waiting writes and later ones raise StorageError instead
    of hanging (its done-callback), and reads still work."""
    db = store.database

    def broken() -> list[object]:
        raise RuntimeError("writer bug")

    monkeypatch.setattr(db, "_take_batch", broken)
    with pytest.raises(StorageError, match="writer bug"):
        await asyncio.wait_for(store.create_mailbox(user.id, "lost"), 30)
    with pytest.raises(StorageError, match="writer"):
        await store.create_mailbox(user.id, "later")
    assert await store.get_mailbox(user.id, "lost") is None


async def test_two_stores_on_one_file(data_dir: Path) -> None:
    one = await Store.open(data_dir, scrypt_n=FAST_N)
    two = await Store.open(data_dir, scrypt_n=FAST_N)
    try:
        u = await one.create_user("alice", "pw")
        assert await two.get_user("alice") == u
        assert await two.verify_password("alice", "pw") == u
        await two.create_mailbox(u.id, "from-two")
        assert await one.get_mailbox(u.id, "from-two") is not None
        # both writing at once: BEGIN IMMEDIATE + busy_timeout serialise them
        await asyncio.gather(
            *(one.create_mailbox(u.id, f"one{i}") for i in range(20)),
            *(two.create_mailbox(u.id, f"two{i}") for i in range(20)),
        )
        assert len(await one.list_mailboxes(u.id)) == 42
        with pytest.raises(AlreadyExists):
            await two.create_user("alice", "x")
    finally:
        await one.close()
        await two.close()


async def test_other_process_writes_while_open(store: Store) -> None:
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from crispin.storage import Store\n"
        "async def main():\n"
        f"    s = await Store.open(Path(sys.argv[1]), scrypt_n={FAST_N})\n"
        "    await s.create_user('cli-user', 'pw')\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    await store.create_user("server-user", "pw")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, str(store.data_dir), cwd=REPO
    )
    assert await proc.wait() == 0
    assert [u.name for u in await store.list_users()] == ["cli-user", "server-user"]
    assert await store.verify_password("cli-user", "pw") is not None


async def test_busy_when_another_writer_holds_the_lock(data_dir: Path) -> None:
    s = await Store.open(data_dir, scrypt_n=FAST_N, busy_timeout=0.2)
    try:
        blocker = raw_connect(data_dir)
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(Busy):
            await s.create_user("alice", "pw")
        assert await s.user_count() == 0  # reads are not blocked by a writer (WAL)
        blocker.execute("ROLLBACK")
        blocker.close()
        await s.create_user("alice", "pw")
        assert await s.user_count() == 1
    finally:
        await s.close()


async def test_close_finishes_queued_writes_and_refuses_new(data_dir: Path) -> None:
    s = await Store.open(data_dir, scrypt_n=FAST_N)
    u = await s.create_user("alice", "pw")
    pending = [asyncio.create_task(s.create_mailbox(u.id, f"m{i}")) for i in range(10)]
    await asyncio.sleep(0)
    await s.close()
    await asyncio.gather(*pending)
    await s.close()  # idempotent
    with pytest.raises(StorageError):
        await s.get_user("alice")
    assert query(data_dir, "SELECT count(*) FROM mailboxes") == [(11,)]


async def test_answered_writes_survive_kill_9(tmp_path: Path) -> None:
    """Every write whose coroutine returned is on disk even if the process dies at once."""
    data = tmp_path / "data"
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from crispin.storage import Store\n"
        "async def main():\n"
        f"    s = await Store.open(Path(sys.argv[1]), scrypt_n={FAST_N})\n"
        "    u = await s.create_user('alice', 'pw')\n"
        "    i = 0\n"
        "    while True:\n"
        "        await s.create_mailbox(u.id, f'm{i}')\n"
        "        print(i, flush=True)\n"
        "        i += 1\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(data)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    last = -1
    try:
        while last < 30:
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line, "child died"
            last = int(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    s = await Store.open(data, scrypt_n=FAST_N)
    try:
        u = await s.get_user("alice")
        assert u is not None
        names = {m.name for m in await s.list_mailboxes(u.id)}
        assert {f"m{i}" for i in range(last + 1)} <= names
    finally:
        await s.close()
    assert db_path(data).exists()


def test_unclosed_store_does_not_hang_loop_shutdown(tmp_path: Path) -> None:
    """asyncio.run cancels leftover tasks, the writer included, even mid-batch."""

    async def main() -> None:
        s = await Store.open(tmp_path / "d", scrypt_n=FAST_N)
        u = await s.create_user("alice", "pw")
        for i in range(20):
            asyncio.get_running_loop().create_task(s.create_mailbox(u.id, f"m{i}"))
        await asyncio.sleep(0)

    # The in-flight batch may finish on the writer's thread after the loop is gone; the
    # thread then drops the result quietly (db._Worker), and being a daemon it holds
    # nothing up.
    asyncio.run(main())
