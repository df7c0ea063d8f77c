"""Setting up accounts from the command line, as a user (or a container script) does it
(issue 9 points 11-13): separate processes, real sockets on 127.0.0.1."""

from __future__ import annotations

import imaplib
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from crispin.server.cli import version
from crispin.storage import InvalidPassword, Store
from crispin.storage import users as users_mod
from crispin.storage.passwords import hash_password
from tests.server.harness import ServerThread
from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
FAST_FAILURES = {"CRISPIN_AUTH_FAILURE_DELAY": "0.1"}


def crispin(*args: str, cwd: Path = ROOT, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    """``crispin ARGS`` run from ``cwd`` (the checkout on the module path, as if installed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CRISPIN_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "crispin", *args], input=stdin, env=env,
                          capture_output=True, text=True, cwd=cwd, timeout=60)


def can_login(port: int, user: str, password: str) -> bool:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    try:
        client.login(user, password)
        return True
    except imaplib.IMAP4.error:
        return False
    finally:
        client.shutdown()


# -- 11: empty passwords ----------------------------------------------------------------------

def test_empty_password_refused_by_the_cli(tmp_path: Path) -> None:
    """`echo pw | docker exec crispin crispin user add ... --password-stdin` without -i reads
    an empty standard input: it must not make an account anyone can log in to."""
    d = str(tmp_path / "data")
    for stdin in ("", "\n", "\r\n"):
        r = crispin("user", "add", "eve", "--password-stdin", "--create", "--data-dir", d,
                    stdin=stdin)
        assert r.returncode == 1 and "empty" in r.stderr, r
    assert crispin("user", "list", "--data-dir", d).stdout == ""
    assert crispin("user", "add", "eve", "--password-stdin", "--data-dir", d,
                   stdin="pw\n").returncode == 0
    r = crispin("user", "passwd", "eve", "--password-stdin", "--data-dir", d, stdin="\n")
    assert r.returncode == 1 and "empty" in r.stderr, r
    srv = ServerProcess(tmp_path / "data", env=FAST_FAILURES)
    try:
        assert can_login(srv.port, "eve", "pw")  # the password was not changed
        assert not can_login(srv.port, "eve", "")
    finally:
        srv.terminate()


def test_empty_password_refused_by_storage(tmp_path: Path) -> None:
    """Every path that sets a password goes through storage, which refuses an empty one;
    an account stored with one before this rule cannot log in over the network."""
    srv = ServerThread(tmp_path / "data")
    try:
        store: Store = srv.running.ctx.store
        with pytest.raises(InvalidPassword):
            srv.call(store.create_user("mallory", ""))
        srv.add_user("trent")
        with pytest.raises(InvalidPassword):
            srv.call(store.set_password("trent", ""))
        assert srv.call(store.get_user("mallory")) is None
        # as `user add` left it before: a hash of the empty password
        srv.call(store._db.write(partial(users_mod.set_password, name="trent",
                                         password_hash=hash_password("", n=2**4))))
        raw = srv.raw()
        assert raw.command(b"a", b'LOGIN trent ""')[-1].startswith(b"a NO")
        raw.send(b"b AUTHENTICATE PLAIN AHRyZW50AA==\r\n")  # "\0trent\0"
        assert raw.until_tagged(b"b")[-1].startswith(b"b NO")
    finally:
        srv.stop()


# -- 12: no new database from a management command -------------------------------------------

def test_management_command_elsewhere_creates_nothing(tmp_path: Path) -> None:
    """Run from a directory without a data folder, `crispin user add` used to make
    ./crispin-data silently and exit 0; the server never saw the user."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["user", "add", "alice", "--password-stdin"], ["user", "list"],
                 ["mailbox", "list", "alice"], ["mailbox", "private", "alice/INBOX"],
                 ["acl", "get", "alice/INBOX"], ["quota", "get", "alice"],
                 ["import", "--user", "alice", str(tmp_path)]):
        r = crispin(*args, cwd=elsewhere, stdin="pw\n")
        assert r.returncode == 1, (args, r)
        assert f"no Crispin data folder at {elsewhere / 'crispin-data'}" in r.stderr, r
        assert list(elsewhere.iterdir()) == [], args
    # --create is the explicit way; every command then says which folder it used
    r = crispin("user", "add", "alice", "--password-stdin", "--create", cwd=elsewhere,
                stdin="pw\n")
    assert r.returncode == 0, r
    assert f"data folder {elsewhere / 'crispin-data'}" in r.stderr
    r = crispin("user", "list", cwd=elsewhere)
    assert r.stdout == "alice\n" and f"data folder {elsewhere / 'crispin-data'}" in r.stderr


# -- 13: global options first, --version, idempotent user add ------------------------------

def test_global_options_before_the_subcommand(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    assert crispin("--data-dir", d, "--create", "user", "add", "bob", "--password-stdin",
                   stdin="pw\n").returncode == 0
    r = crispin("--data-dir", d, "user", "list", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "bob\n"), r
    conf = tmp_path / "c.toml"
    conf.write_text(f'[server]\ndata_dir = "{d}"\n')
    assert crispin("--config", str(conf), "user", "list", cwd=tmp_path).stdout == "bob\n"
    # given after the subcommand, it wins (as the nearer option)
    other = str(tmp_path / "other")
    r = crispin("--data-dir", d, "user", "list", "--data-dir", other, cwd=tmp_path)
    assert r.returncode == 1 and "other" in r.stderr


def test_version() -> None:
    r = crispin("--version")
    assert (r.returncode, r.stdout.strip()) == (0, f"crispin {version()}")
    assert version() != "unknown"  # the test environment installs the package


def test_user_add_if_missing_and_update(tmp_path: Path) -> None:
    """A container's entry script may run `user add` at every start."""
    d = str(tmp_path / "data")
    add = ("--data-dir", d, "--create", "user", "add", "carol", "--password-stdin")
    for _ in range(2):
        r = crispin(*add, "--if-missing", stdin="first\n")
        assert r.returncode == 0, r
    assert "exists; left unchanged" in r.stdout
    assert crispin(*add, stdin="x\n").returncode == 1  # plain `add` still refuses
    r = crispin(*add, "--update", stdin="second\n")
    assert r.returncode == 0 and "password changed" in r.stdout, r
    r = crispin(*add, "--if-missing", "--update", stdin="x\n")
    assert r.returncode == 2  # one or the other
    assert crispin("--data-dir", d, "user", "add", "dan", "--update", "--password-stdin",
                   stdin="d\n").returncode == 0  # --update creates a missing user
    srv = ServerProcess(tmp_path / "data", env=FAST_FAILURES)
    try:
        assert can_login(srv.port, "carol", "second")
        assert not can_login(srv.port, "carol", "first")
        assert can_login(srv.port, "dan", "d")
    finally:
        srv.terminate()
