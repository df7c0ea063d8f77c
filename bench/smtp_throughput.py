"""SMTP receive throughput beside APPEND (issue 12 "Numbers").

Starts a throw-away server (bench/_common.BenchServer), then for each message size (10 KB and
1 MB by default) and client count (1 and 8 client **processes**, each with one connection):

- SMTP: every client sends N messages to ``bench@example.com`` with ``smtplib`` on one session
  (MAIL/RCPT/DATA per message; smtplib does not pipeline), each answered 250 only once stored;
- APPEND: the same messages with ``imaplib`` APPEND to INBOX, one connection per client;
- pipe (``--kinds pipe``): SMTP from a small client of its own that pipelines (RFC 2920): MAIL,
  RCPT and DATA in one write, the message after the 354, two round trips per message
  instead of smtplib's four.

Reports messages/s and MB/s over the wall-clock time of the whole batch (first connection to
last reply), the server's CPU seconds during it, and the clients' CPU per message (they share
the host's cores with the server). Every message is counted back afterwards
(``STATUS INBOX (MESSAGES)``). Then, since new mail is indexed for SEARCH TEXT after its
delivery (storage/text_index.py, migration 15), how long the full-text index took to catch
up after the last reply, and the server's CPU for it (read from the database file, every
50 ms; 0 for a server that indexes in the delivery's transaction).

    .venv/bin/python bench/smtp_throughput.py                  # 10 KB and 1 MB, 1 and 8 clients
    .venv/bin/python bench/smtp_throughput.py --sizes 10 --clients 8 --messages 400
    .venv/bin/python bench/smtp_throughput.py --sizes 10 --clients 8 --kinds smtp \
        --profile /tmp/smtp.prof               # the server under cProfile (where the CPU goes)
"""

from __future__ import annotations

import argparse
import imaplib
import json
import multiprocessing as mp
import os
import re
import resource
import smtplib
import socket
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    PASSWORD,
    PYTHON,
    USER,
    BenchServer,
    machine_info,
    proc_cpu_seconds,
)

SMTP_RE = re.compile(r"Crispin SMTP listening on \S+ port (\d+)")


def make_message(size: int, n: int) -> bytes:
    head = (f"From: bench@example.org\r\nTo: {USER}@example.com\r\nSubject: bench {n}\r\n"
            f"Message-ID: <bench-{n}-{size}@example.org>\r\n\r\n").encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def smtp_worker(port: int, size: int, count: int, worker: int, start_at: float) -> None:
    while time.time() < start_at:
        time.sleep(0.001)
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
        for i in range(count):
            smtp.sendmail("bench@example.org", [f"{USER}@example.com"],
                          make_message(size, worker * 1_000_000 + i))


def _replies(sock: socket.socket, buf: bytearray, count: int) -> list[bytes]:
    """``count`` replies (the last line of each: RFC 5321 §4.2.1, "250 " ends a reply)."""
    out: list[bytes] = []
    while len(out) < count:
        end = buf.find(b"\r\n")
        if end < 0:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed after {out!r}")
            buf += chunk
            continue
        line = bytes(buf[:end])
        del buf[:end + 2]
        if line[3:4] != b"-":
            out.append(line)
    return out


def pipe_worker(port: int, size: int, count: int, worker: int, start_at: float) -> None:
    """SMTP with PIPELINING (RFC 2920 §3.1): the envelope and DATA in one write."""
    while time.time() < start_at:
        time.sleep(0.001)
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        buf = bytearray()
        assert _replies(sock, buf, 1)[0].startswith(b"220")
        sock.sendall(b"EHLO pipe.example\r\n")
        assert _replies(sock, buf, 1)[0].startswith(b"250")
        envelope = (b"MAIL FROM:<bench@example.org>\r\nRCPT TO:<" + USER.encode()
                    + b"@example.com>\r\nDATA\r\n")
        for i in range(count):
            sock.sendall(envelope)
            got = _replies(sock, buf, 3)
            assert [r[:3] for r in got] == [b"250", b"250", b"354"], got
            message = make_message(size, worker * 1_000_000 + i)
            sock.sendall(message.replace(b"\r\n.", b"\r\n..") + b".\r\n")
            assert _replies(sock, buf, 1)[0].startswith(b"250"), "not accepted"
        sock.sendall(b"QUIT\r\n")


def append_worker(port: int, size: int, count: int, worker: int, start_at: float) -> None:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=120)
    imap.login(USER, PASSWORD)
    while time.time() < start_at:
        time.sleep(0.001)
    for i in range(count):
        typ, _ = imap.append("INBOX", None, None, make_message(size, worker * 1_000_000 + i))
        assert typ == "OK"
    imap.logout()


