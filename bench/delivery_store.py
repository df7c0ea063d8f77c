"""The storage side of mail delivery alone (issue 12): no server, no sockets, no parse.

Opens a ``Store`` on a temporary folder, parses ``--messages`` messages of 10 KB beforehand
(``crispin.server.ingest.analyse``, as SMTP delivery does), then delivers them with
``Store.append_to_mailboxes``, ``--group`` at a time (as that many SMTP sessions whose
deliveries meet in one group commit). Prints deliveries per second, the CPU per delivery of
the whole process and of the database writer thread alone (from ``/proc``), write
transactions (fsyncs) per delivery, and with ``--statements`` the SQL statements the writer
ran per delivery (SQLite's trace callback: trigger statements are counted under the
statement that fired them). Separates the writer's cost from the protocol's
(bench/README.md "Mail in").

    .venv/bin/python bench/delivery_store.py
    .venv/bin/python bench/delivery_store.py --messages 400 --statements
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.smtp_throughput import make_message
from crispin.server.ingest import analyse
from crispin.storage import Store

CLK_TCK = os.sysconf("SC_CLK_TCK")


def thread_cpu(tid: int) -> float:
    with open(f"/proc/self/task/{tid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def run(messages: int, group: int, synchronous: str, statements: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="crispin-bench-") as tmp:
        store = await Store.open(Path(tmp) / "data", scrypt_n=2, synchronous=synchronous)
        try:
            user = await store.create_user("bench", "bench-password")
            box = await store.get_mailbox(user.id, "INBOX")
            assert box is not None
            raws = [make_message(10 * 1024, i) for i in range(messages)]
            parsed = [analyse(raw) for raw in raws]
            db = store.database
            traced: list[str] = []
            if statements:
                await db.write(lambda conn: conn.set_trace_callback(traced.append))
                traced.clear()
            writer = db._writer
            assert writer is not None
            tid = writer._thread.native_id
            assert tid is not None
            batches0 = db.batches
            cpu0, writer0, t0 = time.process_time(), thread_cpu(tid), time.monotonic()
            for first in range(0, messages, group):
                await asyncio.gather(*(
                    store.append_to_mailboxes([(box.id, ())], raws[i], None, parsed[i])
                    for i in range(first, min(messages, first + group))))
            elapsed = time.monotonic() - t0
            cpu, writer_cpu = time.process_time() - cpu0, thread_cpu(tid) - writer0
            print(f"{messages} deliveries, {group} at a time, synchronous={synchronous}: "
                  f"{messages / elapsed:.0f}/s, process {cpu / messages * 1000:.3f} ms CPU "
                  f"each, writer thread {writer_cpu / messages * 1000:.3f} ms, "
                  f"{(db.batches - batches0) / messages:.3f} commits each; load average "
                  f"{os.getloadavg()[0]:.1f}")
            if statements:
                counts = collections.Counter(" ".join(s.split()[:4]) for s in traced)
                print(f"{len(traced) / messages:.2f} statements per delivery:")
                for text, n in counts.most_common():
                    print(f"  {n / messages:6.2f}  {text}")
        finally:
            await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--synchronous", default="full", choices=("full", "normal"))
    parser.add_argument("--statements", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.group, args.synchronous, args.statements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
