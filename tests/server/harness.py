"""A Crispin server running in a background thread, for tests that use blocking clients
(imaplib, imapclient, curl) against real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import imaplib
import socket
import ssl
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from crispin.server.app import RunningServer, start_server
from crispin.server.config import load_config
from crispin.storage.db import Database

T = TypeVar("T")

FAST_N = 2**4
"""Test-only scrypt cost (tests/storage/helpers.py uses the same)."""

PASSWORD = "correct horse battery staple"


class ServerThread:
    def __init__(self, data_dir: Path, **overrides: dict[str, Any]) -> None:
        layers: dict[str, dict[str, Any]] = {
            "server": {"host": "127.0.0.1", "port": 0, "tls_port": 0,
                       "data_dir": str(data_dir)},
            "auth": {"failure_delay": 0.2, "create_starter_account": False},
            "smtp": {"port": 0, "submission_port": 0},
        }
        for section, values in overrides.items():
            layers.setdefault(section, {}).update(values)
        self.config = load_config(None, environ={}, overrides=layers)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        # Cheap password hashing: the tests are not about scrypt's cost (production keeps
        # crispin.storage.passwords.SCRYPT_N).
        self.running: RunningServer = self.call(start_server(self.config, scrypt_n=FAST_N))

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def port(self) -> int:
        return self.running.port

    @property
    def tls_port(self) -> int:
        return self.running.tls_port

    @property
    def cert_path(self) -> Path:
        return self.config.data_dir / "tls" / "cert.pem"

    def add_user(self, name: str, password: str = PASSWORD) -> None:
        """A bare account: INBOX only (tests of special-use mailboxes use add_account)."""
        self.call(self.running.ctx.store.create_user(name, password))

    def add_account(self, name: str, password: str = PASSWORD) -> None:
        """An account as `crispin user add` makes it, with its special-use mailboxes."""
        from crispin.server.accounts import create_account

        self.call(create_account(self.running.ctx.store, self.config, name, password))

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert_path))

    def imap(self) -> imaplib.IMAP4:
        return imaplib.IMAP4("127.0.0.1", self.port, timeout=10)

    def imaps(self) -> imaplib.IMAP4_SSL:
        return imaplib.IMAP4_SSL("127.0.0.1", self.tls_port, ssl_context=self.client_context(),
                                 timeout=10)

    def login(self, name: str = "alice", password: str = PASSWORD) -> imaplib.IMAP4:
        client = self.imap()
        client.login(name, password)
        return client

    def wait_connections_closed(self, first: bool = False, timeout: float = 30) -> None:
        """Until every connection open now has ended on the server's side (``first``: any
        one of them): the event itself, not a guess at how long it takes."""

        async def wait() -> None:
            tasks = set(self.running.listener.tasks)
            if tasks:
                await asyncio.wait(tasks, timeout=timeout, return_when=(
                    asyncio.FIRST_COMPLETED if first else asyncio.ALL_COMPLETED))

        self.call(wait(), timeout + 5)

    def raw(self) -> RawClient:
        return RawClient("127.0.0.1", self.port)

    def stop(self) -> None:
        try:
            self.call(self.running.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


class RawClient:
    """A line-level client for transcript tests: exact bytes in, exact lines out."""

    def __init__(self, host: str, port: int, sock: socket.socket | None = None) -> None:
        self.sock = sock or socket.create_connection((host, port), timeout=10)
        self.buf = b""
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; pending {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes (a literal's payload)."""
        while len(self.buf) < size:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; pending {self.buf!r}")
            self.buf += chunk
        data, self.buf = self.buf[:size], self.buf[size:]
        return data

    def until_tagged(self, tag: bytes) -> list[bytes]:
        """All lines up to and including the tagged response for ``tag``."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def command(self, tag: bytes, text: bytes) -> list[bytes]:
        self.send(tag + b" " + text + b"\r\n")
        return self.until_tagged(tag)

    def closed(self) -> bool:
        """True when the server has closed the connection (reads EOF)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


