"""The byte pipe under a session: an ``asyncio.Protocol`` with a pull-style ``read()``.

A plain Protocol rather than asyncio streams, for two reasons. STARTTLS must throw away every
byte that arrived before the handshake (CVE-2011-0411: injected plaintext must not be read as if
it came through TLS), and streams keep their own buffer that we could not clear. And an idle
connection should cost little: no StreamReader buffer, just this object and a waiter.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any

# Stop reading from a client that sends faster than we parse (pipelined APPENDs, floods);
# the kernel's socket buffer then pushes back on the client.
HIGH_WATER = 256 * 1024


class StreamProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._eof = False
        self._paused = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self.on_connect: Any = None

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.on_connect is not None:
            self.on_connect(self)

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._wake_reader()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def _wake_reader(self) -> None:
        if self._read_waiter is not None and not self._read_waiter.done():
            self._read_waiter.set_result(None)

    # -- what the connection uses ------------------------------------------------------------
    async def read(self) -> bytes:
        """Everything received so far, waiting for at least one byte; b"" at end of input."""
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
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        if self._write_paused and not self._eof:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None

    @property
    def closed(self) -> bool:
        return self._eof

    async def start_tls(self, context: ssl.SSLContext, handshake_timeout: float) -> None:
        """Discard unread input, then switch the transport to TLS (RFC 3501 §6.2.1)."""
        assert self.transport is not None
        self.discard()
        loop = asyncio.get_running_loop()
        new = await loop.start_tls(self.transport, self, context, server_side=True,
                                   ssl_handshake_timeout=handshake_timeout)
        if new is None:
            raise ConnectionError("TLS handshake failed")
        self.transport = new

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()
