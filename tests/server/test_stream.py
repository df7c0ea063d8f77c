"""StreamProtocol flow control (issue 10.12): every task waiting in ``drain`` is woken."""

from __future__ import annotations

import asyncio

import pytest

from server.stream import StreamProtocol


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