def count_reads(monkeypatch: Any) -> list[int]:
    """Patch ``Database.read`` so that each database trip for a read appends to the list
    returned (the tests of how many trips a command makes)."""
    reads: list[int] = []
    original = Database.read

    async def counted(self: Database, fn: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return await original(self, fn, **kwargs)

    monkeypatch.setattr(Database, "read", counted)
    return reads


def _storage_name(fn: Any) -> str:
    """The name of the storage function a database trip runs (``partial`` unwrapped)."""
    while hasattr(fn, "func"):
        fn = fn.func
    return str(getattr(fn, "__name__", repr(fn)))


def count_writes(monkeypatch: Any) -> list[str]:
    """Patch ``Database.write`` so that each write appends its storage function's name to
    the list returned (``partial`` unwrapped): which writes a command queued on the one
    writer, told apart from background ones (text indexing, reclaiming)."""
    writes: list[str] = []
    original = Database.write

    async def counted(self: Database, fn: Any) -> Any:
        writes.append(_storage_name(fn))
        return await original(self, fn)

    monkeypatch.setattr(Database, "write", counted)
    return writes


def count_read_names(monkeypatch: Any) -> list[str]:
    """:func:`count_reads` with each read's storage function name, so that a test can
    leave out the background work's (:func:`of_commands`)."""
    reads: list[str] = []
    original = Database.read

    async def counted(self: Database, fn: Any, **kwargs: Any) -> Any:
        reads.append(_storage_name(fn))
        return await original(self, fn, **kwargs)

    monkeypatch.setattr(Database, "read", counted)
    return reads


# Database trips of the server's own work after commits, not of any command: the text
# indexer's and the reclaimer's (``server/commit_worker.py``).
BACKGROUND_TRIPS = frozenset({"index_batch", "reclaim_step", "unlink_orphans", "backlog",
                              "page_counts"})


def of_commands(trips: list[str]) -> list[str]:
    """The trips in ``trips`` but the background work's."""
    return [t for t in trips if t not in BACKGROUND_TRIPS]


def raw_login(server: ServerThread, user: str = "alice") -> RawClient:
    """A raw connection to ``server`` logged in as ``user`` (password ``PASSWORD``)."""
    raw = server.raw()
    assert raw.command(b"l", b'LOGIN %s "%s"' % (user.encode(), PASSWORD.encode()))[-1] \
        .startswith(b"l OK")
    return raw


def expect_ok(raw: RawClient, tag: bytes, text: bytes) -> list[bytes]:
    """Send a command, assert its tagged OK, return the untagged lines before it."""
    lines = raw.command(tag, text)
    assert lines[-1].startswith(tag + b" OK"), lines
    return lines[:-1]


def hold_writer(server: ServerThread) -> tuple[threading.Event, Any]:
    """A write that holds the database writer until the event is set: the writes queued
    meanwhile commit together, in one group-commit batch, after it."""
    release = threading.Event()

    def hold(conn: Any) -> None:
        assert release.wait(30)

    db = server.running.ctx.store.database
    held = asyncio.run_coroutine_threadsafe(db.write(hold), server.loop)
    return release, held


def in_one_batch(server: ServerThread, *sent: tuple[RawClient, bytes, bytes]
                 ) -> list[bytes]:
    """Each (client, tag, command) sent in turn while the writer is held, once the one
    before has queued its write: all commit in one group-commit batch. Every answer must
    be OK; returns what the first client got with its answer, the tagged line left out."""
    release, held = hold_writer(server)
    db = server.running.ctx.store.database
    for n, (raw, tag, command) in enumerate(sent, 1):
        raw.send(tag + b" " + command + b"\r\n")
        for _ in range(3000):
            if db.queued_writes >= n:
                break
            time.sleep(0.01)
        assert db.queued_writes >= n, f"{db.queued_writes} writes queued, not {n}"
    release.set()
    held.result(30)
    answers = [raw.until_tagged(tag) for raw, tag, _ in sent]
    for (_, tag, _), lines in zip(sent, answers, strict=True):
        assert lines[-1].startswith(tag + b" OK"), lines
    return answers[0][:-1]
