"""NOTIFY and mailbox names (RFC 5465 §5.4): what does one CREATE cost the server when many
sessions watch MailboxName on a user with a big tree?

A user with ``--boxes`` mailboxes; ``--sessions`` connections send
``NOTIFY SET (personal (MailboxName))`` and then no command; another connection CREATEs
``--creates`` new mailboxes, one at a time, each waited for until every watcher has read its
``* LIST`` (§5.4). Reported: the server's CPU seconds for the CREATEs and their
notifications (``/proc/<pid>/stat``), per notification, and the load average. Before issue
16's point 3(a) every session read its whole tree (and subscriptions) again for each CREATE
by anyone; now only the mailboxes a commit report names.

    .venv/bin/python bench/notify_names.py    # 2,000 boxes, 20 sessions, 50 CREATEs
    .venv/bin/python bench/notify_names.py --boxes 200 --sessions 5 --creates 10

Stdlib only, 127.0.0.1 only; the server on free ports (``BenchServer``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchServer, machine_info, proc_cpu_seconds
from _imapwire import Client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--creates", type=int, default=50)
    args = parser.parse_args()
    with BenchServer() as server:
        other = Client(server.port)
        for n in range(args.boxes):
            other.ok(f"CREATE box{n}")
        watchers = [Client(server.port) for _ in range(args.sessions)]
        for watcher in watchers:
            watcher.ok("NOTIFY SET (personal (MailboxName))")
        before = proc_cpu_seconds(server.pid)
        for n in range(args.creates):
            other.ok(f"CREATE new{n}")
            for watcher in watchers:
                line = watcher.r.line()
                if not line.startswith(b"* LIST "):
                    raise RuntimeError(f"unexpected {line[:80]!r}")
        cpu = proc_cpu_seconds(server.pid) - before
        told = args.creates * args.sessions
        print(f"{args.boxes} mailboxes, {args.sessions} NOTIFY sessions, {args.creates} "
              f"CREATEs: server CPU {cpu:.2f} s, {cpu / told * 1000:.2f} ms per notification "
              f"({told} told); load average {os.getloadavg()[0]:.1f}")
        print(machine_info())
        for client in (*watchers, other):
            client.close()


if __name__ == "__main__":
    main()
