"""``crispin import`` end to end: a real process writes, a running server serves."""

from __future__ import annotations

import imaplib
import os
import subprocess
import sys
from pathlib import Path

from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]

MBOX = (
    b"From alice@example.com Mon Jan  6 10:00:00 2025\n"
    b"From: alice@example.com\nSubject: first\nStatus: RO\nX-Status: F\n\nhello\n"
    b">From the archive\n\n"
    b"From bob@example.com Tue Jan  7 11:30:00 2025\n"
    b"From: bob@example.com\nSubject: second\n\nworld\n"
)


def crispin(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crispin", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_import_mbox_and_maildir_into_running_server(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert crispin("user", "add", "ann", "--password-stdin", "--create", "--data-dir", data,
                   stdin="pw\n").returncode == 0
    srv = ServerProcess(tmp_path / "data")
    try:
        mbox = tmp_path / "old.mbox"
        mbox.write_bytes(MBOX)
        r = crispin("import", "--user", "ann", "--mailbox", "Archive/2025", str(mbox),
                    "--data-dir", data)
        assert r.returncode == 0, r.stderr
        assert "Imported 2 messages" in r.stderr

        maildir = tmp_path / "Maildir"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True)
        (maildir / "cur" / "1700000000.1.host:2,RS").write_bytes(
            b"Subject: replied\n\nbody\n")
        (maildir / "new" / "1700000001.2.host").write_bytes(b"Subject: unread\n\nbody\n")
        os.utime(maildir / "cur" / "1700000000.1.host:2,RS", (1700000000, 1700000000))
        r = crispin("import", "--user", "ann", str(maildir), "--data-dir", data)
        assert r.returncode == 0, r.stderr

        client = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
        client.login("ann", "pw")
        typ, lsub = client.lsub('""', "*")
        assert any(b"Archive/2025" in line for line in lsub)  # subscribed
        client.select("Archive/2025")
        typ, data_ = client.fetch("1:2", "(FLAGS INTERNALDATE BODY.PEEK[])")
        first, second = data_[0], data_[2]
        assert b"\\Seen" in first[0] and b"\\Flagged" in first[0]
        assert b'INTERNALDATE " 6-Jan-2025 10:00:00 +0000"' in first[0]
        # Stored as CRLF, mboxrd quoting undone, mbox status headers removed.
        assert first[1] == (b"From: alice@example.com\r\nSubject: first\r\n\r\nhello\r\n"
                            b"From the archive\r\n")
        assert b"Subject: second" in second[1]
        client.select("INBOX")
        _typ, data_ = client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"\\Answered" in data_[0][0] and b"\\Seen" in data_[0][0]
        assert b"replied" in data_[0][1]
        assert b"\\Seen" not in data_[2][0] and b"unread" in data_[2][1]
        client.logout()
    finally:
        srv.terminate()


def test_import_errors_are_clear(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    crispin("user", "add", "ann", "--password-stdin", "--create", "--data-dir", data,
            stdin="pw\n")
    r = crispin("import", "--user", "ann", str(tmp_path / "missing"), "--data-dir", data)
    assert r.returncode == 1 and "crispin:" in r.stderr
    r = crispin("import", "--user", "nobody", str(tmp_path), "--data-dir", data)
    assert r.returncode == 1 and "no such user" in r.stderr