def inbox_count(port: int) -> int:
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    imap.login(USER, PASSWORD)
    typ, data = imap.status("INBOX", "(MESSAGES)")
    imap.logout()
    assert typ == "OK"
    m = re.search(rb"MESSAGES (\d+)", data[0])
    assert m
    return int(m[1])


def unindexed(db: Path) -> int:
    """Messages not yet in the full-text index (0 before migration 15: indexed at once)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        if "fts_tail" not in meta:
            return 0
        (n,) = conn.execute(
            "SELECT count(*) FROM message_text WHERE message_id BETWEEN ? AND ?"
            " OR message_id >= ?", (meta["fts_backlog_next"], meta["fts_backlog_last"],
                                     meta["fts_tail"])).fetchone()
        return int(n)
    finally:
        conn.close()


def run_one(kind: str, size_kb: int, clients: int, total: int,
            profile: Path | None = None) -> dict[str, object]:
    wrapper = None if profile is None else [PYTHON, "-m", "cProfile", "-o", str(profile),
                                            "-m", "crispin"]
    with BenchServer(wrapper=wrapper) as server:
        smtp_port = int(SMTP_RE.search(server.log_path.read_text())[1])  # type: ignore[index]
        per_client = max(1, total // clients)
        size = size_kb * 1024
        target = {"smtp": smtp_worker, "pipe": pipe_worker, "append": append_worker}[kind]
        port = server.port if kind == "append" else smtp_port
        start_at = time.time() + 1.0
        procs = [mp.Process(target=target, args=(port, size, per_client, w, start_at))
                 for w in range(clients)]
        for p in procs:
            p.start()
        while time.time() < start_at:
            time.sleep(0.001)
        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0, t0 = proc_cpu_seconds(server.pid), time.monotonic()
        for p in procs:
            p.join()
        elapsed = time.monotonic() - t0
        cpu = proc_cpu_seconds(server.pid) - cpu0
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The clients' whole lives (start-up included: the same for every kind).
        clients_cpu = (children1.ru_utime + children1.ru_stime
                       - children0.ru_utime - children0.ru_stime)
        left = unindexed(server.data_dir / "crispin.db")
        while unindexed(server.data_dir / "crispin.db"):
            time.sleep(0.05)
        catch_up = time.monotonic() - t0 - elapsed
        index_cpu = proc_cpu_seconds(server.pid) - cpu0 - cpu
        assert all(p.exitcode == 0 for p in procs), server.log_tail()
        stored = inbox_count(server.port)
        sent = per_client * clients
        assert stored == sent, (stored, sent)
        return {"kind": kind, "size_kb": size_kb, "clients": clients, "messages": sent,
                "seconds": round(elapsed, 2), "msg_per_s": round(sent / elapsed, 1),
                "mb_per_s": round(sent * size / elapsed / 1e6, 1),
                "server_cpu_s": round(cpu, 2),
                "server_ms_cpu_per_msg": round(cpu / sent * 1000, 2),
                "client_ms_cpu_per_msg": round(clients_cpu / sent * 1000, 2),
                "unindexed_at_end": left, "index_catch_up_s": round(catch_up, 2),
                "index_ms_cpu_per_msg": round(index_cpu / sent * 1000, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,1024", help="message sizes in KB")
    parser.add_argument("--clients", default="1,8")
    parser.add_argument("--messages", type=int, default=400,
                        help="messages per run for 10 KB (1 MB runs send a tenth)")
    parser.add_argument("--kinds", default="smtp,append", help="smtp, pipe, append")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profile", type=Path,
                        help="run the server under cProfile, stats written here at its exit "
                             "(one run: give one size, one client count, one kind)")
    args = parser.parse_args()
    print("machine:", machine_info(), "load average:", os.getloadavg())
    results = []
    for size_kb in (int(x) for x in args.sizes.split(",")):
        total = args.messages if size_kb < 512 else max(8, args.messages // 10)
        for clients in (int(x) for x in args.clients.split(",")):
            for kind in args.kinds.split(","):
                r = run_one(kind, size_kb, clients, total, args.profile)
                results.append(r)
                print(f"{kind:6} {size_kb:5} KB x{clients}: {r['messages']} msgs in "
                      f"{r['seconds']} s = {r['msg_per_s']} msg/s, {r['mb_per_s']} MB/s, "
                      f"server {r['server_ms_cpu_per_msg']} ms CPU/msg, clients "
                      f"{r['client_ms_cpu_per_msg']}; index caught up "
                      f"{r['index_catch_up_s']} s later ({r['unindexed_at_end']} waiting, "
                      f"{r['index_ms_cpu_per_msg']} ms CPU/msg more); load average "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
