"""StreamProtocol flow control (issue 10.12): every task waiting in ``drain`` is woken."""

from __future__ import annotations

import asyncio

import pytest

from crispin.server.stream import StreamProtocol


class _Transport(asyncio.Transport):
    """Just enough of a transport for the protocol: it records writes."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return False


async def _two_waiters(wake: str) -> None:
    proto = StreamProtocol()
    proto.connection_made(_Transport())
    proto.pause_writing()
    # IDLE flushes from its own task while the session's task flushes too.
    first = asyncio.ensure_future(proto.drain())
    second = asyncio.ensure_future(proto.drain())
    await asyncio.sleep(0)  # let both reach their wait (not a synchronisation on time)
    assert not first.done() and not second.done()
    if wake == "resume":
        proto.resume_writing()
    else:
        proto.connection_lost(None)
    # A hang would be the bug: bound it, generously, rather than time it.
    await asyncio.wait_for(asyncio.gather(first, second), 30)


@pytest.mark.parametrize("wake", ["resume", "lost"])
def test_every_drain_waiter_is_woken(wake: str) -> None:
    asyncio.run(_two_waiters(wake))


def test_drain_after_connection_lost_returns() -> None:
    async def go() -> None:
        proto = StreamProtocol()
        proto.connection_made(_Transport())
        proto.pause_writing()
        proto.connection_lost(ConnectionResetError())
        await asyncio.wait_for(proto.drain(), 30)
    asyncio.run(go())


def test_large_compressed_write_is_compressed_off_the_loop() -> None:
    """Issue 10.7: a big write under COMPRESS=DEFLATE is compressed in a worker thread, and
    the stream stays one valid DEFLATE stream with small writes around it."""
    import threading
    import zlib

    async def go() -> None:
        transport = _Transport()
        proto = StreamProtocol()
        proto.connection_made(transport)
        proto.start_compression(b"")
        threads: list[threading.Thread] = []
        real = proto._compress

        def spy(data: bytes) -> bytes:
            threads.append(threading.current_thread())
            return real(data)

        proto._compress = spy  # type: ignore[method-assign]
        big = bytes(range(256)) * 4096
        proto.write(b"* small\r\n")
        await proto.write_off_loop(big)
        proto.write(b"* after\r\n")
        assert threads[1] is not threading.main_thread()
        assert threads[0] is threading.main_thread() is threads[2]
        plain = zlib.decompressobj(-15).decompress(b"".join(transport.written))
        assert plain == b"* small\r\n" + big + b"* after\r\n"
    asyncio.run(go())


class _Socket:
    """Records socket options set through the transport's ``socket`` extra."""

    def __init__(self) -> None:
        self.options: list[tuple[int, int, int]] = []

    def setsockopt(self, level: int, option: int, value: int) -> None:
        self.options.append((level, option, value))


class _SocketTransport(_Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sock = _Socket()

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.sock if name == "socket" else default


@pytest.mark.skipif(not hasattr(__import__("socket"), "TCP_QUICKACK"), reason="Linux only")
def test_every_read_is_acknowledged_at_once() -> None:
    """Issue 14: imaplib sends an APPEND literal and its CRLF in two writes, so Nagle holds
    the CRLF until our ACK; each read asks the kernel to ACK now (TCP_QUICKACK), or every
    synchronising APPEND waits out the 40 ms delayed-ACK timer. A literal that ends in
    CRLF itself is no complete command: the request is made whatever the data ends with."""
    import socket

    transport = _SocketTransport()
    proto = StreamProtocol()
    proto.connection_made(transport)
    for chunk in (b"a APPEND INBOX {9}\r\n", b"Hi there\n", b"\r\n"):
        proto.data_received(chunk)
    quick = (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    assert transport.sock.options == [quick] * 3


def test_quickack_refused_is_not_an_error() -> None:
    """A socket that is not TCP refuses TCP_QUICKACK: the data is still read."""

    class _Refusing(_Socket):
        def setsockopt(self, level: int, option: int, value: int) -> None:
            raise OSError(95, "Operation not supported")

    async def go() -> bytes:
        transport = _SocketTransport()
        transport.sock = _Refusing()
        proto = StreamProtocol()
        proto.connection_made(transport)
        proto.data_received(b"a NOOP\r\n")
        return await proto.read()

    assert asyncio.run(go()) == b"a NOOP\r\n"
