"""APPEND (RFC 3501 §6.3.11) arrives as events, not as one command: the message literal is
streamed (AppendBegin, AppendData..., AppendEnd)."""

from __future__ import annotations

from protocol import AppendBegin, Event
from server.session import Session


async def handle_append_event(session: Session, event: Event) -> None:
    # Messages are the next milestone; until then APPEND is refused before any byte of the
    # message is sent, and APPEND is not counted as implemented anywhere.
    if isinstance(event, AppendBegin):
        conn = session.channel
        conn.write(conn.proto.reject_literal(  # type: ignore[attr-defined]
            "NO", "CANNOT", "APPEND is not available yet"))
