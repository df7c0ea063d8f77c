"""One SMTP, submission or LMTP connection (RFC 5321, RFC 6409, RFC 2033).

The sans-I/O :class:`crispin.protocol.smtp.SmtpConnection` frames input and keeps the command order;
this session decides: who may send (AUTH on submission, RFC 6409 §4.3), who receives
(:class:`crispin.server.delivery.Router`), and stores the message through
:func:`crispin.server.delivery.deliver` before answering 250, so nothing answered 250 is lost (RFC
5321 §6.1: the 250 after DATA takes the responsibility for the message).

Replies are collected and written when the session would wait for input (RFC 2920 §3.1: a
pipelining server may send replies in groups).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crispin.protocol.smtp import (
    Auth,
    AuthResponse,
    BadCommand,
    CommandReceived,
    ConnectionClosed,
    Hello,
    MailFrom,
    MessageData,
    MessageEnd,
    RcptTo,
    Reply,
    Simple,
    SmtpConnection,
    SmtpEvent,
)
from crispin.server.auth import Credentials, plaintext_allowed
from crispin.server.commands.append import Spool
from crispin.server.connection import is_loopback
from crispin.server.delivery import Recipient, RecipientRefused, Router, deliver
from crispin.server.faults import SMTP_ACTIONS, Fault
from crispin.server.smtp.sasl import SaslExchange
from crispin.server.smtp.trace import received_header, with_protocol
from crispin.server.stream import StreamProtocol
from crispin.storage import OverQuota, User

if TYPE_CHECKING:
    from crispin.server.context import ServerContext

log = logging.getLogger("crispin.smtp")

# RFC 5321 §4.5.3.2.7: a server waits at least 5 minutes for the next command.
COMMAND_TIMEOUT = 300.0
TLS_HANDSHAKE_TIMEOUT = 30.0

KINDS = ("smtp", "submission", "lmtp")


def command_verb(command: object) -> str:
    """The SMTP verb a command was sent as (RFC 5321 §4.1.1), as faults name them."""
    if isinstance(command, Hello | Simple):
        return command.verb
    if isinstance(command, MailFrom):
        return "MAIL"
    if isinstance(command, RcptTo):
        return "RCPT"
    if isinstance(command, Auth):
        return "AUTH"
    return type(command).__name__.upper()


@dataclass
class Transaction:
    sender: str = ""
    size: int = 0  # announced with SIZE= (RFC 1870), for the quota check at RCPT
    recipients: list[Recipient] = field(default_factory=list)
    spool: Spool | None = None
    utf8: bool = False

    def discard(self) -> None:
        if self.spool is not None:
            self.spool.discard()
            self.spool = None


class SmtpSession:
    def __init__(self, ctx: ServerContext, router: Router, stream: StreamProtocol,
                 peer: tuple[str, int], kind: str, tls: bool = False) -> None:
        assert kind in KINDS
        self.ctx = ctx
        self.config = ctx.config
        self.router = router
        self.stream = stream
        self.peer = peer
        self.kind = kind
        self.tls = tls
        self.max_size = int(self.config.get("limits", "max_append_size"))
        self.max_recipients = int(self.config.get("smtp", "max_recipients"))
        self.hostname = str(self.config.get("server", "hostname"))
        self.proto = SmtpConnection(lmtp=kind == "lmtp", max_message_size=self.max_size,
                                    bare_lf=str(self.config.get("smtp", "bare_lf")))
        self.helo = ""
        self.user: User | None = None
        self.tx: Transaction | None = None
        self.sasl: SaslExchange | None = None
        self.bad_commands = 0
        self._out: list[bytes] = []
        self._dropped = False  # a "disconnect" fault: close with no further reply
        # The command timeout (RFC 5321 §4.5.3.2.7): one timer per session that looks at
        # when the current wait for input began, instead of an ``asyncio.timeout`` (a
        # timer armed and cancelled) around each of the four reads of every message.
        self._waiting_since: float | None = None
        self._timed_out = False
        self._watchdog: asyncio.TimerHandle | None = None

    # -- the loop ---------------------------------------------------------------------------
    async def run(self) -> None:
        label = f"{self.kind} {self.peer[0]}:{self.peer[1]}"
        self._write(self.proto.greeting(Reply(
            220, f"{self.hostname} {'LMTP' if self.kind == 'lmtp' else 'ESMTP'} Crispin ready")))
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._watchdog = loop.call_later(COMMAND_TIMEOUT, self._watch, task)
        try:
            while True:
                event = self.proto.next_event()
                if event is None:
                    await self._flush()
                    if self.stream.closed and self.proto.phase.value == "closed":
                        break
                    self._waiting_since = loop.time()
                    try:
                        data = await self.stream.read()
                    except asyncio.CancelledError:
                        if not self._timed_out or task.uncancel():
                            raise  # shutdown (or a cancellation besides ours)
                        self._reply(Reply(421, f"{self.hostname} Timeout, closing", "4.4.2"))
                        break
                    finally:
                        self._waiting_since = None
                    self.proto.receive_data(data)
                    continue
                if isinstance(event, ConnectionClosed):
                    break
                await self._handle(event)
                if self.proto.phase.value == "closed" or self._dropped:
                    break
        except asyncio.CancelledError:
            # Server shutdown: RFC 5321 §3.8, 421 before closing.
            self._reply(Reply(421, f"{self.hostname} Service shutting down", "4.3.2"))
            with contextlib.suppress(Exception):
                await self._flush()
            raise
        except (ConnectionError, OSError) as exc:
            log.info("%s: connection lost: %s", label, exc)
        except Exception:
            log.exception("%s: session failed", label)
            self._reply(Reply(421, "Internal error, closing", "4.3.0"))
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()
            if self.tx is not None:
                self.tx.discard()
            with contextlib.suppress(Exception):
                await self._flush()
            self.stream.close()

    def _watch(self, task: asyncio.Task[None]) -> None:
        """The command timer: the session is cancelled once it has waited for input for
        COMMAND_TIMEOUT seconds; else the timer is set again for when that would be. A
        session busy with a command (a delivery) is not waiting: looked at again a tenth
        of the timeout later, so a wait that begins meanwhile ends after at most 1.1
        times the timeout (RFC 5321 §4.5.3.2.7 asks for at least 5 minutes)."""
        loop = asyncio.get_running_loop()
        since = self._waiting_since
        if since is not None and loop.time() - since >= COMMAND_TIMEOUT:
            self._timed_out = True
            task.cancel()
            return
        delay = (COMMAND_TIMEOUT / 10 if since is None
                 else since + COMMAND_TIMEOUT - loop.time())
        self._watchdog = loop.call_later(delay, self._watch, task)

    def _write(self, data: bytes) -> None:
        self._out.append(data)

    def _reply(self, reply: Reply) -> None:
        self._out.append(self.proto.send(reply))

    async def _flush(self) -> None:
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self.stream.write(data)
            await self.stream.drain()

    # -- events -----------------------------------------------------------------------------
    async def _handle(self, event: SmtpEvent) -> None:
        if isinstance(event, BadCommand):
            self._reply(event.reply)
            self._count_error()
        elif isinstance(event, CommandReceived):
            if not self._faulted(event.command):
                await self._command(event.command)
        elif isinstance(event, AuthResponse):
            await self._auth_step(event.line)
        elif isinstance(event, MessageData):
            if self.tx is not None and self.tx.spool is not None:
                await self.tx.spool.write(event.data, self.ctx.store)
        elif isinstance(event, MessageEnd):
            await self._message_end(event)

    def _count_error(self) -> None:
        self.bad_commands += 1
        if self.bad_commands >= int(self.config.get("limits", "max_bad_commands")):
            self._reply(Reply(421, "Too many errors, closing", "4.7.0"))

    async def _command(self, command: object) -> None:
        if isinstance(command, Hello):
            self._hello(command)
        elif isinstance(command, MailFrom):
            self._mail(command)
        elif isinstance(command, RcptTo):
            await self._rcpt(command)
        elif isinstance(command, Auth):
            await self._auth(command)
        elif isinstance(command, Simple):
            await self._simple(command)

    def _hello(self, cmd: Hello) -> None:
        """RFC 5321 §4.1.1.1: EHLO lists the extensions; HELO just greets back."""
        self.helo = cmd.domain
        self._reset()
        if not cmd.extended:
            self._reply(Reply(250, f"{self.hostname} Hello {cmd.domain}"))
            return
        lines = [f"{self.hostname} Hello {cmd.domain}", "PIPELINING", f"SIZE {self.max_size}",
                 "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"]
        if not self.tls and self.peer[0] != "unix":
            lines.append("STARTTLS")
        if self.kind != "lmtp" and self.user is None and self._plaintext_ok():
            lines.append("AUTH PLAIN LOGIN")  # RFC 4954 §3
        self._reply(Reply(250, tuple(lines)))

    def _plaintext_ok(self) -> bool:
        return plaintext_allowed(self.config.get("auth", "plaintext"), self.tls,
                                 self.peer[0] == "unix" or is_loopback(self.peer[0]))

    def _reset(self) -> None:
        if self.tx is not None:
            self.tx.discard()
        self.tx = None

    def _mail(self, cmd: MailFrom) -> None:
        if self.kind == "submission" and self.user is None:
            # RFC 6409 §4.3 / RFC 4954 §6: submission needs an authenticated sender.
            self._reply(Reply(530, "Authentication required", "5.7.0"))
            return
        utf8 = False
        size = 0
        for key, value in cmd.params.items():
            if key == "SIZE":  # RFC 1870 §6
                if value is None or not value.isdigit():
                    self._reply(Reply(501, "Syntax: SIZE=<number>", "5.5.4"))
                    return
                if int(value) > self.max_size:
                    self._reply(Reply(552, f"Message larger than the {self.max_size} byte "
                                      "limit", "5.3.4"))
                    return
                size = int(value)
            elif key == "BODY":  # RFC 6152 §2
                if (value or "").upper() not in ("7BIT", "8BITMIME"):
                    self._reply(Reply(555, f"BODY={value} is not supported", "5.5.4"))
                    return
            elif key == "SMTPUTF8" and value is None:  # RFC 6531 §3.4
                utf8 = True
            elif key == "AUTH":  # RFC 4954 §5: accepted, not trusted
                continue
            else:
                self._reply(Reply(555, f"Parameter {key} is not supported", "5.5.4"))
                return
        if not cmd.address.isascii() and not utf8:
            self._reply(Reply(553, "Non-ASCII address needs SMTPUTF8", "5.6.7"))
            return
        self.tx = Transaction(sender=cmd.address, size=size, utf8=utf8)
        self._reply(Reply(250, "Sender OK", "2.1.0"))

    async def _rcpt(self, cmd: RcptTo) -> None:
        tx = self.tx
        assert tx is not None
        if cmd.params:
            self._reply(Reply(555, f"Parameter {next(iter(cmd.params))} is not supported",
                              "5.5.4"))
            return
        if not cmd.address.isascii() and not tx.utf8:
            self._reply(Reply(553, "Non-ASCII address needs SMTPUTF8", "5.6.7"))
            return
        if len(tx.recipients) >= self.max_recipients:
            # RFC 5321 §4.5.3.1.10: 452, and the client sends the rest in another message.
            self._reply(Reply(452, "Too many recipients", "4.5.3"))
            return
        try:
            recipient = await self.router.resolve(cmd.address)
        except RecipientRefused as exc:
            log.info("%s: refused recipient %r: %s", self.peer[0], cmd.address, exc.text)
            self._reply(Reply(exc.code, exc.text, exc.enhanced))
            return
        if await self.router.over_quota(recipient.mailbox_id, tx.size):
            # RFC 9208 §5.1 / RFC 3463 X.2.2: refused now rather than after the data.
            self._reply(Reply(552, f"Mailbox of {cmd.address} is full", "5.2.2"))
            return
        if self._faulted(cmd, (recipient.user.name,)):
            return
        tx.recipients.append(recipient)
        self._reply(Reply(250, "Recipient OK", "2.1.5"))

    async def _simple(self, cmd: Simple) -> None:
        verb = cmd.verb
        if verb == "DATA":
            tx = self.tx
            assert tx is not None
            tx.spool = Spool(0, (), None)  # in memory: see _take
            # The trace header goes first (RFC 5321 §4.4); every recipient is known by now.
            protocol = with_protocol("LMTP" if self.kind == "lmtp" else "SMTP",
                                     self.proto.extended, self.tls, self.user is not None)
            await tx.spool.write(received_header(self.helo, self.peer[0], self.hostname,
                                                 protocol, [r.address for r in tx.recipients]),
                                 self.ctx.store)
            self._reply(Reply(354, "End data with <CR><LF>.<CR><LF>"))
        elif verb == "RSET":
            self._reset()
            self._reply(Reply(250, "Reset OK", "2.0.0"))
        elif verb == "NOOP":
            self._reply(Reply(250, "OK", "2.0.0"))
        elif verb == "QUIT":
            self._reply(Reply(221, f"{self.hostname} Bye", "2.0.0"))
        elif verb == "HELP":
            self._reply(Reply(214, "See RFC 5321; Crispin delivers to local mailboxes only",
                              "2.0.0"))
        elif verb == "VRFY":
            # RFC 5321 §3.5.3: 252 when the server will not verify but will accept.
            self._reply(Reply(252, "Cannot verify the user, but will try delivery", "2.1.5"))
        elif verb == "EXPN":
            self._reply(Reply(502, "EXPN is not implemented", "5.5.1"))
        elif verb == "STARTTLS":
            await self._starttls()

    async def _starttls(self) -> None:
        """RFC 3207 §4: 220, then the handshake with the IMAP certificate."""
        if self.tls or self.peer[0] == "unix":
            self._reply(Reply(503, "TLS is already active" if self.tls else
                              "TLS is not available here", "5.5.1"))
            return
        self._reply(Reply(220, "Ready to start TLS", "2.0.0"))
        await self._flush()
        self._reset()
        await self.stream.start_tls(self.ctx.ssl_context, TLS_HANDSHAKE_TIMEOUT)
        self.tls = True
        self.helo = ""

    # -- AUTH (RFC 4954) --------------------------------------------------------------------
    async def _auth(self, cmd: Auth) -> None:
        if cmd.mechanism not in ("PLAIN", "LOGIN") or self.kind == "lmtp":
            self._reply(Reply(504, f"Mechanism {cmd.mechanism} is not supported", "5.5.4"))
            return
        if not self._plaintext_ok():
            self._reply(Reply(538, "Encryption required; use STARTTLS", "5.7.11"))
            return
        self.sasl = SaslExchange(cmd.mechanism)
        await self._sasl_result(self.sasl.start(cmd.initial))

    async def _auth_step(self, line: str) -> None:
        if self.sasl is None:
            self._reply(Reply(501, "No authentication in progress", "5.5.1"))
            return
        await self._sasl_result(self.sasl.step(line))

    async def _sasl_result(self, outcome: Reply | tuple[str, str]) -> None:
        if isinstance(outcome, Reply):
            if outcome.code != 334:
                self.sasl = None
            self._reply(outcome)
            return
        self.sasl = None
        user = await self.ctx.authenticator.verify(Credentials(*outcome))
        if user is None:
            log.info("%s: SMTP authentication failed for %r", self.peer[0], outcome[0])
            await asyncio.sleep(float(self.config.get("auth", "failure_delay")))
            self._reply(Reply(535, "Authentication credentials invalid", "5.7.8"))
            return
        self.user = user
        self._reply(Reply(235, "Authentication successful", "2.7.0"))

    # -- end of DATA ------------------------------------------------------------------------
    async def _message_end(self, end: MessageEnd) -> None:
        tx = self.tx
        assert tx is not None and tx.spool is not None
        fault = self._fault("DATA", [r.user.name for r in tx.recipients])
        try:
            if fault is not None and fault.action != "disconnect":
                replies = [self._fault_reply(fault, "DATA")] * (
                    len(tx.recipients) if self.kind == "lmtp" else 1)
            else:
                replies = await self._take(tx, end)
        finally:
            self._reset()
        if fault is not None and fault.action == "disconnect":
            # The message is stored; only its 250 is lost (RFC 5321 §6.1).
            self._dropped = True
            return
        for reply in replies:
            self._reply(reply)

    # -- faults on demand (server/faults.py) ------------------------------------------------
    def _fault(self, verb: str, users: Sequence[str] = ()) -> Fault | None:
        board = self.ctx.faults
        if not board.faults:
            return None
        if self.user is not None:
            users = (self.user.name, *users)
        return board.take_for("smtp", users, f"{self.peer[0]}:{self.peer[1]}", verb,
                              SMTP_ACTIONS)

    def _faulted(self, command: object, users: Sequence[str] = ()) -> bool:
        """Apply a fault armed for ``command`` instead of running it; True when one was.
        DATA's faults answer the end of the message (:meth:`_message_end`), RCPT's are
        looked for once the recipient's account is known (:meth:`_rcpt`)."""
        verb = command_verb(command)
        if verb == "DATA" or (verb == "RCPT" and not users):
            return False
        fault = self._fault(verb, users)
        if fault is None:
            return False
        if fault.action == "disconnect":
            self._dropped = True
        else:
            self._reply(self._fault_reply(fault, verb))
        return True

    @staticmethod
    def _fault_reply(fault: Fault, verb: str) -> Reply:
        text = fault.text or "Fault injected by the test"
        if fault.action == "tempfail":
            code = int(fault.code or 451)
        else:
            code = int(fault.code or (554 if verb == "DATA" else 550))
        # RFC 3463 X.3.0: "other or undefined mail system status".
        return Reply(code, text, f"{code // 100}.3.0")

    async def _take(self, tx: Transaction, end: MessageEnd) -> list[Reply]:
        count = len(tx.recipients) if self.kind == "lmtp" else 1
        if end.too_big:
            return [Reply(552, f"Message larger than the {self.max_size} byte limit",
                          "5.3.4")] * count
        if end.bare_lf:
            return [Reply(550, "Bare LF in message; lines must end in CRLF", "5.5.2")] * count
        assert tx.spool is not None
        raw = await tx.spool.body()
        # Size 0 announced to the spool: the message stays in memory (bounded by the
        # protocol's size limit), so storage gets it as bytes.
        assert isinstance(raw, bytes)
        sent = None
        if self.kind == "submission" and self.user is not None and \
                self.config.get("smtp", "save_sent"):
            sent = await self.router.sent_mailbox(self.user)
        # Quotas are enforced inside the storage write (RFC 9208 §4.3): the common case costs
        # no read; only when it refuses are the recipients' quotas looked at one by one.
        full: list[Recipient] = []
        for attempt in range(2):
            targets = [r for r in tx.recipients if r not in full]
            if sent is not None:
                targets.append(sent)
            try:
                if targets:
                    await deliver(self.ctx.store, raw, targets)
                break
            except OverQuota:
                if attempt == 0:
                    full = [r for r in tx.recipients if await self.ctx.store.check_quota(
                        r.mailbox_id, end.size, 1) is not None]
                    if full and self.kind != "lmtp":
                        # One reply covers every recipient (RFC 5321 §4.2.5): all or none.
                        return [Reply(552, f"Mailbox of {full[0].address} is full",
                                      "5.2.2")]
                    if full:
                        continue
                log.warning("%s: over quota while delivering (the sent copy, or a race)",
                            self.peer[0])
                return [Reply(452, "Insufficient storage, try again later",
                              "4.2.2")] * count
            except Exception:
                log.exception("%s: delivery failed", self.peer[0])
                return [Reply(451, "Local error in processing, try again later",
                              "4.3.0")] * count
        log.info("%s: delivered %d bytes from %r to %s", self.peer[0], end.size, tx.sender,
                 ", ".join(r.address for r in tx.recipients))
        if self.kind == "lmtp":
            # RFC 2033 §4.2: one reply per recipient, in RCPT order.
            return [Reply(552, f"<{r.address}> mailbox full", "5.2.2") if r in full else
                    Reply(250, f"<{r.address}> delivered", "2.1.5") for r in tx.recipients]
        return [Reply(250, "Message accepted", "2.0.0")]
