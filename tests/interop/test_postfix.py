"""Postfix relaying into Crispin through LMTP (issue 12: "Postfix or msmtp relaying through
LMTP/SMTP"), the way a real mail host hands mail to a mailbox server.

Debian's Postfix runs self-contained here: its own ``config_directory`` in a temporary folder
(``postfix -c DIR start``), its own queue, its SMTP server on a free loopback port, and every
message sent on with ``default_transport = lmtp:inet:127.0.0.1:<Crispin's LMTP port>``. The
system's Postfix is never configured or started (no daemon on port 25). Mail goes into
Postfix over SMTP (smtplib), out of it over LMTP (RFC 2033), and is read back over IMAP:
the message byte for byte after the two trace lines (Crispin's ``with LMTP``, then
Postfix's own). A recipient Crispin refuses at RCPT comes back to the sender as a bounce
(RFC 3464), which shows the per-recipient LMTP answer was understood."""

from __future__ import annotations

import contextlib
import os
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.interop import messages
from tests.interop.conftest import PASSWORD, USER, InteropServer, require
from tests.programs import programs

pytestmark = programs("postfix", install="apt-get install postfix")

# Only what relaying needs; nothing chrooted (the chroot would need copies of /etc files).
MASTER_CF = """\
{smtp_address} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
smtp      unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.crispin.test
mydomain = crispin.test
myorigin = relay.crispin.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination = relay.crispin.test
local_recipient_maps =
alias_maps =
alias_database =
relayhost =
default_transport = lmtp:inet:127.0.0.1:{lmtp_port}
smtputf8_enable = no
biff = no
disable_dns_lookups = yes
smtp_host_lookup = native
lmtp_host_lookup = native
"""

MESSAGE = (b"From: Sender <sender@relay.crispin.test>\r\n"
           b"To: alice@example.com\r\n"
           b"Subject: through Postfix\r\n"
           b"Date: Fri, 04 Dec 2026 01:00:00 +0000\r\n"
           b"Message-ID: <postfix-1@relay.crispin.test>\r\n"
           b"\r\n"
           b"Relayed by Postfix over LMTP.\r\n"
           b".a line starting with a dot\r\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, condition: Callable[[], bool], timeout: float,
             log: Path | None = None) -> None:
    """Until ``condition()`` holds (Postfix's queue manager works on its own clock: there is
    no event to wait on from outside it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            pytest.fail(f"{what} did not happen within {timeout} s\n{tail}")
        time.sleep(0.1)


@contextlib.contextmanager
def postfix(lmtp_port: int) -> Iterator[tuple[int, Path, Path]]:
    """A running self-contained Postfix: (its SMTP port, its config dir, its log file)."""
    if os.geteuid() != 0:
        pytest.skip("postfix's master runs as root (it drops to the postfix user)")
    binary = require("postfix")
    # Outside pytest's tmp_path: Postfix checks that the folders above its queue are
    # owned by root and not writable by others.
    root = Path(tempfile.mkdtemp(prefix="crispin-postfix-"))
    root.chmod(0o755)
    config, queue, data = root / "config", root / "queue", root / "data"
    config.mkdir(mode=0o755)
    queue.mkdir(mode=0o755)  # postfix-script makes its subfolders, with their owners
    data.mkdir(mode=0o700)
    shutil.chown(data, "postfix")
    port = free_port()
    (config / "main.cf").write_text(MAIN_CF.format(root=root, lmtp_port=lmtp_port))
    (config / "master.cf").write_text(MASTER_CF.format(smtp_address=f"127.0.0.1:{port}"))
    log = root / "maillog"
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    started = subprocess.run([binary, "-c", str(config), "start"], capture_output=True,
                             text=True, timeout=120, env=env)
    try:
        assert started.returncode == 0, started.stdout + started.stderr

        def listening() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return True
            return False

        wait_for("postfix's smtpd listening", listening, 60, log)
        yield port, config, log
    finally:
        subprocess.run([binary, "-c", str(config), "stop"], capture_output=True, timeout=60,
                       env=env)
        pid_file = root / "queue" / "pid" / "master.pid"
        with contextlib.suppress(OSError, ValueError):
            # "stop" asks the master to go; make sure it went (only the one we started).
            os.kill(int(pid_file.read_text().split()[0]), 9)
        shutil.rmtree(root, ignore_errors=True)


def inbox_of(srv: InteropServer, user: str = USER, password: str = PASSWORD) -> list[bytes]:
    imap = messages.connect(srv.port, user, password, srv.host)
    try:
        typ, _ = imap.select("INBOX")
        assert typ == "OK"
        typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
        return [part[1] for part in data if isinstance(part, tuple)]
    finally:
        imap.logout()


def trace_lines(raw: bytes) -> tuple[list[bytes], bytes]:
    """The leading ``Received:`` fields (unfolded) and the rest."""
    fields = []
    while raw.startswith(b"Received: "):
        end = raw.index(b"\r\n")
        while raw[end + 2:end + 3] in (b"\t", b" "):
            end = raw.index(b"\r\n", end + 2)
        fields.append(raw[:end + 2])
        raw = raw[end + 2:]
    return fields, raw


@pytest.fixture
def lmtp_server(make_crispin: Callable[..., InteropServer]) -> InteropServer:
    return make_crispin(env={"CRISPIN_SMTP_LMTP_PORT": "0"})


def test_postfix_relays_through_lmtp(lmtp_server: InteropServer) -> None:
    srv = lmtp_server
    srv.add_user("sender", "x")
    with postfix(srv.process.mail_ports["lmtp"]) as (port, _config, log):
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            refused = client.sendmail("sender@example.com",
                                      ["alice@example.com", "nobody@example.com"], MESSAGE)
            assert refused == {}  # Postfix takes both; Crispin decides over LMTP
        wait_for("delivery to alice", lambda: len(inbox_of(srv)) == 1, 60, log)
        # nobody@ is refused by Crispin at RCPT (550 5.1.1): Postfix bounces it to the
        # sender, over LMTP too, as a delivery status notification.
        wait_for("the bounce to sender", lambda: len(inbox_of(srv, "sender", "x")) == 1, 60,
                 log)
        text = log.read_text(errors="replace")
    [raw] = inbox_of(srv)
    fields, rest = trace_lines(raw)
    assert rest == MESSAGE
    assert len(fields) == 2, fields
    assert b"with LMTP" in fields[0]  # Crispin's, first (RFC 5321 §4.4: prepended)
    assert b"by relay.crispin.test (Postfix) with ESMTP" in fields[1]
    assert "status=sent" in text and "status=bounced" in text, text[-3000:]
    [bounce] = inbox_of(srv, "sender", "x")
    assert b"multipart/report" in bounce and b"report-type=delivery-status" in bounce
    assert b"nobody@example.com" in bounce and b"5.1.1" in bounce
    srv.assert_no_protocol_errors()
