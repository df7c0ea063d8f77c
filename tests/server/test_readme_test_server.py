"""README "Crispin as a test mail server": the commands in it, run (issue 12). Fixed ports in
the README (1143, 1025) are replaced by free ones here; the container line is run by
tests/container/test_image.py."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

from tests.server.process import LISTEN_RE, MAIL_RE

ROOT = Path(__file__).resolve().parents[2]


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"^## Crispin as a test mail server\n(.*?)^## ", text, re.M | re.S)
    assert m, "README section missing"
    return m.group(1)


def blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```", section(), re.M | re.S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_section_is_short() -> None:
    assert len(section().strip().splitlines()) < 20


def test_ephemeral_server_and_python_snippet() -> None:
    [shell] = blocks("sh")
    [line] = [x for x in shell.splitlines() if "--ephemeral" in x]
    words = shlex.split(line)
    env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    command = [w for w in words if w not in [f"{k}={v}" for k, v in env.items()]]
    assert command[0] == "crispin"
    imap_port, smtp_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "crispin", *command[1:], "--host", "127.0.0.1",
         "--port", str(imap_port), "--tls-port", "0"],
        env={**env, "PATH": "/usr/bin:/bin", "CRISPIN_SMTP_PORT": str(smtp_port),
             "CRISPIN_SMTP_SUBMISSION_PORT": "0"},
        cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        seen = []
        for out in proc.stderr:
            seen.append(out)
            if "Crispin is ready." in out:
                break
        text = "".join(seen)
        assert LISTEN_RE.search(text) and MAIL_RE.search(text), text
        [snippet] = blocks("python")
        code = snippet.replace("1025", str(smtp_port)).replace("1143", str(imap_port))
        code = code.replace('"localhost"', '"127.0.0.1"')
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
        assert run.returncode == 0, run.stderr
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
        if proc.stderr:
            proc.stderr.close()
