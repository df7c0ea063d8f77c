"""How long one big FETCH holds the event loop, and another session's NOOP meanwhile (issue 14).

Starts the server of this checkout through ``_loop_timer.py`` (every loop callback timed) on
an N-message INBOX (a copy of ``/srv/bench/fo100k``, or ``folder_open.py``'s ``--data-dir``),
then, for each operation, ``--runs`` times after one warm-up:

  headers   Thunderbird's ``UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS
            (...)])``: N lines, N literals
  flags     ``UID FETCH 1:* (UID FLAGS)``
  body      ``UID FETCH 1:B (BODY.PEEK[])`` (``--body-count`` B, default 10,000)

The FETCH runs in a client process of its own (so that its parsing does not take the GIL
from the probe); meanwhile a probe session (INBOX selected) sends NOOP, waits for its OK,
waits 5 ms, again, and times each round trip. Reported per operation, over all runs: NOOP
p50/p99/max, the loop's longest callback, its p99, callbacks over 10 and 50 ms, the
callbacks that held it longest (by coroutine), the FETCH's wall time and server CPU.

    cp -a /srv/bench/fo100k /tmp/me-fo100k
    .venv/bin/python bench/loop_hold.py --data-dir /tmp/me-fo100k --runs 3

Stdlib only, 127.0.0.1 only; the server and every client stop by themselves.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchServer, percentile
from _imapwire import Client, ProtocolError
from folder_open import HEADERS, fetch_count, loadavg, proc_cpu_seconds

TIMER = Path(__file__).resolve().parent / "_loop_timer.py"


def loop_report(server: BenchServer, out: Path) -> dict[str, Any]:
    """The loop timer's figures since its last report (it writes them on SIGUSR1)."""
    out.unlink(missing_ok=True)
    os.kill(server.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 30
    while not out.exists():
        if time.monotonic() > deadline:
            raise ProtocolError("the loop timer wrote no report")
        time.sleep(0.01)  # polling a file the server writes: no event to wait for here
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def one_run(server: BenchServer, probe: Client, command: str, lines: int, literals: int
            ) -> tuple[list[float], float, float]:
    """The FETCH in a process of its own, NOOPs meanwhile: (NOOP seconds, wall, CPU)."""
    proc = multiprocessing.Process(target=fetch_count, args=(server.port, command, lines, literals))
    lat: list[float] = []
    cpu0 = proc_cpu_seconds(server.pid)
    t0 = time.perf_counter()
    proc.start()
    while proc.is_alive():
        s = time.perf_counter()
        probe.ok("NOOP")
        lat.append(time.perf_counter() - s)
        proc.join(0.005)
    proc.join()
    wall = time.perf_counter() - t0
    cpu = proc_cpu_seconds(server.pid) - cpu0
    if proc.exitcode != 0:
        raise ProtocolError(f"the FETCH client failed ({proc.exitcode})")
    return lat, wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True,
                    help="a loaded data folder (a copy of /srv/bench/fo100k); used in place")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ops", nargs="*", default=["headers", "flags", "body"],
                    choices=["headers", "flags", "body"])
    ap.add_argument("--body-count", type=int, default=10_000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = Path(f"/tmp/loop-hold-{os.getpid()}.json")
    server = BenchServer({"CRISPIN_LOOP_HOLD_OUT": str(out)}, data_dir=args.data_dir,
                         wrapper=[sys.executable, str(TIMER)])
    report: dict[str, Any] = {"loadavg_before": loadavg(), "rows": []}
    try:
        # The first start on a copy of an older folder runs migrations first.
        server.start(timeout=600, add_user=False)
        probe = Client(server.port)
        kept = probe.ok("SELECT INBOX", keep=True)[3]
        n = next(int(t.split()[1]) for t, _ in kept if t.endswith(b" EXISTS"))
        b = min(n, args.body_count)
        commands = {
            "headers": (HEADERS, n, n),
            "flags": ("UID FETCH 1:* (UID FLAGS)", n, 0),
            # UIDs 1..n are the messages of an untouched copy (folder_open's corpus).
            "body": (f"FETCH 1:{b} (BODY.PEEK[])", b, b),
        }
        print(f"{n} messages; load average {report['loadavg_before']}", flush=True)
        for op in args.ops:
            command, lines, literals = commands[op]
            one_run(server, probe, command, lines, literals)  # warm-up
            loop_report(server, out)
            noops: list[float] = []
            walls: list[float] = []
            cpus: list[float] = []
            holds: list[dict[str, Any]] = []
            for _ in range(args.runs):
                lat, wall, cpu = one_run(server, probe, command, lines, literals)
                noops += lat
                walls.append(wall)
                cpus.append(cpu)
                holds.append(loop_report(server, out))
            s = sorted(noops)
            longest = sorted((x for h in holds for x in h["longest"]), reverse=True)[:8]
            row = {
                "operation": op, "command": command[:60], "runs": args.runs,
                "wall_s": round(statistics.median(walls), 3),
                "server_cpu_s": round(statistics.median(cpus), 3),
                "noops": len(s), "noop_p50_ms": round(percentile(s, 0.5) * 1000, 1),
                "noop_p99_ms": round(percentile(s, 0.99) * 1000, 1),
                "noop_max_ms": round(s[-1] * 1000, 1),
                "loop_max_ms": max(h["max_ms"] for h in holds),
                "loop_p99_ms": max(h["p99_ms"] for h in holds),
                "loop_cpu_max_ms": max(h["cpu_max_ms"] for h in holds),
                "loop_over_10ms": sum(h["over_10ms"] for h in holds),
                "loop_over_50ms": sum(h["over_50ms"] for h in holds),
                "longest": longest,
            }
            report["rows"].append(row)
            print(json.dumps(row), flush=True)
        probe.close()
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()
        out.unlink(missing_ok=True)
    report["loadavg_after"] = loadavg()
    print(f"load average {report['loadavg_before']} -> {report['loadavg_after']}")
    print(f"{'op':8} {'wall':>7} {'CPU':>7} {'NOOP p50':>9} {'p99':>7} {'max':>7}"
          f" {'loop max':>9} {'(CPU)':>7} {'>50ms':>6}")
    for r in report["rows"]:
        print(f"{r['operation']:8} {r['wall_s']:7} {r['server_cpu_s']:7} {r['noop_p50_ms']:9}"
              f" {r['noop_p99_ms']:7} {r['noop_max_ms']:7} {r['loop_max_ms']:9}"
              f" {r['loop_cpu_max_ms']:7}"
              f" {r['loop_over_50ms']:6}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
