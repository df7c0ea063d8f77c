"""Peak memory of a server whose clients do not read their replies (issue 10.2, 10.5, 11.4).

Each attack runs against a fresh ``crispin serve`` (Python keeps freed memory, so attacks
must not share a process) with a mailbox loaded by ``crispin import``; the figure is the
growth of the server's peak RSS (VmHWM) over the attack, read after the client finally
reads everything (so the answers are also checked to be complete):

- ``search``: 3,000 pipelined ``SEARCH ALL`` over 2,000 messages (~26 MB of replies);
- ``fetch``: ``FETCH 1:* BODY.PEEK[]`` of 20 x 10 MB messages (200 MB);
- ``append``: one APPEND carrying 1,000 x 250 KB non-synchronising literals (MULTIAPPEND,
  refused at the message past ``limits.max_multiappend_size``, 50 MB).

The client socket has a 32 KiB receive buffer and reads nothing until the commands are
sent (and another client has done a full LOGIN round trip).

    .venv/bin/python bench/backpressure.py [--attacks search,fetch,append]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path

from _common import PASSWORD, USER, BenchServer, machine_info, proc_memory_kb

MiB = 1024 * 1024


def _message(i: int, size: int) -> bytes:
    head = (f"From: a{i}@example.org\r\nTo: b@example.org\r\nSubject: message {i}\r\n"
            f"Message-ID: <{i}@example.org>\r\n\r\n").encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def _mbox(path: Path, count: int, size: int) -> None:
    with open(path, "wb") as fh:
        for i in range(count):
            fh.write(b"From bench@crispin.example Mon Jan  1 08:00:00 2024\n")
            fh.write(_message(i, size).replace(b"\r\n", b"\n"))


def _client(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.settimeout(600)
    sock.connect(("127.0.0.1", port))
    return sock


def _until(sock: socket.socket, marker: bytes) -> int:
    """Read until ``marker``; returns the bytes read."""
    tail = b""
    total = 0
    while marker not in tail:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError(tail[-200:])
        total += len(chunk)
        tail = (tail + chunk)[-len(marker) - (1 << 20):]
    return total


def _login(sock: socket.socket) -> None:
    sock.sendall(f'l LOGIN {USER} "{PASSWORD}"\r\ns SELECT INBOX\r\n'.encode())
    _until(sock, b"s OK")


def attack(name: str) -> dict:
    count, size = {"search": (2000, 300), "fetch": (20, 10 * MiB), "append": (1, 300)}[name]
    server = BenchServer()
    try:
        server.add_user()
        mbox = server.tmp / "load.mbox"
        _mbox(mbox, count, size)
        server.import_mbox(mbox)
        server.start(add_user=False)
        warm = _client(server.port)
        _login(warm)
        warm.sendall(b"w NOOP\r\n")
        _until(warm, b"w OK")
        warm.close()
        base = proc_memory_kb(server.pid)["VmHWM"]
        sock = _client(server.port)
        _login(sock)
        if name == "search":
            n = 3000
            sock.sendall(b"".join(b"q%d SEARCH ALL\r\n" % i for i in range(n)))
            end, data = b"q%d OK" % (n - 1), n * len(b" ".join(b"%d" % i for i in range(count)))
        elif name == "fetch":
            sock.sendall(b"f FETCH 1:* BODY.PEEK[]\r\n")
            end, data = b"f OK", count * size
        else:
            body = _message(1, 250 * 1024)
            n = 1000
            sock.sendall(b"a APPEND INBOX" + (b" {%d+}\r\n" % len(body) + body) * n + b"\r\n")
            end, data = b"a ", n * len(body)
        other = _client(server.port)
        _login(other)
        other.close()
        received = _until(sock, end)
        peak = proc_memory_kb(server.pid)["VmHWM"]
        sock.close()
        return {"attack": name, "data_mb": round(data / MiB, 1),
                "received_mb": round(received / MiB, 1),
                "peak_rss_growth_mb": round((peak - base) / 1024, 1)}
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--attacks", default="search,fetch,append")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = [attack(a) for a in args.attacks.split(",") if a]
    report = {"machine": machine_info(), "results": rows}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
