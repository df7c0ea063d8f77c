"""``crispin health``: is the server up? For a container's HEALTHCHECK and for scripts.

Healthy means both: the IMAP port answers with an ``* OK`` greeting (RFC 3501 §7.1.1), and the
database in the data folder can be read. Exit code 0 when healthy, 1 otherwise, with the
reason on stderr.
"""

from __future__ import annotations

import socket
import sys

from crispin.server.config import Config
from crispin.storage import StorageError, read_check


def check(config: Config, timeout: float = 3.0) -> str | None:
    """None when healthy, else what is wrong."""
    host = config.host
    if host in ("0.0.0.0", "", "*"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    port = int(config.get("server", "port"))
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            greeting = sock.makefile("rb").readline(1024)
    except OSError as exc:
        return f"IMAP port {host}:{port}: {exc}"
    if not greeting.startswith(b"* OK"):
        return f"IMAP port {host}:{port} greeted with {greeting[:80]!r}"
    try:
        read_check(config.data_dir)
    except StorageError as exc:
        return f"storage: {exc}"
    return None


def run(config: Config) -> int:
    problem = check(config)
    if problem is not None:
        print(f"crispin: unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0
