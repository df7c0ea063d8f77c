"""Ten clients of a mixed load (issue 14): commands/s, per-command latency, server CPU.

Each of ``--clients`` (10) threads loops over a session as a conformance tester's stress mode
runs them, all on one mailbox of one user: LOGIN, SELECT, ``FETCH 1:* (UID FLAGS)``, a
``UID FETCH`` of one message's ENVELOPE and body, a ``UID STORE`` of \\Flagged and of
\\Deleted on a message it appended, APPEND, ``UID EXPUNGE`` of what it marked, LOGOUT.
Every command is timed from sending it to its tagged answer (which must be OK). Reported:
commands/s over the run, p50/p99/max latency (all commands and per command), and the
server's CPU milliseconds per command (every thread of the server process, from
/proc/PID/task/*/schedstat). Stdlib only, 127.0.0.1 only; the server is started and
stopped here, or, with ``--external --port N``, another server already listening is loaded
the same way (its mailbox created and seeded by APPEND here; no CPU figure: its processes
are not ours to read). ``bench/dovecot_side.py`` runs a private Dovecot for that.

    .venv/bin/python bench/mixed_load.py                  # 10 clients, 20 s
    .venv/bin/python bench/mixed_load.py --seconds 60 --json out.json
    sudo .venv/bin/python bench/dovecot_side.py -- .venv/bin/python bench/mixed_load.py --external
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PASSWORD, USER, BenchServer, machine_info, percentile
from _imapwire import Client, ProtocolError, _status
from _mailgen import generate
from folder_open import loadavg, proc_cpu_seconds

MAILBOX = "Stress"
_UID = re.compile(rb"[( ]UID (\d+)")


def worker(port: int, k: int, stop: threading.Event, out: dict[str, list[float]],
           errors: list[str]) -> None:
    lat: dict[str, list[float]] = defaultdict(list)
    msg = generate(k)
    round_ = 0
    try:
        while not stop.is_set():
            round_ += 1
            t0 = time.perf_counter()
            c = Client(port, login=False)
            c.ok(f'LOGIN {USER} "{PASSWORD}"')
            lat["LOGIN"].append(time.perf_counter() - t0)

            def run(name: str, command: str, c: Client = c
                    ) -> tuple[bytes, list[tuple[bytes, list[bytes]]]]:
                t = time.perf_counter()
                tagged, _, _, kept = c.run(command, keep=True)
                lat[name].append(time.perf_counter() - t)
                if _status(tagged) != "OK":
                    raise ProtocolError(f"{command}: {tagged[:100]!r}")
                return tagged, kept

            run("SELECT", f"SELECT {MAILBOX}")
            _, kept = run("FETCH flags", "FETCH 1:* (UID FLAGS)")
            # Another session's flag change may come as its own untagged FETCH without a UID
            # (RFC 3501 §7.4.2: Dovecot sends them); only the answers carry one.
            uids = [int(m[1]) for t, _ in kept if b" FETCH " in t
                    for m in [_UID.search(t)] if m]
            if uids:
                u = uids[(round_ * 7 + k) % len(uids)]
                run("FETCH body", f"UID FETCH {u} (ENVELOPE BODY.PEEK[])")
                run("STORE", f"UID STORE {u} +FLAGS.SILENT (\\Flagged)")
            tag = c.tag()
            t = time.perf_counter()
            c.sock.sendall(tag + b" APPEND %s {%d+}\r\n" % (MAILBOX.encode(), len(msg))
                           + msg + b"\r\n")
            tagged, _, _, _ = c.r.until_tagged(tag)
            lat["APPEND"].append(time.perf_counter() - t)
            if _status(tagged) != "OK" or b"APPENDUID" not in tagged:
                raise ProtocolError(f"APPEND: {tagged!r}")
            new = int(tagged.split(b"APPENDUID ")[1].split()[1].rstrip(b"]"))
            run("STORE", f"UID STORE {new} +FLAGS.SILENT (\\Deleted)")
            run("EXPUNGE", f"UID EXPUNGE {new}")
            t = time.perf_counter()
            c.close()
            lat["LOGOUT"].append(time.perf_counter() - t)
    except (OSError, ProtocolError) as exc:
        errors.append(f"client {k}: {exc}")
    for name, values in lat.items():
        out[name].extend(values)


def thread_cpu_seconds(pid: int) -> float:
    """CPU of the server's main thread (the event loop), from its schedstat."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as fh:
        return int(fh.read().split()[0]) / 1e9


