"""Cost of one storage operation as the server sees it: one hop to a database thread and back.

Opens a ``Store`` on a temporary folder (no server, no sockets) and times, on one event loop:
- ``read``: ``Database.read`` of a trivial function (``SELECT 1``), sequentially;
- ``read x8``: the same with 8 tasks at once (the reader pool in use);
- ``write``: ``Database.write`` of a trivial change (an UPDATE of one row), sequentially: each
  one a transaction with its fsync;
- ``write x64``: 64 tasks writing at once (group commit: several writes per fsync);
- ``flags``: ``Store.flag_records`` of 50 UIDs of a 1,000-message mailbox.
Prints operations per second, wall-clock microseconds per operation, and CPU microseconds per
operation (``time.process_time``: every thread of the process, the figure that does not
depend on how busy the machine's other processes keep the cores); medians of ``--rounds``.
Run before and after a change to the database layer (bench/README.md "Database thread hops").
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crispin.storage import Store


def _select_one(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT 1").fetchone()[0])


def _touch(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'last_uidvalidity'")


async def _timed(n: int, op: Callable[[], Awaitable[object]],
                 parallel: int = 1) -> tuple[float, float]:
    async def worker(count: int) -> None:
        for _ in range(count):
            await op()

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(n // parallel) for _ in range(parallel)))
    return time.perf_counter() - start, time.process_time() - cpu


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="crispin-hops-") as tmp:
        store = await Store.open(Path(tmp), scrypt_n=2**4)
        try:
            db = store.database
            user = await store.create_user("bench", "pw")
            box = await store.get_mailbox(user.id, "INBOX")
            assert box is not None
            parsed = {"envelope": b"NIL", "bodystructure": b"NIL", "body_simple": b"NIL"}
            for i in range(1000):
                await store.append_message(box.id, b"Subject: %d\r\n\r\nx\r\n" % i,
                                           parsed=parsed)
            await db.write(lambda c: c.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('last_uidvalidity', 0)"))
            uids = list(range(100, 150))
            cases: list[tuple[str, int, Callable[[], Awaitable[object]], int]] = [
                ("read", args.n, lambda: db.read(_select_one), 1),
                ("read x8", args.n, lambda: db.read(_select_one), 8),
                ("write", args.n // 10, lambda: db.write(_touch), 1),
                ("write x64", args.n, lambda: db.write(_touch), 64),
                ("flags", args.n, lambda: store.flag_records(box.id, uids), 1),
            ]
            print(f"{'operation':<10} {'ops/s':>9} {'us/op':>8} {'CPU us/op':>10}")
            for name, n, op, parallel in cases:
                runs = [await _timed(n, op, parallel) for _ in range(args.rounds)]
                wall = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                print(f"{name:<10} {n / wall:>9,.0f} {wall / n * 1e6:>8.1f}"
                      f" {cpu / n * 1e6:>10.1f}")
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="operations per case")
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
