"""Faults on demand: make the IMAP side fail on purpose, so the error handling of a client
under test can be tested at all.

A fault is asked for through the HTTP API (``/api/faults``) or the pytest plugin, scoped to a
user or one connection, to some commands, for the next N of them or a time window. When a
command matches, the session applies it instead of (or around) the command:

- ``no``: ``NO [code] text`` (e.g. ``UNAVAILABLE``, ``OVERQUOTA``: RFC 5530), command not run;
- ``bad``: ``BAD text``, command not run;
- ``bye``: ``* BYE text`` and the connection closes (RFC 3501 §7.1.5), command not run;
- ``close``: the command runs (its effects are kept) but the connection closes before the
  tagged reply; on IDLE, it closes right after ``+ idling``;
- ``close_mid_literal``: the command runs, its answer is cut in the middle of the first
  literal (a FETCH body), and the connection closes;
- ``delay``: the answer comes ``delay`` seconds late (a slow server);
- ``trickle``: the answer is sent one byte at a time, ``delay`` seconds apart;
- ``expunge``: the selected mailbox's messages (or ``uids``) are expunged, as if by another
  client, just before the command runs.

With ``"protocol": "smtp"`` a fault applies to the SMTP, submission and LMTP sessions instead
(commands are SMTP verbs: EHLO, MAIL, RCPT, DATA…), with its own actions:

- ``tempfail``: a ``4xx`` reply (``code``, default 451; RFC 5321 §4.2.2 "transient"), the
  command not run; 421 also closes the connection (RFC 5321 §3.8);
- ``reject``: a ``5xx`` reply (``code``, default 554 after DATA, 550 otherwise: "permanent");
- ``disconnect``: the connection closes with no reply. On DATA, after the whole message was
  received *and stored*: the 250 is what is lost, the duplicate case of RFC 5321 §6.1.

On DATA, ``tempfail`` and ``reject`` answer the end of the message (the reply a content filter
gives), not the ``DATA`` command itself. ``user`` matches the authenticated sender
(submission) or a recipient's account.

Every fault applied is logged at WARNING and kept in :attr:`FaultBoard.history`. This is
test-only behaviour: it exists only when the HTTP API is on (DESIGN.md "Other ways in").
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from crispin.protocol import ContinuationResponse, Idle, StatusResponse
from crispin.server.outcome import Disconnect
from crispin.server.removal import remove_messages

if TYPE_CHECKING:
    from crispin.server.session import Session

log = logging.getLogger("crispin.faults")

ACTIONS = ("no", "bad", "bye", "close", "close_mid_literal", "delay", "trickle", "expunge")
SMTP_ACTIONS = ("tempfail", "reject", "disconnect")
PROTOCOLS = ("imap", "smtp")
MAX_HISTORY = 1000


class FaultError(ValueError):
    """A fault description that cannot be applied."""


@dataclass
class Fault:
    action: str
    commands: tuple[str, ...] = ()  # upper-case IMAP command names; empty: every command
    user: str | None = None
    connection: str | None = None  # "host:port" of the client, as GET /api/connections shows
    count: int | None = 1  # the next N matching commands; None: unlimited (within seconds)
    seconds: float | None = None  # time window from now
    code: str | None = None
    text: str = ""
    delay: float = 0.0
    uids: tuple[int, ...] = ()
    protocol: str = "imap"
    id: int = 0
    until: float | None = field(default=None, repr=False)

    def matches(self, protocol: str, users: Collection[str], peer: str, command: str,
                now: float) -> bool:
        if self.protocol != protocol:
            return False
        if self.until is not None and now > self.until:
            return False
        if self.commands and command not in self.commands:
            return False
        if self.user is not None and self.user not in users:
            return False
        return self.connection is None or self.connection == peer

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("until")
        out["commands"] = list(self.commands)
        out["uids"] = list(self.uids)
        return out


_CODE = re.compile(r"[A-Z][A-Z0-9-]{0,40}")
_SMTP_CODE = {"tempfail": re.compile(r"4[0-5][0-9]"), "reject": re.compile(r"5[0-5][0-9]")}


def make_fault(data: dict[str, Any]) -> Fault:
    """A fault from its JSON description; ``FaultError`` for anything off."""
    protocol = data.get("protocol") or "imap"
    if protocol not in PROTOCOLS:
        raise FaultError(f"protocol must be one of {', '.join(PROTOCOLS)}")
    action = data.get("action")
    allowed = SMTP_ACTIONS if protocol == "smtp" else ACTIONS
    if not isinstance(action, str) or action not in allowed:
        raise FaultError(f"action must be one of {', '.join(allowed)} for {protocol}")
    commands = data.get("commands", [])
    if isinstance(commands, str):
        commands = [commands]
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        raise FaultError("commands must be a list of command names")
    count = data.get("count", None if data.get("seconds") is not None else 1)
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)
                              or count < 1):
        raise FaultError("count must be a positive integer")
    seconds = _number(data, "seconds")
    delay = _number(data, "delay") or 0.0
    if action in ("delay", "trickle") and not delay:
        delay = 1.0 if action == "delay" else 0.01
    code = data.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)
    if protocol == "smtp":
        pattern = _SMTP_CODE.get(action)
        if code is not None and (pattern is None or not isinstance(code, str)
                                 or not pattern.fullmatch(code)):
            raise FaultError("code must be a 4xx reply code for tempfail, 5xx for reject "
                             "(RFC 5321 §4.2), and none for disconnect")
    elif code is not None and (not isinstance(code, str) or not _CODE.fullmatch(code)):
        raise FaultError("code must be an RFC 5530 response code such as UNAVAILABLE")
    text = data.get("text", "")
    if not isinstance(text, str) or any(c in text for c in "\r\n"):
        raise FaultError("text must be one line")
    uids = data.get("uids", [])
    if not isinstance(uids, list) or not all(isinstance(u, int) for u in uids):
        raise FaultError("uids must be a list of integers")
    for key in ("user", "connection"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise FaultError(f"{key} must be a string")
    return Fault(action, tuple(c.upper() for c in commands), data.get("user"),
                 data.get("connection"), count, seconds, code, text, delay, tuple(uids),
                 protocol)


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 3600:
        raise FaultError(f"{key} must be a number of seconds up to 3600")
    return float(value)


class FaultBoard:
    """The faults asked for, shared by every session of one server."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.history: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def add(self, fault: Fault) -> Fault:
        fault.id = next(self._ids)
        if fault.seconds is not None:
            fault.until = time.monotonic() + fault.seconds
        self.faults.append(fault)
        log.warning("fault %d armed: %s", fault.id, fault.public())
        return fault

    def remove(self, fault_id: int) -> bool:
        before = len(self.faults)
        self.faults = [f for f in self.faults if f.id != fault_id]
        return len(self.faults) != before

    def clear(self) -> None:
        self.faults.clear()

    def take(self, session: Session, command: str, actions: tuple[str, ...] = ACTIONS
             ) -> Fault | None:
        """The first fault matching this command of this IMAP session, used up by one; only
        faults among ``actions`` (APPEND can only refuse its literal)."""
        users = () if session.user is None else (session.user.name,)
        return self.take_for("imap", users, session.peer, command, actions)

    def take_for(self, protocol: str, users: Sequence[str], peer: str, command: str,
                 actions: tuple[str, ...] = ACTIONS + SMTP_ACTIONS) -> Fault | None:
        """The first ``protocol`` fault matching ``command`` from ``peer`` ("host:port") on
        behalf of any of ``users``, used up by one."""
        if not self.faults:
            return None
        now = time.monotonic()
        self.faults = [f for f in self.faults if f.until is None or now <= f.until]
        for fault in self.faults:
            if fault.action in actions and fault.matches(protocol, users, peer, command, now):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                user = fault.user or ",".join(dict.fromkeys(users)) or None
                entry = {"fault": fault.id, "protocol": protocol, "action": fault.action,
                         "command": command, "user": user, "connection": peer}
                self.history.append(entry)
                del self.history[:-MAX_HISTORY]
                log.warning("fault %d applied: %s %s on %s by %s (%s)", fault.id, protocol,
                            fault.action, command, user or "-", peer)
                return fault
        return None


