"""Message transfer extensions (issue 16): FETCH BINARY of a large base64 attachment, and
MULTIAPPEND against one APPEND per message.

- ``binary``: one message with a 20 MB attachment (base64, ~27 MB stored) is APPENDed; then,
  each on a fresh server process (Python keeps freed memory), ``FETCH 1 (BINARY.SIZE[2])``,
  ``FETCH 1 (BINARY.PEEK[2])`` (decoded while sent) and, to compare, ``FETCH 1
  (BODY.PEEK[2])`` (the encoded bytes as stored). Wall time, server CPU, growth of the
  server's peak RSS (VmHWM), and the answer checked byte for byte.
- ``multiappend``: 1,000 messages of ~2 KB appended by one MULTIAPPEND (non-synchronising
  literals), and by 1,000 APPENDs pipelined one after another; wall time and server CPU.

    .venv/bin/python bench/transfer.py [--parts binary,multiappend] [--mb 20]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import socket
import sys
import time

from _common import PASSWORD, USER, BenchServer, machine_info, proc_cpu_seconds, proc_memory_kb

MiB = 1024 * 1024


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=600)
    _read_until(sock, b"\r\n")
    sock.sendall(f'l LOGIN {USER} "{PASSWORD}"\r\n'.encode())
    _read_until(sock, b"l OK")
    return sock


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    buf = bytearray()
    while marker not in buf[-len(marker) - 65536:]:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError(bytes(buf[-300:]))
        buf += chunk
    return bytes(buf)


def _attachment_message(size: int) -> tuple[bytes, bytes]:
    data = os.urandom(size)
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    msg = (b"From: a@example.org\r\nSubject: big attachment\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\n'
           b"Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
           b"\r\n" + b64 + b"--B--\r\n")
    return msg, data


def _measure(server: BenchServer, command: bytes) -> tuple[bytes, dict[str, float]]:
    sock = _connect(server.port)
    sock.sendall(b"s SELECT INBOX\r\n")
    _read_until(sock, b"s OK")
    base = proc_memory_kb(server.pid)["VmHWM"]
    cpu0 = proc_cpu_seconds(server.pid)
    t0 = time.perf_counter()
    sock.sendall(b"f " + command + b"\r\n")
    answer = _read_until(sock, b"\r\nf OK")
    wall = time.perf_counter() - t0
    cpu = proc_cpu_seconds(server.pid) - cpu0
    peak = proc_memory_kb(server.pid)["VmHWM"]
    sock.close()
    return answer, {"wall_s": round(wall, 2), "server_cpu_s": round(cpu, 2),
                    "peak_rss_growth_mb": round((peak - base) / 1024, 1)}


def binary(mb: int) -> list[dict]:
    msg, data = _attachment_message(mb * MiB)
    server = BenchServer()
    rows = []
    try:
        server.start()
        sock = _connect(server.port)
        sock.sendall(b"a APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        _read_until(sock, b"a OK")
        sock.close()
        for label, command in (("BINARY.SIZE[2]", b"FETCH 1 (BINARY.SIZE[2])"),
                               ("BINARY.PEEK[2]", b"FETCH 1 (BINARY.PEEK[2])"),
                               ("BODY.PEEK[2]", b"FETCH 1 (BODY.PEEK[2])")):
            server.stop_process()
            server.start(add_user=False)
            answer, figures = _measure(server, command)
            if label == "BINARY.SIZE[2]":
                ok = b"BINARY.SIZE[2] %d)" % len(data) in answer
            elif label == "BINARY.PEEK[2]":
                head = b"BINARY[2] ~{%d}\r\n" % len(data)
                start = answer.index(head) + len(head)
                ok = answer[start:start + len(data)] == data
            else:
                ok = re.search(rb"BODY\[2\] \{(\d+)\}", answer) is not None
            rows.append({"fetch": label, "attachment_mb": mb, "stored_mb":
                         round(len(msg) / MiB, 1), "checked": ok, **figures})
    finally:
        server.stop()
    return rows


def multiappend(count: int = 1000) -> list[dict]:
    body = b"From: a@example.org\r\nSubject: m\r\n\r\n" + b"x" * 76 * 25 + b"\r\n"
    server = BenchServer()
    rows = []
    try:
        server.start()
        for label in ("MULTIAPPEND", "APPEND x N"):
            sock = _connect(server.port)
            lit = b" {%d+}\r\n" % len(body) + body
            cpu0 = proc_cpu_seconds(server.pid)
            t0 = time.perf_counter()
            if label == "MULTIAPPEND":
                sock.sendall(b"a APPEND INBOX" + lit * count + b"\r\n")
                answer = _read_until(sock, b"\r\n")
                while not re.search(rb"a (OK|NO|BAD)[^\r]*\r\n", answer):
                    answer += _read_until(sock, b"\r\n")
                ok = b"a OK [APPENDUID" in answer
            else:
                sock.sendall(b"".join(b"a%d APPEND INBOX" % i + lit + b"\r\n"
                                      for i in range(count)))
                answer = _read_until(sock, b"a%d OK" % (count - 1))
                ok = answer.count(b" OK [APPENDUID") == count
            wall = time.perf_counter() - t0
            cpu = proc_cpu_seconds(server.pid) - cpu0
            sock.close()
            rows.append({"append": label, "messages": count, "checked": ok,
                         "wall_s": round(wall, 2), "server_cpu_s": round(cpu, 2),
                         "server_cpu_ms_per_message": round(cpu * 1000 / count, 2)})
    finally:
        server.stop()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="binary,multiappend")
    ap.add_argument("--mb", type=int, default=20)
    ap.add_argument("--json")
    args = ap.parse_args()
    rows: list[dict] = []
    parts = args.parts.split(",")
    if "binary" in parts:
        rows += binary(args.mb)
    if "multiappend" in parts:
        rows += multiappend()
    report = {"machine": machine_info(), "load": os.getloadavg(), "results": rows}
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
