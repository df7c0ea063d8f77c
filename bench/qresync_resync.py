"""QRESYNC resync (RFC 7162 §3.2.5) of a 100,000-message mailbox after 1,000 changes.

  1. Load N (default 100,000) small generated messages into INBOX, fast: write an mbox (with
     ``Status: R`` on ~70% and ``X-Status: F`` on ~2%, so there are flags to start from) and
     run ``python -m crispin import`` before the server starts. ``--data-dir DIR`` keeps
     the loaded dir and reuses it on the next run (the changes below keep EXISTS at N, so a
     reused dir still holds N messages).
  2. Client A: ``ENABLE QRESYNC``, ``SELECT INBOX`` -> UIDVALIDITY, HIGHESTMODSEQ, UIDNEXT;
     ``UID FETCH 1:* (FLAGS)`` (the flags before, for the check); LOGOUT.
  3. Client B makes 1,000 changes, each its own command: 400 ``UID STORE u +FLAGS.SILENT
     (flag)`` on distinct random UIDs, with a flag the message does not have yet (\\Flagged,
     \\Answered or a keyword $BenchQ), 300 expunges of distinct random UIDs (``UID STORE u
     +FLAGS.SILENT (\\Deleted)`` + ``UID EXPUNGE u``; they may hit a flagged UID), and 300
     APPENDs. Timed (the cost of making the changes, with 100,000 messages selected).
  4. Client C: ``ENABLE QRESYNC``, then timed: ``SELECT INBOX (QRESYNC (uidvalidity modseq
     1:<old UIDNEXT-1>))``, wall seconds from sending it to its tagged OK, server CPU, peak
     RSS. Checked exactly: ``VANISHED (EARLIER)`` = the UIDs expunged; the FETCH lines = the
     UIDs flagged minus those expunged, each with FLAGS = flags before + the one added and a
     MODSEQ above the old one; EXISTS = N - 300 + 300; HIGHESTMODSEQ above the old one.
     Then ``UID FETCH 1:* (FLAGS) (CHANGEDSINCE modseq VANISHED)`` on the same session.
  5. Timed too, each on a fresh session: a plain ``SELECT INBOX`` and ``UID FETCH 1:* (FLAGS)
     (CHANGEDSINCE modseq)`` (= flagged - expunged + the 300 appended, nothing else).

Each timed command is repeated ``--repeat`` times (default 3; nothing changes the mailbox in
between) and reported as first / median / max.

    .venv/bin/python bench/qresync_resync.py                          # 100,000 messages
    .venv/bin/python bench/qresync_resync.py --quick                  # 5,000, 100 changes
    .venv/bin/python bench/qresync_resync.py --data-dir /tmp/qr100k   # keep / reuse the load
    .venv/bin/python bench/qresync_resync.py --data-dir /tmp/qr100k --py-spy /tmp/spy

Stdlib only, 127.0.0.1 only. The IMAP client is mailbox100k.py's (blocking socket, raw
reader).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BenchServer,
    cpu_scaling,
    machine_info,
    proc_cpu_seconds,
    proc_memory_kb,
    py_spy_start,
    py_spy_stop,
    reset_peak_rss,
)
from mailbox100k import Client, ProtocolError

SEED = 7162
MARKER = "bench-qresync.json"
NEW_FLAGS = ("\\Flagged", "\\Answered", "$BenchQ")

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_HIGHESTMODSEQ = re.compile(rb"\[HIGHESTMODSEQ (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_EXISTS = re.compile(rb"^\* (\d+) EXISTS$")
_FETCH = re.compile(rb"^\* (\d+) FETCH \((.*)\)$")
_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_MODSEQ = re.compile(rb"\bMODSEQ \((\d+)\)")
_VANISHED = re.compile(rb"^\* VANISHED \(EARLIER\) (\S+)$")
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


# --------------------------------------------------------------------------------------------
# Messages and load


def message(i: int) -> bytes:
    rng = random.Random(SEED * 1_000_003 + i)
    words = ["meeting", "report", "invoice", "lunch", "release", "draft", "budget", "notes",
             "holiday", "review", "ticket", "backup", "deploy", "question", "update"]
    subject = " ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))
    body = b"".join(
        (" ".join(rng.choice(words) for _ in range(rng.randint(6, 14))) + "\r\n").encode()
        for _ in range(rng.randint(3, 25)))
    return (f"From: Sender {i % 997} <s{i % 997}@example.org>\r\n"
            f"To: bench@crispin.example\r\n"
            f"Subject: {subject} #{i}\r\n"
            f"Date: Mon, 1 Jan 2024 08:{i // 60 % 60:02d}:{i % 60:02d} +0000\r\n"
            f"Message-ID: <q{i}@crispin.example>\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n").encode() + body


def write_mbox(path: Path, n: int) -> int:
    with open(path, "wb") as fh:
        for i in range(n):
            rng = random.Random(i)
            status = b"Status: RO\n" if rng.random() < 0.7 else b"Status: O\n"
            xstatus = b"X-Status: F\n" if rng.random() < 0.02 else b""
            msg = message(i).replace(b"\r\n", b"\n")
            head, _, body = msg.partition(b"\n\n")
            fh.write(b"From bench@crispin.example Mon Jan  1 08:00:00 2024\n" + head + b"\n"
                     + status + xstatus + b"\n" + body + b"\n")
    return path.stat().st_size


# --------------------------------------------------------------------------------------------
# Parsing


def parse_set(text: bytes) -> set[int]:
    out: set[int] = set()
    for part in text.split(b","):
        a, _, b = part.partition(b":")
        lo, hi = int(a), int(b or a)
        if lo > hi:
            lo, hi = hi, lo
        out.update(range(lo, hi + 1))
    return out


def flags_of(item: bytes) -> frozenset[str]:
    m = _FLAGS.search(item)
    if m is None:
        return frozenset()
    return frozenset(f for f in m.group(1).decode().split() if f != "\\Recent")


def select_facts(kept: list[tuple[bytes, list[bytes]]]) -> dict:
    facts: dict = {"fetch": {}, "vanished": set(), "vanished_lines": 0}
    for text, _ in kept:
        if m := _UIDVALIDITY.search(text):
            facts["uidvalidity"] = int(m.group(1))
        elif m := _HIGHESTMODSEQ.search(text):
            facts["highestmodseq"] = int(m.group(1))
        elif m := _UIDNEXT.search(text):
            facts["uidnext"] = int(m.group(1))
        elif m := _EXISTS.match(text):
            facts["exists"] = int(m.group(1))
        elif m := _VANISHED.match(text):
            facts["vanished"] |= parse_set(m.group(1))
            facts["vanished_lines"] += 1
        elif m := _FETCH.match(text):
            items = m.group(2)
            u = _UID.search(items)
            ms = _MODSEQ.search(items)
            if u is None:
                raise ProtocolError(f"FETCH without UID: {text[:100]!r}")
            uid = int(u.group(1))
            if uid in facts["fetch"]:
                facts.setdefault("duplicate_fetch", 0)
                facts["duplicate_fetch"] += 1
            facts["fetch"][uid] = (flags_of(items), int(ms.group(1)) if ms else None)
    return facts


# --------------------------------------------------------------------------------------------


def timed(server: BenchServer, client: Client, command: str, spy_path: Path | None = None
          ) -> tuple[dict, list[tuple[bytes, list[bytes]]]]:
    pid = server.pid
    reset_peak_rss(pid)
    spy = py_spy_start(pid, spy_path) if spy_path is not None else None
    if spy is not None:
        time.sleep(1.0)  # let py-spy attach
    cpu0 = proc_cpu_seconds(pid)
    t0 = time.perf_counter()
    tagged, count, _, kept = client.run(command, keep=True)
    wall = time.perf_counter() - t0
    cpu = proc_cpu_seconds(pid) - cpu0
    py_spy_stop(spy)
    if b" OK" not in tagged[:12]:
        raise ProtocolError(f"{command[:60]}: {tagged.decode(errors='replace')[:200]}")
    mem = proc_memory_kb(pid)
    return {"wall_s": round(wall, 4), "server_cpu_s": round(cpu, 3),
            "peak_rss_mb": round(mem["VmHWM"] / 1024, 1), "untagged": count}, kept


def summarise(runs: list[dict]) -> dict:
    walls = [r["wall_s"] for r in runs]
    return {"first_s": walls[0], "median_s": round(statistics.median(walls), 4),
            "max_s": max(walls), "server_cpu_s": runs[0]["server_cpu_s"],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "untagged": runs[0]["untagged"]}


def make_changes(server: BenchServer, uids: list[int], flags_before: dict[int, frozenset[str]],
                 n_flag: int, n_expunge: int, n_append: int, rng: random.Random,
                 spy_path: Path | None = None) -> dict:
    c = Client(server.port)
    c.ok("SELECT INBOX")
    spy = py_spy_start(server.pid, spy_path) if spy_path is not None else None
    if spy is not None:
        time.sleep(1.0)
    # On a reused data dir earlier runs added flags: take UIDs that lack one of them.
    flaggable = [u for u in uids if not flags_before[u].issuperset(NEW_FLAGS)]
    flagged = rng.sample(flaggable, n_flag)
    expunged = rng.sample(uids, n_expunge)
    added: dict[int, str] = {}
    cpu0 = proc_cpu_seconds(server.pid)
    t0 = time.perf_counter()
    t_store = time.perf_counter()
    for u in flagged:
        flag = next((f for f in rng.sample(NEW_FLAGS, len(NEW_FLAGS))
                     if f not in flags_before[u]), None)
        assert flag is not None
        added[u] = flag
        c.ok(f"UID STORE {u} +FLAGS.SILENT ({flag})")
    store_s = time.perf_counter() - t_store
    t_exp = time.perf_counter()
    for u in expunged:
        c.ok(f"UID STORE {u} +FLAGS.SILENT (\\Deleted)")
        c.ok(f"UID EXPUNGE {u}")
    expunge_s = time.perf_counter() - t_exp
    t_app = time.perf_counter()
    appended: list[int] = []
    for _ in range(n_append):
        msg = message(10_000_000 + rng.randrange(1 << 30))
        tag = c.tag()
        c.sock.sendall(tag + b" APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        tagged, _, _, _ = c.r.until_tagged(tag)
        if b" OK" not in tagged[:12]:
            raise ProtocolError(f"APPEND: {tagged.decode(errors='replace')}")
        m = _APPENDUID.search(tagged)
        if m:
            appended.append(int(m.group(1)))
    append_s = time.perf_counter() - t_app
    wall = time.perf_counter() - t0
    cpu = proc_cpu_seconds(server.pid) - cpu0
    py_spy_stop(spy)
    c.close()
    return {"flagged": added, "expunged": set(expunged), "appended": appended,
            "timing": {"changes": n_flag + n_expunge + n_append, "wall_s": round(wall, 2),
                       "server_cpu_s": round(cpu, 2),
                       "uid_store_ms_each": round(store_s / max(1, n_flag) * 1000, 2),
                       "expunge_ms_each (STORE + UID EXPUNGE)":
                           round(expunge_s / max(1, n_expunge) * 1000, 2),
                       "append_ms_each": round(append_s / max(1, n_append) * 1000, 2)}}


def run(server: BenchServer, n: int, changes: tuple[int, int, int], repeat: int,
        spy_dir: Path | None) -> dict:
    n_flag, n_expunge, n_append = changes
    report: dict = {}

    # -- 2. the client's state before ---------------------------------------------------
    a = Client(server.port)
    a.ok("ENABLE QRESYNC")
    _, _, _, kept = a.ok("SELECT INBOX", keep=True)
    before = select_facts(kept)
    _, _, _, kept = a.ok("UID FETCH 1:* (FLAGS)", keep=True)
    a.close()
    flags_before = {uid: fl for uid, (fl, _) in select_facts(kept)["fetch"].items()}
    if before.get("exists") != n or len(flags_before) != n:
        raise RuntimeError(f"INBOX holds {before.get('exists')} messages "
                           f"({len(flags_before)} fetched), expected {n}")
    uidvalidity, modseq, uidnext = before["uidvalidity"], before["highestmodseq"], \
        before["uidnext"]
    rng = random.Random(SEED + modseq)  # deterministic for a given mailbox state
    report["before"] = {"uidvalidity": uidvalidity, "highestmodseq": modseq,
                        "uidnext": uidnext, "exists": before["exists"],
                        "seen": sum("\\Seen" in f for f in flags_before.values()),
                        "flagged": sum("\\Flagged" in f for f in flags_before.values())}
    print(f"  before: {report['before']}", flush=True)

    # -- 3. the changes -------------------------------------------------------------------
    ch = make_changes(server, sorted(flags_before), flags_before, n_flag, n_expunge, n_append,
                      rng, spy_dir / "changes.txt" if spy_dir is not None else None)
    report["changes"] = ch["timing"]
    print(f"  changes: {ch['timing']}", flush=True)
    expunged: set[int] = ch["expunged"]
    flagged: dict[int, str] = ch["flagged"]
    want_fetch = {u: flags_before[u] | {f} for u, f in flagged.items() if u not in expunged}

    # -- 4. QRESYNC SELECT ----------------------------------------------------------------
    qcmd = f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:{uidnext - 1}))"
    runs, checks = [], []
    for r in range(repeat):
        c = Client(server.port)
        c.ok("ENABLE QRESYNC")
        spy = spy_dir / "select-qresync.txt" if spy_dir is not None and r == 0 else None
        row, kept = timed(server, c, qcmd, spy)
        runs.append(row)
        f = select_facts(kept)
        got_fetch = {u: fl for u, (fl, _) in f["fetch"].items()}
        bad_modseq = sum(1 for _, (_, ms) in f["fetch"].items() if ms is None or ms <= modseq)
        problems = []
        if f["vanished"] != expunged:
            problems.append(f"VANISHED: {len(f['vanished'])} UIDs, {len(expunged)} expunged, "
                            f"{len(f['vanished'] ^ expunged)} differ")
        if set(got_fetch) != set(want_fetch):
            problems.append(f"FETCH UIDs: {len(got_fetch)} vs {len(want_fetch)} expected, "
                            f"{len(set(got_fetch) ^ set(want_fetch))} differ")
        wrong_flags = sum(1 for u, fl in got_fetch.items()
                          if u in want_fetch and fl != want_fetch[u])
        if wrong_flags:
            problems.append(f"{wrong_flags} FETCH lines with wrong FLAGS")
        if bad_modseq:
            problems.append(f"{bad_modseq} FETCH lines without a MODSEQ above {modseq}")
        if f.get("duplicate_fetch"):
            problems.append(f"{f['duplicate_fetch']} UIDs fetched twice")
        if f.get("exists") != n - n_expunge + n_append:
            problems.append(f"EXISTS {f.get('exists')}, expected {n - n_expunge + n_append}")
        if not f.get("highestmodseq", 0) > modseq:
            problems.append(f"HIGHESTMODSEQ {f.get('highestmodseq')} not above {modseq}")
        checks.append(problems)
        if r == 0:
            report["select_qresync_answer"] = {
                "vanished_uids": len(f["vanished"]), "vanished_lines": f["vanished_lines"],
                "fetch_lines": len(got_fetch), "exists": f.get("exists"),
                "highestmodseq": f.get("highestmodseq"),
                "expected": {"vanished": len(expunged), "fetch": len(want_fetch),
                             "exists": n - n_expunge + n_append}}
            # UID FETCH ... (CHANGEDSINCE m VANISHED) on this QRESYNC session.
            row2, kept2 = timed(server, c, f"UID FETCH 1:{uidnext - 1} (FLAGS) "
                                f"(CHANGEDSINCE {modseq} VANISHED)")
            f2 = select_facts(kept2)
            ok2 = f2["vanished"] == expunged and set(f2["fetch"]) == set(want_fetch)
            report["uid_fetch_changedsince_vanished"] = {
                **row2, "vanished_uids": len(f2["vanished"]), "fetch_lines": len(f2["fetch"]),
                "correct": "yes" if ok2 else "NO"}
        c.close()
    report["select_qresync"] = {**summarise(runs), "command": qcmd,
                                "correct": "yes" if not any(checks) else "NO",
                                "problems": [p for ps in checks for p in ps][:10]}

    # -- 5. plain SELECT and UID FETCH CHANGEDSINCE ---------------------------------------
    want_changed = set(want_fetch) | set(ch["appended"])
    sel_runs, cs_runs, cs_ok = [], [], []
    for r in range(repeat):
        c = Client(server.port)
        spy = spy_dir / "select-plain.txt" if spy_dir is not None and r == 0 else None
        row, kept = timed(server, c, "SELECT INBOX", spy)
        sel_runs.append(row)
        f = select_facts(kept)
        sel_ok = f.get("exists") == n - n_expunge + n_append
        spy = spy_dir / "uid-fetch-changedsince.txt" if spy_dir is not None and r == 0 \
            else None
        row, kept = timed(server, c, f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq})", spy)
        cs_runs.append(row)
        f = select_facts(kept)
        got = f["fetch"]
        cs_ok.append(sel_ok and set(got) == want_changed and all(
            fl == want_fetch[u] for u, (fl, _) in got.items() if u in want_fetch))
        if r == 0:
            report["uid_fetch_changedsince_answer"] = {
                "fetch_lines": len(got), "expected": len(want_changed),
                "appended_uids_known": len(ch["appended"])}
        c.close()
    report["select_plain"] = {**summarise(sel_runs), "correct": "yes" if sel_ok else "NO"}
    report["uid_fetch_changedsince"] = {**summarise(cs_runs),
                                        "command": f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE "
                                                   f"{modseq})",
                                        "correct": "yes" if all(cs_ok) else "NO"}
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--changes", default="400,300,300",
                    help="flag changes, expunges, appends (default 400,300,300)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="5,000 messages, 40/30/30 changes")
    ap.add_argument("--data-dir", type=Path, help="use (and keep) this data dir; a second "
                    "run with the same --messages skips loading")
    ap.add_argument("--py-spy", type=Path, metavar="DIR",
                    help="profile the 1,000 changes, the first QRESYNC SELECT, plain SELECT and "
                         "CHANGEDSINCE")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    n = args.messages
    changes = tuple(int(x) for x in args.changes.split(","))
    if args.quick:
        n, changes = 5000, (40, 30, 30)
    if len(changes) != 3 or not 100 <= n <= 1_000_000 or sum(changes[:2]) > n \
            or not 1 <= args.repeat <= 20:
        ap.error("bad --messages / --changes / --repeat")

    info = machine_info()
    scaling = cpu_scaling()
    print(f"machine: {info}")
    print(f"CPU check: two busy processes get {scaling} cores' worth (2.0 = two free cores)",
          flush=True)
    report: dict = {"machine": info, "cpu_scaling": scaling, "messages": n,
                    "changes": dict(zip(("flags", "expunges", "appends"), changes, strict=True)),
                    "started": datetime.now().isoformat(timespec="seconds")}
    if args.py_spy is not None:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    marker = args.data_dir / MARKER if args.data_dir else None
    reuse = marker is not None and marker.exists()
    if reuse:
        loaded = json.loads(marker.read_text())
        if loaded.get("messages") != n:
            ap.error(f"{args.data_dir} holds {loaded.get('messages')} messages, not {n}")
        report["load"] = {**loaded.get("load", {}), "reused": str(args.data_dir)}
    elif args.data_dir is not None:
        if args.data_dir.exists() and any(args.data_dir.iterdir()):
            ap.error(f"{args.data_dir} is not empty and holds no {MARKER}")
        args.data_dir.mkdir(parents=True, exist_ok=True)

    server = BenchServer(data_dir=args.data_dir)
    try:
        if not reuse:
            server.add_user()
            mbox = server.tmp / "load.mbox"
            t0 = time.perf_counter()
            size = write_mbox(mbox, n)
            t_write = time.perf_counter() - t0
            print(f"import: {n} messages ({size / 1e6:.0f} MB mbox, written in "
                  f"{t_write:.1f} s)...", flush=True)
            t_import = server.import_mbox(mbox)
            mbox.unlink()
            report["load"] = {"mbox_mb": round(size / 1e6, 1), "import_s": round(t_import, 1),
                              "msgs_per_s": round(n / t_import)}
            print(f"  {report['load']}", flush=True)
            if marker is not None:
                marker.write_text(json.dumps({"messages": n, "load": report["load"]}))
        server.start(add_user=False)
        report["rss_after_start_mb"] = round(proc_memory_kb(server.pid)["VmRSS"] / 1024, 1)
        print(f"server pid {server.pid}, data {server.data_dir}", flush=True)
        report.update(run(server, n, changes, args.repeat, args.py_spy))
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}\nserver log:\n{server.log_tail()}",
              file=sys.stderr)
        raise
    finally:
        server.stop()

    print()
    print(f"{'command':<58} {'wall s (first/median/max)':<28} {'srv CPU s':>9} "
          f"{'peak MB':>8}  correct")
    for key in ("select_qresync", "select_plain", "uid_fetch_changedsince"):
        r = report[key]
        name = r.get("command", "SELECT INBOX")
        print(f"{name[:58]:<58} {r['first_s']:.3f} / {r['median_s']:.3f} / {r['max_s']:.3f}"
              f"{'':<7} {r['server_cpu_s']:>9} {r['peak_rss_mb']:>8}  {r['correct']}")
    r = report["uid_fetch_changedsince_vanished"]
    print(f"{'UID FETCH ... (CHANGEDSINCE m VANISHED)':<58} {r['wall_s']:.3f}{'':<22} "
          f"{r['server_cpu_s']:>9} {r['peak_rss_mb']:>8}  {r['correct']}")
    print(f"QRESYNC answer: {report['select_qresync_answer']}")
    if report["select_qresync"]["problems"]:
        print(f"PROBLEMS: {report['select_qresync']['problems']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=sorted))
        print(f"wrote {args.json}")
    ok = all(report[k]["correct"] == "yes" for k in (
        "select_qresync", "select_plain", "uid_fetch_changedsince",
        "uid_fetch_changedsince_vanished"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
