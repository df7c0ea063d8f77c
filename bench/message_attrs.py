"""Message attributes of issue 16 on a 100,000-message INBOX: SEARCH by save date (RFC 8514)
beside the same search by internal date, and FETCH of SAVEDATE / EMAILID beside FETCH
INTERNALDATE, each timed from the command to its tagged OK with the server's CPU seconds.

It runs on a copy of the ready data folder (never on the original: the first start
migrates it):

    cp -a /srv/bench/fo100k /tmp/me-fo100k
    .venv/bin/python bench/message_attrs.py --data-dir /tmp/me-fo100k

Each command runs ``--runs`` times on one connection after SELECT; the table shows the
median and the first run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchServer, machine_info, proc_cpu_seconds
from _imapwire import Client

COMMANDS = [
    "UID SEARCH BEFORE 1-Jan-2024",
    "UID SEARCH SAVEDBEFORE 1-Jan-2024",
    "UID SEARCH ON 1-Jan-2024",
    "UID SEARCH SAVEDON 1-Jan-2024",
    "UID SEARCH SAVEDSINCE 1-Jan-2030",
    "UID FETCH 1:* (INTERNALDATE)",
    "UID FETCH 1:* (SAVEDATE)",
    "UID FETCH 1:* (EMAILID)",
]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--command", action="append", help="only these commands")
    args = ap.parse_args()
    print(f"machine: {machine_info()}; load average {loadavg()}", flush=True)
    server = BenchServer(data_dir=args.data_dir)
    t0 = time.perf_counter()
    server.start(add_user=False, timeout=600)
    print(f"server start (migrations included): {time.perf_counter() - t0:.1f} s wall",
          flush=True)
    try:
        c = Client(server.port)
        c.ok("SELECT INBOX")
        for command in args.command or COMMANDS:
            walls, cpus = [], []
            count = 0
            for _ in range(args.runs):
                cpu0 = proc_cpu_seconds(server.pid)
                t1 = time.perf_counter()
                _, count, _, _ = c.ok(command)
                walls.append(time.perf_counter() - t1)
                cpus.append(proc_cpu_seconds(server.pid) - cpu0)
            print(f"{command:40} {count:>7} untagged  median {statistics.median(walls)*1000:7.1f}"
                  f" ms wall {statistics.median(cpus)*1000:7.1f} ms server CPU"
                  f"  (first {walls[0]*1000:.1f} / {cpus[0]*1000:.1f})", flush=True)
        c.close()
    finally:
        server.stop()
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    main()
