"""Run ``crispin serve`` as a real process, the way a user starts it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

LISTEN_RE = re.compile(r"port (\d+) \(plain, STARTTLS\) and (\d+) \(TLS\)")
MAIL_RE = re.compile(r"Crispin (SMTP|SUBMISSION|LMTP) listening on \S+ port (\d+)")
STARTER_RE = re.compile(r"user '([^']+)', password '([^']+)'")


ROOT = Path(__file__).resolve().parents[2]


def run_crispin(data: Path, *args: str, stdin: str | None = None
                ) -> subprocess.CompletedProcess[str]:
    """``crispin <args> --data-dir <data>`` (the CLI, as a user runs it), output captured."""
    return subprocess.run([sys.executable, "-m", "crispin", *args, "--data-dir", str(data)],
                          input=stdin, cwd=ROOT, capture_output=True, text=True, timeout=120)


class ServerProcess:
    def __init__(self, data_dir: Path | None, *args: str, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CRISPIN_")}
        # Mail in on free ports too, never the fixed defaults (several servers run at once).
        full_env.update({"CRISPIN_SMTP_PORT": "0", "CRISPIN_SMTP_SUBMISSION_PORT": "0"})
        full_env.update(env or {})
        where = ["--data-dir", str(data_dir)] if data_dir is not None else []
        cmd = [sys.executable, "-m", "crispin", "serve", *where,
               "--port", "0", "--tls-port", "0", *args]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, text=True, env=full_env,
                                     cwd=cwd or Path(__file__).resolve().parents[2])
        self.output: list[str] = []
        self.port = self.tls_port = 0
        self.starter: tuple[str, str] | None = None
        self.fingerprint = ""
        self.mail_ports: dict[str, int] = {}
        deadline = time.monotonic() + 30
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("server exited: " + "".join(self.output))
            self.output.append(line)
            if m := LISTEN_RE.search(line):
                self.port, self.tls_port = int(m[1]), int(m[2])
            if m := STARTER_RE.search(line):
                self.starter = (m[1], m[2])
            if m := MAIL_RE.search(line):
                self.mail_ports[m[1].lower()] = int(m[2])
            if "fingerprint:" in line:
                self.fingerprint = line.split("fingerprint:")[1].strip()
            if "Crispin is ready." in line:
                break
        else:
            raise RuntimeError("server did not start: " + "".join(self.output))

    def terminate(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(15)
        finally:
            if self.proc.stderr:
                self.proc.stderr.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()
