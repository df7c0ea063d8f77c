"""A COMPRESS=DEFLATE (RFC 4978) client on the standard library's zlib, for the tests that
talk to the server through a compressed connection."""

from __future__ import annotations

import socket
import ssl
import zlib

from tests.server.harness import PASSWORD, ServerThread


class DeflateClient:
    def __init__(self, sock: socket.socket | ssl.SSLSocket) -> None:
        self.sock = sock
        self.comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.decomp = zlib.decompressobj(-15)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH))

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += self.decomp.decompress(chunk)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def command(self, tag: bytes, text: bytes) -> list[bytes]:
        self.send(tag + b" " + text + b"\r\n")
        lines = []
        while True:
            lines.append(self.line())
            if lines[-1].startswith(tag + b" "):
                return lines


def compressed_session(server: ServerThread, tls: bool) -> DeflateClient:
    if tls:
        sock: socket.socket = server.client_context().wrap_socket(
            socket.create_connection(("127.0.0.1", server.tls_port), timeout=10),
            server_hostname="localhost")
    else:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    f = sock.makefile("rb")
    assert f.readline().startswith(b"* OK")
    sock.sendall(b'a LOGIN alice "' + PASSWORD.encode() + b'"\r\n')
    assert f.readline().startswith(b"a OK")
    sock.sendall(b"b COMPRESS DEFLATE\r\n")
    assert f.readline() == b"b OK DEFLATE active\r\n"
    return DeflateClient(sock)
