"""Login throughput: connect -> greeting -> LOGIN -> LOGOUT, as fast as 8 clients can go.

Starts a fresh Crispin server (temp data dir, one user), then for each transport
  plain     : TCP, LOGIN in clear (allowed from loopback by the default auth.plaintext)
  tls       : implicit TLS, TLS 1.3, server certificate verified against DIR/tls/cert.pem
  starttls  : plain connect, STARTTLS, TLS 1.3 handshake (verified), then LOGIN
runs WORKERS client processes (default 8), each doing the cycle in a loop for DURATION seconds,
and reports logins/s, latency (median, p99) of the whole cycle and of the LOGIN command, and
the CPU seconds the server process used during the run. It does all of that twice: with the auth
cache on (default, auth.cache_ttl=300) and off (CRISPIN_AUTH_CACHE_TTL=0, every LOGIN runs
scrypt).

Clients are separate processes with blocking sockets (the cheapest client in CPython); every TLS
handshake is a full one (no session resumption), the worst case for the server.

    .venv/bin/python bench/logins.py                 # 10 s per run, 6 runs
    .venv/bin/python bench/logins.py --quick         # 2 s per run (smoke test)
    .venv/bin/python bench/logins.py --cache on --modes plain,tls --duration 20
    .venv/bin/python bench/logins.py --json out.json

Caveat: the machine has few cores (2 here); the clients and the server share them, so the
figures are a lower bound for the server alone. The report shows the client CPU too.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PASSWORD,
    USER,
    BenchServer,
    cpu_scaling,
    machine_info,
    percentile,
    proc_cpu_seconds,
)

HOST = "127.0.0.1"
MODES = ("plain", "tls", "starttls")


class ProtocolError(Exception):
    pass


class LineReader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            data = self.sock.recv(65536)
            if not data:
                raise ProtocolError("connection closed by server")
            self.buf += data

    def tagged(self, tag: bytes) -> bytes:
        prefix = tag + b" "
        while True:
            line = self.line()
            if line.startswith(prefix):
                if not line.startswith(prefix + b"OK"):
                    raise ProtocolError(line.decode(errors="replace"))
                return line


def client_context(cafile: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def one_cycle(mode: str, port: int, tls_port: int, ctx: ssl.SSLContext | None,
              login_cmd: bytes) -> tuple[float, float, float]:
    """(whole cycle, handshake+greeting, LOGIN round trip) in seconds."""
    t0 = time.perf_counter()
    sock = socket.create_connection((HOST, tls_port if mode == "tls" else port), timeout=30)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if mode == "tls":
            assert ctx is not None
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
        reader = LineReader(sock)
        greeting = reader.line()
        if not greeting.startswith(b"* OK"):
            raise ProtocolError(greeting.decode(errors="replace"))
        if mode == "starttls":
            assert ctx is not None
            sock.sendall(b"s STARTTLS\r\n")
            reader.tagged(b"s")
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
            reader = LineReader(sock)
        t1 = time.perf_counter()
        sock.sendall(login_cmd)
        reader.tagged(b"a")
        t2 = time.perf_counter()
        sock.sendall(b"b LOGOUT\r\n")
        reader.tagged(b"b")
    finally:
        sock.close()
    t3 = time.perf_counter()
    return t3 - t0, t1 - t0, t2 - t1


def worker(mode: str, port: int, tls_port: int, cafile: str, start_at: float,
           stop_at: float, conn: mp.connection.Connection) -> None:
    ctx = client_context(cafile) if mode != "plain" else None
    login_cmd = f'a LOGIN {USER} "{PASSWORD}"\r\n'.encode()
    cycles: list[float] = []
    setup: list[float] = []
    logins: list[float] = []
    errors: list[str] = []
    while time.time() < start_at:
        time.sleep(0.001)
    while time.time() < stop_at:
        try:
            c, s, lg = one_cycle(mode, port, tls_port, ctx, login_cmd)
        except (OSError, ProtocolError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.01)
            continue
        cycles.append(c)
        setup.append(s)
        logins.append(lg)
    t = os.times()
    conn.send({"cycles": cycles, "setup": setup, "logins": logins, "errors": errors,
               "cpu": t.user + t.system})
    conn.close()


def run_mode(server: BenchServer, mode: str, workers: int, duration: float) -> dict:
    # Warm up: one full cycle (fills the auth cache when it is on, imports everything).
    ctx = client_context(str(server.cert)) if mode != "plain" else None
    one_cycle(mode, server.port, server.tls_port, ctx,
              f'a LOGIN {USER} "{PASSWORD}"\r\n'.encode())
    mpctx = mp.get_context("fork")
    start_at = time.time() + 0.5
    stop_at = start_at + duration
    pipes, procs = [], []
    for _ in range(workers):
        parent, child = mpctx.Pipe(duplex=False)
        p = mpctx.Process(target=worker, args=(mode, server.port, server.tls_port,
                                               str(server.cert), start_at, stop_at, child))
        p.start()
        child.close()
        pipes.append(parent)
        procs.append(p)
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = proc_cpu_seconds(server.pid)
    w0 = time.perf_counter()
    results = []
    for parent in pipes:
        if not parent.poll(duration + 60):
            raise RuntimeError("a client worker did not report back")
        results.append(parent.recv())
    wall = time.perf_counter() - w0
    cpu1 = proc_cpu_seconds(server.pid)
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
    cycles = sorted(x for r in results for x in r["cycles"])
    setup = sorted(x for r in results for x in r["setup"])
    logins = sorted(x for r in results for x in r["logins"])
    errors = [e for r in results for e in r["errors"]]
    n = len(cycles)
    server_cpu = cpu1 - cpu0
    return {
        "mode": mode,
        "workers": workers,
        "wall_s": round(wall, 3),
        "logins": n,
        "logins_per_s": round(n / wall, 1),
        "cycle_median_ms": round(statistics.median(cycles) * 1000, 2) if n else None,
        "cycle_p99_ms": round(percentile(cycles, 0.99) * 1000, 2) if n else None,
        "setup_median_ms": round(statistics.median(setup) * 1000, 2) if n else None,
        "login_median_ms": round(statistics.median(logins) * 1000, 2) if n else None,
        "login_p99_ms": round(percentile(logins, 0.99) * 1000, 2) if n else None,
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_login": round(server_cpu * 1000 / n, 3) if n else None,
        "server_cpu_util": round(server_cpu / wall, 2),
        "client_cpu_s": round(sum(r["cpu"] for r in results), 2),
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def py_spy_record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        print("py-spy not found; install it with .venv/bin/pip install py-spy", file=sys.stderr)
        return None
    return subprocess.Popen([exe, "record", "-p", str(pid), "-d", str(int(seconds)),
                             "-r", "250", "-f", "raw", "-o", str(out), "--threads"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_table(rows: list[dict]) -> None:
    cols = [("cache", "cache"), ("mode", "mode"), ("logins/s", "logins_per_s"),
            ("cycle med ms", "cycle_median_ms"), ("cycle p99 ms", "cycle_p99_ms"),
            ("LOGIN med ms", "login_median_ms"), ("LOGIN p99 ms", "login_p99_ms"),
            ("srv CPU s", "server_cpu_s"), ("srv ms/login", "server_cpu_ms_per_login"),
            ("srv util", "server_cpu_util"), ("client CPU s", "client_cpu_s"),
            ("errors", "errors")]
    widths = [max(len(h), *(len(str(r.get(k))) for r in rows)) for h, k in cols]
    print("  ".join(h.rjust(w) for (h, _), w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r.get(k)).rjust(w) for (_, k), w in zip(cols, widths, strict=True)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    ap.add_argument("--workers", type=int, default=8, help="client processes (8)")
    ap.add_argument("--modes", default=",".join(MODES), help="plain,tls,starttls")
    ap.add_argument("--cache", choices=["on", "off", "both"], default="both")
    ap.add_argument("--quick", action="store_true", help="2 s per run: a smoke test")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--py-spy", type=Path, metavar="DIR",
                    help="record a py-spy profile (raw collapsed stacks) of the server for "
                         "each run into DIR")
    ap.add_argument("--server-wrapper", help="run the server as `python FILE serve ...` "
                                            "instead of `python -m crispin` (experiments)")
    args = ap.parse_args()
    duration = 2.0 if args.quick else args.duration
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            ap.error(f"unknown mode {m}")
    caches = ["on", "off"] if args.cache == "both" else [args.cache]
    info = machine_info()
    print(f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}, "
          f"kernel {info['kernel']}")
    scaling = cpu_scaling()
    info["cpu_scaling_2_procs"] = str(scaling)
    print(f"CPU check: 2 busy processes get {scaling} cores' worth of work (2.0 = two free "
          f"cores; below ~1.5 the host is busy and figures drop)")
    print(f"{args.workers} client processes, {duration:g} s per run; clients and server share "
          f"the CPUs")
    rows: list[dict] = []
    wrapper = [sys.executable, args.server_wrapper] if args.server_wrapper else None
    for cache in caches:
        env = {"CRISPIN_LIMITS_MAX_CONNECTIONS_PER_IP": "1000",
               "CRISPIN_LIMITS_MAX_CONNECTIONS": "2000"}
        if cache == "off":
            env["CRISPIN_AUTH_CACHE_TTL"] = "0"
        with BenchServer(env, wrapper=wrapper) as server:
            for mode in modes:
                spy = None
                if args.py_spy:
                    args.py_spy.mkdir(parents=True, exist_ok=True)
                    spy = py_spy_record(server.pid, duration,
                                        args.py_spy / f"logins-{mode}-cache-{cache}.txt")
                row = {"cache": cache, **run_mode(server, mode, args.workers, duration)}
                if spy is not None:
                    spy.wait(timeout=duration + 30)
                rows.append(row)
                print(f"  cache {cache:3} {mode:8} {row['logins_per_s']:8.1f} logins/s  "
                      f"server {row['server_cpu_ms_per_login']} ms CPU/login  "
                      f"errors {row['errors']}", flush=True)
                if row["errors"]:
                    print(f"    first errors: {row['first_errors']}")
            tail = server.log_tail()
            if tail.count("\n") > 5:
                print("server log (tail):\n" + tail)
    print()
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "duration": duration,
                                         "results": rows}, indent=2))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
