"""IDLE (RFC 2177): the client waits, the server pushes mailbox changes as they happen.

The session waits on two things: the client's DONE, and the hub's wake-up for its mailbox.
A wake-up only says "look"; the session pulls the changes from storage and reports them
exactly as after any command that allows EXPUNGE (``crispin.server.command_spec``). If the mailbox
is deleted meanwhile, the session ends with BYE, never with a tagged answer before DONE.
"""

from __future__ import annotations

import asyncio
import contextlib

from crispin.protocol import ContinuationResponse, Idle
from crispin.server.access import recheck
from crispin.server.outcome import CommandFailed, Disconnect, Result
from crispin.server.session import Session


async def idle(session: Session, tag: str, cmd: Idle) -> Result:
    channel = session.channel
    channel.send(ContinuationResponse("idling"))
    await session.sync_idling(woken=False)
    view = session.view
    hub = session.server.hub
    wake = hub.watch(view.mailbox_id, view.modseq) if view is not None else asyncio.Event()
    reader: asyncio.Task[bytes | None] = asyncio.create_task(channel.read_line())
    # The client's line sets the same event as the hub: one await per wake-up, no task or
    # asyncio.wait per wake-up (with 1,000 idlers that machinery was a third of the cost of
    # a fan-out, bench/README.md).
    reader.add_done_callback(lambda _: wake.set())
    listener = session.metadata_events
    if listener is not None:  # unsolicited METADATA (RFC 5464 §4.4) wakes IDLE too
        listener.wake = wake
    notify = session.notify
    if notify is not None:  # so do NOTIFY's events (RFC 5465 §4)
        notify.idle_wake = wake
    try:
        while True:
            await wake.wait()
            wake.clear()
            if reader.done():
                line = reader.result()
                if line is None:
                    raise Disconnect
                if line.strip().upper() != b"DONE":
                    raise CommandFailed("Expected DONE to end IDLE", status="BAD")
                return Result("IDLE terminated")
            await recheck(session)  # a deleted user's IDLE ends with BYE, too
            await session.sync_idling(woken=True)
            await channel.flush()
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if view is not None:
            hub.unwatch(view.mailbox_id, wake)
        if listener is not None:
            listener.wake = None
        if notify is not None:
            notify.idle_wake = None
