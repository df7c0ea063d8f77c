"""Events produced by :class:`protocol.ServerConnection.next_event` (sans-I/O, like h11)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from .commands import Command


@dataclass(frozen=True)
class CommandReceived:
    """A complete, syntactically valid command (every command except APPEND)."""

    tag: str
    command: Command


@dataclass(frozen=True)
class LiteralAnnounced:
    """A synchronising literal within limits (RFC 3501 §7.5): the server answers
    with ``accept_literal()`` (``+`` continuation) or ``reject_literal()``."""

    tag: str
    size: int
    binary: bool


@dataclass(frozen=True)
class AppendBegin:
    """The message literal of an APPEND was announced (RFC 3501 §6.3.11).

    No size limit is applied here: the server compares ``size`` with its own
    limit and calls ``accept_literal()`` or ``reject_literal("NO", "TOOBIG", ...)``.
    With MULTIAPPEND (RFC 3502) one APPEND yields several AppendBegin events,
    all with the same mailbox, before one AppendEnd. REPLACE and UID REPLACE
    (RFC 8508 §3.2, §3.3) arrive the same way, with ``replace`` = (the message
    number or UID, whether it is a UID), and carry exactly one message.
    """

    tag: str
    mailbox: str
    flags: tuple[str, ...]
    internal_date: datetime | None
    size: int
    binary: bool
    synchronizing: bool
    replace: tuple[int, bool] | None = None


@dataclass(frozen=True)
class AppendData:
    """A chunk (at most 65536 bytes) of an accepted APPEND message, in order."""

    tag: str
    data: bytes


@dataclass(frozen=True)
class AppendEnd:
    """The APPEND command line ended after its last message."""

    tag: str


@dataclass(frozen=True)
class CatenateBegin:
    """A message of an APPEND built with CATENATE (RFC 4469 §3, §5 ``append-data``)
    starts. Its parts follow in order: :class:`CatenateUrl` for each ``URL``, and for each
    ``TEXT`` literal a :class:`CatenateText` (decided like an AppendBegin's literal:
    ``accept_literal()`` or ``reject_literal()``) and its AppendData chunks; then
    :class:`CatenateEnd`. With MULTIAPPEND (RFC 3502) it may come before or after
    AppendBegin messages of the same command, which ends with one AppendEnd."""

    tag: str
    mailbox: str
    flags: tuple[str, ...]
    internal_date: datetime | None
    replace: tuple[int, bool] | None = None


@dataclass(frozen=True)
class CatenateUrl:
    """A ``URL`` part (RFC 4469 §5 ``url`` = "URL" SP astring), as the client sent it."""

    tag: str
    url: str


@dataclass(frozen=True)
class CatenateText:
    """A ``TEXT`` part's literal was announced (RFC 4469 §5 ``text-literal``): the server
    answers ``accept_literal()`` or ``reject_literal()``; its octets come as AppendData."""

    tag: str
    size: int
    synchronizing: bool


@dataclass(frozen=True)
class CatenateEnd:
    """The ``)`` closing a CATENATE list: the message is complete."""

    tag: str


@dataclass(frozen=True)
class ContinuationLine:
    """A raw line requested by ``expect_line()`` (AUTHENTICATE, IDLE's DONE), without CRLF."""

    data: bytes


@dataclass(frozen=True)
class CommandError:
    """A syntax error or limit violation; ``tag`` is None when none could be read.

    After an error inside an APPEND (even after AppendData) the whole APPEND
    is abandoned: no AppendEnd follows.
    """

    tag: str | None
    status: str
    code: str | None
    text: str
    #: A bug in the parser (not a syntax error): the sans-I/O layer cannot log, so the
    #: exception travels with the event for the server to log (issue 10.15).
    exception: BaseException | None = field(default=None, compare=False)
    #: A SEARCH with RETURN (SAVE) refused with NO while parsing (too many criteria): the
    #: server must empty the saved result "$" (RFC 5182 §2.1), as for any failed one.
    empties_saved: bool = False


@dataclass(frozen=True)
class ConnectionClosed:
    """The peer closed its side and all buffered input has been consumed."""


Event: TypeAlias = (
    CommandReceived | LiteralAnnounced | AppendBegin | AppendData | AppendEnd
    | CatenateBegin | CatenateUrl | CatenateText | CatenateEnd
    | ContinuationLine | CommandError | ConnectionClosed
)
