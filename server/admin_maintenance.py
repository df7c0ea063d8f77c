"""``crispin check`` and ``crispin maintenance``: verify a data folder, repair it, and reclaim
what expunged mail left behind (storage/check.py, storage/reclaim.py).

Both may run while the server runs (they use the same database through SQLite's locking);
``maintenance --vacuum`` rewrites the whole database file and holds the write lock meanwhile,
so run it when the server is quiet.
"""

from __future__ import annotations

import argparse
import sys

from crispin.server.config import Config
from crispin.storage import DB_FILE, Store


async def run_maintenance(args: argparse.Namespace, config: Config) -> int:
    if not (config.data_dir / DB_FILE).exists():
        print(f"crispin: no database in {config.data_dir}", file=sys.stderr)
        return 1
    store = await Store.open(config.data_dir)
    try:
        if args.command == "check":
            return await _check(store, args.repair, not args.quick)
        return await _maintenance(store, args.vacuum)
    finally:
        await store.close()


async def _check(store: Store, repair: bool, full: bool) -> int:
    problems = await store.check(full=full)
    for p in problems:
        print(f"{p.kind}: {p.detail}" + ("" if p.repairable else " (cannot be repaired)"))
    if problems and repair:
        left = await store.repair()
        print(f"repaired {len(problems) - len(left)} problem(s); {len(left)} left")
        for p in left:
            print(f"left: {p.kind}: {p.detail}")
        problems = left
    if not problems:
        print("ok")
    return 1 if problems else 0


async def _maintenance(store: Store, vacuum: bool) -> int:
    # An administrator's run merges the full-text index whatever the count of its deleted
    # documents says (a data folder from before migration 11 starts that count at 0).
    totals = await store.reclaim(merge_index=True)
    print(f"reclaimed {totals.messages} message(s), {totals.files} file(s),"
          f" {totals.tombstones} tombstone(s), {totals.pages} free page(s),"
          f" {totals.merges} index merge step(s)")
    await store.compact(vacuum)
    print(f"database: {(store.data_dir / DB_FILE).stat().st_size} bytes")
    return 0
