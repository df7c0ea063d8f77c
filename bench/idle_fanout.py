"""IDLE fan-out: how fast does a new message reach 1,000 idling clients?

Starts a fresh Crispin server (connection limits raised to 5,000), then

  1. IDLERS (default 1,000) connections each LOGIN, SELECT INBOX (empty) and IDLE, and wait
     for ``+ idling``. They live in a few client processes (``--client-procs``, default 1),
     each one asyncio event loop with a bare ``asyncio.Protocol`` per connection (no
     StreamReader, no per-connection task): a data chunk is split into lines and only
     ``* n EXISTS`` is looked at, so the clients cost little CPU (measured and reported).
  2. One more connection (this process, a blocking socket) APPENDs APPENDS (default 100)
     messages to INBOX, one at a time: send, wait for the tagged OK, note the time
     (CLOCK_MONOTONIC, the same clock in every process), pause ``--pause`` (50 ms), next.
  3. Every idler notes the time it first learns of message k, i.e. the first ``* n EXISTS``
     with n >= k (so two appends announced in one EXISTS both count as received).

For each APPEND k: delay = (time the *last* idler learnt of message k) - (time of APPEND k's
tagged OK). Negative is possible: the server may wake the idlers before the appender has read
its OK. Reports median, p99 and max of those delays over the APPENDs, the same for the
*first* idler, notifications missed (an idler still below EXISTS = APPENDS ``--grace`` seconds
after the last APPEND; and per APPEND, idlers that never learnt of it), EXISTS values skipped
(coalesced, not missed), the server's RSS (before the idlers, with all idling, after the
APPENDs, peak VmHWM), its CPU seconds (setting up the idlers; 5 s with all idling; the APPEND
phase) and the client processes' CPU in the APPEND phase.

    .venv/bin/python bench/idle_fanout.py                    # 1,000 idlers, 100 APPENDs
    .venv/bin/python bench/idle_fanout.py --quick            # 100 idlers, 20 APPENDs
    .venv/bin/python bench/idle_fanout.py --client-procs 2 --json out.json
    .venv/bin/python bench/idle_fanout.py --tls              # idlers over implicit TLS
    .venv/bin/python bench/idle_fanout.py --py-spy /tmp/spy  # profile the APPEND phase

Targets: p99 < 0.2 s, none missed, server < 100 MB. Stdlib only, 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import socket
import ssl
import statistics
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
    proc_memory_kb,
    py_spy_start,
    py_spy_stop,
    raise_nofile,
)

HOST = "127.0.0.1"
CONNECT_CONCURRENCY = 50
SETUP_TIMEOUT = 120.0


def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# --------------------------------------------------------------------------------------------
# Idlers (client processes)


class Idler(asyncio.Protocol):
    """LOGIN, SELECT INBOX, IDLE; then record when each message number is first announced."""

    def __init__(self, target: int, ready: asyncio.Future[None], done: list[int]) -> None:
        self.target = target
        self.ready = ready
        self.done = done  # [count of idlers that reached target], shared in the process
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.state = "greeting"
        self.exists = 0
        self.first_seen = [0.0] * (target + 1)  # index k: when message k was first announced
        self.skipped = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed in state {self.state}: {exc}"))

    def _fail(self, line: bytes) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(
                f"{self.state}: {line.decode(errors='replace')[:120]}"))
        assert self.transport is not None
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.buf + data
        if self.state == "idling":
            # Fast path: only EXISTS matters; the last one in the chunk is the highest.
            end = buf.rfind(b"\r\n")
            if end < 0:
                self.buf = buf
                return
            self.buf = buf[end + 2:]
            chunk = buf[:end]
            k = chunk.rfind(b" EXISTS")
            while k >= 0:
                start = chunk.rfind(b"\n", 0, k) + 1
                line = chunk[start:k]
                if line.startswith(b"* ") and line[2:].isdigit() and (
                        k + 7 == len(chunk) or chunk[k + 7:k + 8] == b"\r"):
                    self._exists(int(line[2:]), now)
                    break
                k = chunk.rfind(b" EXISTS", 0, start)
            return
        lines = buf.split(b"\r\n")
        self.buf = lines.pop()
        for line in lines:
            self._setup_line(line)

    def _exists(self, n: int, now: float) -> None:
        if n <= self.exists:
            return
        if n > self.exists + 1:
            self.skipped += n - self.exists - 1
        top = min(n, self.target)
        for k in range(self.exists + 1, top + 1):
            self.first_seen[k] = now
        self.exists = n
        if n >= self.target and top == self.target:
            self.done[0] += 1

    def _setup_line(self, line: bytes) -> None:
        t = self.transport
        assert t is not None
        if self.state == "greeting":
            if not line.startswith(b"* OK"):
                return self._fail(line)
            t.write(f'a LOGIN {USER} "{PASSWORD}"\r\n'.encode())
            self.state = "login"
        elif self.state == "login":
            if line.startswith(b"a "):
                if not line.startswith(b"a OK"):
                    return self._fail(line)
                t.write(b"b SELECT INBOX\r\n")
                self.state = "select"
        elif self.state == "select":
            if line.startswith(b"b "):
                if not line.startswith(b"b OK"):
                    return self._fail(line)
                if self.exists != 0:
                    return self._fail(b"INBOX not empty: %d" % self.exists)
                t.write(b"c IDLE\r\n")
                self.state = "idle-wait"
            elif line.endswith(b" EXISTS") and line.startswith(b"* "):
                self.exists = int(line[2:-7])
        elif self.state == "idle-wait":
            if line.startswith(b"+"):
                self.state = "idling"
                if not self.ready.done():
                    self.ready.set_result(None)
            elif line.startswith(b"c "):
                return self._fail(line)


async def _idler_main(port: int, count: int, target: int, cafile: str | None,
                      conn: mp.connection.Connection) -> None:
    loop = asyncio.get_running_loop()
    ctx = None
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    done = [0]
    idlers: list[Idler] = []
    errors: list[str] = []
    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> Idler:
        async with sem:
            ready: asyncio.Future[None] = loop.create_future()
            kw = {"ssl": ctx, "server_hostname": "localhost"} if ctx else {}
            _, proto = await asyncio.wait_for(loop.create_connection(
                lambda: Idler(target, ready, done), HOST, port, **kw), 30)
            await asyncio.wait_for(ready, 60)
            return proto

    t0 = time.monotonic()
    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            errors.append(f"{type(r).__name__}: {r}")
        else:
            idlers.append(r)
    conn.send(("ready", len(idlers), errors[:5], len(errors), round(time.monotonic() - t0, 2),
               _cpu_self()))
    # Wait for "report" (or "stop"): the parent polls "count" meanwhile.
    while True:
        while not conn.poll():
            await asyncio.sleep(0.02)
        msg = conn.recv()
        if msg == "count":
            conn.send(done[0])
            continue
        break
    cpu_end = _cpu_self()
    conn.send(("result", [i.first_seen for i in idlers], [i.exists for i in idlers],
               [i.skipped for i in idlers], sum(i.closed for i in idlers), cpu_end))
    for i in idlers:
        if i.transport is not None and not i.closed:
            try:
                i.transport.write(b"DONE\r\nz LOGOUT\r\n")
            except Exception:
                pass
    await asyncio.sleep(0.5)
    for i in idlers:
        if i.transport is not None:
            i.transport.close()
    await asyncio.sleep(0.2)


def idler_process(port: int, count: int, target: int, cafile: str | None,
                  conn: mp.connection.Connection) -> None:
    raise_nofile(count + 256)
    try:
        asyncio.run(_idler_main(port, count, target, cafile, conn))
    except Exception as exc:  # report instead of hanging the parent
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass


# --------------------------------------------------------------------------------------------
# The appender (this process, blocking socket)


class Appender:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.n = 0
        if not self.line().startswith(b"* OK"):
            raise ConnectionError("no greeting")
        self.command(f'LOGIN {USER} "{PASSWORD}"'.encode())

    def line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + 2:]
                return out
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by server")
            self.buf += data

    def _tagged(self, tag: bytes) -> bytes:
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise ConnectionError(line.decode(errors="replace"))
                return line

    def command(self, cmd: bytes) -> bytes:
        self.n += 1
        tag = b"p%d" % self.n
        self.sock.sendall(tag + b" " + cmd + b"\r\n")
        return self._tagged(tag)

    def append(self, msg: bytes) -> float:
        """APPEND with a synchronising literal; the monotonic time its tagged OK was read."""
        self.n += 1
        tag = b"p%d" % self.n
        self.sock.sendall(tag + b" APPEND INBOX {%d}\r\n" % len(msg))
        line = self.line()
        if not line.startswith(b"+"):
            raise ConnectionError(line.decode(errors="replace"))
        self.sock.sendall(msg + b"\r\n")
        self._tagged(tag)
        return time.monotonic()

    def close(self) -> None:
        try:
            self.command(b"LOGOUT")
        except (OSError, ConnectionError):
            pass
        self.sock.close()


def message(k: int) -> bytes:
    body = b"".join(b"Line %d of message %d, a short note to announce.\r\n" % (j, k)
                    for j in range(12))
    return (b"From: Fan Out <fanout@crispin.example>\r\n"
            b"To: bench@crispin.example\r\n"
            b"Subject: fan-out %d\r\n"
            b"Date: Mon, 1 Jan 2024 08:00:00 +0000\r\n"
            b"Message-ID: <fanout.%d@crispin.example>\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" % (k, k)) + body


# --------------------------------------------------------------------------------------------


def _recv(conn: mp.connection.Connection, timeout: float) -> object:
    if not conn.poll(timeout):
        raise TimeoutError("client process did not answer")
    msg = conn.recv()
    if isinstance(msg, tuple) and msg and msg[0] == "error":
        raise RuntimeError(f"client process failed: {msg[1]}")
    return msg


def run(server: BenchServer, idlers: int, appends: int, pause: float, grace: float,
        procs: int, tls: bool, idle_seconds: float, spy_dir: Path | None) -> dict:
    pid = server.pid
    # Warm up (imports, auth cache, first SELECT), as in idle_memory.py.
    for _ in range(3):
        a = Appender(server.port)
        a.command(b"SELECT INBOX")
        a.close()
    time.sleep(1.0)
    mem_before = proc_memory_kb(pid)
    cpu0 = proc_cpu_seconds(pid)
    port = server.tls_port if tls else server.port
    cafile = str(server.cert) if tls else None
    ctx = mp.get_context("fork")
    pipes, children = [], []
    shares = [idlers // procs + (1 if j < idlers % procs else 0) for j in range(procs)]
    t_setup = time.perf_counter()
    for share in shares:
        parent, child = ctx.Pipe()
        p = ctx.Process(target=idler_process, args=(port, share, appends, cafile, child),
                        daemon=True)
        p.start()
        pipes.append(parent)
        children.append(p)
    out: dict = {"idlers_wanted": idlers, "appends": appends, "client_procs": procs,
                 "transport": "TLS" if tls else "plain", "pause_s": pause}
    try:
        ready = [_recv(c, SETUP_TIMEOUT) for c in pipes]
        setup_wall = time.perf_counter() - t_setup
        connected = sum(r[1] for r in ready)
        out["idlers_connected"] = connected
        out["setup_errors"] = sum(r[3] for r in ready)
        out["first_setup_errors"] = [e for r in ready for e in r[2]][:5]
        out["setup_s"] = round(setup_wall, 2)
        out["server_cpu_setup_s"] = round(proc_cpu_seconds(pid) - cpu0, 2)
        time.sleep(2.0)
        mem_idling = proc_memory_kb(pid)
        cpu_i = proc_cpu_seconds(pid)
        time.sleep(idle_seconds)
        out["server_cpu_idle_s"] = round(proc_cpu_seconds(pid) - cpu_i, 3)
        out["idle_seconds"] = idle_seconds
        client_cpu_start = [r[5] for r in ready]

        spy = None
        if spy_dir is not None:
            spy_dir.mkdir(parents=True, exist_ok=True)
            spy = py_spy_start(pid, spy_dir / f"idle-fanout-{'tls' if tls else 'plain'}.txt")
        appender = Appender(server.port)
        cpu_a = proc_cpu_seconds(pid)
        my_cpu = _cpu_self()
        t_ok: list[float] = [0.0]
        t0 = time.perf_counter()
        for k in range(1, appends + 1):
            t_ok.append(appender.append(message(k)))
            if k < appends:
                time.sleep(pause)
        append_wall = time.perf_counter() - t0
        # Wait (bounded) for every idler to reach EXISTS = appends.
        deadline = time.monotonic() + grace
        reached = 0
        while time.monotonic() < deadline:
            for c in pipes:
                c.send("count")
            reached = sum(int(_recv(c, 10)) for c in pipes)
            if reached >= connected:
                break
            time.sleep(0.05)
        out["server_cpu_append_phase_s"] = round(proc_cpu_seconds(pid) - cpu_a, 2)
        out["append_phase_s"] = round(time.perf_counter() - t0, 2)
        out["append_loop_s"] = round(append_wall, 2)
        out["appender_cpu_s"] = round(_cpu_self() - my_cpu, 2)
        py_spy_stop(spy)
        mem_after = proc_memory_kb(pid)
        for c in pipes:
            c.send("report")
        results = [_recv(c, 60) for c in pipes]
        appender.close()
    finally:
        for c in pipes:
            try:
                c.send("stop")
            except OSError:
                pass
        for p in children:
            p.join(timeout=15)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)

    first_seen = [fs for r in results for fs in r[1]]
    exists = [e for r in results for e in r[2]]
    skipped = sum(s for r in results for s in r[3])
    out["client_cpu_append_phase_s"] = round(
        sum(r[5] for r in results) - sum(client_cpu_start), 2)
    out["client_connections_closed_by_server"] = sum(r[4] for r in results)
    out["server_cpu_total_s"] = round(proc_cpu_seconds(pid) - cpu0, 2)
    last_delay, first_delay, missed_per_append = [], [], []
    for k in range(1, appends + 1):
        seen = [fs[k] for fs in first_seen if fs[k] > 0.0]
        missed_per_append.append(len(first_seen) - len(seen))
        if seen:
            first_delay.append(min(seen) - t_ok[k])
            if len(seen) == len(first_seen):
                last_delay.append(max(seen) - t_ok[k])
    last_delay.sort()
    first_delay.sort()
    ms = lambda v: round(v * 1000, 1)  # noqa: E731
    out.update({
        "idlers_at_final_exists": sum(1 for e in exists if e == appends),
        "idlers_short_of_final_exists": sum(1 for e in exists if e < appends),
        "missed_notifications": sum(missed_per_append),
        "appends_reaching_all_idlers": len(last_delay),
        "exists_values_skipped": skipped,
        "last_idler_delay_ms": {"median": ms(statistics.median(last_delay)) if last_delay
                                else None,
                                "p99": ms(percentile(last_delay, 0.99)),
                                "max": ms(last_delay[-1]) if last_delay else None,
                                "min": ms(last_delay[0]) if last_delay else None},
        "first_idler_delay_ms": {"median": ms(statistics.median(first_delay)) if first_delay
                                 else None,
                                 "p99": ms(percentile(first_delay, 0.99))},
        "rss_before_idlers_kb": mem_before["VmRSS"],
        "rss_idling_kb": mem_idling["VmRSS"],
        "rss_after_appends_kb": mem_after["VmRSS"],
        "peak_vmhwm_kb": mem_after["VmHWM"],
        "threads": mem_after.get("Threads"),
    })
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--idlers", type=int, default=1000)
    ap.add_argument("--appends", type=int, default=100)
    ap.add_argument("--pause", type=float, default=0.05, help="seconds between APPENDs")
    ap.add_argument("--grace", type=float, default=15.0,
                    help="seconds to wait after the last APPEND for the last EXISTS")
    ap.add_argument("--client-procs", type=int, default=1)
    ap.add_argument("--idle-seconds", type=float, default=5.0,
                    help="server CPU measured with everyone idling, before the APPENDs")
    ap.add_argument("--tls", action="store_true", help="idlers over implicit TLS")
    ap.add_argument("--quick", action="store_true", help="100 idlers, 20 APPENDs")
    ap.add_argument("--py-spy", type=Path, metavar="DIR", help="profile the APPEND phase")
    ap.add_argument("--server-wrapper", metavar="SCRIPT",
                    help="experiment: run the server as `python SCRIPT serve ...` (a script "
                         "that patches something, then calls crispin.server.cli.main)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.idlers, args.appends, args.idle_seconds = 100, 20, 2.0
    if not (1 <= args.idlers <= 20_000 and 1 <= args.appends <= 10_000
            and 1 <= args.client_procs <= 16 and 0 <= args.pause <= 10):
        ap.error("out of range")
    nofile = raise_nofile(max(4096, 2 * args.idlers + 512))
    if nofile < args.idlers + 256:
        print(f"open-files limit {nofile} is too low for {args.idlers} connections",
              file=sys.stderr)
        return 2
    info = machine_info()
    scaling = cpu_scaling()
    print(f"machine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}; "
          f"RLIMIT_NOFILE soft {nofile}")
    print(f"CPU check: two busy processes get {scaling} cores' worth (2.0 = two free cores)",
          flush=True)
    env = {"CRISPIN_LIMITS_MAX_CONNECTIONS_PER_IP": "5000",
           "CRISPIN_LIMITS_MAX_CONNECTIONS": "5000"}
    wrapper = [sys.executable, args.server_wrapper] if args.server_wrapper else None
    server = BenchServer(env, wrapper=wrapper)
    try:
        server.start()
        print(f"server pid {server.pid}; {args.idlers} idlers in {args.client_procs} client "
              f"process(es), {args.appends} APPENDs...", flush=True)
        row = run(server, args.idlers, args.appends, args.pause, args.grace,
                  args.client_procs, args.tls, args.idle_seconds, args.py_spy)
    except Exception as exc:
        print(f"FAILED: {type(exc).__name__}: {exc}\nserver log:\n{server.log_tail()}",
              file=sys.stderr)
        raise
    finally:
        server.stop()
    row["cpu_scaling"] = scaling
    if args.server_wrapper:
        row["server_wrapper"] = args.server_wrapper
    for key, value in row.items():
        print(f"  {key}: {value}")
    p99 = row["last_idler_delay_ms"]["p99"]
    peak_mb = row["peak_vmhwm_kb"] / 1024
    complete = row["appends_reaching_all_idlers"] == args.appends
    verdicts = {
        "p99 < 0.2 s": bool(complete and p99 == p99 and p99 < 200),
        "none missed": row["missed_notifications"] == 0
        and row["idlers_connected"] == args.idlers,
        "server < 100 MB (peak)": peak_mb < 100,
    }
    row["targets"] = verdicts
    print("targets: " + "; ".join(f"{k}: {'met' if v else 'MISSED'}"
                                  for k, v in verdicts.items()))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "result": row}, indent=2))
        print(f"wrote {args.json}")
    return 0 if row["idlers_connected"] == args.idlers else 1


if __name__ == "__main__":
    sys.exit(main())
