"""Expunged mail is reclaimed in the background, QRESYNC still learns what vanished after
tombstones were compacted, ``crispin check`` finds and repairs problems, and temporary files
of APPENDs cut off by SIGKILL are gone at the next start (issue 10, issue 11 point 10)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.server.condstore_helpers import code_value, fill, session
from tests.server.harness import ServerThread
from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
BIG = b"Subject: big\r\n\r\n" + b"x" * (300 * 1024)  # above the inline limit: a blob file


def blob_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]


def test_expunged_mail_reclaimed_in_background(server: ServerThread) -> None:
    client = server.login()
    client.append("INBOX", "(\\Deleted)", None, BIG)
    client.append("INBOX", None, None, b"Subject: kept\r\n\r\nkept\r\n")
    assert len(blob_files(server.config.data_dir)) == 1
    client.select("INBOX")
    assert client.expunge()[1] == [b"1"]
    # The EXPUNGE's commit report woke the reclaimer before the OK was sent.
    server.call(server.running.reclaimer.settled())
    assert blob_files(server.config.data_dir) == []
    typ, data = client.fetch("1", "(BODY.PEEK[TEXT])")
    assert typ == "OK" and data[0][1] == b"kept\r\n"
    client.logout()


def test_vanished_earlier_after_tombstones_compacted(server: ServerThread) -> None:
    """RFC 7162 §3.2.6: a modseq older than the tombstones kept gets every UID that may have
    vanished, among those the client names: a superset, never a miss."""
    fill(server, 8)
    away = session(server)
    lines = away.command(b"s", b"SELECT INBOX")
    uidvalidity, h = code_value(lines, b"UIDVALIDITY"), code_value(lines, b"HIGHESTMODSEQ")
    away.command(b"q", b"LOGOUT")
    other = server.login()
    other.select("INBOX")
    for uid in ("2", "4", "6", "7"):  # four expunges, one at a time
        other.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
        other.expunge()
    store = server.running.ctx.store
    totals = server.call(store.reclaim(keep=1))
    assert totals.tombstones == 3  # only the expunge of UID 7 is still known exactly

    back = session(server)
    back.command(b"e", b"ENABLE QRESYNC")
    lines = back.command(b"s", b"SELECT INBOX (QRESYNC (%d %d 1:8))" % (uidvalidity, h))
    assert b"* VANISHED (EARLIER) 2,4,6:7" in lines
    lines = back.command(b"w", b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % h)
    assert lines[0] == b"* VANISHED (EARLIER) 2,4,6:7"
    other.logout()


def crispin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crispin", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=120)


def add_user(data: Path) -> None:
    subprocess.run([sys.executable, "-m", "crispin", "user", "add", "kim",
                    "--password-stdin", "--create", "--data-dir", str(data)], input="pw\n",
                   text=True, cwd=ROOT, check=True, timeout=60, capture_output=True)


def test_crispin_check_and_repair(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_user(data)
    ok = crispin("check", "--data-dir", str(data))
    assert (ok.returncode, ok.stdout.strip()) == (0, "ok")
    conn = sqlite3.connect(data / "crispin.db")
    conn.execute("UPDATE mailboxes SET uidnext = 0")
    conn.commit()
    conn.close()
    (data / "blobs" / "tmp").mkdir(parents=True, exist_ok=True)
    (data / "blobs" / "tmp" / "cut.tmp").write_bytes(b"x")
    bad = crispin("check", "--data-dir", str(data))
    assert bad.returncode == 1
    assert "uidnext: mailbox" in bad.stdout and "temporary_file: blobs/tmp/cut.tmp" in bad.stdout
    fixed = crispin("check", "--repair", "--data-dir", str(data))
    assert fixed.returncode == 0, fixed.stdout
    assert crispin("check", "--data-dir", str(data)).returncode == 0
    done = crispin("maintenance", "--vacuum", "--data-dir", str(data))
    assert done.returncode == 0 and "reclaimed" in done.stdout


def test_spool_of_append_cut_off_by_sigkill_removed_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_user(data)
    srv = ServerProcess(data)
    try:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b"a LOGIN kim pw\r\n")
        while not reader.readline().startswith(b"a OK"):
            pass
        size = 2 * 1024 * 1024
        sock.sendall(b"b APPEND INBOX {%d}\r\n" % size)
        assert reader.readline().startswith(b"+")
        sock.sendall(b"Subject: cut\r\n\r\n" + b"y" * (1024 * 1024))  # half of it
        # The literal is still open, so the server cannot answer anything: the event to
        # wait for is the spool file holding what was sent.
        _wait_for(lambda: sum(p.stat().st_size for p in spooled(data)) >= 900 * 1024)
        srv.proc.kill()
        srv.proc.wait(10)
        sock.close()
    finally:
        srv.kill()
    assert spooled(data)  # the crash left it behind
    again = ServerProcess(data)
    try:
        assert spooled(data) == []
        assert any("temporary file" in line for line in again.output)
    finally:
        again.terminate()


def spooled(data: Path) -> list[Path]:
    """Temporary files of APPENDs in progress, wherever the server spools them."""
    return [p for d in (data / "spool", data / "blobs" / "tmp") if d.is_dir()
            for p in d.iterdir() if p.is_file()]


def _wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Poll a file-system condition: another process's file has no event to wait on."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)
