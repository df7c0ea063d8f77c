"""Helpers for memory tests against a real ``crispin serve`` process (issue 10, 11.4).

Peak resident memory comes from the kernel (``VmHWM`` in ``/proc/<pid>/status``), read after
the attack is over: no sampling, no timing. Python keeps freed memory, so each test starts
its own server.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024


def cli(data_dir: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run([sys.executable, "-m", "crispin", *args, "--data-dir", str(data_dir)],
                   input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=300,
                   check=True)


def populate(data_dir: Path, user: str, password: str, messages: list[bytes]) -> None:
    """Create ``user`` and import ``messages`` into its INBOX, before the server starts."""
    cli(data_dir, "user", "add", user, "--password-stdin", "--create", stdin=password + "\n")
    folder = data_dir.parent / "eml"
    folder.mkdir()
    for i, body in enumerate(messages):
        (folder / f"{i:06d}.eml").write_bytes(body)
    cli(data_dir, "import", "--user", user, "--mailbox", "INBOX", str(folder))


def message(i: int, size: int) -> bytes:
    head = (f"From: a{i}@example.org\r\nTo: b@example.org\r\nSubject: message {i}\r\n"
            f"Message-ID: <{i}@example.org>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\r\n")
    line = b"x" * 76 + b"\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head.encode() + body


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_rss(pid: int) -> int:
    """Peak resident set size of the process so far, in bytes."""
    return status_kib(pid, "VmHWM") * 1024


def slow_reader(port: int) -> socket.socket:
    """A client socket with a small receive buffer, so a client that stops reading is
    felt by the server quickly rather than after megabytes of kernel buffering."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.settimeout(120)
    sock.connect(("127.0.0.1", port))
    return sock


def bytes_read(pid: int) -> int:
    """Bytes the process has read through read() and friends (files and sockets alike)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise KeyError("rchar")
