"""TLS over a plain transport with the ``ssl`` module's public memory-BIO API.

Why not ``loop.create_server(ssl=...)`` / ``loop.start_tls``: asyncio's TLS transport gives
every connection a 256 KiB read buffer for its whole life (``SSLProtocol.max_size``, a class
attribute of a private module), 90% of an idle TLS connection's memory (bench/README.md,
"TLS memory"). Changing it meant patching CPython's private class process-wide (issue 10.9).
Here the session's own :class:`crispin.server.stream.StreamProtocol` drives an ``ssl.SSLObject``
between two ``ssl.MemoryBIO``: ciphertext in from the socket, plaintext out to the parser,
and the reverse for writes, with buffers the size of what is actually in flight.

The layer is sans-I/O: :meth:`TLSLayer.receive` takes ciphertext and returns plaintext,
:meth:`TLSLayer.send` takes plaintext; :meth:`TLSLayer.outgoing` is the ciphertext to write.
"""

from __future__ import annotations

import ssl

# Plaintext handed on per SSLObject.read(): one TLS record's worth at most (RFC 8446 §5.1).
READ_SIZE = 16 * 1024


class TLSClosed(Exception):
    """The peer sent close_notify (RFC 8446 §6.1): no more input."""


class TLSLayer:
    def __init__(self, context: ssl.SSLContext) -> None:
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self._in, self._out, server_side=True)
        self.handshake_done = False
        #: close_notify arrived behind data that :meth:`receive` returned.
        self.peer_closed = False

    def receive(self, data: bytes) -> bytes:
        """Feed ciphertext; returns the plaintext it completes (b"" while handshaking).
        Raises ``ssl.SSLError`` on a bad handshake or record, :class:`TLSClosed` at
        close_notify (after returning nothing more)."""
        if self.peer_closed:
            raise TLSClosed
        if data:
            self._in.write(data)
        if not self.handshake_done:
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                return b""
            self.handshake_done = True
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self.obj.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                chunk = b""
            if not chunk:
                # close_notify (CPython's read() returns b"" for it, or raises
                # SSLZeroReturnError): the data first, the end on the next call.
                if chunks:
                    self.peer_closed = True
                    break
                raise TLSClosed
            chunks.append(chunk)
        return b"".join(chunks)

    def send(self, data: bytes) -> None:
        """Encrypt ``data`` (after the handshake); the records wait in :meth:`outgoing`."""
        view = memoryview(data)
        while view:
            written = self.obj.write(view)
            view = view[written:]

    def outgoing(self) -> bytes:
        """Ciphertext to send now (handshake messages, records, alerts)."""
        return self._out.read() if self._out.pending else b""

    def tls_unique(self) -> bytes | None:
        """The ``tls-unique`` channel binding (RFC 5929 §3), for TLS 1.2 only: RFC 9266 §3
        leaves it undefined for TLS 1.3 (whose ``tls-exporter`` the ssl module does not
        expose). Not on a resumed session either: RFC 7677 §4 (the triple handshake attack)
        allows it there only with the session hash extension, which ssl cannot confirm."""
        if not self.handshake_done or self.obj.version() != "TLSv1.2" \
                or self.obj.session_reused:
            return None
        return self.obj.get_channel_binding("tls-unique")

    def close(self) -> None:
        """Queue our close_notify (best effort: the peer may be gone)."""
        try:
            self.obj.unwrap()
        except (ssl.SSLError, ValueError):
            pass
