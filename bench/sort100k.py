"""SORT, THREAD and SEARCH TEXT on one big mailbox (issue 15), beside a fresh SEARCH ALL.

Generates N messages with ``_mailgen`` (the same bytes as ``mailbox100k.py``: subjects with
Re:/Fwd:, RFC 2047 words, References chains), loads them with ``crispin import`` (the same
ingest path as APPEND: keys prepared once), starts the server and times, each on a fresh
connection, from sending the command to its tagged OK, with the server's CPU seconds:

  SEARCH ALL                            the baseline: one query, N numbers back
  SORT (DATE) UTF-8 ALL                 permutation of 1..N, dates non-decreasing (checked)
  SORT (SUBJECT) UTF-8 ALL              permutation of 1..N
  SORT (REVERSE ARRIVAL) UTF-8 ALL      permutation of 1..N
  THREAD REFERENCES UTF-8 ALL           every number exactly once
  THREAD ORDEREDSUBJECT / THREAD REFS   every number exactly once
  SEARCH TEXT zeppelin                  exactly the generated set (1% of messages)

Each query runs 3 times; the table shows the best and the first run.  It also reports the
size of the SORT/THREAD keys per message (the migration 8 table, bytes of their values).

    .venv/bin/python bench/sort100k.py                    # 100,000 messages
    .venv/bin/python bench/sort100k.py --messages 5000    # smoke run
    .venv/bin/python bench/sort100k.py --data-dir /tmp/s100k   # keep (and reuse) the data
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, REPO, USER, BenchServer, machine_info, proc_cpu_seconds
from _imapwire import Client
from _mailgen import NEEDLE_TEXT, meta
from mailbox100k import write_mbox

QUERIES = [
    ("SEARCH ALL", "SEARCH ALL"),
    ("SORT (DATE)", "SORT (DATE) UTF-8 ALL"),
    ("SORT (SUBJECT)", "SORT (SUBJECT) UTF-8 ALL"),
    ("SORT (REVERSE ARRIVAL)", "SORT (REVERSE ARRIVAL) UTF-8 ALL"),
    ("THREAD REFERENCES", "THREAD REFERENCES UTF-8 ALL"),
    ("THREAD ORDEREDSUBJECT", "THREAD ORDEREDSUBJECT UTF-8 ALL"),
    ("THREAD REFS", "THREAD REFS UTF-8 ALL"),
    ("SEARCH TEXT rare word", f"SEARCH TEXT {NEEDLE_TEXT}"),
]
TARGETS = {"SORT (DATE)": 0.3, "SORT (SUBJECT)": 0.3, "THREAD REFERENCES": 1.0,
           "SEARCH TEXT rare word": 0.05}
KEY_COLUMNS = ("sent", "subject", "reply", "from_addr", "to_addr", "cc_addr",
               "display_from", "display_to", "thread_id", "thread_refs")


def load(server: BenchServer, n: int) -> float:
    mbox = server.tmp / "load.mbox"
    write_mbox(mbox, list(range(n)))
    server.add_user()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [PYTHON, "-m", "crispin", "import", "--user", USER, "--mailbox", "INBOX", str(mbox),
         "--data-dir", str(server.data_dir)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=7200)
    mbox.unlink()
    if proc.returncode != 0:
        raise RuntimeError("import failed:\n" + proc.stdout.decode()[-2000:])
    return time.perf_counter() - t0


def numbers_of(lines: list[tuple[bytes, list[bytes]]], word: bytes) -> list[int]:
    out: list[int] = []
    for line, _ in lines:
        if line.startswith(b"* " + word):
            out += [int(x) for x in re.findall(rb"\d+", line[len(word) + 2:])]
    return out


def check(name: str, kept: list[tuple[bytes, list[bytes]]], n: int) -> str:
    word = b"THREAD" if name.startswith("THREAD") else b"SORT" if name.startswith("SORT") \
        else b"SEARCH"
    got = numbers_of(kept, word)
    if name == "SEARCH TEXT rare word":
        want = [i + 1 for i in range(n) if meta(i).text_in_subject or meta(i).text_in_body]
        return "ok" if got == want else f"WRONG ({len(got)} vs {len(want)})"
    if sorted(got) != list(range(1, n + 1)):
        return f"WRONG (not a permutation of 1..{n}: {len(got)} numbers)"
    return "ok"


def key_bytes(data_dir: Path) -> tuple[float, int]:
    db = sqlite3.connect(f"file:{data_dir / 'crispin.db'}?mode=ro", uri=True)
    cols = " + ".join(f"coalesce(length(CAST({c} AS BLOB)), 0)" for c in KEY_COLUMNS)
    total, count = db.execute(f"SELECT sum({cols}) + 8 * count(*), count(*) FROM sort_keys"
                              ).fetchone()
    db.close()
    return total / max(count, 1), count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    n = args.messages
    report: dict = {"machine": machine_info(), "messages": n}
    print(f"machine: {report['machine']}", flush=True)
    server = BenchServer(data_dir=args.data_dir)
    marker = server.data_dir / "bench-sort100k.json"
    try:
        if marker.exists() and json.loads(marker.read_text()).get("messages") == n:
            print(f"reusing {server.data_dir}", flush=True)
        else:
            server.data_dir.mkdir(parents=True, exist_ok=True)
            print(f"import of {n} messages...", flush=True)
            report["import_s"] = round(load(server, n), 1)
            marker.write_text(json.dumps({"messages": n}))
            print(f"  {report['import_s']} s", flush=True)
        server.start(add_user=False)
        rows = []
        for name, command in QUERIES:
            times, cpus, verdict = [], [], ""
            for run in range(args.runs):
                c = Client(server.port)
                c.ok("SELECT INBOX")
                cpu0 = proc_cpu_seconds(server.pid)
                t0 = time.perf_counter()
                tagged, _count, _lits, kept = c.run(command, keep=True)
                times.append(time.perf_counter() - t0)
                cpus.append(proc_cpu_seconds(server.pid) - cpu0)
                c.close()
                if run == 0:
                    verdict = check(name, kept, n) if b" OK" in tagged[:12] else \
                        tagged.decode(errors="replace")[:80]
            row = {"query": name, "best_s": round(min(times), 3), "first_s": round(times[0], 3),
                   "cpu_best_s": round(min(cpus), 3), "target_s": TARGETS.get(name),
                   "answer": verdict}
            rows.append(row)
            print(f"  {name:24} best {row['best_s']:7.3f} s  first {row['first_s']:7.3f} s  "
                  f"CPU {row['cpu_best_s']:6.3f} s  target {row['target_s']}  {verdict}",
                  flush=True)
        report["queries"] = rows
        per_msg, count = key_bytes(server.data_dir)
        report["sort_key_bytes_per_message"] = round(per_msg, 1)
        print(f"SORT/THREAD keys: {per_msg:.1f} bytes per message ({count} messages)")
    finally:
        server.stop()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
