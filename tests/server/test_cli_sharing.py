"""``crispin acl``, ``crispin shared`` and ``crispin quota`` against a running server: the
changes take effect for clients already connected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.server.harness import RawClient
from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def crispin(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    sub, rest = args[:2], args[2:]
    return subprocess.run([sys.executable, "-m", "crispin", *sub, "--data-dir", str(data),
                           *rest],
                          input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_acl_shared_and_quota_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for user in ("alice", "bob"):
        assert crispin(data, "user", "add", user, "--password-stdin", "--create",
                       stdin="pw\n").returncode == 0
    assert crispin(data, "user", "add", "anyone", "--password-stdin",
                   stdin="pw\n").returncode == 1
    assert crispin(data, "mailbox", "create", "alice", "Projects").returncode == 0
    srv = ServerProcess(data)
    try:
        bob = RawClient("127.0.0.1", srv.port)
        assert bob.command(b"l", b"LOGIN bob pw")[-1].startswith(b"l OK")
        assert bob.command(b"a", b'SELECT "Other Users/alice/Projects"')[-1].startswith(
            b"a NO [NONEXISTENT]")
        r = crispin(data, "acl", "set", "alice/Projects", "bob", "lrs")
        assert r.returncode == 0, r.stderr
        # READ-ONLY: with \Seen private, "s" is no shared flag right (RFC 4314 §5.2)
        assert bob.command(b"b", b'SELECT "Other Users/alice/Projects"')[-1].startswith(
            b"b OK [READ-ONLY]")
        out = crispin(data, "acl", "get", "alice/Projects").stdout.splitlines()
        assert out == ["alice\tlrswipkxtea (owner)", "bob\tlrscd"] or \
            out == ["alice\tlrswipkxtea (owner)", "bob\tlrs"]
        # "--" lets a rights change or an identifier start with "-"
        assert crispin(data, "acl", "set", "alice/Projects", "--", "bob", "-s").returncode == 0
        assert bob.command(b"c", b"STORE 1:* +FLAGS (\\Seen)")[-1].startswith(b"c ")
        assert crispin(data, "acl", "delete", "alice/Projects", "bob").returncode == 0
        assert bob.command(b"d", b'STATUS "Other Users/alice/Projects" (MESSAGES)')[-1] \
            .startswith(b"d NO [NONEXISTENT]")

        assert crispin(data, "shared", "create", "support").returncode == 0
        assert crispin(data, "shared", "list").stdout.split("\n")[0] == "Shared/support"
        assert crispin(data, "acl", "set", "Shared/support", "anyone", "lri").returncode == 0
        lines = bob.command(b"e", b'LIST "" "Shared/%"')
        assert b'* LIST (\\HasNoChildren) "/" "Shared/support"' in lines

        r = crispin(data, "quota", "set", "bob", "--messages", "1")
        # The quota once, one line per resource (it was reported printed twice).
        assert r.returncode == 0 and r.stdout == "bob\tMESSAGE\t0\t1\n", r.stdout
        r = crispin(data, "quota", "set", "bob", "--messages", "1", "--storage", "900")
        assert r.stdout == "bob\tSTORAGE\t0\t900\nbob\tMESSAGE\t0\t1\n", r.stdout
        assert bob.command(b"f", b"APPEND INBOX {5+}\r\nhello")[-1].startswith(b"f OK")
        assert bob.command(b"g", b"APPEND INBOX {5}")[-1].startswith(b"g NO [OVERQUOTA]")
        assert "MESSAGE\t1\t1" in crispin(data, "quota", "get", "bob").stdout
        r = crispin(data, "quota", "set", "Shared/support", "--storage", "100")
        assert r.returncode == 0, r.stderr
        assert crispin(data, "acl", "get", "nobody/x").returncode == 1
    finally:
        srv.terminate()
