"""``crispin serve`` and the admin commands as separate processes, as a user runs them."""

from __future__ import annotations

import imaplib
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.programs import programs
from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def crispin(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crispin", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_starter_account_logs_in_and_sigterm_stops(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data")
    try:
        assert srv.starter is not None
        assert len(srv.fingerprint.split(":")) == 32
        client = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
        assert client.login(*srv.starter)[0] == "OK"
        client.logout()
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        assert idle.recv(1000).startswith(b"* OK")
    finally:
        assert srv.terminate(signal.SIGTERM) == 0
    # A client still connected hears why the connection ends.
    rest = b""
    while chunk := idle.recv(1000):
        rest += chunk
    assert rest.startswith(b"* BYE Server shutting down")
    # A second start finds the account and creates no other.
    again = ServerProcess(tmp_path / "data")
    try:
        assert again.starter is None
    finally:
        again.terminate()


def test_no_starter_account_beyond_loopback(tmp_path: Path) -> None:
    # Listening on every address (but tests only ever connect to 127.0.0.1).
    srv = ServerProcess(tmp_path / "data", "--host", "0.0.0.0")
    try:
        assert srv.starter is None
        assert not any("starter account" in line for line in srv.output)
        assert any("crispin user add" in line for line in srv.output)
    finally:
        srv.terminate()
    assert crispin("user", "list", "--data-dir", str(tmp_path / "data")).stdout == ""


def test_user_and_mailbox_commands(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    r = crispin("user", "add", "carol", "--password-stdin", "--create", "--data-dir", d,
                stdin="pw1\n")
    assert r.returncode == 0, r.stderr
    assert crispin("user", "add", "carol", "--password-stdin", "--data-dir", d,
                   stdin="x\n").returncode == 1
    assert crispin("user", "list", "--data-dir", d).stdout.split() == ["carol"]
    assert crispin("mailbox", "create", "carol", "Lists/python", "--data-dir", d).returncode == 0
    out = crispin("mailbox", "list", "carol", "--data-dir", d).stdout.split("\n")
    assert {"INBOX", "Lists", "Lists/python"} <= set(out)
    assert crispin("mailbox", "delete", "carol", "Lists/python", "--data-dir", d).returncode == 0
    assert crispin("mailbox", "delete", "carol", "INBOX", "--data-dir", d).returncode == 1

    srv = ServerProcess(tmp_path / "data")
    try:
        client = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
        assert client.login("carol", "pw1")[0] == "OK"
        client.logout()
        # Changes made with the CLI while the server runs are seen by it.
        assert crispin("user", "passwd", "carol", "--password-stdin", "--data-dir", d,
                       stdin="pw2\n").returncode == 0
        assert crispin("user", "add", "dave", "--password-stdin", "--data-dir", d,
                       stdin="pw3\n").returncode == 0
        client = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
        assert client.login("dave", "pw3")[0] == "OK"
        client.logout()
    finally:
        srv.terminate()
    assert crispin("user", "delete", "carol", "--data-dir", d).returncode == 0
    assert crispin("user", "list", "--data-dir", d).stdout.split() == ["dave"]


def test_config_file_and_environment(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[auth]\nplaintext = "never"\n')
    srv = ServerProcess(tmp_path / "data", "--config", str(conf))
    try:
        client = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
        assert "LOGINDISABLED" in client.capabilities
        client.logout()
    finally:
        srv.terminate()
    srv = ServerProcess(tmp_path / "data", "--config", str(conf),
                        env={"CRISPIN_AUTH_PLAINTEXT": "always"})
    try:
        client = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
        assert "LOGINDISABLED" not in client.capabilities
        client.logout()
    finally:
        srv.terminate()


@programs("curl")
def test_curl_lists_mailboxes(tmp_path: Path) -> None:
    """curl is a client nobody here wrote: IMAP over plain, STARTTLS and implicit TLS."""
    d = str(tmp_path / "data")
    crispin("user", "add", "erin", "--password-stdin", "--create", "--data-dir", d,
            stdin="s3cret\n")
    crispin("mailbox", "create", "erin", "Reports/2026", "--data-dir", d)
    srv = ServerProcess(tmp_path / "data")
    cert = str(tmp_path / "data" / "tls" / "cert.pem")
    try:
        runs = {
            "plain": ["curl", "-s", "--max-time", "20", f"imap://127.0.0.1:{srv.port}/"],
            "starttls": ["curl", "-s", "--max-time", "20", "--ssl-reqd", "--cacert", cert,
                         f"imap://localhost:{srv.port}/"],
            "tls": ["curl", "-s", "--max-time", "20", "--cacert", cert,
                    f"imaps://localhost:{srv.tls_port}/"],
        }
        for name, cmd in runs.items():
            r = subprocess.run([*cmd, "-u", "erin:s3cret"], capture_output=True, text=True,
                               timeout=30)
            assert r.returncode == 0, (name, r.returncode, r.stderr)
            lines = r.stdout.splitlines()
            assert any(line.endswith(' "/" INBOX') or line.endswith(' "/" "INBOX"')
                       for line in lines), (name, lines)
            assert any("Reports/2026" in line for line in lines), (name, lines)
        bad = subprocess.run(["curl", "-s", "--max-time", "20", "-u", "erin:wrong",
                              f"imap://127.0.0.1:{srv.port}/"], capture_output=True, timeout=30)
        assert bad.returncode == 67  # CURLE_LOGIN_DENIED
    finally:
        srv.terminate()
