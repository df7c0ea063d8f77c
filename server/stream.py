"""The byte pipe under a session: an ``asyncio.Protocol`` with a pull-style ``read()``.

A plain Protocol rather than asyncio streams, for two reasons. STARTTLS must throw away every
byte that arrived before the handshake (CVE-2011-0411: injected plaintext must not be read as if
it came through TLS), and streams keep their own buffer that we could not clear. And an idle
connection should cost little: no StreamReader buffer, just this object and a waiter.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
import zlib
from typing import Any

from crispin.server.tls_layer import TLSClosed, TLSLayer

# Stop reading from a client that sends faster than we parse (pipelined APPENDs, floods);
# the kernel's socket buffer then pushes back on the client.
HIGH_WATER = 256 * 1024

# COMPRESS=DEFLATE (RFC 4978): inflated input is handed on at most this much at a time, so a
# small compressed burst can never expand into unbounded memory (a decompression bomb); the
# parser's own limits then apply to it exactly as to plain input.
INFLATE_CHUNK = 64 * 1024
# Our compressor may use a smaller window than the 32 KiB the peer must accept (RFC 1951):
# 8 KiB and a small hash table keep a compressing connection near 64 KiB instead of 256 KiB.
DEFLATE_WBITS = -13
DEFLATE_MEMLEVEL = 6

# Linux only; elsewhere the delayed-ACK stall of ``StreamProtocol._ack_now`` stays.
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class StreamProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._eof = False
        self._paused = False
        self._read_waiter: asyncio.Future[None] | None = None
        # Every task waiting for the write buffer to empty (IDLE flushes from its own task
        # and the session's): all are woken, as asyncio's FlowControlMixin does.
        self._drain_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._write_paused = False
        self.on_connect: Any = None
        self._inflate: Any = None  # zlib decompress object once COMPRESS is active
        self._deflate: Any = None
        self._tail = b""
        self._tls: TLSLayer | None = None
        self._handshake: asyncio.Future[None] | None = None
        #: Set by the listener of the implicit-TLS port: TLS starts with the connection.
        self.tls_context: ssl.SSLContext | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.tls_context is not None:
            self.begin_tls(self.tls_context)
        if self.on_connect is not None:
            self.on_connect(self)

    def data_received(self, data: bytes) -> None:
        if self._tls is not None:
            data = self._tls_received(data)
        self._ack_now()
        if not data:
            return
        self._chunks.append(data)
        if self._tls is not None and self._tls.peer_closed:
            self.eof_received()  # close_notify came right behind this data
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def _ack_now(self) -> None:
        """Acknowledge what arrived at once, not after the delayed-ACK timer (40 ms on
        Linux). A client that writes a literal and its closing CRLF separately (Python's
        imaplib does, after the RFC 3501 §7.5 continuation) has Nagle's algorithm hold
        the CRLF until that ACK comes, and we cannot answer before the CRLF; once the
        server has written the continuation the kernel is in delayed-ACK ("pingpong")
        mode, so every synchronising APPEND paid the whole timer: 47 ms instead of 1.6
        (bench/README.md "Sequential APPEND"). The data alone cannot tell us whether the
        client stopped mid-command (a literal usually ends in CRLF itself), so it is done
        on every read: one setsockopt, about a microsecond. TCP_QUICKACK is not sticky:
        the kernel drops back to delayed ACKs by itself, hence each time."""
        if _QUICKACK is None or self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        except OSError:
            pass  # not TCP (a Unix socket, a test transport): nothing to hurry

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(ConnectionError("closed during the TLS handshake"))
        self._eof = True
        self._wake_reader()
        self._wake_drainers()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drainers()

    def _wake_drainers(self) -> None:
        while self._drain_waiters:
            waiter = self._drain_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _wake_reader(self) -> None:
        if self._read_waiter is not None and not self._read_waiter.done():
            self._read_waiter.set_result(None)

    # -- what the connection uses ------------------------------------------------------------
    async def read(self) -> bytes:
        """Everything received so far, waiting for at least one byte; b"" at end of input.
        With compression active, inflated data, at most INFLATE_CHUNK bytes at a time."""
        while True:
            if self._tail:
                data, self._tail = self._tail, b""
            else:
                data = await self._read_raw()
                if not data or self._inflate is None:
                    return data
            try:
                out = self._inflate.decompress(data, INFLATE_CHUNK)
            except zlib.error as exc:
                raise ConnectionError(f"invalid compressed data: {exc}") from None
            self._tail = self._inflate.unconsumed_tail
            if out:
                return bytes(out)

    def start_compression(self, pending: bytes) -> None:
        """RFC 4978 §3: from here on, both directions are raw DEFLATE streams. ``pending``
        is whatever the client sent after the command, already compressed."""
        self._inflate = zlib.decompressobj(-15)
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, DEFLATE_WBITS, DEFLATE_MEMLEVEL)
        self._tail = pending

    @property
    def compressing(self) -> bool:
        return self._deflate is not None

    async def _read_raw(self) -> bytes:
        while not self._chunks:
            if self._eof:
                return b""
            self._read_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._read_waiter
            finally:
                self._read_waiter = None
        data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def discard(self) -> None:
        self._chunks.clear()
        self._buffered = 0

    def write(self, data: bytes) -> None:
        """Send ``data``; compressed data is flushed at once (RFC 4978 §4: nothing may wait
        in the compressor after a response, or the client would wait forever)."""
        if self.transport is not None and not self.transport.is_closing():
            if self._deflate is not None:
                data = self._compress(data)
            self._send(data)

    def _send(self, data: bytes) -> None:
        assert self.transport is not None
        if self._tls is not None:
            if not self._tls.handshake_done:
                return  # nothing of ours may go out in the clear once TLS has begun
            self._tls.send(data)
            data = self._tls.outgoing()
        self.transport.write(data)

    async def write_off_loop(self, data: bytes) -> None:
        """``write``, compressing in a worker thread (a FETCH batch under COMPRESS takes
        milliseconds per 100 KiB: issue 10.7). The caller keeps writes in order: no other
        write may run until this one returns."""
        if self._deflate is None:
            self.write(data)
            return
        out = await asyncio.to_thread(self._compress, data)
        if self.transport is not None and not self.transport.is_closing():
            self._send(out)

    def _compress(self, data: bytes) -> bytes:
        assert self._deflate is not None
        return bytes(self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH))

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its low-water mark, or the
        connection is gone; any number of tasks may wait at once."""
        if self._write_paused and not self._eof:
            waiter = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._drain_waiters:
                    self._drain_waiters.remove(waiter)

    @property
    def write_paused(self) -> bool:
        """The transport's write buffer is over its high-water mark (the client is not
        reading fast enough); False once the connection is gone."""
        return self._write_paused and not self._eof

    @property
    def closed(self) -> bool:
        return self._eof

    # -- TLS (server/tls_layer.py: the ssl module's memory BIOs, no private asyncio API) --
    def tls_unique(self) -> bytes | None:
        return None if self._tls is None else self._tls.tls_unique()

    def begin_tls(self, context: ssl.SSLContext) -> None:
        """From now on the bytes on the wire are TLS; unread input is discarded first
        (RFC 3501 §6.2.1, CVE-2011-0411: plaintext sent before the handshake is not read
        as if it came through TLS)."""
        self.discard()
        self._tls = TLSLayer(context)
        self._handshake = asyncio.get_running_loop().create_future()
        # A failure nobody waits for (the peer left first) is not an error to report.
        self._handshake.add_done_callback(
            lambda f: None if f.cancelled() else f.exception())

    async def handshake(self, timeout: float) -> None:
        """Wait for the TLS handshake begun by :meth:`begin_tls`; ``ConnectionError`` if
        it fails, ``TimeoutError`` if it takes longer than ``timeout``."""
        assert self._handshake is not None
        async with asyncio.timeout(timeout):
            await self._handshake

    async def start_tls(self, context: ssl.SSLContext, handshake_timeout: float) -> None:
        """STARTTLS: discard unread input, then switch to TLS (RFC 3501 §6.2.1)."""
        self.begin_tls(context)
        await self.handshake(handshake_timeout)

    def _tls_received(self, data: bytes) -> bytes:
        tls = self._tls
        assert tls is not None and self.transport is not None
        try:
            plain = tls.receive(data)
        except TLSClosed:
            self._tls_flush()
            self.eof_received()
            return b""
        except ssl.SSLError as exc:
            self._tls_flush()  # the alert, if any
            if self._handshake is not None and not self._handshake.done():
                self._handshake.set_exception(ConnectionError(f"TLS handshake failed: {exc}"))
            self.transport.abort()
            return b""
        self._tls_flush()
        if tls.handshake_done and self._handshake is not None and not self._handshake.done():
            self._handshake.set_result(None)
        return plain

    def _tls_flush(self) -> None:
        assert self._tls is not None and self.transport is not None
        out = self._tls.outgoing()
        if out and not self.transport.is_closing():
            self.transport.write(out)

    def close(self) -> None:
        if self.transport is not None:
            if self._tls is not None and self._tls.handshake_done \
                    and not self.transport.is_closing():
                self._tls.close()  # close_notify (RFC 8446 §6.1)
                self._tls_flush()
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
