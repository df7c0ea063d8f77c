"""Crispin protocol layer: IMAP4rev1 syntax, sans-I/O (see DESIGN.md, "The three layers").

Feed bytes to :class:`ServerConnection`, pull :data:`Event` objects, and turn
:data:`Response` objects into bytes with :func:`serialize`. Nothing here does
I/O or knows about storage.

Typical loop::

    conn.receive_data(data)               # b"" on EOF
    while (event := conn.next_event()) is not None:
        if isinstance(event, (LiteralAnnounced, AppendBegin)):
            write(conn.accept_literal())  # or conn.reject_literal("NO", "TOOBIG", ...)
        ...

Modules: ``connection`` (framing, limits, events), ``reader`` (tokens),
``parser`` / ``parser_fetch`` / ``parser_search`` / ``parser_ext`` (grammar),
``commands`` / ``events`` / ``responses`` (data types), ``serializer``,
``mutf7``, ``sequence``, ``dates``, ``limits``.
"""

from .commands import (
    Authenticate,
    BodySection,
    Capability,
    Check,
    Close,
    Command,
    Compress,
    Copy,
    Create,
    Delete,
    Enable,
    Examine,
    Expunge,
    Fetch,
    FetchAttr,
    FetchItem,
    Id,
    Idle,
    List,
    Login,
    Logout,
    Lsub,
    Move,
    Namespace,
    Noop,
    Param,
    ParamValue,
    Rename,
    Search,
    SearchAnd,
    SearchArg,
    SearchKey,
    SearchNot,
    SearchOr,
    SearchTerm,
    Select,
    StartTLS,
    Status,
    Store,
    Subscribe,
    Unselect,
    Unsubscribe,
)
from .connection import ServerConnection
from .dates import format_datetime, parse_date, parse_datetime
from .events import (
    AppendBegin,
    AppendData,
    AppendEnd,
    CommandError,
    CommandReceived,
    ConnectionClosed,
    ContinuationLine,
    Event,
    LiteralAnnounced,
)
from .limits import Limits
from .mutf7 import decode_mutf7, encode_mutf7
from .responses import (
    Atom,
    ContinuationResponse,
    DataResponse,
    Literal,
    Literal8,
    Mailbox,
    Raw,
    Response,
    StatusResponse,
    Value,
)
from .sequence import SequenceSet
from .serializer import serialize, serialize_value

__all__ = [
    "AppendBegin", "AppendData", "AppendEnd", "Atom", "Authenticate", "BodySection",
    "Capability", "Check", "Close", "Command", "CommandError", "CommandReceived",
    "Compress", "ConnectionClosed", "ContinuationLine", "ContinuationResponse", "Copy",
    "Create", "DataResponse", "Delete", "Enable", "Event", "Examine", "Expunge", "Fetch",
    "FetchAttr", "FetchItem", "Id", "Idle", "Limits", "List", "Literal", "Literal8",
    "LiteralAnnounced", "Login", "Logout", "Lsub", "Mailbox", "Move", "Namespace", "Noop",
    "Param", "ParamValue", "Raw", "Rename", "Response", "Search", "SearchAnd", "SearchArg",
    "SearchKey", "SearchNot", "SearchOr", "SearchTerm", "Select", "SequenceSet",
    "ServerConnection", "StartTLS", "Status", "StatusResponse", "Store", "Subscribe",
    "Unselect", "Unsubscribe", "Value", "decode_mutf7", "encode_mutf7", "format_datetime",
    "parse_date", "parse_datetime", "serialize", "serialize_value",
]
