"""The parse processes of large messages (``server/ingest.py``) belong to the server: they
parse a message exactly as the server would, and they never outlive it, even a server
killed by SIGKILL (issue 11: parsing away from the event loop)."""

from __future__ import annotations

import imaplib
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_parse_processes_end_with_a_killed_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "crispin", "user", "add", "kim", "--password-stdin",
                    "--create", "--data-dir", str(data)], input="pw\n", text=True, cwd=ROOT,
                   check=True, timeout=60)
    srv = ServerProcess(data)
    try:
        client = imaplib.IMAP4("127.0.0.1", srv.port, timeout=60)
        client.login("kim", "pw")
        big = b"Subject: big\r\nTo: a@example.test\r\n\r\n" + b"line of text\r\n" * 100_000
        assert len(big) > 1024 * 1024  # ingest.PROCESS_THRESHOLD
        assert client.append("INBOX", None, None, big)[0] == "OK"
        client.select("INBOX")
        typ, got = client.fetch("1", "(BODY.PEEK[])")
        assert typ == "OK" and got[0][1] == big  # type: ignore[index]
        workers = children(srv.proc.pid)
        assert workers, "no parse process was started"
        client.logout()
    finally:
        srv.kill()  # SIGKILL: no chance to stop them
    # They notice within about a second; wait for that (the test's own timeout bounds it).
    while any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in workers):
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie waits for its (new) parent to collect it: it is gone
