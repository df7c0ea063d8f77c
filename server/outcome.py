"""What a command can end with, and the session states it runs in (RFC 3501 §3).

A leaf module: it imports only ``protocol``, so the session, the command table and every
handler can share these names without importing one another (the session does not import
the handlers; it is handed the command table, see ``crispin.server.commands``).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from crispin.protocol import Value


class State(enum.Enum):
    """RFC 3501 §3: the four states of a connection."""

    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY = frozenset(State) - {State.LOGOUT}
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})


class Disconnect(Exception):
    """The connection is over (logout, timeout, too many errors, peer gone, selected
    mailbox deleted); never answered as a command failure."""


class CommandFailed(Exception):
    """Raised by a handler to answer NO (or BAD) with an RFC 5530 response code."""

    def __init__(self, text: str, code: str | None = None, status: str = "NO",
                 code_args: tuple[Value, ...] = ()) -> None:
        super().__init__(text)
        self.text = text
        self.code = code
        self.status = status
        self.code_args = code_args


@dataclass(frozen=True)
class Result:
    """The tagged completion of a command."""

    text: str = "done"
    code: str | None = None
    code_args: tuple[Value, ...] = ()
    status: str = "OK"
    # Run after the tagged response is written (STARTTLS starts the handshake only then).
    after: Callable[[], Awaitable[None]] | None = None
