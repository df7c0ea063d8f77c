"""One IMAP session: its state (RFC 3501 §3), who is logged in, and how a command runs.

The session never touches a socket: it talks to its :class:`Channel` (implemented by
``server.connection``) to send responses, read continuation lines and switch to TLS, so handlers
stay testable and the transport can change (COMPRESS, TLS) under them.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from protocol import Atom, DataResponse, Response, StatusResponse, Value

if TYPE_CHECKING:
    from server.context import ServerContext
    from storage import User

log = logging.getLogger("crispin.session")


class State(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


ANY = frozenset(State) - {State.LOGOUT}
NOT_AUTH = frozenset({State.NOT_AUTHENTICATED})
AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})
SELECTED = frozenset({State.SELECTED})


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


class Channel(Protocol):
    """What a session needs from its connection."""

    def send(self, response: Response) -> None: ...
    async def flush(self) -> None: ...
    async def read_line(self) -> bytes | None: ...
    async def start_tls(self) -> None: ...

    @property
    def tls_active(self) -> bool: ...

    @property
    def peer_is_loopback(self) -> bool: ...


Handler = Callable[["Session", str, Any], Awaitable[Result]]


@dataclass(eq=False)
class Session:
    server: ServerContext
    channel: Channel
    peer: str
    state: State = State.NOT_AUTHENTICATED
    user: User | None = None
    bad_commands: int = 0
    enabled: set[str] = field(default_factory=set)

    # -- responses --------------------------------------------------------------------------
    def untagged(self, *items: Value) -> None:
        self.channel.send(DataResponse(tuple(items)))

    def untagged_status(self, status: str, text: str, code: str | None = None,
                        code_args: tuple[Value, ...] = ()) -> None:
        self.channel.send(StatusResponse(None, status, text, code, code_args))

    # -- policy -----------------------------------------------------------------------------
    def plaintext_allowed(self) -> bool:
        """Dovecot's ``disable_plaintext_auth``: a password may cross an unencrypted
        connection only from loopback, unless configured otherwise (RFC 3501 §11.1,
        RFC 8314 §5)."""
        if self.channel.tls_active:
            return True
        policy = self.server.config.get("auth", "plaintext")
        if policy == "always":
            return True
        if policy == "loopback":
            return self.channel.peer_is_loopback
        return False

    def capabilities(self) -> list[Atom]:
        return self.server.capabilities(self)

    # -- running a command ------------------------------------------------------------------
    async def execute(self, tag: str, command: Any) -> None:
        """Check the state table, run the handler, send the tagged completion."""
        from server.commands import TABLE

        spec = TABLE.get(type(command))
        if spec is None:
            self.channel.send(StatusResponse(tag, "BAD", "Command not implemented"))
            self.bad_commands += 1
            return
        if self.state not in spec.states:
            self.channel.send(StatusResponse(
                tag, "BAD", f"Command not allowed in the {self.state.value} state"))
            self.bad_commands += 1
            return
        try:
            result = await spec.handler(self, tag, command)
        except CommandFailed as exc:
            if exc.status == "BAD":
                self.bad_commands += 1
            self.channel.send(StatusResponse(tag, exc.status, exc.text, exc.code, exc.code_args))
            return
        except Exception:
            log.exception("handler for %s failed", type(command).__name__)
            self.channel.send(StatusResponse(
                tag, "NO", "Internal server error, logged", "SERVERBUG"))
            return
        self.channel.send(StatusResponse(tag, result.status, result.text, result.code,
                                         result.code_args))
        if result.after is not None:
            await result.after()
