"""Snapshot and restore of a whole store (the pytest plugin's per-test reset): how long
``PUT /api/snapshots/NAME`` and ``POST /api/snapshots/NAME/restore`` take for a store of N
small messages, measured through the HTTP API of an in-process server on free ports.

    .venv/bin/python bench/snapshot_restore.py --messages 0,1000,10000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crispin.server.testing import CrispinServer


def call(base: str, method: str, path: str) -> None:
    req = urllib.request.Request(base + path, method=method)
    with urllib.request.urlopen(req, timeout=300) as resp:
        resp.read()


def run(count: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, CrispinServer(Path(tmp) / "data") as srv:
        srv.add_user("bench")
        store = srv.running.ctx.store

        async def fill() -> None:
            from crispin.server.http.lookup import mailbox_or_404, user_or_404
            from crispin.server.http.messages import deliver

            user = await user_or_404(store, "bench")
            box = await mailbox_or_404(store, user, "INBOX")
            for i in range(count):
                await deliver(store, box, b"Subject: m%d\r\nTo: bench\r\n\r\n%s\r\n"
                              % (i, b"x" * 500), [])

        srv.call(fill(), timeout=3600)
        base = srv.http_url
        takes, restores = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            call(base, "PUT", "/api/snapshots/b")
            takes.append(time.perf_counter() - start)
            srv.deliver("bench", b"Subject: extra\r\n\r\nx\r\n")
            start = time.perf_counter()
            call(base, "POST", "/api/snapshots/b/restore")
            restores.append(time.perf_counter() - start)
        db = (Path(tmp) / "data" / "crispin.db").stat().st_size
        return {"messages": count, "db_kib": db / 1024,
                "snapshot_ms": statistics.median(takes) * 1000,
                "restore_ms": statistics.median(restores) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", default="0,1000,10000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print("messages  db KiB  snapshot ms (median)  restore ms (median)")
    for n in (int(x) for x in args.messages.split(",")):
        r = run(n, args.rounds)
        print(f"{r['messages']:8d}  {r['db_kib']:6.0f}  {r['snapshot_ms']:20.1f}  "
              f"{r['restore_ms']:19.1f}")


if __name__ == "__main__":
    main()
