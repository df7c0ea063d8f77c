"""IDLE (RFC 2177): the client waits, the server pushes mailbox changes as they happen.

The session waits on two things: the client's DONE, and the hub's wake-up for its mailbox.
A wake-up only says "look"; the session pulls the changes from storage and reports them
exactly as after any command that allows EXPUNGE.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from protocol import ContinuationResponse, Idle
from server.session import CommandFailed, Disconnect, Result, Session


async def idle(session: Session, tag: str, cmd: Idle) -> Result:
    channel = session.channel
    channel.send(ContinuationResponse("idling"))
    await session.sync(allow_expunge=True)
    view = session.view
    hub = session.server.hub
    wake = hub.watch(view.mailbox_id, view.modseq) if view is not None else None
    reader: asyncio.Task[bytes | None] = asyncio.create_task(channel.read_line())
    waiter: asyncio.Task[bool] | None = None
    try:
        while True:
            waiters: set[asyncio.Task[Any]] = {reader}
            if wake is not None:
                waiter = asyncio.create_task(wake.wait())
                waiters.add(waiter)
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            if waiter is not None and not waiter.done():
                waiter.cancel()
            if reader in done:
                line = reader.result()
                if line is None:
                    raise Disconnect
                if line.strip().upper() != b"DONE":
                    raise CommandFailed("Expected DONE to end IDLE", status="BAD")
                return Result("IDLE terminated")
            if wake is not None:
                wake.clear()
            await session.sync(allow_expunge=True)
            await channel.flush()
    finally:
        if waiter is not None and not waiter.done():
            waiter.cancel()
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if wake is not None and view is not None:
            hub.unwatch(view.mailbox_id, wake)
