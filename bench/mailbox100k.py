"""One big mailbox: APPEND rate, then SELECT / FETCH / SEARCH / STORE on 100,000 messages.

Starts a fresh Crispin server (temp data dir, user ``bench``), generates N realistic messages
(deterministic: the same N gives the same bytes on every run) and loads them into INBOX:

  1. APPEND, 1 connection: the first min(10% of N, 10,000) messages; the first few hundred
     one at a time with a synchronising literal (what a client saving a draft does: latency),
     the rest pipelined with LITERAL+ ``{n+}`` (throughput).
  2. APPEND, 8 connections (separate client processes, LITERAL+ pipelined): the rest.
     With ``--load-with-import`` only a sample of 8 x 2,000 goes through IMAP (rate still
     measured) and the remainder is written to an mbox and loaded with
     ``python -m crispin import`` into the same data dir (server stopped meanwhile).

then, each on a fresh connection, times from sending the command to its tagged OK, with the
server's CPU seconds (/proc utime+stime delta) and peak RSS (VmHWM, reset before each command
through /proc/PID/clear_refs), and checks every answer against what was generated:

  SELECT INBOX                                    EXISTS = N
  UID FETCH 1:* (UID FLAGS)                       N FETCH lines
  UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (...Thunderbird's list...)])
                                                  N FETCH lines, N literals, every Message-ID
                                                  once, RFC822.SIZE of a sample exact
  (untimed: UID STORE \\Seen on the oldest 30%, \\Flagged on every 50th UID)
  SEARCH FLAGGED / SEARCH UNSEEN / SEARCH HEADER Subject quarterly / SEARCH FROM quimby /
  SEARCH BODY xylophonist / SEARCH TEXT zeppelin   result = the generated set, exactly
  UID STORE 1:* +FLAGS.SILENT (\\Seen)             then every message is \\Seen

and the server's RSS with ten sessions holding INBOX selected (on the running server, and
after a restart). SEARCH answered BAD (not there yet) is reported as "not available".

    .venv/bin/python bench/mailbox100k.py                      # 100,000 messages
    .venv/bin/python bench/mailbox100k.py --quick              # 5,000 (smoke run)
    .venv/bin/python bench/mailbox100k.py --messages 20000 --json out.json
    .venv/bin/python bench/mailbox100k.py --load-with-import   # when APPEND is slow
    .venv/bin/python bench/mailbox100k.py --data-dir /tmp/mb100k   # keep the loaded data;
        # run again with the same --data-dir (and --messages) to skip loading
    .venv/bin/python bench/mailbox100k.py --py-spy /tmp/spy    # profile each query (2nd pass)

Client side: blocking sockets and a raw reader that frames lines and {n} literals itself
(imaplib is far too slow for 100,000-line answers). Stdlib only; 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PYTHON,
    REPO,
    USER,
    BenchServer,
    cpu_scaling,
    machine_info,
    percentile,
    proc_cpu_seconds,
    proc_memory_kb,
    py_spy_start,
    py_spy_stop,
    reset_peak_rss,
)
from _imapwire import Client, ProtocolError, _status
from _mailgen import (
    NEEDLE_BODY,
    NEEDLE_FROM,
    NEEDLE_SUBJECT,
    NEEDLE_TEXT,
    SEED,
    generate,
    meta,
)

WINDOW = 16                      # LITERAL+ APPENDs in flight per connection

THUNDERBIRD_FIELDS = ("From To Cc Subject Date Message-ID Priority X-Priority References "
                      "Newsgroups In-Reply-To Content-Type Reply-To")

TARGETS = {  # name -> (target, Dovecot 2.3 on this kind of machine)
    "SELECT INBOX": ("< 0.1 s", "6 ms"),
    "SELECT INBOX (2nd session)": ("< 0.1 s", "6 ms"),
    "UID FETCH 1:* (UID FLAGS)": ("< 1 s", "0.28 s"),
    "UID FETCH 1:* headers (Thunderbird)": ("< 4 s", "2.2 s"),
    "SEARCH BODY": ("< 1 s", "TEXT 11 s"),
    "SEARCH TEXT": ("< 1 s", "11 s"),
    "UID STORE 1:* +FLAGS.SILENT (\\Seen)": ("< 2 s", "0.8 s"),
}
TARGET_SECONDS = {"SELECT INBOX": 0.1, "SELECT INBOX (2nd session)": 0.1,
                  "UID FETCH 1:* (UID FLAGS)": 1.0,
                  "UID FETCH 1:* headers (Thunderbird)": 4.0, "SEARCH BODY": 1.0,
                  "SEARCH TEXT": 1.0, "UID STORE 1:* +FLAGS.SILENT (\\Seen)": 2.0}

# --------------------------------------------------------------------------------------------
# Message generator


def append_worker(port: int, indices: list[int], sync_count: int, start_at: float,
                  conn: mp.connection.Connection) -> None:
    """APPEND messages ``indices`` on one connection: the first ``sync_count`` one at a time
    with a synchronising literal (latencies kept), the rest LITERAL+ with WINDOW in flight."""
    out: dict = {"errors": [], "sync_latencies": [], "sync_s": 0.0, "pipelined_s": 0.0,
                 "sync_n": 0, "pipelined_n": 0}
    try:
        c = Client(port)
        while time.time() < start_at:
            time.sleep(0.001)
        t0 = time.perf_counter()
        for i in indices[:sync_count]:
            msg = generate(i)
            tag = c.tag()
            t = time.perf_counter()
            c.sock.sendall(tag + b" APPEND INBOX {%d}\r\n" % len(msg))
            cont = c.r.line()
            if not cont.startswith(b"+"):
                raise ProtocolError(cont.decode(errors="replace"))
            c.sock.sendall(msg + b"\r\n")
            tagged = c.r.until_tagged(tag)[0]
            out["sync_latencies"].append(time.perf_counter() - t)
            if _status(tagged) != "OK":
                out["errors"].append(tagged.decode(errors="replace"))
        t1 = time.perf_counter()
        out["sync_s"], out["sync_n"] = t1 - t0, min(sync_count, len(indices))
        rest = indices[sync_count:]
        batches = [rest[k:k + WINDOW] for k in range(0, len(rest), WINDOW)]
        in_flight: list[bytes] = []

        def send(batch: list[int]) -> list[bytes]:
            tags, chunks = [], []
            for i in batch:
                msg = generate(i)
                tag = c.tag()
                tags.append(tag)
                chunks.append(tag + b" APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
            c.sock.sendall(b"".join(chunks))
            return tags

        for batch in batches:
            nxt = send(batch)          # keep the server busy while we read the previous batch
            for tag in in_flight:
                tagged = c.r.until_tagged(tag)[0]
                if _status(tagged) != "OK":
                    out["errors"].append(tagged.decode(errors="replace"))
            in_flight = nxt
        for tag in in_flight:
            tagged = c.r.until_tagged(tag)[0]
            if _status(tagged) != "OK":
                out["errors"].append(tagged.decode(errors="replace"))
        out["pipelined_s"], out["pipelined_n"] = time.perf_counter() - t1, len(rest)
        c.close()
    except (OSError, ProtocolError) as exc:
        out["errors"].append(f"{type(exc).__name__}: {exc}")
    t = os.times()
    out["client_cpu"] = t.user + t.system
    conn.send(out)
    conn.close()


def run_appends(server: BenchServer, groups: list[list[int]], sync_count: int,
                spy_out: Path | None = None) -> dict:
    ctx = mp.get_context("fork")
    start_at = time.time() + 1.0
    procs, pipes = [], []
    for indices in groups:
        a, b = ctx.Pipe(duplex=False)
        p = ctx.Process(target=append_worker, args=(server.port, indices, sync_count,
                                                     start_at, b))
        p.start()
        procs.append(p)
        pipes.append(a)
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = proc_cpu_seconds(server.pid)
    spy = py_spy_start(server.pid, spy_out, seconds=20) if spy_out else None
    t0 = time.perf_counter()
    results = []
    for a in pipes:
        if not a.poll(7200):
            raise RuntimeError("APPEND worker did not finish within 2 hours")
        results.append(a.recv())
    wall = time.perf_counter() - t0
    cpu = proc_cpu_seconds(server.pid) - cpu0
    for p in procs:
        p.join(timeout=30)
    if spy is not None:
        spy.wait(timeout=120)
    n = sum(r["sync_n"] + r["pipelined_n"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    out = {"connections": len(groups), "messages": n, "wall_s": round(wall, 2),
           "msgs_per_s": round(n / wall, 1) if wall else None,
           "server_cpu_s": round(cpu, 2),
           "server_cpu_ms_per_msg": round(cpu * 1000 / n, 3) if n else None,
           "client_cpu_s": round(sum(r["client_cpu"] for r in results), 2),
           "errors": len(errors), "first_errors": errors[:3]}
    lat = sorted(x for r in results for x in r["sync_latencies"])
    if lat:
        sync_s = sum(r["sync_s"] for r in results)
        pipe_n = sum(r["pipelined_n"] for r in results)
        pipe_s = max(r["pipelined_s"] for r in results)
        out.update({"sync_messages": len(lat), "sync_msgs_per_s": round(len(lat) / sync_s, 1),
                    "sync_median_ms": round(statistics.median(lat) * 1000, 2),
                    "sync_p99_ms": round(percentile(lat, 0.99) * 1000, 2),
                    "pipelined_messages": pipe_n,
                    "pipelined_msgs_per_s": round(pipe_n / pipe_s, 1) if pipe_s else None})
    return out


def write_mbox(path: Path, indices: list[int]) -> int:
    with open(path, "wb") as fh:
        for i in indices:
            msg = generate(i)
            lines = msg.split(b"\r\n")
            body = b"\r\n".join(b">" + ln if ln.lstrip(b">").startswith(b"From ") else ln
                                for ln in lines)
            fh.write(b"From bench@crispin.example Mon Jan  1 08:00:00 2024\n" + body + b"\n")
    return path.stat().st_size


# --------------------------------------------------------------------------------------------
# Queries


@dataclass
class Row:
    name: str
    command: str
    wall_s: float | None = None
    server_cpu_s: float | None = None
    peak_rss_mb: float | None = None
    rss_mb: float | None = None
    result: str = ""
    correct: str = ""
    available: bool = True

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def timed(server: BenchServer, client: Client, name: str, command: str, keep: bool = False
          ) -> tuple[Row, bytes, int, int, list[tuple[bytes, list[bytes]]]]:
    reset_peak_rss(server.pid)
    cpu0 = proc_cpu_seconds(server.pid)
    t0 = time.perf_counter()
    tagged, count, lits, kept = client.run(command, keep)
    wall = time.perf_counter() - t0
    cpu = proc_cpu_seconds(server.pid) - cpu0
    mem = proc_memory_kb(server.pid)
    row = Row(name, command, round(wall, 4), round(cpu, 3), round(mem["VmHWM"] / 1024, 1),
              round(mem["VmRSS"] / 1024, 1))
    status = _status(tagged)
    if status != "OK":
        row.available = status != "BAD"
        row.result = tagged.decode(errors="replace")[:120]
        row.correct = "not available" if status == "BAD" else "FAILED"
    return row, tagged, count, lits, kept


def fresh(server: BenchServer, select: bool = True) -> Client:
    c = Client(server.port)
    if select:
        c.ok("SELECT INBOX")
    return c


def _uid_set(uids: list[int]) -> str:
    out, k = [], 0
    while k < len(uids):
        j = k
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        out.append(str(uids[k]) if j == k else f"{uids[k]}:{uids[j]}")
        k = j + 1
    return ",".join(out)


_FETCH_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_MSGID = re.compile(rb"(?im)^Message-ID:\s*<(\d+)\.")


def run_queries(server: BenchServer, n: int, spy_dir: Path | None) -> tuple[list[Row], dict]:
    rows: list[Row] = []
    facts: dict = {}

    # SELECT
    c = fresh(server, select=False)
    row, _tagged, _count, _, kept = timed(server, c, "SELECT INBOX", "SELECT INBOX", keep=True)
    exists = [int(t.split()[1]) for t, _ in kept if t.endswith(b" EXISTS")]
    row.result = f"EXISTS {exists[0] if exists else '?'}"
    row.correct = "yes" if exists == [n] else f"NO (expected EXISTS {n})"
    rows.append(row)
    c.close()
    # Again from another session: is anything of the first SELECT reused (DESIGN.md: one
    # shared in-memory index per mailbox)?
    c = fresh(server, select=False)
    row, _tagged, _count, _, kept = timed(server, c, "SELECT INBOX (2nd session)",
                                        "SELECT INBOX", keep=True)
    exists = [int(t.split()[1]) for t, _ in kept if t.endswith(b" EXISTS")]
    row.result = f"EXISTS {exists[0] if exists else '?'}"
    row.correct = "yes" if exists == [n] else f"NO (expected EXISTS {n})"
    rows.append(row)
    c.close()

    # UID FETCH 1:* (UID FLAGS)
    c = fresh(server)
    row, _tagged, count, _, kept = timed(server, c, "UID FETCH 1:* (UID FLAGS)",
                                        "UID FETCH 1:* (UID FLAGS)", keep=True)
    uids = sorted(int(m.group(1)) for t, _ in kept if (m := _FETCH_UID.search(t)))
    row.result = f"{count} FETCH lines"
    row.correct = ("yes" if count == n and len(set(uids)) == n
                   else f"NO ({count} lines, {len(set(uids))} UIDs, expected {n})")
    rows.append(row)
    facts["uids"] = uids
    c.close()

    # Thunderbird's first-sync header fetch
    c = fresh(server)
    cmd = (f"UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS "
           f"({THUNDERBIRD_FIELDS})])")
    row, _, count, lits, kept = timed(server, c, "UID FETCH 1:* headers (Thunderbird)",
                                      cmd, keep=True)
    uid_of: dict[int, int] = {}
    sizes: dict[int, int] = {}
    bad = 0
    for text, ls in kept:
        mu, ms = _FETCH_UID.search(text), _SIZE.search(text)
        mid = _MSGID.search(ls[0]) if ls else None
        if not (mu and ms and mid) or b"\r\nMIME-Version" in ls[0] or b"Received:" in ls[0]:
            bad += 1
            continue
        uid_of[int(mid.group(1))] = int(mu.group(1))
        sizes[int(mid.group(1))] = int(ms.group(1))
    sample = random.Random(SEED).sample(sorted(sizes), min(300, len(sizes)))
    size_bad = sum(1 for i in sample if sizes[i] != len(generate(i)))
    row.result = f"{count} FETCH lines, {lits} literals"
    ok = count == n and lits == n and len(uid_of) == n and bad == 0 and size_bad == 0
    row.correct = "yes" if ok else (f"NO ({len(uid_of)} Message-IDs, {bad} malformed, "
                                    f"{size_bad}/{len(sample)} sizes wrong)")
    rows.append(row)
    facts["uid_of"] = uid_of
    c.close()

    # Flags for the searches (untimed for the table, reported as facts)
    c = fresh(server)
    seen_uids = uids[: int(len(uids) * 0.3)]
    flagged_uids = [u for u in uids if u % 50 == 7]
    t0 = time.perf_counter()
    # A reused data dir holds the flags of the last run: start from none.
    c.ok("UID STORE 1:* -FLAGS.SILENT (\\Seen \\Flagged)")
    if seen_uids:
        c.ok(f"UID STORE {seen_uids[0]}:{seen_uids[-1]} +FLAGS.SILENT (\\Seen)")
    for k in range(0, len(flagged_uids), 500):
        c.ok(f"UID STORE {_uid_set(flagged_uids[k:k + 500])} +FLAGS.SILENT (\\Flagged)")
    facts["flag_setup_s"] = round(time.perf_counter() - t0, 2)
    c.close()

    msn_uid = uids  # MSN k+1 -> uids[k]
    metas = {i: meta(i) for i in uid_of}

    def expect(pred) -> set[int]:
        return {uid_of[i] for i, m in metas.items() if pred(m)}

    searches = [
        ("SEARCH FLAGGED", "SEARCH FLAGGED", set(flagged_uids)),
        ("SEARCH UNSEEN", "SEARCH UNSEEN", set(uids) - set(seen_uids)),
        ("SEARCH HEADER Subject", f"SEARCH HEADER Subject {NEEDLE_SUBJECT}",
         expect(lambda m: m.subject_needle)),
        ("SEARCH FROM", f"SEARCH FROM {NEEDLE_FROM}", expect(lambda m: m.from_needle)),
        ("SEARCH BODY", f"SEARCH BODY {NEEDLE_BODY}", expect(lambda m: m.body_needle)),
        ("SEARCH TEXT", f"SEARCH TEXT {NEEDLE_TEXT}",
         expect(lambda m: m.text_in_subject or m.text_in_body)),
    ]
    for name, command, expected in searches:
        c = fresh(server)
        row, _, count, _, kept = timed(server, c, name, command, keep=True)
        if row.available and row.correct != "FAILED":
            got: set[int] = set()
            for text, _ in kept:
                if text.startswith(b"* SEARCH"):
                    got |= {msn_uid[int(x) - 1] for x in text.split()[2:]
                            if 0 < int(x) <= len(msn_uid)}
            row.result = f"{len(got)} matches"
            if got == expected:
                row.correct = "yes"
            else:
                row.correct = (f"NO (expected {len(expected)}: {len(got - expected)} extra, "
                               f"{len(expected - got)} missing)")
        rows.append(row)
        c.close()

    # UID STORE 1:* +FLAGS.SILENT (\Seen)
    c = fresh(server)
    row, _, count, _, _ = timed(server, c, "UID STORE 1:* +FLAGS.SILENT (\\Seen)",
                                     "UID STORE 1:* +FLAGS.SILENT (\\Seen)")
    if row.correct != "FAILED":
        kept = c.ok("UID FETCH 1:* (FLAGS)", keep=True)[3]
        seen = sum(1 for t, _ in kept if b"\\Seen" in t)
        row.result = f"{count} untagged; then {seen} \\Seen"
        row.correct = "yes" if seen == n and count == 0 else f"NO ({seen}/{n} \\Seen)"
    rows.append(row)
    c.close()

    if spy_dir is not None:
        profile_pass(server, spy_dir, [(r.name, r.command) for r in rows if r.available])
    return rows, facts


def profile_pass(server: BenchServer, spy_dir: Path, commands: list[tuple[str, str]]) -> None:
    """Each command again with py-spy recording the server (timings of this pass are not
    reported: sampling slows the server)."""
    spy_dir.mkdir(parents=True, exist_ok=True)
    for name, command in commands:
        c = fresh(server, select=not command.startswith("SELECT"))
        if "STORE" in command:
            c.ok(command.replace("+FLAGS", "-FLAGS"))   # so the profiled STORE changes all
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
        out = spy_dir / f"{slug}.txt"
        spy = py_spy_start(server.pid, out)
        time.sleep(1.0)                                   # py-spy attaches
        t0 = time.perf_counter()
        c.run(command)
        wall = time.perf_counter() - t0
        time.sleep(0.2)
        py_spy_stop(spy)
        print(f"  profiled {name}: {wall:.2f} s under py-spy -> {out}", flush=True)
        c.close()


def ten_sessions(server: BenchServer, n: int, concurrent: bool) -> dict:
    """Ten connections that each log in and SELECT INBOX, one after the other or all at
    once (the ten SELECTs sent together: the worst case for the peak); RSS with all ten
    holding the mailbox selected."""
    before = proc_memory_kb(server.pid)
    reset_peak_rss(server.pid)
    clients = [Client(server.port) for _ in range(10)]
    t0 = time.perf_counter()
    outs = []
    if concurrent:
        tags = [c.tag() for c in clients]
        for c, tag in zip(clients, tags, strict=True):
            c.sock.sendall(tag + b" SELECT INBOX\r\n")
        outs = [c.r.until_tagged(tag, keep=True) for c, tag in zip(clients, tags, strict=True)]
    else:
        outs = [c.run("SELECT INBOX", keep=True) for c in clients]
    wall = time.perf_counter() - t0
    for tagged, _, _, kept in outs:
        if _status(tagged) != "OK" or not any(t == b"* %d EXISTS" % n for t, _ in kept):
            raise ProtocolError(f"SELECT failed or wrong EXISTS: {tagged!r}")
    time.sleep(1.0)
    after = proc_memory_kb(server.pid)
    for c in clients:
        c.ok("NOOP")
        c.close()
    return {"mode": "concurrent" if concurrent else "one after the other",
            "rss_before_mb": round(before["VmRSS"] / 1024, 1),
            "rss_with_10_selected_mb": round(after["VmRSS"] / 1024, 1),
            "peak_rss_mb": round(after["VmHWM"] / 1024, 1),
            "ten_selects_s": round(wall, 3)}


# --------------------------------------------------------------------------------------------


def print_rows(rows: list[Row]) -> None:
    cols = [("command", "name"), ("wall s", "wall_s"), ("srv CPU s", "server_cpu_s"),
            ("peak RSS MB", "peak_rss_mb"), ("RSS MB", "rss_mb"), ("result", "result"),
            ("correct", "correct")]
    data = [[str(getattr(r, k)) for _, k in cols] for r in rows]
    widths = [max(len(h), *(len(d[j]) for d in data)) for j, (h, _) in enumerate(cols)]
    print("  ".join(h.ljust(w) for (h, _), w in zip(cols, widths, strict=True)))
    for d in data:
        print("  ".join(x.ljust(w) for x, w in zip(d, widths, strict=True)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="5,000 messages (smoke run)")
    ap.add_argument("--connections", type=int, default=8, help="APPEND phase 2 (8)")
    ap.add_argument("--load-with-import", action="store_true",
                    help="APPEND only a sample over IMAP (rates still measured), load the rest "
                         "with `crispin.server.cli import` from an mbox")
    ap.add_argument("--data-dir", type=Path,
                    help="use (and keep) this data dir; a second run with the same --messages "
                         "skips loading")
    ap.add_argument("--py-spy", type=Path, metavar="DIR",
                    help="profile APPEND (8 connections, 20 s) and each query (second pass)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    n = 5000 if args.quick else args.messages
    if not 100 <= n <= 1_000_000:
        ap.error("--messages must be between 100 and 1,000,000")

    info = machine_info()
    print(f"machine: {info}")
    scaling = cpu_scaling()
    print(f"CPU check: two busy processes get {scaling} cores' worth (2.0 = two free cores)",
          flush=True)
    report: dict = {"machine": info, "cpu_scaling": scaling, "messages": n,
                    "started": datetime.now().isoformat(timespec="seconds")}

    marker = args.data_dir / "bench-mailbox100k.json" if args.data_dir else None
    reuse = marker is not None and marker.exists()
    if reuse:
        loaded = json.loads(marker.read_text())
        if loaded.get("messages") != n or loaded.get("seed") != SEED:
            ap.error(f"{args.data_dir} holds {loaded.get('messages')} messages, not {n}")
        report["load"] = loaded.get("load")
        report["load_reused"] = str(args.data_dir)
    if args.data_dir is not None:
        args.data_dir.mkdir(parents=True, exist_ok=True)

    server = BenchServer(data_dir=args.data_dir)
    try:
        server.start(add_user=not reuse)
        print(f"server pid {server.pid} port {server.port}, data {server.data_dir}", flush=True)
        if not reuse:
            c = Client(server.port)
            caps = c.ok("CAPABILITY", keep=True)[3]
            c.close()
            if not any(b"LITERAL+" in t for t, _ in caps):
                print("warning: no LITERAL+ in CAPABILITY", file=sys.stderr)
            load: dict = {}
            p1 = min(n // 10, 10_000)
            sync = min(500, max(1, p1 // 10))
            t_load = time.perf_counter()
            print(f"APPEND, 1 connection: {p1} messages ({sync} one at a time, "
                  f"the rest LITERAL+ pipelined)...", flush=True)
            load["append_1"] = run_appends(server, [list(range(p1))], sync)
            print(f"  {load['append_1']}", flush=True)
            rest = list(range(p1, n))
            imported: list[int] = []
            if args.load_with_import:
                cut = min(len(rest), args.connections * 2000)
                rest, imported = rest[:cut], rest[cut:]
            k = args.connections
            groups = [rest[j::k] for j in range(k) if rest[j::k]]
            print(f"APPEND, {len(groups)} connections: {len(rest)} messages...", flush=True)
            spy_out = None
            if args.py_spy:
                args.py_spy.mkdir(parents=True, exist_ok=True)
                spy_out = args.py_spy / "append-8-connections.txt"
            load["append_8"] = run_appends(server, groups, 0, spy_out)
            print(f"  {load['append_8']}", flush=True)
            if imported:
                mbox = server.tmp / "rest.mbox"
                t0 = time.perf_counter()
                size = write_mbox(mbox, imported)
                t_write = time.perf_counter() - t0
                server.stop_process()
                print(f"import: {len(imported)} messages ({size / 1e6:.0f} MB mbox)...",
                      flush=True)
                t0 = time.perf_counter()
                proc = subprocess.run(
                    [PYTHON, "-m", "crispin", "import", "--user", USER, "--mailbox", "INBOX",
                     str(mbox), "--data-dir", str(server.data_dir)],
                    cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=7200)
                t_import = time.perf_counter() - t0
                mbox.unlink()
                if proc.returncode != 0:
                    raise RuntimeError("import failed:\n" + proc.stdout.decode()[-2000:])
                load["import"] = {"messages": len(imported), "mbox_mb": round(size / 1e6, 1),
                                  "write_mbox_s": round(t_write, 1),
                                  "import_s": round(t_import, 1),
                                  "msgs_per_s": round(len(imported) / t_import, 1)}
                print(f"  {load['import']}", flush=True)
                server.start(add_user=False)
            load["total_load_s"] = round(time.perf_counter() - t_load, 1)
            report["load"] = load
            if marker is not None:
                marker.write_text(json.dumps({"messages": n, "seed": SEED, "load": load}))
        du = subprocess.run(["du", "-sm", str(server.data_dir)], capture_output=True, text=True)
        report["data_dir_mb"] = du.stdout.split()[0] if du.stdout else "?"

        # Restart so the queries start from a server that has not just done the load.
        server.stop_process()
        server.start(add_user=False)
        mem = proc_memory_kb(server.pid)
        report["rss_after_start_mb"] = round(mem["VmRSS"] / 1024, 1)
        print(f"restarted: pid {server.pid}, RSS {report['rss_after_start_mb']} MB; "
              f"queries...", flush=True)
        rows, facts = run_queries(server, n, args.py_spy)
        report["flag_setup_s"] = facts["flag_setup_s"]
        report["queries"] = [r.as_dict() for r in rows]
        report["ten_sessions_after_queries"] = ten_sessions(server, n, concurrent=False)
        for concurrent in (False, True):
            server.stop_process()
            server.start(add_user=False)
            key = "ten_sessions_fresh_" + ("concurrent" if concurrent else "sequential")
            report[key] = ten_sessions(server, n, concurrent)
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}\nserver log:\n{server.log_tail()}",
              file=sys.stderr)
        raise
    finally:
        server.stop()

    print()
    for key in ("append_1", "append_8", "import"):
        if key in report.get("load") or {}:
            print(f"{key}: {report['load'][key]}")
    print()
    print_rows(rows)
    print()
    print(f"ten sessions, INBOX selected (after the queries): "
          f"{report['ten_sessions_after_queries']}")
    for key in ("ten_sessions_fresh_sequential", "ten_sessions_fresh_concurrent"):
        print(f"ten sessions, INBOX selected (restarted server): {report[key]}")
    print()
    print("targets:")
    verdicts = []
    for r in rows:
        key = r.name if r.name in TARGET_SECONDS else None
        if key is None:
            continue
        met = ("n/a" if not r.available or r.wall_s is None
               else "met" if r.wall_s < TARGET_SECONDS[key] else "MISSED")
        verdicts.append({"what": r.name, "target": TARGETS[key][0], "dovecot": TARGETS[key][1],
                         "crispin": r.wall_s, "met": met})
    a8 = (report.get("load") or {}).get("append_8", {}).get("msgs_per_s")
    a1 = (report.get("load") or {}).get("append_1", {}).get("pipelined_msgs_per_s")
    if a8 is not None:
        verdicts.append({"what": "APPEND msg/s (8 connections)", "target": ">= 500",
                         "dovecot": "~175", "crispin": a8,
                         "met": "met" if a8 >= 500 else "MISSED"})
    if a1 is not None:
        verdicts.append({"what": "APPEND msg/s (1 connection, LITERAL+)", "target": ">= 500",
                         "dovecot": "~175", "crispin": a1,
                         "met": "met" if a1 >= 500 else "MISSED"})
    mem10 = max(report[k]["rss_with_10_selected_mb"] for k in (
        "ten_sessions_after_queries", "ten_sessions_fresh_sequential",
        "ten_sessions_fresh_concurrent"))
    verdicts.append({"what": "RSS MB, 10 sessions selected", "target": "< 300",
                     "dovecot": "", "crispin": mem10, "met": "met" if mem10 < 300 else "MISSED"})
    for v in verdicts:
        print(f"  {v['what']:<40} target {v['target']:<8} Dovecot {v['dovecot']:<10} "
              f"Crispin {v['crispin']}  {v['met']}")
    report["targets"] = verdicts
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