class LiteralCutter:
    """Passes output through up to the middle of the first literal (``{n}\\r\\n`` and n
    bytes, RFC 3501 §4.3), then stops: ``close_mid_literal``."""

    _LITERAL = re.compile(rb"\{(\d+)\}\r\n")

    def __init__(self) -> None:
        self._seen = b""
        self.done = False

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return b""
        start = len(self._seen)
        self._seen += data
        found = self._LITERAL.search(self._seen)
        if found is None:
            return data
        size = int(found.group(1))
        if size < 2:
            return data
        cut = found.end() + size // 2
        if cut >= len(self._seen):
            return data
        self.done = True
        return self._seen[start:cut] if cut > start else b""


async def run_with_fault(session: Session, tag: str, command: Any, fault: Fault,
                         run: Callable[[], Awaitable[None]]) -> None:
    """Apply ``fault`` to one command; ``run`` is the command's normal execution (handler
    and tagged reply)."""
    channel = session.channel
    text = fault.text or "Fault injected by the test"
    action = fault.action
    if action in ("no", "bad"):
        channel.send(StatusResponse(tag, action.upper(), text, fault.code))
        return
    if action == "bye":
        channel.send(StatusResponse(None, "BYE", text, fault.code))
        raise Disconnect
    if action == "delay":
        await asyncio.sleep(fault.delay)
        await run()
        return
    if action == "expunge":
        view = session.view
        if view is not None:
            await remove_messages(session.server.store, view.mailbox_id,
                                  list(fault.uids) or None)
        await run()
        return
    if action == "close" and isinstance(command, Idle):
        channel.send(ContinuationResponse("idling"))
        await channel.flush()
        raise Disconnect
    if action == "close":
        marker = tag.encode() + b" "
        channel.shape_output(lambda data: b"" if data.startswith(marker) else data)
        await run()
        raise Disconnect
    if action == "close_mid_literal":
        cutter = LiteralCutter()
        channel.shape_output(cutter.feed)
        await run()
        raise Disconnect
    if action == "trickle":
        channel.shape_output(None, fault.delay)
        try:
            await run()
            await channel.flush()
        finally:
            channel.shape_output(None)
        return
    raise FaultError(f"unknown action {action}")  # pragma: no cover - make_fault checks
