"""One client connection: bytes in, events out, responses back (DESIGN.md "How a command flows").

Reads feed the sans-I/O ``protocol.ServerConnection``; each event goes to the session. Commands
of one connection run one after another; pipelined input waits in the parser's buffer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import logging
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from crispin.protocol import (
    AppendBegin,
    AppendData,
    AppendEnd,
    CatenateBegin,
    CatenateEnd,
    CatenateText,
    CatenateUrl,
    CommandError,
    CommandReceived,
    ConnectionClosed,
    ContinuationLine,
    Event,
    LiteralAnnounced,
    Response,
    ServerConnection,
    StatusResponse,
)
from crispin.server.outcome import Disconnect, State
from crispin.server.session import Session
from crispin.server.stream import StreamProtocol
from crispin.server.trace import Tracer
from crispin.storage import ORIGIN

if TYPE_CHECKING:
    from crispin.server.context import ServerContext

log = logging.getLogger("crispin.connection")

# Responses are handed to the transport once this much is waiting (a FETCH literal chunk, a
# run of STORE or EXPUNGE lines), and the transport's flow control then holds the command
# until the client reads: a client that does not read costs about this plus the
# transport's high-water mark, not the size of its answers (issue 10.5, 11.4).
PACE_BYTES = 256 * 1024
# Under COMPRESS=DEFLATE, output at least this large is compressed in a worker thread
# (about a millisecond per 64 KiB on this kind of machine): issue 10.7.
COMPRESS_OFF_LOOP = 64 * 1024
# Issue 14: a command that answers many messages (a FETCH of 100,000) lets the other
# sessions' commands in once it has held the event loop this long since it last did (or
# since it started): slices bounded by time, not by a count of messages, since a header
# line and a body differ a hundredfold in cost (bench/README.md "Opening a big folder").
SLICE = 0.005


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


class Connection:
    """Implements ``crispin.server.session.Channel`` over a :class:`StreamProtocol`."""

    def __init__(self, ctx: ServerContext, stream: StreamProtocol, peer: tuple[str, int],
                 tls: bool) -> None:
        self.ctx = ctx
        self.stream = stream
        self.peer_host = peer[0]
        self._tls = tls
        self._loopback = is_loopback(peer[0])
        self.proto = ServerConnection(ctx.prelogin_limits)  # ctx.limits once logged in
        sockname = stream.transport.get_extra_info("sockname") if stream.transport else None
        self.session = Session(ctx, self, f"{peer[0]}:{peer[1]}", local=(
            (str(sockname[0]), int(sockname[1])) if isinstance(sockname, tuple) else None))
        self._out: list[bytes] = []
        # Events taken from the parser ahead of their turn (``look_ahead``), handed out
        # first by ``next_event``.
        self._ahead: collections.deque[Event] = collections.deque()
        self._out_size = 0
        self._slice_end = 0.0  # perf_counter() by which the running command gives way
        # Injected faults (server/faults.py) reshape what a command sends.
        self._filter: Callable[[bytes], bytes] | None = None
        self._trickle = 0.0
        # Writes in order when one is compressed in a thread while another task (IDLE's
        # reader, the session) flushes.
        self._write_lock = asyncio.Lock()
        self.tracer = Tracer(log, self.session.peer) if ctx.trace else None
        self._login_deadline = asyncio.get_running_loop().time() + float(
            ctx.config.get("limits", "login_timeout"))
        # Issue 10 point 14: commands a stranger may send before logging in.
        self._prelogin_commands = int(ctx.config.get("limits", "prelogin_max_commands"))

    # -- Channel ------------------------------------------------------------------------------
    @property
    def tls_active(self) -> bool:
        return self._tls

    @property
    def peer_is_loopback(self) -> bool:
        return self._loopback

    def channel_bindings(self) -> dict[str, bytes]:
        """The channel binding types (RFC 5056, RFC 5929) of this connection and their data,
        for SCRAM-SHA-256-PLUS; empty without TLS."""
        if not self._tls:
            return {}
        found = {"tls-server-end-point": self.ctx.tls_server_end_point,
                 "tls-unique": self.stream.tls_unique()}
        return {name: data for name, data in found.items() if data}

    def send(self, response: Response) -> None:
        self.write(self.proto.send(response))

    def shape_output(self, output_filter: Callable[[bytes], bytes] | None,
                     trickle: float = 0.0) -> None:
        self._filter = output_filter
        self._trickle = trickle

    def write(self, data: bytes) -> None:
        if data and self._filter is not None:
            data = self._filter(data)
        if data:
            if self.tracer is not None:
                self.tracer.outgoing(data)
            self._out.append(data)
            self._out_size += len(data)

    async def flush(self) -> None:
        """Hand what is waiting to the transport, then wait while the client is not
        reading (the transport's write buffer is above its high-water mark)."""
        if self._out:
            data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
            self._out.clear()
            self._out_size = 0
            if self._trickle:
                for i in range(len(data)):
                    self.stream.write(data[i:i + 1])
                    await self.stream.drain()
                    await asyncio.sleep(self._trickle)
            elif self.stream.compressing and len(data) >= COMPRESS_OFF_LOOP:
                async with self._write_lock:
                    await self.stream.write_off_loop(data)
            elif self._write_lock.locked():
                async with self._write_lock:
                    self.stream.write(data)
            else:
                self.stream.write(data)
        await self.stream.drain()

    async def pace(self) -> None:
        """Flush if enough is waiting: handlers that produce many responses call this
        between them, so their output is bounded by back-pressure, not by their size; and
        give way to other sessions when this command's slice is over."""
        if self._out_size >= PACE_BYTES or self.stream.write_paused:
            await self.flush()
        if time.perf_counter() >= self._slice_end:
            await self.give_way()

    def slice_over(self) -> bool:
        """Whether the running command has held the event loop for ``SLICE`` since it last
        gave way: a loop formatting many messages asks this (cheaply) between them."""
        return time.perf_counter() >= self._slice_end

    def look_ahead(self, wanted: Callable[[object], bool], limit: int) -> list[object]:
        """The commands already received behind the running one, up to ``limit``, as long
        as each is ``wanted`` (issue 14: pipelined one-message FETCHes read in one trip).
        They are parsed now and still run later, in order (``next_event`` hands them
        out first). Parsing stops at the first event that is not a wanted command: a
        command that changes how the next one is read (ENABLE UTF8=ACCEPT, STARTTLS,
        IDLE's DONE) is never followed by anything parsed early, and the wanted ones
        change nothing of it. Nothing is taken while earlier ones wait their turn."""
        if self._ahead:
            return []
        found: list[object] = []
        while len(found) < limit:
            event = self.proto.next_event()
            if event is None:
                break
            self._ahead.append(event)
            if not isinstance(event, CommandReceived) or not wanted(event.command):
                break
            found.append(event.command)
        return found

    async def give_way(self) -> None:
        """Let every other ready task run once (another session's NOOP, a database
        reply), then start a new slice (issue 14: no command holds the loop > 50 ms)."""
        await asyncio.sleep(0)
        self._slice_end = time.perf_counter() + SLICE

    async def read_line(self, secret: bool = False) -> bytes | None:
        """A raw client line (SASL response, IDLE's DONE); None if the client went away.
        A ``secret`` line (SASL) is masked in the protocol trace."""
        if secret and self.tracer is not None:
            self.tracer.mask_next_lines += 1
        self.proto.expect_line()
        await self.flush()
        event = await self.next_event()
        if isinstance(event, ContinuationLine):
            return event.data
        if isinstance(event, CommandError):
            self.send(StatusResponse(event.tag, event.status, event.text, event.code))
            return None
        return None

    def accept_literal(self) -> None:
        """Let the announced literal come (``+`` for a synchronising one, RFC 3501 §7.5)."""
        self.write(self.proto.accept_literal())

    def reject_literal(self, status: str, code: str | None, text: str) -> None:
        """Refuse the announced literal before its bytes are sent; the command is over."""
        self.write(self.proto.reject_literal(status, code, text))

    @property
    def compression_active(self) -> bool:
        return self.stream.compressing

    async def start_compression(self) -> None:
        await self.flush()
        self.stream.start_compression(self.proto.discard_buffered())

    def use_utf8(self) -> None:
        """ENABLE UTF8=ACCEPT (RFC 6855 §3) or IMAP4rev2 (RFC 9051 §6.3.1): from the next
        command on, mailbox names are read and written in UTF-8."""
        self.proto.utf8 = True

    def restart_login(self) -> None:
        """After UNAUTHENTICATE (RFC 8437 §3) the connection is a stranger's again: the
        pre-login limits (issue 11 point 5), a fresh login deadline and command budget
        (issue 10 point 14) apply as they did after the greeting; what ENABLE turned on
        (UTF-8 names) ceases."""
        self.proto.utf8 = False
        self.proto.limits = self.ctx.prelogin_limits
        self._login_deadline = asyncio.get_running_loop().time() + float(
            self.ctx.config.get("limits", "login_timeout"))
        self._prelogin_commands = int(self.ctx.config.get("limits", "prelogin_max_commands"))

    async def start_tls(self) -> None:
        await self.flush()
        self.proto.discard_buffered()
        await self.stream.start_tls(self.ctx.ssl_context, self._handshake_timeout())
        self._tls = True

    def _handshake_timeout(self, login: bool = False) -> float:
        """``limits.tls_handshake_timeout``; on the TLS port (``login``) no later than the
        login deadline either, which counts from the TCP connection."""
        timeout = float(self.ctx.config.get("limits", "tls_handshake_timeout"))
        if login:
            left = self._login_deadline - asyncio.get_running_loop().time()
            timeout = max(min(timeout, left), 0.001)
        return timeout

    # -- the loop -----------------------------------------------------------------------------
    def _timeout(self) -> float:
        """How long the next read may wait. Before login, what is left of the login
        deadline: a client sending one byte a second (slowloris) is cut off as surely as a
        silent one. After login, RFC 3501 §5.4's autologout timer on silence."""
        if self.session.state is State.NOT_AUTHENTICATED:
            left = self._login_deadline - asyncio.get_running_loop().time()
            if left <= 0:
                self.send(StatusResponse(None, "BYE", "Login took too long"))
                raise Disconnect
            return left
        return float(self.ctx.config.get("limits", "idle_timeout"))

    async def next_event(self) -> Event:
        while True:
            # Take no further command (pipelined ones already in the buffer included)
            # while the client is not reading our replies (issue 11.4).
            await self.pace()
            event = self._ahead.popleft() if self._ahead else self.proto.next_event()
            if event is not None:
                return event
            await self.flush()
            try:
                async with asyncio.timeout(self._timeout()):
                    data = await self._read()
            except TimeoutError:
                # RFC 3501 §5.4: the autologout timer is at least 30 minutes once
                # authenticated; before login a short deadline keeps sockets from piling up.
                text = "Login took too long" if self.session.state is State.NOT_AUTHENTICATED \
                    else "Autologout; idle for too long"
                self.send(StatusResponse(None, "BYE", text))
                raise Disconnect from None
            if self.tracer is not None and data:
                self.tracer.incoming(data)
            self.proto.receive_data(data)

    async def _read(self) -> bytes:
        """The client's next bytes. With NOTIFY active and no command under way, deliver
        its events meanwhile, as they come (RFC 5465 §3.1: "the client listens for event
        notifications all the time (even when no command is in progress)"); never once
        part of a command has arrived (a literal announced or accepted, RFC 3501 §7.5), nor
        during a command, which answers them itself before its tagged response."""
        notify = self.session.notify
        if notify is None or not self.proto.between_commands:
            return await self.stream.read()
        wake = notify.wake
        reader = asyncio.ensure_future(self.stream.read())
        reader.add_done_callback(lambda _: wake.set())
        try:
            while True:
                wake.clear()
                if reader.done():
                    return reader.result()
                if self.session.notify is notify and notify.pending:
                    await notify.deliver_now()
                    await self.flush()
                    continue
                await wake.wait()
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    async def run(self) -> None:
        # Every write this connection's commands make is this session's: its commit
        # report says so, and NOTIFY leaves out exactly those (RFC 5465 §5).
        ORIGIN.set(self.session)
        try:
            if self._tls:
                # Implicit TLS (RFC 8314 §3.3): the greeting comes after the handshake.
                try:
                    await self.stream.handshake(self._handshake_timeout(login=True))
                except (TimeoutError, ConnectionError) as exc:
                    log.debug("%s: TLS handshake: %s", self.session.peer, exc or "timeout")
                    raise Disconnect from None
            self.send(self.ctx.greeting(self.session))
            while self.session.state is not State.LOGOUT:
                event = await self.next_event()
                await self.dispatch(event)
                if self.proto.limits is not self.ctx.limits and \
                        self.session.state is not State.NOT_AUTHENTICATED:
                    self.proto.limits = self.ctx.limits
        except Disconnect:
            pass
        except asyncio.CancelledError as exc:
            # The server is stopping (SIGTERM), or the HTTP API closes this connection (a
            # reset, a new UIDVALIDITY): say so before closing (RFC 3501 §7.1.5).
            reason = exc.args[0] if exc.args else "Server shutting down"
            self.send(StatusResponse(None, "BYE", str(reason)))
            raise
        except (ConnectionError, ssl.SSLError) as exc:
            log.debug("%s: connection error: %s", self.session.peer, exc)
        except Exception:
            log.exception("%s: connection failed", self.session.peer)
            self.send(StatusResponse(None, "BYE", "Internal server error"))
        finally:
            try:
                # Not ``wait_for``: its task would hand LOGOUT's tagged OK to the transport
                # one turn of the event loop later, behind every other session's ready
                # callbacks (bench/README.md "Mixed load": LOGOUT waited ~1.8 ms at p50
                # with no database trip).
                async with asyncio.timeout(5):
                    await self.flush()
            except (Exception, asyncio.CancelledError):
                pass
            self.stream.close()
            if self.session.append is not None:
                self.ctx.commands.abandon_append(self.session)
            await self.ctx.session_closed(self.session)

    async def dispatch(self, event: Event) -> None:
        session = self.session
        if session.state is State.NOT_AUTHENTICATED and \
                isinstance(event, CommandReceived | CommandError):
            # Each is a few KB at most (limits.prelogin_line_length), so this bounds what
            # one connection can make the server parse and answer before login.
            self._prelogin_commands -= 1
            if self._prelogin_commands < 0:
                self.send(StatusResponse(None, "BYE", "Too many commands before login"))
                raise Disconnect
        if isinstance(event, CommandReceived):
            self._slice_end = time.perf_counter() + SLICE
            await session.execute(event.tag, event.command)
        elif isinstance(event, LiteralAnnounced):
            self.accept_literal()
        elif isinstance(event, AppendBegin | AppendData | AppendEnd | CatenateBegin | CatenateUrl
                        | CatenateText | CatenateEnd):
            await self.ctx.commands.append_event(session, event)
        elif isinstance(event, CommandError):
            if session.append is not None:
                self.ctx.commands.abandon_append(session)
            if event.exception is not None:
                # Not the client's fault: a parser bug, answered BAD but logged in full.
                log.error("%s: parser failed on a command", session.peer,
                          exc_info=event.exception)
            if event.status == "BAD":  # a NO is a well-formed command over a limit
                session.bad_commands += 1
            if event.empties_saved and session.view is not None:
                session.view.saved = []
            self.send(StatusResponse(event.tag, event.status, event.text, event.code))
        elif isinstance(event, ConnectionClosed):
            raise Disconnect
        # A ContinuationLine nobody asked for cannot happen: expect_line() is always ours.
        limit = int(self.ctx.config.get("limits", "max_bad_commands"))
        if session.bad_commands > limit:
            self.send(StatusResponse(None, "BYE", "Too many invalid commands"))
            raise Disconnect

