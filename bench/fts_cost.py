"""What full-text indexing costs per APPEND (issue 15 "Body search at index speed").

Inserts the decoded text of N generated messages (``_mailgen``, the bytes of every other
benchmark here; the text as APPEND computes it, ``crispin.server.search.search_columns``) into
an in-memory database with Crispin's schema, in transactions of ``--group`` messages (as the
group commit writes them), and reports the CPU per message of the ``message_text`` INSERT with
the FTS5 index (triggers of the current schema) against the same INSERT with the index's
triggers dropped; and the index size per message (``dbstat``).

    .venv/bin/python bench/fts_cost.py                 # 2,000 messages
    .venv/bin/python bench/fts_cost.py --messages 500
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info
from _mailgen import generate

from crispin.protocol.mime.message import parse_message
from crispin.server.search import search_columns
from crispin.storage.migrations import migrate


def texts(n: int) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        raw = generate(i)
        cols = search_columns(raw, parse_message(raw))
        out.append((str(cols["text_headers"]), str(cols["text_body"])))
    return out


def database(with_index: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)
    conn.execute("PRAGMA foreign_keys = OFF")  # message_text rows without messages rows
    if not with_index:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                    " AND tbl_name = 'message_text'").fetchall():
            conn.execute(f"DROP TRIGGER {name}")
    return conn


def insert_all(conn: sqlite3.Connection, rows: list[tuple[str, str]], group: int) -> float:
    t0 = time.process_time()
    for start in range(0, len(rows), group):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO message_text (message_id, headers, body) VALUES (?, ?, ?)",
            [(start + i + 1, h, b) for i, (h, b) in enumerate(rows[start:start + group])])
        conn.execute("COMMIT")
    return time.process_time() - t0


def index_bytes(conn: sqlite3.Connection) -> int:
    try:
        (size,) = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE"
                               " 'message_text_fts%'").fetchone()
    except sqlite3.OperationalError:  # SQLite built without dbstat
        return -1
    return int(size or 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {machine_info()}", flush=True)
    rows = texts(args.messages)
    chars = sum(len(h) + len(b) for h, b in rows) / len(rows)
    print(f"{args.messages} messages, {chars:.0f} characters of text each; "
          f"{args.group} per transaction", flush=True)
    best = {}
    for with_index in (False, True):
        runs = []
        for _ in range(args.runs):
            conn = database(with_index)
            runs.append(insert_all(conn, rows, args.group))
            size = index_bytes(conn)
            conn.close()
        best[with_index] = min(runs)
        print(f"  {'with' if with_index else 'without'} the FTS index: "
              f"{1000 * min(runs) / len(rows):.3f} ms CPU per message (best of {args.runs})"
              + (f", index {size / len(rows):.0f} bytes per message" if with_index else ""),
              flush=True)
    print(f"FTS cost per APPEND: {1000 * (best[True] - best[False]) / len(rows):.3f} ms CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
