"""Listening for SMTP (RFC 5321), submission (RFC 6409) and LMTP (RFC 2033, on a port or a Unix
socket), with the IMAP listener's connection limits."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crispin.server.app import Listener
from crispin.server.context import ServerContext
from crispin.server.delivery import Router
from crispin.server.session import Session
from crispin.server.smtp.session import SmtpSession
from crispin.server.stream import StreamProtocol


@dataclass
class SmtpListener(Listener):
    kind: str = "smtp"
    router: Router | None = None
    socket_path: Path | None = field(default=None)

    # RFC 5321 §3.1: 421 may be the greeting of a server that will not serve.
    refusal = b"421 4.7.0 Too many connections, try again later\r\n"

    def session(self, stream: StreamProtocol, peer: tuple[str, int],
                tls: bool) -> tuple[Coroutine[Any, Any, None], Session | None]:
        assert self.router is not None
        return SmtpSession(self.ctx, self.router, stream, peer, self.kind, tls).run(), None

    async def start_one(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: self._factory(False), host, port,
                                          reuse_address=True)
        self.servers.append(server)
        address: tuple[str, int] = server.sockets[0].getsockname()[:2]
        return address

    async def start_unix(self, path: Path) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(FileNotFoundError):
            if path.is_socket():
                path.unlink()  # left by a server that was killed
        server = await loop.create_unix_server(lambda: self._factory(False), str(path))
        # Another user's MTA (Postfix runs as its own user) must be able to connect.
        os.chmod(path, 0o666)
        self.servers.append(server)
        self.socket_path = path

    async def stop(self) -> None:
        await super().stop()
        if self.socket_path is not None:
            with contextlib.suppress(OSError):
                self.socket_path.unlink()


@dataclass
class MailIn:
    """The SMTP-side listeners of one server, and where they listen."""

    listeners: list[SmtpListener] = field(default_factory=list)
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)
    router: Router | None = None

    async def stop(self) -> None:
        for listener in self.listeners:
            await listener.stop()
        if self.router is not None:
            self.router.close()

    def outgoing(self) -> tuple[int, str] | None:
        """Where a mail client sends from, for autoconfig: submission (RFC 6409 §3.1, AUTH
        after STARTTLS, RFC 3207), else the SMTP port (which offers the same); None when
        neither listens."""
        for kind in ("submission", "smtp"):
            if kind in self.addresses:
                return self.addresses[kind][1], "STARTTLS"
        return None


async def start_mail_in(ctx: ServerContext) -> MailIn:
    config = ctx.config
    router = Router(ctx.store, config, cache=True)
    mail_in = MailIn(router=router)
    try:
        for kind, key in (("smtp", "port"), ("submission", "submission_port"),
                          ("lmtp", "lmtp_port")):
            port = int(config.get("smtp", key))
            if port < 0:
                continue
            listener = SmtpListener(ctx, kind=kind, router=router)
            mail_in.listeners.append(listener)
            mail_in.addresses[kind] = await listener.start_one(config.host, port)
        socket_path = str(config.get("smtp", "lmtp_socket"))
        if socket_path:
            listener = SmtpListener(ctx, kind="lmtp", router=router)
            mail_in.listeners.append(listener)
            await listener.start_unix(Path(socket_path).expanduser())
    except BaseException:
        await mail_in.stop()
        raise
    return mail_in
