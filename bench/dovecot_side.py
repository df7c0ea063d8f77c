"""A private Dovecot for side-by-side figures (issue 14): the same load generator against both.

``DovecotServer`` writes a configuration of its own into a temporary folder (``base_dir``,
``state_dir``, the Maildirs and the log all inside it; nothing of /etc/dovecot is read), starts
``dovecot -F -c that.conf`` on a free 127.0.0.1 port, waits until the port answers, and stops
the master process it started (SIGTERM, then SIGKILL) on exit; the temporary folder goes too.
The bench user and password are ``_common``'s, in a passwd-file; mail is owned by ``nobody``
(Dovecot refuses to serve mail as root). Dovecot's defaults are kept where they decide speed
(``mail_fsync = optimized``, one imap process per connection, login processes in
high-security mode), as a stock install runs it. Needs root (Dovecot's master drops
privileges itself) and the ``dovecot-imapd`` package; not used by CI.

    sudo .venv/bin/python bench/dovecot_side.py -- .venv/bin/python bench/mixed_load.py \\
        --external             # the port is passed on as --port, host 127.0.0.1

Any bench script that takes ``--port`` and ``--external`` (no server of its own, no CPU
figure) can be run this way; ``mixed_load.py`` does, and ``folder_open.py``, which writes
its corpus straight into the user's Maildir (``$BENCH_MAILDIR``, set here).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PASSWORD, USER

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
MAIL_OWNER = "nobody"

CONFIG = """\
# Written by bench/dovecot_side.py: a private instance, nothing of /etc/dovecot.
protocols = imap
listen = 127.0.0.1
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
info_log_path = {tmp}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{tmp}/mail/%u/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {tmp}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={tmp}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def free_port() -> int:
    """A port the kernel reports free now (Dovecot cannot listen on port 0 and report it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DovecotServer:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="dovecot-bench-"))
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> DovecotServer:
        owner = pwd.getpwnam(MAIL_OWNER)
        (self.tmp / "mail").mkdir()
        os.chown(self.tmp / "mail", owner.pw_uid, owner.pw_gid)
        os.chmod(self.tmp, 0o755)
        (self.tmp / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        self.port = free_port()
        conf = self.tmp / "dovecot.conf"
        conf.write_text(CONFIG.format(tmp=self.tmp, uid=owner.pw_uid, gid=owner.pw_gid,
                                      port=self.port))
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"dovecot exited: {err}\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)  # polling a port that is not open yet: no event to wait for
        raise RuntimeError(f"dovecot did not answer on {self.port}\n{self.log_tail()}")

    @property
    def maildir(self) -> Path:
        """The bench user's Maildir (``mail_location``); Dovecot creates it at the first
        login unless a bench script wrote it first (owned by ``MAIL_OWNER``)."""
        return self.tmp / "mail" / USER / "Maildir"

    def log_tail(self, lines: int = 20) -> str:
        log = self.tmp / "dovecot.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print(__doc__)
        return 2
    with DovecotServer() as server:
        print(f"dovecot {server.port} ({server.tmp})", flush=True)
        # Where a script that loads its corpus as files (folder_open.py) writes it.
        env = dict(os.environ, BENCH_MAILDIR=str(server.maildir))
        return subprocess.call([*argv, "--port", str(server.port)], env=env)


if __name__ == "__main__":
    sys.exit(main())
