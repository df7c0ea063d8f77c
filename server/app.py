"""``crispin serve``: open storage, set up TLS, listen, and shut down cleanly on a signal."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import secrets
import signal
import stat
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crispin.server import backfill, rederive
from crispin.server.accounts import create_account
from crispin.server.commands import COMMANDS
from crispin.server.config import Config
from crispin.server.connection import Connection
from crispin.server.context import ServerContext
from crispin.server.header_backfill import HeaderBlockJob
from crispin.server.hub import Hub
from crispin.server.ingest import stop_parse_processes
from crispin.server.provision import preload, provision_users
from crispin.server.reclaimer import Reclaimer
from crispin.server.session import Session
from crispin.server.sorting import SortKeyJob
from crispin.server.stream import StreamProtocol
from crispin.server.text_index import TextIndexer, TextIndexJob
from crispin.server.tls import ensure_certificate, server_context
from crispin.storage import Store

if TYPE_CHECKING:
    from crispin.server.http.api import HttpApi
    from crispin.server.http.wire import HttpServer
    from crispin.server.smtp.listener import MailIn

log = logging.getLogger("crispin")

STARTER_USER = "crispin"
BYE_LIMIT = b"* BYE Too many connections, try again later\r\n"


@dataclass
class Listener:
    """Accepts connections on the plain and the implicit-TLS port, enforcing the connection
    limits (in total and per client address) before a session exists."""

    ctx: ServerContext
    servers: list[asyncio.base_events.Server] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    per_ip: collections.Counter[str] = field(default_factory=collections.Counter)
    sessions: dict[asyncio.Task[None], Session] = field(default_factory=dict)
    refusing: set[asyncio.Task[None]] = field(default_factory=set)

    def _accept(self, stream: StreamProtocol, tls: bool) -> None:
        assert stream.transport is not None
        peer = stream.transport.get_extra_info("peername")
        if not isinstance(peer, tuple):  # a Unix socket (LMTP)
            peer = ("unix", 0)
        host = peer[0]
        limits = self.ctx.config.values["limits"]
        if len(self.tasks) >= limits["max_connections"] or \
                self.per_ip[host] >= limits["max_connections_per_ip"]:
            # RFC 3501 §7.1.5: BYE may be the greeting when the server will not serve.
            log.warning("refused connection from %s: connection limit", host)
            if tls:
                # On the TLS port the BYE goes through TLS, after the handshake.
                refusal = asyncio.get_running_loop().create_task(self._refuse_tls(stream))
                self.refusing.add(refusal)
                refusal.add_done_callback(self.refusing.discard)
                return
            stream.write(self.refusal)
            stream.close()
            return
        self.per_ip[host] += 1
        run, imap_session = self.session(stream, (host, peer[1]), tls)
        task = asyncio.get_running_loop().create_task(run)
        self.tasks.add(task)
        if imap_session is not None:
            self.sessions[task] = imap_session

        def done(t: asyncio.Task[None]) -> None:
            self.tasks.discard(t)
            self.sessions.pop(t, None)
            self.per_ip[host] -= 1
            if self.per_ip[host] <= 0:
                del self.per_ip[host]

        task.add_done_callback(done)

    async def _refuse_tls(self, stream: StreamProtocol) -> None:
        try:
            await stream.handshake(float(self.ctx.config.get("limits", "tls_handshake_timeout")))
            stream.write(self.refusal)
        except (TimeoutError, ConnectionError):
            pass
        stream.close()

    # RFC 3501 §7.1.5: BYE may be the greeting when the server will not serve.
    refusal = BYE_LIMIT

    def session(self, stream: StreamProtocol, peer: tuple[str, int],
                tls: bool) -> tuple[Coroutine[Any, Any, None], Session | None]:
        """The coroutine serving one accepted connection, and its IMAP session (None for
        other protocols: :meth:`disconnect` is about IMAP sessions)."""
        conn = Connection(self.ctx, stream, peer, tls)
        self.ctx.session_opened(conn.session)
        return conn.run(), conn.session

    def _factory(self, tls: bool) -> StreamProtocol:
        stream = StreamProtocol()
        if tls:
            stream.tls_context = self.ctx.ssl_context
        stream.on_connect = lambda s: self._accept(s, tls)
        return stream

    async def start(self, host: str, port: int, tls_port: int) -> list[tuple[str, int]]:
        loop = asyncio.get_running_loop()
        plain = await loop.create_server(lambda: self._factory(False), host, port,
                                         reuse_address=True)
        # TLS is done by the session's stream itself (server/tls_layer.py), so the
        # handshake counts against the connection limits and has the connection's timeout.
        implicit = await loop.create_server(lambda: self._factory(True), host, tls_port,
                                            reuse_address=True)
        self.servers = [plain, implicit]
        return [plain.sockets[0].getsockname()[:2], implicit.sockets[0].getsockname()[:2]]

    async def disconnect(self, where: Callable[[Session], bool] | None = None,
                         reason: str = "Server state reset") -> None:
        """Close the IMAP connections whose session ``where`` picks (all: None); each says
        ``* BYE reason``. The listener keeps listening."""
        doomed = [t for t, s in self.sessions.items() if where is None or where(s)]
        for task in doomed:
            task.cancel(reason)
        if doomed:
            await asyncio.wait(doomed, timeout=5)

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)
        for server in self.servers:
            await server.wait_closed()


class DataDirError(PermissionError):
    """The data folder belongs to someone this process cannot write as."""


def check_data_dir(data_dir: Path) -> None:
    """Fail early, saying exactly what ownership is needed, when the data folder (a volume
    or a bind-mounted host folder, in a container often owned by another uid) is not ours
    to write."""
    for path in (data_dir, data_dir / "crispin.db"):
        if not path.exists():
            continue
        wanted = os.W_OK | (os.X_OK if path.is_dir() else 0)
        if os.access(path, wanted):
            continue
        st = path.stat()
        uid, gid = os.getuid(), os.getgid()
        raise DataDirError(
            f"the data folder is not writable: {path} is owned by uid {st.st_uid} gid "
            f"{st.st_gid} with mode {stat.S_IMODE(st.st_mode):o}, and Crispin runs as uid "
            f"{uid} gid {gid}. Give it to this user (`chown -R {uid}:{gid}` on the host "
            f"folder) or run as its owner (`--user {st.st_uid}:{st.st_gid}`).")


async def ensure_starter_account(config: Config, store: Store) -> tuple[str, str] | None:
    """A first login for a person trying Crispin on their own machine: only when there are no
    users at all and the server is reachable from this machine alone."""
    if not config.get("auth", "create_starter_account") or not config.on_loopback_only():
        return None
    if await store.user_count() > 0:
        return None
    password = secrets.token_urlsafe(12)
    await create_account(store, config, STARTER_USER, password)
    return STARTER_USER, password


@dataclass
class RunningServer:
    ctx: ServerContext
    listener: Listener
    addresses: list[tuple[str, int]]
    fingerprint: str
    starter: tuple[str, str] | None
    reclaimer: Reclaimer
    http: HttpServer | None = None
    http_api: HttpApi | None = None
    http_address: tuple[str, int] | None = None
    rederive: asyncio.Task[int] | None = None
    # Fills SORT/THREAD keys of messages stored before they existed (migration 8) in the
    # background, so the first SORT after an upgrade does not wait for all of them.
    backfill: asyncio.Task[int] | None = None
    # Indexes the text of mail stored before the full-text index existed (migration 14),
    # and what new mail waits at start (migration 15).
    text_index: asyncio.Task[int] | None = None
    # Indexes new mail after the commits that brought it (off the delivery's transaction).
    text_indexer: TextIndexer | None = None
    mail_in: MailIn | None = None

    @property
    def port(self) -> int:
        return self.addresses[0][1]

    @property
    def smtp_port(self) -> int | None:
        """The SMTP port, None when SMTP is off."""
        if self.mail_in is None or "smtp" not in self.mail_in.addresses:
            return None
        return self.mail_in.addresses["smtp"][1]

    def mail_port(self, kind: str) -> int:
        """Where ``smtp``, ``submission`` or ``lmtp`` listens (KeyError when off)."""
        assert self.mail_in is not None
        return self.mail_in.addresses[kind][1]

    @property
    def tls_port(self) -> int:
        return self.addresses[1][1]

    async def stop(self) -> None:
        if self.mail_in is not None:
            await self.mail_in.stop()
        if self.rederive is not None:
            self.rederive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.rederive
        for task in (self.backfill, self.text_index):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.text_indexer is not None:
            await self.text_indexer.stop()
        if self.http is not None:
            await self.http.stop()
        await self.listener.stop()
        await self.ctx.hub.stop()
        await self.reclaimer.stop()
        await self.ctx.store.close()
        await stop_parse_processes()


async def start_server(config: Config, *, scrypt_n: int | None = None) -> RunningServer:
    """Everything ``crispin serve`` does before it waits; tests call it directly.

    ``scrypt_n`` lowers the password hashing cost, for test suites only (each hash then
    costs microseconds instead of ~100 ms); ``crispin serve`` never passes it."""
    data_dir = config.data_dir
    check_data_dir(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert = ensure_certificate(data_dir, config.get("tls", "cert"), config.get("tls", "key"),
                              config.get("server", "hostname"))
    hub = Hub()
    busy_timeout = float(config.get("limits", "storage_busy_timeout"))
    readers = int(config.get("database", "readers"))
    synchronous = str(config.get("database", "synchronous"))
    if synchronous != "full":
        log.warning("database.synchronous = %s: a commit survives the process being "
                    "killed, but not the machine losing power (for test mail servers)",
                    synchronous)
    inline = bool(config.get("database", "inline_reads"))
    store = await (Store.open(data_dir, busy_timeout=busy_timeout, readers=readers,
                              synchronous=synchronous, inline=inline)
                   if scrypt_n is None else
                   Store.open(data_dir, busy_timeout=busy_timeout, readers=readers,
                              synchronous=synchronous, inline=inline, scrypt_n=scrypt_n))
    listener: Listener | None = None
    reclaimer: Reclaimer | None = None
    mail_in: MailIn | None = None
    try:
        await _start_checks(store)
        ctx = ServerContext(config, store, server_context(cert), hub, COMMANDS,
                            tls_server_end_point=cert.end_point_binding())
        await provision_users(store, config)
        await preload(store, config)
        if config.get("test", "auth") == "any":
            log.warning("TEST MODE (test.auth = any): any user name with any non-empty "
                        "password logs in, and unknown names become accounts. Never use "
                        "this on a real server.")
        starter = await ensure_starter_account(config, store)
        hub.start(store)
        reclaimer = Reclaimer(store)
        reclaimer.start()
        listener = Listener(ctx)
        addresses = await listener.start(config.host, int(config.get("server", "port")),
                                         int(config.get("server", "tls_port")))
        running = RunningServer(ctx, listener, addresses, cert.fingerprint_sha256(), starter,
                                reclaimer)
        from crispin.server.smtp.listener import start_mail_in  # it builds on Listener

        mail_in = running.mail_in = await start_mail_in(ctx)
        running.rederive = rederive.start(store)
        if config.get("http", "enabled"):
            # Imported only when enabled: start-up time (issue 12, container healthy in 5 s).
            from crispin.server.http import start_http

            running.http, running.http_api, running.http_address = await start_http(
                ctx, listener.disconnect,
                (config.host, running.port, running.tls_port), mail_in.outgoing())
    except BaseException:
        if mail_in is not None:
            await mail_in.stop()
        if listener is not None:
            await listener.stop()
        await hub.stop()
        if reclaimer is not None:
            await reclaimer.stop()
        await store.close()
        raise
    running.backfill = backfill.start(store, SortKeyJob(), HeaderBlockJob())
    running.text_index = backfill.start(store, TextIndexJob())
    running.text_indexer = TextIndexer(store)
    running.text_indexer.start()
    await store.warmed()
    return running


async def _start_checks(store: Store) -> None:
    """The cheap part of ``crispin check``, before accepting anyone: leftovers of APPENDs a
    crash cut off go, counters that fell behind are repaired (storage/check.py)."""
    removed, repaired = await store.start_checks()
    if removed:
        log.warning("removed %d temporary file(s) of operations cut off by a crash", removed)
    for problem in repaired:
        log.warning("repaired at start: %s: %s", problem.kind, problem.detail)


async def serve(config: Config) -> int:
    running = await start_server(config)
    out = sys.stderr
    print(f"Crispin listening on {config.host} port {running.port} (plain, STARTTLS) and "
          f"{running.tls_port} (TLS)", file=out)
    if running.http_address is not None:
        host, port = running.http_address
        print(f"HTTP API on http://{host}:{port}/", file=out)
    assert running.mail_in is not None
    for kind, (_, port) in running.mail_in.addresses.items():
        print(f"Crispin {kind.upper()} listening on {config.host} port {port}", file=out)
    if config.get("smtp", "lmtp_socket"):
        print(f"Crispin LMTP listening on socket {config.get('smtp', 'lmtp_socket')}",
              file=out)
    ephemeral = config.data_dir.name.startswith("crispin-ephemeral-")
    print(f"Data folder: {config.data_dir.resolve()}"
          f"{' (ephemeral: removed at exit)' if ephemeral else ''}", file=out)
    print(f"TLS certificate SHA-256 fingerprint: {running.fingerprint}", file=out)
    if running.starter is not None:
        user, password = running.starter
        print(f"Created a starter account: user {user!r}, password {password!r} "
              f"(change it with `crispin user passwd {user}`)", file=out)
    elif await running.ctx.store.user_count() == 0:
        print("No users yet: add one with `crispin user add NAME`", file=out)
    if config.get("test", "auth") == "any":
        print("WARNING: TEST MODE: any user name with any non-empty password logs in "
              "(test.auth = any / CRISPIN_TEST_AUTH=any)", file=out)
    print("Crispin is ready.", file=out)
    out.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await running.stop()
    return 0
