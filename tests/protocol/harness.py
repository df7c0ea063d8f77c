"""Test driver: feed bytes to a ServerConnection and render events readably."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Sequence

from crispin.protocol import (
    AppendBegin,
    AppendData,
    AppendEnd,
    CatenateBegin,
    CatenateEnd,
    CatenateText,
    CatenateUrl,
    CommandError,
    CommandReceived,
    ConnectionClosed,
    ContinuationLine,
    Event,
    Limits,
    LiteralAnnounced,
    SequenceSet,
    ServerConnection,
)

TRAILER = b"zz9 NOOP\r\n"


def show(value: object) -> str:
    """Compact repr: dataclass fields left at their default are omitted."""
    if isinstance(value, SequenceSet):
        return f"<{value}>"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = []
        for f in dataclasses.fields(value):
            if not f.repr:
                continue
            v = getattr(value, f.name)
            if f.default is not dataclasses.MISSING and v == f.default:
                continue
            parts.append(f"{f.name}={show(v)}")
        return f"{type(value).__name__}({', '.join(parts)})"
    if isinstance(value, tuple):
        inner = ", ".join(show(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return repr(value)


def _message(event: AppendBegin | CatenateBegin) -> list[str]:
    """flags=, date= and replace= of a message (each "" when absent)."""
    parts = [f"flags={show(event.flags)}" if event.flags else "",
             "" if event.internal_date is None else f"date={event.internal_date.isoformat()}"]
    replace = ""
    if event.replace is not None:
        number, uid = event.replace
        replace = f"replace={'uid ' if uid else ''}{number}"
    return [*parts, replace]


def render(event: Event) -> str:
    if isinstance(event, CommandReceived):
        return f"{event.tag} {show(event.command)}"
    if isinstance(event, CommandError):
        code = f" [{event.code}]" if event.code else ""
        return f"{event.status} {event.tag or '*'}{code} {event.text}"
    if isinstance(event, LiteralAnnounced):
        return f"LITERAL {event.tag} {event.size}" + (" binary" if event.binary else "")
    if isinstance(event, AppendBegin):
        parts = [f"APPEND {event.tag} {event.mailbox!r} size={event.size}",
                 *_message(event)[:2]]
        if event.binary:
            parts.append("binary")
        parts.append("sync" if event.synchronizing else "nonsync")
        return " ".join(p for p in [*parts, *_message(event)[2:]] if p)
    if isinstance(event, AppendData):
        return f"DATA {event.tag} {event.data!r}"
    if isinstance(event, AppendEnd):
        return f"APPEND-END {event.tag}"
    if isinstance(event, CatenateBegin):
        return " ".join(p for p in [f"CATENATE {event.tag} {event.mailbox!r}",
                                    *_message(event)] if p)
    if isinstance(event, CatenateUrl):
        return f"URL {event.tag} {event.url!r}"
    if isinstance(event, CatenateText):
        return f"TEXT {event.tag} size={event.size} " + (
            "sync" if event.synchronizing else "nonsync")
    if isinstance(event, CatenateEnd):
        return f"CATENATE-END {event.tag}"
    if isinstance(event, ContinuationLine):
        return f"LINE {event.data!r}"
    if isinstance(event, ConnectionClosed):
        return "CLOSED"
    raise AssertionError(event)


def merge_data(events: Iterable[Event]) -> list[Event]:
    """AppendData chunking follows arrival; merge adjacent chunks to compare."""
    out: list[Event] = []
    for ev in events:
        if isinstance(ev, AppendData) and out and isinstance(out[-1], AppendData):
            out[-1] = AppendData(ev.tag, out[-1].data + ev.data)
        else:
            out.append(ev)
    return out


@dataclasses.dataclass
class Run:
    events: list[Event]
    sent: list[bytes]

    def lines(self) -> list[str]:
        """Rendered events, with the bytes the connection asked us to send."""
        out = []
        sent = iter(self.sent)
        for ev in merge_data(self.events):
            out.append(render(ev))
            if isinstance(ev, (LiteralAnnounced, AppendBegin, CatenateText)):
                reply = next(sent)
                if reply:
                    out.append("<< " + reply.decode().rstrip("\r\n"))
        return out


def feed(
    chunks: Iterable[bytes],
    limits: Limits | None = None,
    decisions: Sequence[str] = (),
    raw_after: Sequence[str] = ("AUTHENTICATE", "IDLE"),
) -> Run:
    """Feed chunks then EOF; accept every literal unless ``decisions`` (in order,
    "accept" or "reject") say otherwise; after AUTHENTICATE and IDLE commands
    ask for one raw line, as the server does."""
    conn = ServerConnection(limits or Limits())
    events: list[Event] = []
    sent: list[bytes] = []
    todo = list(decisions)
    for chunk in [*chunks, b""]:
        conn.receive_data(chunk)
        while True:
            ev = conn.next_event()
            if ev is None:
                break
            events.append(ev)
            if isinstance(ev, ConnectionClosed):
                return Run(events, sent)
            if isinstance(ev, (LiteralAnnounced, AppendBegin, CatenateText)):
                choice = todo.pop(0) if todo else "accept"
                if choice == "accept":
                    sent.append(conn.accept_literal())
                else:
                    sent.append(conn.reject_literal("NO", "TOOBIG", "Rejected"))
            if isinstance(ev, CommandReceived) and type(ev.command).__name__.upper() in raw_after:
                conn.expect_line()
    raise AssertionError("no ConnectionClosed after EOF")


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]
