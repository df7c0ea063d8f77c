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
from server.names import undecodable

if TYPE_CHECKING:
    from server.context import ServerContext
    from server.view import View
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


class Disconnect(Exception):
    """The connection is over (logout, timeout, too many errors, peer gone); never answered
    as a command failure."""


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
    async def read_line(self, secret: bool = False) -> bytes | None: ...
    async def start_tls(self) -> None: ...
    async def start_compression(self) -> None: ...
    def accept_literal(self) -> None: ...
    def reject_literal(self, status: str, code: str | None, text: str) -> None: ...
    def shape_output(self, output_filter: Callable[[bytes], bytes] | None,
                     trickle: float = 0.0) -> None: ...

    @property
    def compression_active(self) -> bool: ...

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
    view: View | None = None
    append: Any = None  # a PendingAppend while an APPEND's literal arrives

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

    @property
    def viewer(self) -> int | None:
        """The user id storage needs to show flags as this user sees them (private flags
        in shared mailboxes, see ``storage/messages.py``)."""
        return None if self.user is None else self.user.id

    def capabilities(self) -> list[Atom]:
        return self.server.capabilities(self)

    # -- CONDSTORE / QRESYNC (RFC 7162) -----------------------------------------------------
    @property
    def condstore(self) -> bool:
        return "CONDSTORE" in self.enabled

    @property
    def qresync(self) -> bool:
        return "QRESYNC" in self.enabled

    def enable_condstore(self) -> None:
        """RFC 7162 §3.1: the first CONDSTORE enabling command makes every later FETCH
        carry MODSEQ; with a mailbox selected, HIGHESTMODSEQ is reported at once."""
        if self.condstore:
            return
        self.enabled.add("CONDSTORE")
        if self.view is not None:
            self.view.condstore = True
            self.untagged_status("OK", "Highest", "HIGHESTMODSEQ", (self.view.modseq,))

    def enable_qresync(self) -> None:
        """RFC 7162 §3.2.3: QRESYNC implies CONDSTORE and turns EXPUNGE into VANISHED."""
        self.enable_condstore()
        self.enabled.add("QRESYNC")
        if self.view is not None:
            self.view.qresync = True

    # -- the selected mailbox ----------------------------------------------------------------
    def deselect(self) -> None:
        self.view = None
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    async def sync(self, allow_expunge: bool, woken: bool = False) -> None:
        """Pull the selected mailbox's changes from storage and report them (RFC 3501
        §7.4.1 decides whether EXPUNGE may be sent now; DESIGN.md "Many clients").
        ``woken``: after an IDLE wake-up, when many sessions may ask the same question."""
        view = self.view
        if view is None:
            return
        store = self.server.store
        hub = self.server.hub
        if woken:
            changes = await hub.woken_changes(store, view.mailbox_id, view.modseq, self.viewer)
        else:
            changes = await store.changes_since(view.mailbox_id, view.modseq,
                                                viewer=self.viewer)
        if changes.highest_modseq <= view.modseq and not changes.updated \
                and not changes.expunged and not (allow_expunge and view.ghosts):
            return
        last = view.uids[-1] if view.uids else 0
        if not view.readonly and any(m.uid > last for m in changes.updated) and \
                (not woken or hub.first_claim(view.mailbox_id)):
            # RFC 3501 §2.3.2: a new message is \Recent in exactly one session, the first
            # to be told about it.
            view.recent.update(await store.claim_recent(view.mailbox_id))
        for response in view.apply(changes, allow_expunge):
            self.channel.send(response)

    # -- running a command ------------------------------------------------------------------
    async def execute(self, tag: str, command: Any) -> None:
        """Check the state table, run the handler, report mailbox changes, then send the
        tagged completion."""
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
        if (bad_name := undecodable(command)) is not None:
            result = Result(f"Invalid mailbox name: {bad_name.reason}", "CANNOT", status="NO")
            await self.complete(tag, result, allows_expunge(command))
            return
        faults = self.server.faults
        fault = faults.take(self, type(command).__name__.upper()) if faults.faults else None
        if fault is not None:
            from server.faults import run_with_fault

            await run_with_fault(self, tag, command, fault,
                                 lambda: self._run(tag, command, spec.handler))
            return
        await self._run(tag, command, spec.handler)

    async def _run(self, tag: str, command: Any, handler: Handler) -> None:
        try:
            result = await handler(self, tag, command)
        except Disconnect:
            raise
        except CommandFailed as exc:
            if exc.status == "BAD":
                self.bad_commands += 1
                self.channel.send(StatusResponse(tag, "BAD", exc.text, exc.code, exc.code_args))
                return
            result = Result(exc.text, exc.code, exc.code_args, exc.status)
        except Exception:
            log.exception("handler for %s failed", type(command).__name__)
            result = Result("Internal server error, logged", "SERVERBUG", status="NO")
        await self.complete(tag, result, allows_expunge(command))

    async def complete(self, tag: str, result: Result, allow_expunge: bool = True) -> None:
        if self.view is not None:
            try:
                await self.sync(allow_expunge)
            except Exception:
                log.exception("mailbox sync failed")
        self.channel.send(StatusResponse(tag, result.status, result.text, result.code,
                                         result.code_args))
        if result.after is not None:
            await result.after()


def allows_expunge(command: Any) -> bool:
    """RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH by message
    number: the client's numbers would shift under it. The UID forms carry no numbers the
    client relies on, and COPY must report pending expunges (RFC 2180 §4.4)."""
    from protocol import Fetch, Search, Store

    return not (isinstance(command, Fetch | Store | Search) and not command.uid)
