"""Configuration layers: defaults < file < environment < flags."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crispin.server.cli import build_parser, config_from_args
from crispin.server.config import DEFAULTS, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_documented_file_lists_every_default() -> None:
    cfg = load_config(ROOT / "conf" / "crispin.toml", environ={})
    assert cfg.values == DEFAULTS


def test_precedence(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[server]\nport = 2000\ntls_port = 2001\nhost = "::1"\n')
    env = {"CRISPIN_SERVER_TLS_PORT": "3001", "CRISPIN_SERVER_HOST": "127.0.0.2"}
    cfg = load_config(f, environ=env, overrides={"server": {"host": "127.0.0.3"}})
    assert cfg.get("server", "port") == 2000          # file over default
    assert cfg.get("server", "tls_port") == 3001      # environment over file
    assert cfg.get("server", "host") == "127.0.0.3"   # flag over environment


def test_cli_flags_reach_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISPIN_SERVER_PORT", "4000")
    args = build_parser().parse_args(["serve", "--port", "5000", "--data-dir", str(tmp_path)])
    cfg = config_from_args(args)
    assert cfg.get("server", "port") == 5000
    assert cfg.data_dir == tmp_path


def test_errors_are_reported(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[server]\nprot = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key server\.prot"):
        load_config(f, environ={})
    with pytest.raises(ConfigError, match="integer"):
        load_config(None, environ={"CRISPIN_SERVER_PORT": "many"})
    with pytest.raises(ConfigError, match="one of"):
        load_config(None, environ={"CRISPIN_AUTH_PLAINTEXT": "sometimes"})
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    with pytest.raises(ConfigError):
        load_config(bad, environ={})


def test_booleans_from_environment() -> None:
    cfg = load_config(None, environ={"CRISPIN_LOG_TRACE": "yes"})
    assert cfg.get("log", "trace") is True


def test_database_readers_sizes_the_reader_pool(tmp_path: Path) -> None:
    """Issue 10.6: the reader pool is configured (default 4), and must not be empty."""
    from tests.server.harness import ServerThread

    assert load_config(None, environ={}).get("database", "readers") == 4
    env = {"CRISPIN_DATABASE_READERS": "0"}
    with pytest.raises(ConfigError, match=r"database\.readers must be at least 1"):
        load_config(None, environ=env)
    srv = ServerThread(tmp_path, database={"readers": 3})
    try:
        assert srv.running.ctx.store.database.reader_count == 3
    finally:
        srv.stop()


def test_database_synchronous_is_full_unless_set_to_normal(tmp_path: Path) -> None:
    """Issue 12: ``normal`` (SQLite WAL mode: no fsync per commit) for test mail servers;
    nothing else is accepted (``off`` would lose answered mail on a crash)."""
    from tests.server.harness import ServerThread

    assert load_config(None, environ={}).get("database", "synchronous") == "full"
    env = {"CRISPIN_DATABASE_SYNCHRONOUS": "off"}
    with pytest.raises(ConfigError, match=r"database\.synchronous must be one of full, normal"):
        load_config(None, environ=env)
    for value, pragma in (("full", 2), ("normal", 1)):
        srv = ServerThread(tmp_path / value, database={"synchronous": value})
        try:
            db = srv.running.ctx.store.database
            got = srv.call(db.write(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]))
            assert got == pragma
        finally:
            srv.stop()


def test_database_inline_reads_is_on_unless_set_off(tmp_path: Path) -> None:
    """Issue 14: short reads run on the event loop's own connection by default;
    ``inline_reads = false`` sends every read to a reader thread."""
    from tests.server.harness import ServerThread

    assert load_config(None, environ={}).get("database", "inline_reads") is True
    cfg = load_config(None, environ={"CRISPIN_DATABASE_INLINE_READS": "false"})
    assert cfg.get("database", "inline_reads") is False
    for value in (True, False):
        srv = ServerThread(tmp_path / str(value), database={"inline_reads": value})
        try:
            assert (srv.running.ctx.store.database.inline is not None) is value
        finally:
            srv.stop()


def test_unknown_environment_variables_are_ignored_with_a_warning() -> None:
    cfg = load_config(None, environ={"CRISPIN_SERVR_PORT": "1", "CRISPIN_SERVER_PORT": "7",
                                     "CRISPIN_TEST_ARTIFACTS": "/tmp/x"})
    assert cfg.get("server", "port") == 7
    assert sorted(cfg.warnings) == [
        "environment: CRISPIN_SERVR_PORT is no Crispin setting, ignored"
        " (did you mean CRISPIN_SERVER_PORT?)",
        "environment: CRISPIN_TEST_ARTIFACTS is no Crispin setting, ignored",
    ]
    assert load_config(None, environ={"CRISPIN_USERS": "a:b"}).warnings == ()


def test_user_add_with_an_unrelated_crispin_variable_set(tmp_path: Path) -> None:
    """The Thunderbird interop tests set CRISPIN_TEST_ARTIFACTS; ``crispin user add`` run
    with it set failed with "unknown setting".  Now it works and says what it ignored."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISPIN_")}
    env["CRISPIN_TEST_ARTIFACTS"] = str(tmp_path / "artifacts")
    done = subprocess.run(
        [sys.executable, "-m", "crispin", "user", "add", "alice", "--password-stdin",
         "--create", "--data-dir", str(tmp_path / "data")],
        input="pw\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "created user alice\n"
    assert "CRISPIN_TEST_ARTIFACTS is no Crispin setting, ignored" in done.stderr