def wait_for_file(path: Path, timeout: float = 30.0) -> None:
    """The wait timer's report, written on SIGUSR1 (polled: a file has no event to await)."""
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def stats(values: list[float]) -> dict[str, float]:
    s = sorted(values)
    return {"n": len(s), "p50_ms": round(percentile(s, 0.5) * 1000, 2),
            "p99_ms": round(percentile(s, 0.99) * 1000, 2), "max_ms": round(s[-1] * 1000, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--messages", type=int, default=200, help="in the mailbox at the start")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--external", action="store_true",
                    help="load the server already listening on 127.0.0.1 --port (user "
                         f"{USER}); start no Crispin, report no server CPU")
    ap.add_argument("--port", type=int, default=0, help="with --external")
    ap.add_argument("--wait-timer", type=Path, metavar="JSON",
                    help="run Crispin under bench/_wait_timer.py and write where each "
                         "command type waited (writer queue, commit, reads) to JSON")
    args = ap.parse_args()
    if args.external and not args.port:
        ap.error("--external needs --port")
    report: dict[str, object] = {"machine": machine_info(), "clients": args.clients,
                                 "seconds": args.seconds, "loadavg_before": loadavg(),
                                 "server": f"external :{args.port}" if args.external
                                 else "crispin"}
    with contextlib.ExitStack() as stack:
        if args.external:
            port, pid = args.port, None
        else:
            timer = ({"env": {"CRISPIN_WAIT_OUT": str(args.wait_timer.resolve())},
                      "wrapper": [sys.executable, str(Path(__file__).parent / "_wait_timer.py")]}
                     if args.wait_timer else {})
            server = stack.enter_context(BenchServer(**timer))  # type: ignore[arg-type]
            port, pid = server.port, server.pid
        setup = Client(port)
        setup.ok(f"CREATE {MAILBOX}")
        for i in range(args.messages):
            msg = generate(1000 + i)
            tag = setup.tag()
            setup.sock.sendall(tag + b" APPEND %s {%d+}\r\n" % (MAILBOX.encode(), len(msg))
                               + msg + b"\r\n")
            setup.r.until_tagged(tag)
        setup.close()
        stop = threading.Event()
        lat: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        threads = [threading.Thread(target=worker, args=(port, k, stop, lat, errors))
                   for k in range(args.clients)]
        client0 = time.process_time()
        cpu0 = proc_cpu_seconds(pid) if pid else 0.0
        loop0 = thread_cpu_seconds(pid) if pid else 0.0
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        stop.set()
        for t in threads:
            t.join(timeout=120)
        wall = time.perf_counter() - t0
        client_cpu = time.process_time() - client0
        cpu = proc_cpu_seconds(pid) - cpu0 if pid else None
        loop_cpu = thread_cpu_seconds(pid) - loop0 if pid else None
        if pid and args.wait_timer:
            os.kill(pid, signal.SIGUSR1)
            wait_for_file(args.wait_timer)
    every = [x for v in lat.values() for x in v]
    report.update({
        "commands": len(every), "commands_per_s": round(len(every) / wall, 1),
        "server_cpu_ms_per_command": (round(cpu * 1000 / max(1, len(every)), 3)
                                      if cpu is not None else None),
        # The event loop's thread alone (the main thread: its id is the process id).
        "loop_cpu_ms_per_command": (round(loop_cpu * 1000 / max(1, len(every)), 3)
                                    if loop_cpu is not None else None),
        "loop_cpu_share": (round(loop_cpu / wall, 2) if loop_cpu is not None else None),
        # This load generator's own CPU (its ten threads share one GIL): a saturated client
        # adds its own waits to every latency.
        "client_cpu_share": round(client_cpu / wall, 2),
        "all": stats(every) if every else {},
        "per_command": {name: stats(v) for name, v in sorted(lat.items())},
        "errors": errors, "loadavg_after": loadavg()})
    print(f"{report['server']}: {args.clients} clients, {wall:.1f} s, load average "
          f"{report['loadavg_before']} -> {report['loadavg_after']}")
    print(f"{report['commands']} commands, {report['commands_per_s']}/s, server CPU "
          f"{report['server_cpu_ms_per_command']} ms/command (event loop "
          f"{report['loop_cpu_ms_per_command']}, {report['loop_cpu_share']} of a core), client "
          f"{report['client_cpu_share']} of a core; "
          f"all: {report['all']}")
    for name, s in report["per_command"].items():  # type: ignore[attr-defined]
        print(f"  {name:12} {s}")
    if errors:
        print(f"errors: {errors}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
