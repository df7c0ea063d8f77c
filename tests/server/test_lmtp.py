"""LMTP (RFC 2033) on a port and on a Unix socket, with its per-recipient replies; and the
promise of RFC 5321 §6.1 tested with SIGKILL: nothing answered 250 is lost."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import ServerThread
from tests.server.process import ServerProcess
from tests.server.smtp_helpers import MESSAGE, fetch_all, read_replies, split_received

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lmtp(tmp_path: Path) -> Iterator[ServerThread]:
    # Unix socket paths are limited to ~100 bytes: a short folder of our own.
    import tempfile

    with tempfile.TemporaryDirectory(prefix="crl") as short:
        srv = ServerThread(tmp_path / "data", smtp={"lmtp_port": 0,
                                                    "lmtp_socket": f"{short}/lmtp"})
        srv.add_user("alice")
        srv.add_user("bob")
        srv.socket_path = f"{short}/lmtp"  # type: ignore[attr-defined]
        try:
            yield srv
        finally:
            srv.stop()


def test_lmtp_per_recipient_replies_over_tcp(lmtp: ServerThread) -> None:
    import socket

    sock = socket.create_connection(("127.0.0.1", lmtp.running.mail_port("lmtp")), timeout=10)
    assert b"LMTP" in sock.recv(1024)
    sock.sendall(b"EHLO x\r\n")
    assert read_replies(sock, 1)[0].startswith(b"500 ")  # RFC 2033 §4.1: LHLO only
    sock.sendall(b"LHLO mta.example\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\n"
                 b"RCPT TO:<nobody@x>\r\nRCPT TO:<bob@x>\r\nDATA\r\n")
    replies = read_replies(sock, 6)
    assert [r[:9] for r in replies[1:]] == [b"250 2.1.0", b"250 2.1.5", b"550 5.1.1",
                                            b"250 2.1.5", b"354 End d"]
    sock.sendall(MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    # One reply per accepted recipient, in order (RFC 2033 §4.2).
    assert read_replies(sock, 2) == [b"250 2.1.5 <alice@x> delivered",
                                     b"250 2.1.5 <bob@x> delivered"]
    sock.sendall(b"QUIT\r\n")
    assert read_replies(sock, 1)[0].startswith(b"221")
    sock.close()
    for user in ("alice", "bob"):
        trace, rest = split_received(fetch_all(lmtp, user)[0])
        assert rest == MESSAGE and b"with LMTP" in trace


def test_lmtp_over_unix_socket_with_smtplib(lmtp: ServerThread) -> None:
    with smtplib.LMTP(lmtp.socket_path) as client:  # type: ignore[attr-defined]
        code, features = client.ehlo("local")
        assert code == 250 and b"STARTTLS" not in features
        refused = client.sendmail("s@x", ["bob+Lists@x"], MESSAGE)
        assert refused == {}
    assert split_received(fetch_all(lmtp, "bob", "Lists")[0])[1] == MESSAGE


def test_nothing_answered_250_is_lost_on_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "crispin", "user", "add", "kim", "--password-stdin",
                    "--create", "--data-dir", str(data)], input="pw\n", text=True, cwd=ROOT,
                   check=True, timeout=60)
    srv = ServerProcess(data)
    port = srv.mail_ports["smtp"]
    accepted: list[bytes] = []
    lock = threading.Lock()
    enough = threading.Event()

    def sender(worker: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                for i in range(100000):
                    subject = b"w%d-%d" % (worker, i)
                    body = b"Subject: " + subject + b"\r\n\r\n" + b"x" * (i * 37 % 3000) + b"\r\n"
                    smtp.sendmail("s@x", ["kim@x"], body)  # returns only after 250
                    with lock:
                        accepted.append(subject)
                        if len(accepted) >= 40:
                            enough.set()
        except (OSError, smtplib.SMTPException):
            pass  # the server died under us: expected

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    assert enough.wait(60)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    for t in threads:
        t.join(30)
    with lock:
        answered = set(accepted)
    after = ServerProcess(data)
    try:
        import imaplib

        imap = imaplib.IMAP4("127.0.0.1", after.port, timeout=10)
        imap.login("kim", "pw")
        imap.select("INBOX")
        typ, data_ = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        imap.logout()
        stored = {part[1].split(b": ", 1)[1].strip() for part in data_ if isinstance(part, tuple)}
        assert answered <= stored, answered - stored
    finally:
        after.terminate()
