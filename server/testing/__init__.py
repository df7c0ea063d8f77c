"""A real Crispin server inside a test process: ``CrispinServer`` and the pytest plugin.

The server runs on its own event loop in a background thread, on free ports, with its data in
a temporary folder; the helpers are the same functions the HTTP API uses (ingest, the
listing, the long-poll wait), called on that loop, so what a test sees through them is what
an IMAP client sees.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

from crispin.server.app import RunningServer, start_server
from crispin.server.config import load_config
from crispin.storage import Filters

T = TypeVar("T")

DEFAULT_PASSWORD = "password"
BASELINE = "crispin-pytest-baseline"


class CrispinServer:
    """Start with :meth:`start`; stop with :meth:`stop`.

    ``imap_url`` (plain, STARTTLS-capable), ``imaps_url`` (implicit TLS), ``http_url`` (the
    API), ``cert_path`` (the generated certificate, for clients to trust).
    """

    def __init__(self, data_dir: Path, **config: dict[str, Any]) -> None:
        layers: dict[str, dict[str, Any]] = {
            "server": {"host": "127.0.0.1", "port": 0, "tls_port": 0,
                       "data_dir": str(data_dir)},
            "auth": {"failure_delay": 0.0, "create_starter_account": False},
            "http": {"enabled": True, "host": "127.0.0.1", "port": 0},
            # Mail in on free ports too: several sessions (xdist workers) run at once.
            "smtp": {"port": 0, "submission_port": 0},
        }
        for section, values in config.items():
            layers.setdefault(section, {}).update(values)
        self.config = load_config(None, environ={}, overrides=layers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._running: RunningServer | None = None

    # -- life -----------------------------------------------------------------------------
    def start(self) -> CrispinServer:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="crispin",
                                        daemon=True)
        self._thread.start()
        try:
            self._running = self.call(start_server(self.config), timeout=60)
        except BaseException:
            self._halt_loop()
            raise
        return self

    def stop(self) -> None:
        if self._running is not None:
            try:
                self.call(self._running.stop())
            finally:
                self._running = None
        self._halt_loop()

    def _halt_loop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            self._loop.close()
            self._loop = None

    def __enter__(self) -> CrispinServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 60) -> T:
        """Run ``coro`` on the server's loop and wait for its result."""
        assert self._loop is not None, "the server is not running"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def running(self) -> RunningServer:
        assert self._running is not None, "the server is not running"
        return self._running

    # -- where it is ----------------------------------------------------------------------
    host = "127.0.0.1"

    @property
    def imap_port(self) -> int:
        return self.running.port

    @property
    def imaps_port(self) -> int:
        return self.running.tls_port

    @property
    def imap_url(self) -> str:
        return f"imap://{self.host}:{self.imap_port}"

    @property
    def imaps_url(self) -> str:
        return f"imaps://{self.host}:{self.imaps_port}"

    @property
    def http_url(self) -> str:
        address = self.running.http_address
        assert address is not None
        return f"http://{address[0]}:{address[1]}"

    @property
    def smtp_port(self) -> int | None:
        """The SMTP port once Crispin speaks SMTP; None until then."""
        port = getattr(self.running, "smtp_port", None)
        return port if isinstance(port, int) else None

    @property
    def cert_path(self) -> Path:
        tls = str(self.config.get("tls", "cert"))
        return Path(tls) if tls else self.config.data_dir / "tls" / "cert.pem"

    # -- helpers --------------------------------------------------------------------------
    def add_user(self, name: str, password: str = DEFAULT_PASSWORD) -> None:
        """An account as ``crispin user add`` makes it: INBOX and special-use mailboxes."""
        from crispin.server.accounts import create_account

        ctx = self.running.ctx
        self.call(create_account(ctx.store, ctx.config, name, password))

    def deliver(self, user: str, message: bytes | str | Message, mailbox: str = "INBOX",
                flags: Iterable[str] = ()) -> int:
        """Store a message as SMTP delivery would; returns its UID."""
        from crispin.server.http.lookup import mailbox_or_404, user_or_404
        from crispin.server.http.messages import deliver

        if isinstance(message, Message):
            raw = message.as_bytes()
        elif isinstance(message, str):
            raw = message.encode()
        else:
            raw = message
        if b"\r\n" not in raw:
            raw = raw.replace(b"\n", b"\r\n")  # RFC 5322 §2.1: lines end with CRLF
        store = self.running.ctx.store

        async def go() -> int:
            owner = await user_or_404(store, user)
            box = await mailbox_or_404(store, owner, mailbox)
            return await deliver(store, owner, box, raw, list(flags))

        return self.call(go())

    def messages(self, user: str, mailbox: str | None = "INBOX") -> list[dict[str, Any]]:
        """The mailbox's messages (every mailbox's with None), newest first, as the API lists
        them: uid, flags, subject, from, to, cc, dates, size."""
        from crispin.server.http.lookup import mailbox_or_404, user_or_404
        from crispin.server.http.messages import found_json

        store = self.running.ctx.store

        async def go() -> list[dict[str, Any]]:
            owner = await user_or_404(store, user)
            box = None if mailbox is None else (await mailbox_or_404(store, owner, mailbox)).id
            _, found = await store.find_messages(Filters(owner_id=owner.id, mailbox_id=box),
                                                 limit=1_000_000)
            return [found_json(f) for f in found]

        return self.call(go())

    def wait_for(self, *, to: str | None = None, subject: str | None = None,
                 sender: str | None = None, user: str | None = None, count: int = 1,
                 timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until ``count`` messages match (woken like IDLE, no polling); the newest
        first. ``TimeoutError`` if they do not arrive within ``timeout`` seconds."""
        from crispin.server.http.lookup import user_or_404
        from crispin.server.http.messages import found_json, wait_for

        api = self.running.http_api
        assert api is not None
        store = self.running.ctx.store

        async def go() -> list[dict[str, Any]] | None:
            owner = None if user is None else (await user_or_404(store, user)).id
            filters = Filters(owner_id=owner, from_=sender, to=to, subject=subject)
            found = await wait_for(api, filters, count, timeout)
            return None if found is None else [found_json(f) for f in found]

        result = self.call(go(), timeout=timeout + 60)
        if result is None:
            raise TimeoutError(f"no {count} message(s) to={to!r} subject={subject!r} "
                               f"within {timeout} s")
        return result

    # -- faults (server/faults.py) --------------------------------------------------------
    def fault(self, action: str, commands: Iterable[str] = (), *, user: str | None = None,
              connection: str | None = None, count: int | None = 1,
              seconds: float | None = None, code: str | int | None = None, text: str = "",
              delay: float = 0.0, uids: Iterable[int] = (), protocol: str = "imap") -> int:
        """Make IMAP fail on purpose (see ``server/faults.py`` for the actions): e.g.
        ``fault("no", ["SELECT"], code="UNAVAILABLE")``. Returns the fault's id.
        :meth:`smtp_fault` does the same for SMTP."""
        from crispin.server.faults import make_fault

        fault = make_fault({"action": action, "commands": list(commands), "user": user,
                            "connection": connection, "count": count, "seconds": seconds,
                            "code": code, "text": text, "delay": delay, "uids": list(uids),
                            "protocol": protocol})
        board = self.running.ctx.faults

        async def arm() -> int:
            return board.add(fault).id

        return self.call(arm())

    def smtp_fault(self, action: str, commands: Iterable[str] = (), *,
                   user: str | None = None, connection: str | None = None,
                   count: int | None = 1, seconds: float | None = None,
                   code: int | None = None, text: str = "") -> int:
        """Make SMTP fail on purpose: ``tempfail`` (4xx), ``reject`` (5xx) or ``disconnect``,
        on SMTP verbs (on ``DATA``: at the end of the message); e.g.
        ``smtp_fault("tempfail", ["MAIL"], code=451)``. Returns the fault's id."""
        return self.fault(action, commands, user=user, connection=connection, count=count,
                          seconds=seconds, code=code, text=text, protocol="smtp")

    def clear_faults(self) -> None:
        board = self.running.ctx.faults

        async def clear() -> None:
            board.clear()

        self.call(clear())

    # -- state ----------------------------------------------------------------------------
    def snapshot(self, name: str = BASELINE) -> None:
        from crispin.server.http.admin import snapshot_as

        api = self.running.http_api
        assert api is not None
        self.call(snapshot_as(api, name))

    def restore(self, name: str = BASELINE) -> None:
        """Back to the snapshot; IMAP connections still open are closed."""
        from crispin.server.http.admin import restore_to

        api = self.running.http_api
        assert api is not None
        self.call(restore_to(api, name))


__all__ = ["DEFAULT_PASSWORD", "CrispinServer"]
