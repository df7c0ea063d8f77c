"""Reclaiming expunged mail over time: does the data folder stay near the size of the mail it
holds? (issue 10 point 1; bench/README.md "Reclaiming expunged mail").

One server (``python -m crispin serve``, temporary data folder, 127.0.0.1, kernel ports):
1. the *live mail*: ``--live`` generated messages (bench/_mailgen.py) APPENDed to INBOX; the
   folder's size then, after a WAL checkpoint, is the reference;
2. ``--rounds`` times: APPEND ``--churn`` messages to the mailbox Churn (8 connections,
   LITERAL+, 16 in flight each), ``UID STORE 1:* +FLAGS.SILENT (\\Deleted)``, ``EXPUNGE``;
3. wait until the background reclaimer is done (read from the database: no unreferenced
   body, no surplus tombstone, no full-text index merge due, no free page), measure the
   folder; run ``crispin maintenance`` (which also checkpoints the WAL into the file) and
   measure again;
4. ``crispin check`` must say ok.
Prints one row per round (folder size, database, WAL, blob files, messages, tombstones)
and the final ratio to the live mail.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, REPO, BenchServer, machine_info
from _imapwire import Client, ProtocolError
from _mailgen import generate

from crispin.storage.reclaim import WAL_BYTES_KEPT, merge_due

CONNECTIONS = 8
WINDOW = 16


def folder(data: Path) -> dict[str, int]:
    db = data / "crispin.db"
    wal = data / "crispin.db-wal"
    blobs = sum(p.stat().st_size for p in (data / "blobs").rglob("*") if p.is_file()) \
        if (data / "blobs").is_dir() else 0
    total = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
    return {"total": total, "db": db.stat().st_size,
            "wal": wal.stat().st_size if wal.exists() else 0, "blobs": blobs}


def counts(data: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{data / 'crispin.db'}?mode=ro", uri=True, timeout=30)
    try:
        q = {"messages": "SELECT count(*) FROM messages",
             "unreferenced": "SELECT count(*) FROM messages WHERE refcount <= 0",
             "tombstones": "SELECT count(*) FROM expunged",
             "free_pages": "PRAGMA freelist_count",
             "pages": "PRAGMA page_count",
             "page_size": "PRAGMA page_size",
             "merge_left": "SELECT merge_left FROM fts_garbage"}
        got = {k: int(conn.execute(v).fetchone()[0]) for k, v in q.items()}
        got["merge_due"] = int(merge_due(conn))
        return got
    finally:
        conn.close()


def appender(port: int, mailbox: str, indices: list[int], out: mp.Queue) -> None:
    errors = 0
    try:
        c = Client(port)
        in_flight: list[bytes] = []
        for k in range(0, len(indices), WINDOW):
            chunks, tags = [], []
            for i in indices[k:k + WINDOW]:
                msg = generate(i)
                tag = c.tag()
                tags.append(tag)
                chunks.append(tag + b" APPEND %s {%d+}\r\n" % (mailbox.encode(), len(msg))
                              + msg + b"\r\n")
            c.sock.sendall(b"".join(chunks))
            for tag in in_flight:
                errors += b" OK" not in c.r.until_tagged(tag)[0][:12]
            in_flight = tags
        for tag in in_flight:
            errors += b" OK" not in c.r.until_tagged(tag)[0][:12]
        c.close()
    except (OSError, ProtocolError):
        errors += 1
    out.put(errors)


def append_many(port: int, mailbox: str, first: int, n: int) -> float:
    out: mp.Queue = mp.Queue()
    indices = list(range(first, first + n))
    procs = [mp.Process(target=appender, args=(port, mailbox, indices[w::CONNECTIONS], out))
             for w in range(CONNECTIONS)]
    t = time.perf_counter()
    for p in procs:
        p.start()
    errors = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    if errors:
        raise SystemExit(f"{errors} APPENDs failed")
    return time.perf_counter() - t


def crispin(data: Path, *args: str) -> str:
    done = subprocess.run([PYTHON, "-m", "crispin", *args, "--data-dir", str(data)],
                          cwd=REPO, capture_output=True, text=True, timeout=3600)
    return done.stdout.strip()


def tables(data: Path, top: int = 8) -> str:
    """The largest tables and indexes of the database in MB (SQLite's ``dbstat``: pages in
    use, free space inside them excluded), and the free pages: where the size is."""
    conn = sqlite3.connect(f"file:{data / 'crispin.db'}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute(
            "SELECT name, sum(pgsize), sum(pgsize - unused) FROM dbstat GROUP BY name"
            " ORDER BY 2 DESC LIMIT ?", (top,)).fetchall()
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
        (page,) = conn.execute("PRAGMA page_size").fetchone()
    finally:
        conn.close()
    parts = [f"{name} {size / 1e6:.1f} ({used / max(size, 1):.0%} used)"
             for name, size, used in rows]
    return "  db: " + ", ".join(parts) + f", free pages {free * page / 1e6:.1f}"


def wait_reclaimed(data: Path, keep: int, timeout: float = 1800) -> float:
    """Until the background reclaimer has nothing left to do (polling the database from
    outside, every 0.5 s; the seconds it took)."""
    t = time.perf_counter()
    while time.perf_counter() - t < timeout:
        c = counts(data)
        # ...and, after a VACUUM (whose new database sits in the WAL until the checkpoint
        # has copied it back: storage/reclaim.vacuum), the file no larger than its pages
        # and the WAL emptied (the reclaimer does it once its work is done, when no reader
        # holds an older snapshot: Store.empty_wal). The fourth full-size run measured
        # while the WAL still held the rewritten database ("or" here then).
        wal = data / "crispin.db-wal"
        settled = (data / "crispin.db").stat().st_size <= c["pages"] * c["page_size"] \
            and (wal.stat().st_size if wal.exists() else 0) <= WAL_BYTES_KEPT
        if (c["unreferenced"] == 0 and c["free_pages"] == 0 and c["tombstones"] <= keep
                and not c["merge_due"] and c["merge_left"] == 0 and settled):
            return time.perf_counter() - t
        time.sleep(0.5)
    raise SystemExit("the reclaimer did not finish")


def mb(n: int) -> str:
    return f"{n / 1e6:8.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--live", type=int, default=10_000)
    parser.add_argument("--churn", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep the data folder here (default: a temporary one, removed)")
    args = parser.parse_args()
    print("machine:", machine_info())
    with BenchServer(data_dir=args.data_dir) as server:
        data = server.data_dir
        c = Client(server.port)
        c.ok("CREATE Churn")
        c.close()
        took = append_many(server.port, "INBOX", 0, args.live)
        print(f"live mail: {args.live} messages appended in {took:.0f} s")
        crispin(data, "maintenance")  # checkpoint the WAL: the reference is the file alone
        live = folder(data)
        print(f"{'after':<16} {'total MB':>8} {'db MB':>8} {'WAL MB':>8} {'blobs MB':>8}"
              f" {'messages':>9} {'tombst.':>8}")
        n = counts(data)
        print(f"{'live mail':<16} {mb(live['total'])} {mb(live['db'])} {mb(live['wal'])}"
              f" {mb(live['blobs'])} {n['messages']:>9} {n['tombstones']:>8}")
        print(tables(data))
        first = args.live
        for r in range(1, args.rounds + 1):
            took = append_many(server.port, "Churn", first, args.churn)
            first += args.churn
            # A fresh connection each round: a round of 100,000 APPENDs outlasts the
            # 30-minute autologout (RFC 3501 §5.4) of a connection left idle meanwhile.
            c = Client(server.port)
            c.ok("SELECT Churn")
            t = time.perf_counter()
            c.ok("UID STORE 1:* +FLAGS.SILENT (\\Deleted)")
            c.ok("EXPUNGE")
            expunge_s = time.perf_counter() - t
            c.close()
            f, n = folder(data), counts(data)
            print(f"{f'round {r}':<16} {mb(f['total'])} {mb(f['db'])} {mb(f['wal'])}"
                  f" {mb(f['blobs'])} {n['messages']:>9} {n['tombstones']:>8}"
                  f"   (APPEND {args.churn / took:.0f}/s, STORE+EXPUNGE {expunge_s:.1f} s)")
        waited = wait_reclaimed(data, 10_000)
        f, n = folder(data), counts(data)
        print(f"{'reclaimed':<16} {mb(f['total'])} {mb(f['db'])} {mb(f['wal'])}"
              f" {mb(f['blobs'])} {n['messages']:>9} {n['tombstones']:>8}"
              f"   (background, {waited:.0f} s after the last EXPUNGE)")
        print(tables(data))
        ratio_bg = f["total"] / live["total"]
        print(crispin(data, "maintenance"))
        f, n = folder(data), counts(data)
        print(f"{'maintenance':<16} {mb(f['total'])} {mb(f['db'])} {mb(f['wal'])}"
              f" {mb(f['blobs'])} {n['messages']:>9} {n['tombstones']:>8}")
        print(tables(data))
        print(f"ratio to the live mail: {ratio_bg:.2f} after background reclaim,"
              f" {f['total'] / live['total']:.2f} after `crispin maintenance`")
        print("crispin check:", crispin(data, "check"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
