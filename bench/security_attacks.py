"""The attacks of issue 11, each on a freshly started server: its peak RSS growth, and the
NOOP latency another user sees meanwhile.

Python keeps memory it freed, so every attack gets its own server process (a fresh temp data
folder, 127.0.0.1, ports chosen by the kernel). For each: the server's VmRSS just before the
attack, its VmHWM (peak RSS) after it, and how long a NOOP of another user ("victim", logged
in with INBOX selected, one NOOP after the other) took while the attack ran (p50, p99, max).

Attacks (``--only NAME`` runs one):

* ``prelogin-id``: 40 connections, each sending ``ID (`` with 63 non-synchronising literals
  of 64 KB and never the end of the command (point 5).
* ``search-stall``: 3,000 messages of about 2 KB; two connections of the same user loop
  ``SEARCH NOT TEXT q0 … NOT TEXT q3999`` (point 3) for ``--seconds``.
* ``search-in-budget``: the same with 50 ``NOT TEXT`` (100 criteria, within the default
  budget), so the query really runs: what the time limit and the reader reserved for the
  others buy.
* ``append-parts``: APPEND of a 3.1 MB message with 300,000 MIME parts (point 6).
* ``append-fields``: APPEND of a message with 30 MB of header fields.
* ``append-addresses``: APPEND of a 6 MB ``To:`` with 857,000 addresses.
* ``prelogin-parse``: 4 unauthenticated connections loop a valid 56 KB ``ID`` command of
  7,000 field-value pairs (costly to parse; RFC 2971 allows 30) for ``--seconds``,
  reconnecting when the server closes (issue 10 point 14: work before login).
* ``slowloris``: 50 connections sending one byte a second before login, with
  ``login_timeout`` 10 s; how many are still connected after 15 s (point 8).
* ``tls-handshakes``: 300 TCP connections to the TLS port that never start a handshake
  (per-address limit 100, ``tls_handshake_timeout`` default); how many the server closed
  within 1 s and within 12 s, and whether a plain connection is refused meanwhile.

Run from a checkout: ``python bench/security_attacks.py``; to measure another checkout (the
code before a fix), copy this file and ``_common.py`` into its ``bench/`` and run it there.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import threading
import time
from collections.abc import Callable

from _common import (
    PASSWORD,
    PYTHON,
    REPO,
    USER,
    BenchServer,
    machine_info,
    percentile,
    proc_memory_kb,
)

HOST = "127.0.0.1"
VICTIM = "victim"


# -- a tiny client ------------------------------------------------------------------------

class Conn:
    def __init__(self, port: int, timeout: float = 600.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("closed: " + self.buf[:200].decode(errors="replace"))
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def command(self, text: bytes) -> bytes:
        """Send one command (literals as LITERAL+); the tagged line."""
        self.n += 1
        tag = b"t%d" % self.n
        self.sock.sendall(tag + b" " + text + b"\r\n")
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return line

    def login(self, user: str, password: str = PASSWORD) -> None:
        answer = self.command(b'LOGIN %s "%s"' % (user.encode(), password.encode()))
        if b" OK" not in answer:
            raise RuntimeError(answer.decode(errors="replace"))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def add_user(server: BenchServer, name: str) -> None:
    subprocess.run([PYTHON, "-m", "crispin", "user", "add", name, "--password-stdin",
                    "--data-dir", str(server.data_dir)], input=(PASSWORD + "\n").encode(),
                   cwd=REPO, env=server.env, check=True, capture_output=True, timeout=120)


class Victim:
    """Another user sending NOOP after NOOP, timing each."""

    def __init__(self, port: int) -> None:
        self.conn = Conn(port)
        self.conn.login(VICTIM)
        self.conn.command(b"SELECT INBOX")
        self.times: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.perf_counter()
            self.conn.command(b"NOOP")
            self.times.append(time.perf_counter() - t)
            time.sleep(0.02)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join(120)
        self.conn.close()
        t = sorted(self.times)
        return {"noops": len(t), "p50_ms": percentile(t, 0.5) * 1000,
                "p99_ms": percentile(t, 0.99) * 1000, "max_ms": (t[-1] if t else 0) * 1000}


# -- attacks ------------------------------------------------------------------------------

def in_threads(target: Callable[[], None], count: int) -> None:
    """``count`` attackers at once; returns when all are done."""
    threads = [threading.Thread(target=target) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def prelogin_id(server: BenchServer, seconds: float) -> str:
    literal = b"v" * 65536
    conns = []
    for _ in range(40):
        c = Conn(server.port)
        parts = b" ".join(b'"f%d" {65536+}\r\n' % i + literal for i in range(63))
        c.sock.sendall(b"a ID (" + parts)
        conns.append(c)
    time.sleep(min(seconds, 5))  # let the server take in what it will
    answered = 0
    for c in conns:
        c.sock.settimeout(0.5)
        try:
            answered += b"BAD" in c.sock.recv(65536)
        except OSError:
            pass
        c.close()
    return f"{answered}/40 refused before the end of the command"


def prelogin_parse(server: BenchServer, seconds: float) -> str:
    command = b"ID (" + b" ".join([b'"k" "v"'] * 7000) + b")"
    counts: dict[str, int] = {}
    stop = time.monotonic() + seconds

    def attacker() -> None:
        c: Conn | None = None
        while time.monotonic() < stop:
            try:
                if c is None:
                    c = Conn(server.port, timeout=60)
                    counts["connections"] = counts.get("connections", 0) + 1
                answer = c.command(command).split(b" ", 2)[1].decode()
                counts[answer] = counts.get(answer, 0) + 1
            except (ConnectionError, OSError):
                if c is not None:
                    c.close()
                c = None
        if c is not None:
            c.close()

    in_threads(attacker, 4)
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def load_messages(port: int, count: int) -> None:
    c = Conn(port)
    c.login(USER)
    words = " ".join(f"word{i}" for i in range(300))
    for i in range(count):
        msg = (f"From: a{i}@example.test\r\nSubject: message {i}\r\n\r\n{words} {i}\r\n"
               ).encode()
        c.sock.sendall(b"a%d APPEND INBOX {%d+}\r\n%s\r\n" % (i, len(msg), msg))
        if i % 200 == 199 or i == count - 1:
            while True:
                line = c.line()
                if line.startswith(b"a%d " % i):
                    break
    c.close()


def search_loop(server: BenchServer, seconds: float, terms: int) -> str:
    program = b" ".join(b"NOT TEXT q%d" % i for i in range(terms))
    results: list[bytes] = []
    stop = time.monotonic() + seconds

    def attacker() -> None:
        c = Conn(server.port)
        c.login(USER)
        c.command(b"SELECT INBOX")
        while time.monotonic() < stop:
            t = time.perf_counter()
            answer = c.command(b"SEARCH " + program)
            results.append(answer.split(b" ", 2)[1] + b" %.2fs" % (time.perf_counter() - t))
        c.close()

    in_threads(attacker, 2)
    kinds = sorted({r.split(b" ")[0].decode() for r in results})
    slowest = max((float(r.split(b" ")[1][:-1]) for r in results), default=0.0)
    return f"{len(results)} searches ({', '.join(kinds)}), slowest {slowest:.2f} s"


def many_parts() -> bytes:
    out = [b"Subject: parts\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"]
    for _ in range(300):
        out.append(b"--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
        out.append(b"--b\r\nX:1\r\n\r\n" * 1000)
        out.append(b"--b--\r\n")
    out.append(b"--a--\r\n")
    return b"".join(out)


def many_fields() -> bytes:
    return b"Subject: fields\r\n" + b"X-F: v\r\n" * (30_000_000 // 8) + b"\r\nbody\r\n"


def many_addresses() -> bytes:
    to = b",".join(b"u%d@ex.test" % (i % 100) for i in range(857_000))
    return b"Subject: crowd\r\nTo: " + to + b"\r\n\r\nbody\r\n"


def append(server: BenchServer, message: bytes) -> str:
    c = Conn(server.port)
    c.login(USER)
    t = time.perf_counter()
    answer = c.command(b"APPEND INBOX {%d+}\r\n" % len(message) + message)
    took = time.perf_counter() - t
    c.close()
    return f"{len(message) / 1e6:.1f} MB: {answer.split(b' ', 2)[1].decode()} in {took:.1f} s"


def slowloris(server: BenchServer, seconds: float) -> str:
    conns = [Conn(server.port) for _ in range(50)]
    start = time.monotonic()
    alive = set(range(len(conns)))
    while time.monotonic() - start < 15 and alive:
        for i in list(alive):
            try:
                conns[i].sock.sendall(b"x")
            except OSError:
                alive.discard(i)
        time.sleep(1.0)
        for i in list(alive):
            conns[i].sock.settimeout(0.001)
            try:
                if not conns[i].sock.recv(4096):
                    alive.discard(i)
            except TimeoutError:
                pass
            except OSError:
                alive.discard(i)
    for c in conns:
        c.close()
    return f"{len(alive)}/50 still connected after 15 s (login_timeout 10 s)"


def tls_handshakes(server: BenchServer, seconds: float) -> str:
    socks = []
    for _ in range(300):
        try:
            socks.append(socket.create_connection((HOST, server.tls_port), timeout=30))
        except OSError:
            pass
    time.sleep(1.0)
    plain = Conn(server.port)
    refused_plain = plain.greeting.startswith(b"* BYE")
    plain.close()

    def closed_count() -> int:
        n = 0
        for s in socks:
            s.settimeout(0.001)
            try:
                n += s.recv(1) == b""
            except TimeoutError:
                pass
            except OSError:
                n += 1
        return n

    at_1s = closed_count()
    time.sleep(11.0)
    at_12s = closed_count()
    for s in socks:
        s.close()
    return (f"{len(socks)} opened; closed by the server: {at_1s} within 1 s, {at_12s} within"
            f" 12 s; a plain connection meanwhile: {'refused' if refused_plain else 'served'}")


ATTACKS: dict[str, Callable[[BenchServer, float], str]] = {
    "prelogin-id": prelogin_id,
    "search-stall": lambda s, sec: search_loop(s, sec, 4000),
    "search-in-budget": lambda s, sec: search_loop(s, sec, 50),
    "append-parts": lambda s, sec: append(s, many_parts()),
    "append-fields": lambda s, sec: append(s, many_fields()),
    "append-addresses": lambda s, sec: append(s, many_addresses()),
    "prelogin-parse": prelogin_parse,
    "slowloris": slowloris,
    "tls-handshakes": tls_handshakes,
}
ENV = {"slowloris": {"CRISPIN_LIMITS_LOGIN_TIMEOUT": "10"}}
# The victim's own connection counts against the per-address limit too; the TLS attack
# is about that limit, so it keeps its default of 100.


def run(name: str, seconds: float) -> dict[str, object]:
    env = {"CRISPIN_AUTH_FAILURE_DELAY": "0.1", **ENV.get(name, {})}
    server = BenchServer(env=env).start()
    try:
        add_user(server, VICTIM)
        if name.startswith("search"):
            load_messages(server.port, 3000)
        victim = Victim(server.port)
        before = proc_memory_kb(server.pid)["VmRSS"]
        victim.start()
        t = time.perf_counter()
        outcome = ATTACKS[name](server, seconds)
        took = time.perf_counter() - t
        latency = victim.stop()
        peak = proc_memory_kb(server.pid)["VmHWM"]
        return {"attack": name, "outcome": outcome, "seconds": round(took, 1),
                "rss_before_mib": round(before / 1024), "peak_mib": round(peak / 1024),
                "growth_mib": round((peak - before) / 1024), **latency}
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=sorted(ATTACKS), action="append")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the SEARCH loops")
    args = ap.parse_args()
    print(f"# {REPO} on {machine_info()}")
    print("| attack | RSS before | peak RSS | growth | victim NOOPs | p50 | p99 | max | outcome |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.only or list(ATTACKS):
        r = run(name, args.seconds)
        print(f"| {name} | {r['rss_before_mib']} MiB | {r['peak_mib']} MiB | "
              f"+{r['growth_mib']} MiB | {r['noops']} | {r['p50_ms']:.0f} ms | "
              f"{r['p99_ms']:.0f} ms | {r['max_ms']:.0f} ms | {r['outcome']} |", flush=True)


if __name__ == "__main__":
    main()
