"""COMPRESS=DEFLATE (RFC 4978), checked with the standard library's zlib as the client."""

from __future__ import annotations

from tests.server.deflate_client import compressed_session
from tests.server.harness import ServerThread


def test_compress_over_plain_and_tls(server: ServerThread) -> None:
    for tls in (False, True):
        client = compressed_session(server, tls)
        lines = client.command(b"c", b"CAPABILITY")
        assert b"COMPRESS=DEFLATE" in lines[0]
        assert client.command(b"d", b"CREATE Box%d" % tls)[-1].startswith(b"d OK")
        # A literal travels compressed too.
        msg = b"Subject: squeezed\r\n\r\n" + b"hello " * 5000 + b"\r\n"
        client.send(b"e APPEND Box%d {%d+}\r\n" % (tls, len(msg)) + msg + b"\r\n")
        line = client.line()
        assert line.startswith(b"e OK [APPENDUID"), line
        client.command(b"f", b"SELECT Box%d" % tls)
        client.send(b"g FETCH 1 BODY.PEEK[]\r\n")
        head = client.line()
        assert head.endswith(b"{%d}" % len(msg))
        while len(client.buf) < len(msg) + 3:
            client.buf += client.decomp.decompress(client.sock.recv(65536))
        assert client.buf[:len(msg)] == msg
        client.buf = client.buf[len(msg):]
        assert client.line() == b")"
        assert client.line().startswith(b"g OK")
        # RFC 4978 §3: a second COMPRESS is refused.
        assert client.command(b"h", b"COMPRESS DEFLATE")[-1].startswith(b"h NO [COMPRESSIONACTIVE]")
        assert client.command(b"i", b"LOGOUT")[-1].startswith(b"i OK")


def test_decompression_bomb_is_bounded(server: ServerThread) -> None:
    """Inflated input obeys the line-length limit like plain input."""
    client = compressed_session(server, tls=False)
    bomb = b"j NOOP " + b"A" * (20 * 1024 * 1024) + b"\r\n"
    client.send(bomb)  # compresses to a few kB
    line = client.line()
    assert line.startswith(b"j BAD"), line
    assert client.command(b"k", b"NOOP")[-1].startswith(b"k OK")


def test_compress_before_login_is_refused(server: ServerThread) -> None:
    raw = server.raw()
    assert raw.command(b"a", b"COMPRESS DEFLATE")[-1].startswith(b"a BAD")
