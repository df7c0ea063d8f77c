"""server/tls_layer.py on its own: a client SSLObject and the server layer, bytes in memory."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from crispin.server.tls import ensure_certificate, server_context
from crispin.server.tls_layer import TLSClosed, TLSLayer


class _Client:
    def __init__(self, cafile: Path) -> None:
        ctx = ssl.create_default_context(cafile=str(cafile))
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname="localhost")

    def pump(self, server: TLSLayer) -> bytes:
        """Run the handshake (or pass records) until neither side has anything to say;
        the plaintext the server got."""
        got = b""
        for _ in range(20):
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            sent = self.out.read()
            got += server.receive(sent)
            back = server.outgoing()
            if back:
                self.inc.write(back)
            if not sent and not back:
                break
        return got

    def read(self) -> bytes:
        out = b""
        while True:
            try:
                out += self.obj.read(65536)
            except ssl.SSLWantReadError:
                return out


@pytest.fixture
def pair(tmp_path: Path) -> tuple[_Client, TLSLayer]:
    cert = ensure_certificate(tmp_path, "", "", "localhost")
    server = TLSLayer(server_context(cert))
    client = _Client(cert.cert_path)
    client.pump(server)
    assert server.handshake_done
    return client, server


def test_records_both_ways(pair: tuple[_Client, TLSLayer]) -> None:
    client, server = pair
    big = bytes(range(256)) * 400  # several TLS records
    client.obj.write(b"a1 NOOP\r\n" + big)
    assert server.receive(client.out.read()) == b"a1 NOOP\r\n" + big
    server.send(b"* OK " + big + b"\r\n")
    client.inc.write(server.outgoing())
    assert client.read() == b"* OK " + big + b"\r\n"


def test_close_notify_behind_data(pair: tuple[_Client, TLSLayer]) -> None:
    client, server = pair
    client.obj.write(b"a LOGOUT\r\n")
    try:
        client.obj.unwrap()
    except ssl.SSLWantReadError:
        pass
    assert server.receive(client.out.read()) == b"a LOGOUT\r\n"
    assert server.peer_closed
    with pytest.raises(TLSClosed):
        server.receive(b"")


def test_garbage_handshake_raises(tmp_path: Path) -> None:
    cert = ensure_certificate(tmp_path, "", "", "localhost")
    server = TLSLayer(server_context(cert))
    with pytest.raises(ssl.SSLError):
        server.receive(b"a1 LOGIN alice secret\r\n")
