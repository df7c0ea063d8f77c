"""Mail in from senders nobody here wrote: swaks, curl's SMTP client and msmtp (over SMTP,
submission with STARTTLS and AUTH, and LMTP). Each message is read back over IMAP byte for byte
after the ``Received:`` line Crispin adds (RFC 5321 §4.4)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.conftest import (
    PASSWORD,
    USER,
    InteropServer,
    describe,
    require,
    run_client,
)

MESSAGE = ("From: Sender <sender@example.org>\r\n"
           "To: alice@example.com\r\n"
           "Subject: =?UTF-8?Q?caf=C3=A9?= from {client}\r\n"
           "Message-ID: <{client}-1@example.org>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n"
           "\r\n"
           "Caf\u00e9 au lait.\r\n"
           ".a line starting with a dot\r\n"
           "..and two\r\n"
           "last line\r\n")


def message(client: str) -> bytes:
    return MESSAGE.format(client=client).encode("utf-8")


def swaks_rendering(swaks: str, args: list[str], home: Path) -> bytes:
    """The message as swaks sends it, from its own ``--dump-mail`` (it dot-stuffs and ends
    the data with an empty line of its own), un-dot-stuffed as the receiver must."""
    # Bytes, not text: the line endings are the point.
    result = subprocess.run([swaks, *args, "--dump-mail"], capture_output=True, timeout=60,
                            env={"PATH": os.environ.get("PATH", ""), "HOME": str(home)},
                            check=True)
    dump = result.stdout
    if dump.endswith(b"\r"):
        dump += b"\n"
    lines = dump.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def received(srv: InteropServer, folder: str = "INBOX") -> list[tuple[bytes, bytes]]:
    """(Received: header, rest) of every message in ``folder``."""
    imap = srv.imap()
    try:
        typ, _ = imap.select(f'"{folder}"')
        assert typ == "OK", folder
        typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
        raws = [part[1] for part in data if isinstance(part, tuple)]
    finally:
        imap.logout()
    out = []
    for raw in raws:
        assert raw.startswith(b"Received: from "), raw[:300]
        end = raw.index(b"\r\n")
        while raw[end + 2:end + 3] in (b"\t", b" "):
            end = raw.index(b"\r\n", end + 2)
        out.append((raw[:end + 2], raw[end + 2:]))
    return out


@pytest.fixture
def mail_server(make_crispin: Callable[..., InteropServer]) -> InteropServer:
    return make_crispin(env={"CRISPIN_SMTP_LMTP_PORT": "0"})


def test_swaks_plain_and_pipelined(mail_server: InteropServer, tmp_path: Path,
                                   client_home: Path) -> None:
    swaks = require("swaks")
    body = tmp_path / "m.eml"
    body.write_bytes(message("swaks"))
    port = mail_server.process.mail_ports["smtp"]
    args = ["--to", "alice@example.com", "--from", "sender@example.org", "--data", f"@{body}"]
    result = run_client([swaks, "--server", "127.0.0.1", "--port", str(port), "--helo",
                         "swaks.example", "--pipeline", *args], timeout=60, home=client_home)
    assert result.returncode == 0, describe(result)
    assert "<** " not in result.stdout, describe(result)  # swaks marks errors with <**
    [(trace, rest)] = received(mail_server)
    assert rest == swaks_rendering(swaks, args, client_home)
    assert rest.startswith(message("swaks"))
    assert b"from swaks.example ([127.0.0.1])" in trace and b"with ESMTP" in trace
    mail_server.assert_no_protocol_errors()


def test_swaks_submission_starttls_auth(mail_server: InteropServer, tmp_path: Path,
                                        client_home: Path) -> None:
    swaks = require("swaks")
    body = tmp_path / "m.eml"
    body.write_bytes(message("swaks-tls"))
    port = mail_server.process.mail_ports["submission"]
    args = ["--to", "alice@example.com", "--from", "alice@example.com", "--data", f"@{body}"]
    result = run_client([swaks, "--server", "127.0.0.1", "--port", str(port), *args, "--tls",
                         "--tls-verify", "--tls-ca-path", str(mail_server.cert),
                         "--auth", "PLAIN", "--auth-user", USER, "--auth-password", PASSWORD],
                        timeout=60, home=client_home)
    assert result.returncode == 0, describe(result)
    assert "Authentication successful" in result.stdout, describe(result)
    expected = swaks_rendering(swaks, args, client_home)
    [(trace, rest)] = received(mail_server)
    assert rest == expected and b"with ESMTPSA" in trace
    [(_, sent)] = received(mail_server, "Sent")
    assert sent == expected


def test_curl_smtp_and_smtp_starttls(mail_server: InteropServer, tmp_path: Path,
                                     client_home: Path) -> None:
    curl = require("curl")
    body = tmp_path / "m.eml"
    body.write_bytes(message("curl"))
    port = mail_server.process.mail_ports["smtp"]
    result = run_client([curl, "-sS", f"smtp://127.0.0.1:{port}/curl.example",
                         "--mail-from", "sender@example.org", "--mail-rcpt",
                         "alice+Curl@example.com", "--upload-file", str(body)], timeout=60,
                        home=client_home)
    assert result.returncode == 0, describe(result)
    sub = mail_server.process.mail_ports["submission"]
    result = run_client([curl, "-sS", f"smtp://localhost:{sub}", "--ssl-reqd", "--cacert",
                         str(mail_server.cert), "--user", f"{USER}:{PASSWORD}",
                         "--mail-from", "alice@example.com", "--mail-rcpt",
                         "alice@example.com", "--upload-file", str(body)], timeout=60,
                        home=client_home)
    assert result.returncode == 0, describe(result)
    [(trace, rest)] = received(mail_server, "Curl")
    assert rest == message("curl") and b"from curl.example" in trace
    [(trace, rest)] = received(mail_server)
    assert rest == message("curl") and b"with ESMTPSA" in trace
    mail_server.assert_no_protocol_errors()


def _msmtp(srv: InteropServer, home: Path, account: str, body: bytes,
           *recipients: str) -> None:
    msmtp = require("msmtp")
    rc = home / "msmtprc"
    rc.write_text(
        "defaults\nlogfile -\nset_date_header off\nset_msgid_header off\nset_from_header off\n\n"
        f"account smtp\nhost 127.0.0.1\nport {srv.process.mail_ports['smtp']}\n"
        "from sender@example.org\nauth off\ntls off\n\n"
        f"account submission\nhost localhost\nport {srv.process.mail_ports['submission']}\n"
        f"from {USER}@example.com\nauth plain\nuser {USER}\npassword {PASSWORD}\n"
        f"tls on\ntls_starttls on\ntls_trust_file {srv.cert}\n\n"
        f"account lmtp\nprotocol lmtp\nhost 127.0.0.1\nport {srv.process.mail_ports['lmtp']}\n"
        "from sender@example.org\nauth off\ntls off\n")
    rc.chmod(0o600)
    result = run_client([msmtp, "-C", str(rc), "-a", account, *recipients], timeout=60,
                        home=home, stdin=body.decode("utf-8"))
    assert result.returncode == 0, describe(result)


@pytest.mark.parametrize("account", ["smtp", "submission", "lmtp"])
def test_msmtp(mail_server: InteropServer, client_home: Path, account: str) -> None:
    body = message(f"msmtp-{account}")
    _msmtp(mail_server, client_home, account, body, "alice@example.com")
    [(trace, rest)] = received(mail_server)
    assert rest == body
    assert (b"with LMTP" if account == "lmtp" else b"with ESMTP") in trace
    mail_server.assert_no_protocol_errors()
