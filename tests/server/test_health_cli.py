"""``crispin health``: exit 0 when the IMAP port greets and the database reads, 1 otherwise
(the image's HEALTHCHECK)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def health(data: Path, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crispin", "health", "--data-dir",
                           str(data)], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "CRISPIN_SERVER_PORT": str(port)})


def test_health_follows_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = ServerProcess(data)
    port = srv.port
    try:
        result = health(data, port)
        assert result.returncode == 0, result.stderr
    finally:
        srv.terminate()
    result = health(data, port)
    assert result.returncode == 1
    assert "unhealthy: IMAP port 127.0.0.1:" in result.stderr


def test_unreadable_storage_is_unhealthy(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data")
    try:
        result = health(tmp_path / "elsewhere", srv.port)  # no database there
        assert result.returncode == 1 and "storage: no database" in result.stderr
    finally:
        srv.terminate()
