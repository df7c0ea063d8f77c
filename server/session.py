"""One IMAP session: its state (RFC 3501 §3), who is logged in, and how a command runs.

The session never touches a socket: it talks to its :class:`Channel` (implemented by
``crispin.server.connection``) to send responses, read continuation lines and switch to TLS, so
handlers stay testable and the transport can change (COMPRESS, TLS) under them.

The session applies the command table's rules to every command alike: which states a
command runs in, and which mailbox updates may follow it (RFC 3501 §7.4.1); the whole flow
is documented in ``crispin.server.command_spec``. It does not import the handlers: it is handed the
table (``ServerContext.commands``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from crispin.protocol import (
    Atom,
    Copy,
    DataResponse,
    Fetch,
    FetchItem,
    Response,
    SequenceSet,
    StatusResponse,
    Value,
)
from crispin.server import contexts, metadata_events
from crispin.server.auth import plaintext_allowed
from crispin.server.command_spec import CommandSpec, Handler
from crispin.server.faults import run_with_fault
from crispin.server.names import undecodable
from crispin.server.outcome import (
    ANY,
    AUTH,
    NOT_AUTH,
    SELECTED,
    CommandFailed,
    Disconnect,
    Result,
    State,
)
from crispin.server.storage_errors import answer_for
from crispin.storage import Changes, NotFound, StorageError, StoreResult

if TYPE_CHECKING:
    from crispin.server.context import ServerContext
    from crispin.server.metadata_events import MetadataListener
    from crispin.server.read_ahead import ReadAhead
    from crispin.server.view import View
    from crispin.storage import StoreMode, User

log = logging.getLogger("crispin.session")

# Their home is ``crispin.server.outcome`` (a leaf: import them from there); still importable from
# here for code written before it, which imports nothing circular by doing so.
__all__ = ["ANY", "AUTH", "NOT_AUTH", "SELECTED", "Channel", "CommandFailed", "Disconnect",
           "Handler", "Result", "Session", "State"]

class Channel(Protocol):
    """What a session needs from its connection."""

    def send(self, response: Response) -> None: ...
    def write(self, data: bytes) -> None: ...
    async def flush(self) -> None: ...
    async def pace(self) -> None: ...
    def slice_over(self) -> bool: ...
    def look_ahead(self, wanted: Callable[[object], bool], limit: int) -> list[object]: ...
    async def give_way(self) -> None: ...
    async def read_line(self, secret: bool = False) -> bytes | None: ...
    async def start_tls(self) -> None: ...
    async def start_compression(self) -> None: ...
    def restart_login(self) -> None: ...
    def use_utf8(self) -> None: ...
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

    def channel_bindings(self) -> dict[str, bytes]: ...


class Notifier(Protocol):
    """What the session and its connection need of NOTIFY's listener (RFC 5465; it is
    ``crispin.server.commands.notify_events.NotifyListener``, handed over by the NOTIFY
    handler: the session does not import the handlers)."""

    wake: asyncio.Event
    idle_wake: asyncio.Event | None
    selected_dirty: bool

    @property
    def selected_flags(self) -> bool: ...
    @property
    def pending(self) -> bool: ...
    async def deliver(self, between_commands: bool) -> None: ...
    async def deliver_now(self) -> None: ...
    @property
    def new_fetch(self) -> tuple[FetchItem, ...]: ...
    def stop(self) -> None: ...


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
    # Modseqs of the flag changes the running command made in the selected mailbox
    # (``store_flags``); the command table says whether they are echoed.
    written: list[int] = field(default_factory=list)
    access_serial: int = -1  # storage's access serial when rights were last read
    # (view modseq, changes since it) read by the running command together with its own
    # data (a one-message FETCH: one trip to the database, not two); the sync after the
    # command uses them instead of reading again, if the view has not moved meanwhile.
    prefetched: tuple[int, Changes] | None = None
    # The messages of pipelined one-message FETCHes read with the first of them, for the
    # commands that follow it (``crispin.server.read_ahead``).
    read_ahead: ReadAhead | None = None
    # Unsolicited METADATA after ENABLE METADATA (RFC 5464 §4.1; ``metadata_events``).
    metadata_events: MetadataListener | None = None
    # What NOTIFY SET asked for (RFC 5465; ``crispin.server.commands.notify_events``).
    notify: Notifier | None = None
    # Untagged status responses other sessions left for this one (RFC 4467 RESETKEY's
    # URLMECH), sent before the tagged response of its next command, never in the middle
    # of one's output.
    notices: list[StatusResponse] = field(default_factory=list)
    # The (address, port) the client connected to: an absolute IMAP URL naming it names
    # this server (RFC 4469 §3's "server", ``crispin.server.urlparts``). None off a socket.
    local: tuple[str, int] | None = None

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
        return plaintext_allowed(self.server.config.get("auth", "plaintext"),
                                 self.channel.tls_active, self.channel.peer_is_loopback)

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

    @property
    def rev2(self) -> bool:
        """ENABLE IMAP4rev2 was sent (RFC 9051 Appendix A): the session speaks rev2."""
        return "IMAP4REV2" in self.enabled

    @property
    def utf8(self) -> bool:
        """The client enabled UTF8=ACCEPT (RFC 6855) or IMAP4rev2 (RFC 9051 §5.1, Appendix E
        item 16): mailbox names in UTF-8, and it may APPEND 8-bit header fields."""
        return "UTF8=ACCEPT" in self.enabled or self.rev2

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

    def unauthenticate(self) -> None:
        """RFC 8437 §3: reset every piece of connection state but TLS's. The selected
        mailbox is left without an expunge (its view goes, and with it the saved search
        ``$`` of RFC 5182 and the CONTEXT updates of RFC 5267, §4.1); ENABLEd extensions
        (CONDSTORE, QRESYNC) cease; the cached access serial is forgotten so the next user's
        rights are read afresh. The connection's pre-login limits and deadline return
        (``Channel.restart_login``)."""
        self.view = None
        self.user = None
        self.state = State.NOT_AUTHENTICATED
        self.enabled.clear()
        metadata_events.disable(self)
        if self.notify is not None:
            self.notify.stop()
        self.access_serial = -1
        self.written = []
        self.channel.restart_login()

    async def store_flags(self, uids: Sequence[int], mode: StoreMode, flags: Iterable[str],
                          unchanged_since: int | None = None, *,
                          want_states: bool = True) -> StoreResult:
        """The one way a command changes flags in the selected mailbox (STORE, FETCH's
        implicit \\Seen): the change is recorded so that the sync after the command does
        not echo it when the command table says so (``crispin.server.command_spec``).
        ``want_states`` False: only the messages UNCHANGEDSINCE refused are returned."""
        view = self.view
        assert view is not None
        result = await self.server.store.store_flags(view.mailbox_id, uids, mode, flags,
                                                     unchanged_since, viewer=self.viewer,
                                                     want_states=want_states)
        if result.changed:
            self.written.append(result.highest_modseq)
        return result

    async def report_own_expunges(self, uids: Iterable[int]) -> None:
        """EXPUNGE and MOVE report the messages they removed at once, with any expunges
        of other sessions still pending (the command allows them, RFC 3501 §7.4.1): in
        ascending order, each number valid when read (``View.remove``).  Paced like FETCH
        and STORE output: 100,000 expunged messages are 100,000 lines, produced one at a
        time and held back while the client does not read (issue 10.5)."""
        view = self.view
        assert view is not None
        uids = list(uids)
        if view.contexts:
            for response in contexts.before_expunge(view, uids):
                self.channel.send(response)
        for response in view.remove(uids):
            self.channel.send(response)
            await self.channel.pace()

    async def claim_recent(self, view: View, woken: bool = False) -> None:
        """RFC 3501 §2.3.2: a message is \\Recent in exactly one session, the first to be
        told about it; SELECT and the syncs after it claim here and nowhere else. A
        read-only session (EXAMINE) shows the messages no session has claimed yet without
        claiming them, so that EXAMINE and STATUS count the same RECENT. An IMAP4rev2
        session has no \\Recent (RFC 9051 Appendix E item 12) and claims nothing, leaving
        the messages recent for a rev1 session."""
        if self.rev2:
            return
        store = self.server.store
        if view.readonly:
            view.recent.update(await store.claim_recent(view.mailbox_id, claim=False))
        elif not woken or self.server.hub.first_claim(view.mailbox_id):
            # After an IDLE wake-up only the first woken session can get anything.
            view.recent.update(await store.claim_recent(view.mailbox_id))

    def mailbox_gone(self) -> Disconnect:
        """The selected mailbox was deleted by another session: like Dovecot, say so in a
        BYE and end the session (RFC 3501 §7.1.5); the client reconnects and lists."""
        self.channel.send(StatusResponse(
            None, "BYE", "Selected mailbox was deleted, have to disconnect"))
        log.info("%s: selected mailbox %d was deleted", self.peer,
                 self.view.mailbox_id if self.view is not None else 0)
        self.deselect()
        self.state = State.LOGOUT
        return Disconnect()

    async def check_selected(self) -> None:
        """Raise (after the BYE) if the selected mailbox no longer exists: what a storage
        failure during a command in the selected state checks first."""
        view = self.view
        if view is None:
            return
        info = await self.server.store.get_mailbox_by_id(view.mailbox_id)
        if info is None or info.noselect:
            raise self.mailbox_gone()

    async def sync(self, allow_expunge: bool, woken: bool = False,
                   hide: Collection[int] = (), flags: bool = True,
                   own_new: bool = False) -> None:
        """Pull the selected mailbox's changes from storage and report them; ``hide``: the
        modseqs of changes the command answered itself (``crispin.server.command_spec`` has the
        whole flow). ``woken``: after an IDLE wake-up, when many sessions may ask the same
        question. ``flags`` False: no flag FETCH (NOTIFY without FlagChange, RFC 5465
        §3.1); new messages are followed by what NOTIFY's MessageNew (§5.2) and the
        contexts' UPDATE (§7) asked for, unless the command added them (``own_new``)."""
        view = self.view
        if view is None:
            return
        if self.notify is not None:
            self.notify.selected_dirty = False  # what is read now includes it
        store = self.server.store
        hub = self.server.hub
        try:
            pre, self.prefetched = self.prefetched, None
            if woken:
                changes = await hub.woken_changes(store, view.mailbox_id, view.modseq,
                                                  self.viewer)
            elif pre is not None and pre[0] == view.modseq:
                changes = pre[1]
            else:
                # The command's own flag changes are not read at all (a STORE 1:* of
                # 100,000 messages would otherwise be read back here only to be hidden).
                changes = await store.changes_since(view.mailbox_id, view.modseq,
                                                    viewer=self.viewer, skip=hide)
        except NotFound:  # NoSelect too: deleted, its name kept for its inferiors
            raise self.mailbox_gone() from None
        if changes.highest_modseq <= view.modseq and not changes.updated \
                and not changes.expunged and not (allow_expunge and view.ghosts):
            return
        last = view.uids[-1] if view.uids else 0
        newest = max((m.uid for m in changes.updated if m.uid > last), default=0)
        # RFC 3501 §2.3.2: only a new message no session claimed yet can be \Recent here;
        # when another session claimed them all (their UIDs below ``first_recent_uid`` in
        # the snapshot just read), the claim would be a write that changes nothing, queued
        # behind every other session's writes (bench/README.md "Mixed load").
        if newest and newest >= changes.first_recent_uid:
            await self.claim_recent(view, woken)
        if view.contexts:  # RFC 5267 §4.3.4: REMOVEFROM before the EXPUNGE
            for response in contexts.before_expunge(view, changes.expunged):
                self.channel.send(response)
        for response in view.apply(changes, allow_expunge, hide, flags):
            self.channel.send(response)
            await self.channel.pace()
        updates = await contexts.refresh(store, view, self.viewer) if view.contexts else []
        fetches: list[tuple[list[int], tuple[FetchItem, ...]]] = []
        notified: tuple[FetchItem, ...] = ()
        if view.uids and view.uids[-1] > last and not own_new:
            # RFC 5465 §5.2: "A FETCH response SHOULD NOT be generated for a new message
            # created by the client on this particular connection" (APPEND, COPY).
            notified = self.notify.new_fetch if self.notify is not None else ()
            fetches = contexts.new_message_fetches(view, last, notified)
        if fetches and not notified:
            # Only a context's UPDATE asked (RFC 5465 §7): "the EXISTS response MUST
            # precede any FETCH responses, and together they MUST precede the ESEARCH".
            await self._fetch_new(fetches)
            fetches = []
        for response in updates:  # RFC 5267 §4.3.3: ADDTO after the EXISTS
            self.channel.send(response)
        # NOTIFY's MessageNew attributes, with any context's merged in (RFC 5465 §5.2:
        # "The FETCH response(s) MUST follow any ESEARCH ADDTO responses").
        await self._fetch_new(fetches)

    async def _fetch_new(self, fetches: list[tuple[list[int], tuple[FetchItem, ...]]]) -> None:
        """The untagged FETCH of new messages (RFC 5465 §5.2, §7), by UID, through the
        command table's FETCH (the session does not import the handlers)."""
        handler = self.server.commands.specs[Fetch].handler
        for uids, items in fetches:
            await handler(self, "", Fetch(SequenceSet(tuple((u, u) for u in uids)), items,
                                          uid=True))

    @property
    def flag_changes(self) -> bool:
        """Whether flag changes of others in the selected mailbox are reported: always
        without NOTIFY; with it, if its SELECTED filter asked for FlagChange (RFC 5465
        §3.1: no SELECTED filter is SELECTED NONE)."""
        return self.notify is None or self.notify.selected_flags

    async def sync_idling(self, woken: bool) -> None:
        """The sync of an IDLE in progress (RFC 2177), which has no tagged answer to carry
        a failure until the client's DONE: a storage error is logged and the next wake-up
        retries; a bug is logged and ends the session with BYE instead of a tagged NO
        sent before DONE (which the client would then read as a command)."""
        try:
            await self.sync(allow_expunge=True, woken=woken, flags=self.flag_changes)
            if self.metadata_events is not None:
                await self.metadata_events.flush()
            if self.notify is not None:  # RFC 5465 §4: NOTIFY's events during IDLE
                await self.notify.deliver(between_commands=False)
        except Disconnect:
            raise
        except StorageError as exc:
            log.warning("%s: mailbox sync during IDLE failed in storage: %r", self.peer, exc)
        except Exception:
            log.exception("%s: mailbox sync during IDLE failed", self.peer)
            self.channel.send(StatusResponse(None, "BYE", "Internal server error, logged"))
            raise Disconnect from None

    # -- running a command ------------------------------------------------------------------
    async def execute(self, tag: str, command: Any) -> None:
        """Check the state table, run the handler, report mailbox changes as the table
        says, then send the tagged completion."""
        spec = self.server.commands.specs.get(type(command))
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
            await self.complete(tag, result, spec, command)
            return
        faults = self.server.faults
        fault = faults.take(self, type(command).__name__.upper()) if faults.faults else None
        if fault is not None:
            await run_with_fault(self, tag, command, fault,
                                 lambda: self._run(tag, command, spec))
            return
        await self._run(tag, command, spec)

    async def _run(self, tag: str, command: Any, spec: CommandSpec) -> None:
        """Run the handler, then ``complete``: the command table's update rules apply to
        every command alike (``crispin.server.command_spec``)."""
        self.written = []
        self.prefetched = None
        if self.read_ahead is not None and not self.read_ahead.holds(command):
            self.read_ahead = None  # not one of the commands it was read for
        try:
            if self.user is not None and not spec.checks_access:
                from crispin.server.access import recheck

                await recheck(self, with_changes=spec.sync_only)
            result = await spec.handler(self, tag, command)
        except Disconnect:
            raise
        except CommandFailed as exc:
            if exc.status == "BAD":
                self.bad_commands += 1
                self.channel.send(StatusResponse(tag, "BAD", exc.text, exc.code, exc.code_args))
                return
            result = Result(exc.text, exc.code, exc.code_args, exc.status)
        except StorageError as exc:
            result = await self.storage_failure(exc, type(command).__name__)
            if result.status == "BAD":
                self.bad_commands += 1
        except Exception:
            await self.check_selected()
            log.exception("handler for %s failed", type(command).__name__)
            result = Result("Internal server error, logged", "SERVERBUG", status="NO")
        await self.complete(tag, result, spec, command)

    async def storage_failure(self, exc: StorageError, what: str) -> Result:
        """A storage error no handler answered: the selected mailbox deleted under the
        command ends the session; anything else is answered from the one table of
        ``crispin.server.storage_errors``."""
        if isinstance(exc, NotFound):
            await self.check_selected()
        answer = answer_for(exc)
        if answer.logged:
            log.warning("%s: %s failed in storage: %r", self.peer, what, exc)
        return Result(answer.text, answer.code, status=answer.status)

    async def complete(self, tag: str, result: Result, spec: CommandSpec | None = None,
                       command: Any = None) -> None:
        """Send the updates the command allows (``spec`` None: every kind, as after
        APPEND), then the tagged completion. A failure of the sync is never hidden: the
        deleted mailbox ends the session in ``sync``; a storage error leaves the view as
        it was (the next command catches up) and is logged; a bug is logged and ends the
        session after the tagged answer, since the view can no longer be trusted."""
        broken = False
        if self.view is not None and (spec is None or spec.updates):
            allow = True if spec is None else spec.may_expunge(command)
            hide = self.written if spec is not None and not spec.echo else ()
            try:
                await self.sync(allow, hide=hide, flags=self.flag_changes,
                                own_new=spec is None or isinstance(command, Copy))
            except Disconnect:
                raise
            except StorageError as exc:
                log.warning("%s: mailbox sync failed in storage: %r", self.peer, exc)
            except Exception:
                log.exception("%s: mailbox sync failed", self.peer)
                broken = True
        if self.metadata_events is not None and (spec is None or spec.updates):
            try:
                await self.metadata_events.flush()
            except StorageError as exc:
                log.warning("%s: METADATA updates failed in storage: %r", self.peer, exc)
        if self.notify is not None and (spec is None or spec.updates):
            try:
                await self.notify.deliver(between_commands=False)
            except StorageError as exc:
                log.warning("%s: NOTIFY events failed in storage: %r", self.peer, exc)
        self.written = []
        for notice in self.notices:
            self.channel.send(notice)
        self.notices.clear()
        self.channel.send(StatusResponse(tag, result.status, result.text, result.code,
                                         result.code_args))
        if broken:
            self.channel.send(StatusResponse(None, "BYE", "Internal server error, logged"))
            raise Disconnect
        if result.after is not None:
            await result.after()
