"""Memory and CPU of idle, authenticated connections.

Starts a fresh Crispin server (connection limits raised to 5000), warms it up with a few
LOGIN/LOGOUT cycles on both ports, reads its RSS (VmRSS from /proc/PID/status), then opens
CONNECTIONS (default 1000) connections that each LOGIN and stay idle. After they settle it reads
RSS again and reports

    kB per idle authenticated connection = (RSS_after - RSS_before) / CONNECTIONS

then leaves them idle for IDLE seconds (default 10) and reports the server CPU used meanwhile
(should be ~0: no per-connection timers or polling), checks a sample still answers NOOP, closes
everything and reads RSS once more (what is not given back).

    .venv/bin/python bench/idle_memory.py                      # plain and TLS, 1000 each
    .venv/bin/python bench/idle_memory.py --quick              # 200 connections, 3 s idle
    .venv/bin/python bench/idle_memory.py --modes tls --connections 2000

The soft RLIMIT_NOFILE is raised for this process (the server inherits it). Kernel socket
buffers are not in the server's RSS; they are the same for every server design.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PASSWORD,
    USER,
    BenchServer,
    machine_info,
    proc_cpu_seconds,
    proc_memory_kb,
    raise_nofile,
)

HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent


def client_context(cafile: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


async def read_tagged(reader: asyncio.StreamReader, tag: bytes) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed by server")
        if line.startswith(tag + b" "):
            if not line.startswith(tag + b" OK"):
                raise ConnectionError(line.decode(errors="replace").strip())
            return line


async def open_login(port: int, ctx: ssl.SSLContext | None
                     ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    kw = {"ssl": ctx, "server_hostname": "localhost"} if ctx else {}
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port, **kw), 30)
    greeting = await asyncio.wait_for(reader.readline(), 30)
    if not greeting.startswith(b"* OK"):
        raise ConnectionError(greeting.decode(errors="replace").strip())
    writer.write(f'a LOGIN {USER} "{PASSWORD}"\r\n'.encode())
    await asyncio.wait_for(read_tagged(reader, b"a"), 30)
    return reader, writer


async def close_all(conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]) -> None:
    for _, w in conns:
        w.close()
    await asyncio.gather(*(asyncio.wait_for(w.wait_closed(), 10) for _, w in conns),
                         return_exceptions=True)


async def warm_up(server: BenchServer, ctx: ssl.SSLContext) -> None:
    """A few cycles on both ports so lazy imports and first-use caches are in the baseline."""
    for port, c in ((server.port, None), (server.tls_port, ctx)):
        conns = [await open_login(port, c) for _ in range(10)]
        for r, w in conns:
            w.write(b"z LOGOUT\r\n")
            await read_tagged(r, b"z")
        await close_all(conns)


async def measure(server: BenchServer, mode: str, n: int, idle: float, settle: float) -> dict:
    ctx = client_context(str(server.cert))
    await warm_up(server, ctx)
    await asyncio.sleep(1.0)
    pid = server.pid
    before = proc_memory_kb(pid)
    port = server.tls_port if mode == "tls" else server.port
    conn_ctx = ctx if mode == "tls" else None
    sem = asyncio.Semaphore(50)

    async def one() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with sem:
            return await open_login(port, conn_ctx)

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
    open_s = time.perf_counter() - t0
    conns = [r for r in results if not isinstance(r, BaseException)]
    errors = [f"{type(r).__name__}: {r}" for r in results if isinstance(r, BaseException)]
    await asyncio.sleep(settle)
    after = proc_memory_kb(pid)
    cpu0 = proc_cpu_seconds(pid)
    w0 = time.perf_counter()
    await asyncio.sleep(idle)
    idle_wall = time.perf_counter() - w0
    idle_cpu = proc_cpu_seconds(pid) - cpu0
    # Still alive and authenticated? NOOP on a sample.
    alive = 0
    for i, (r, w) in enumerate(conns[:: max(1, len(conns) // 20)]):
        try:
            w.write(f"n{i} NOOP\r\n".encode())
            await asyncio.wait_for(read_tagged(r, f"n{i}".encode()), 10)
            alive += 1
        except (TimeoutError, OSError, ConnectionError):
            pass
    sample = len(conns[:: max(1, len(conns) // 20)])
    await close_all(conns)
    await asyncio.sleep(2.0)
    closed = proc_memory_kb(pid)
    ok = len(conns)
    return {
        "mode": mode,
        "connections": ok,
        "errors": len(errors),
        "first_errors": errors[:3],
        "open_s": round(open_s, 2),
        "rss_before_kb": before["VmRSS"],
        "rss_after_kb": after["VmRSS"],
        "hwm_kb": after["VmHWM"],
        "kb_per_connection": round((after["VmRSS"] - before["VmRSS"]) / ok, 1) if ok else None,
        "idle_seconds": round(idle_wall, 1),
        "idle_cpu_s": round(idle_cpu, 3),
        "noop_ok": f"{alive}/{sample}",
        "rss_after_close_kb": closed["VmRSS"],
        "threads": after.get("Threads"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds idle for the CPU figure")
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--modes", default="plain,tls")
    ap.add_argument("--quick", action="store_true", help="200 connections, 3 s idle")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    n, idle = (200, 3.0) if args.quick else (args.connections, args.idle)
    modes = [m for m in args.modes.split(",") if m]
    nofile = raise_nofile(max(4096, 2 * n + 512))
    if nofile < n + 256:
        print(f"open-files limit {nofile} is too low for {n} connections", file=sys.stderr)
        return 2
    info = machine_info()
    print(f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}; "
          f"RLIMIT_NOFILE soft {nofile}")
    env = {"CRISPIN_LIMITS_MAX_CONNECTIONS_PER_IP": "5000",
           "CRISPIN_LIMITS_MAX_CONNECTIONS": "5000"}
    rows = []
    for mode in modes:
        with BenchServer(env) as server:
            row = asyncio.run(measure(server, mode, n, idle, args.settle))
        rows.append(row)
        print(f"  {mode:6} {row['connections']} idle connections: RSS {row['rss_before_kb']} -> "
              f"{row['rss_after_kb']} kB = {row['kb_per_connection']} kB/connection; "
              f"CPU while idle {row['idle_cpu_s']} s in {row['idle_seconds']} s; "
              f"NOOP ok {row['noop_ok']}; RSS after close {row['rss_after_close_kb']} kB; "
              f"errors {row['errors']}", flush=True)
        if row["errors"]:
            print(f"    first errors: {row['first_errors']}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": rows}, indent=2))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
