"""APPEND (RFC 3501 §6.3.11) arrives as events, not as one command: the message literal is
streamed (AppendBegin, AppendData..., AppendEnd) into a spool, so a 50 MB message never sits
in memory while it arrives. The size limit is checked when the literal is announced, before
the client sends a byte of it (RFC 7888 §4 / RFC 5530 [TOOBIG])."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from crispin.protocol import AppendBegin, AppendData, AppendEnd, Event
from crispin.server import names
from crispin.server.access import allowed_flags, rights_on_mailbox
from crispin.server.commands.copy import check_quota, target_mailbox
from crispin.server.ingest import deliver
from crispin.server.outcome import AUTH, CommandFailed, Result
from crispin.server.session import Session
from crispin.server.sets import compact_set
from crispin.storage import (
    InvalidFlag,
    MailboxInfo,
    NotFound,
    OverQuota,
    PreparedBody,
    SpoolWriter,
    StorageError,
    Store,
)
from crispin.storage import validate_flags as encode_flags

log = logging.getLogger("crispin.append")

# A message larger than storage keeps inline goes to a spool file as it arrives, written
# (and hashed) in a worker thread at most this much at a time (issue 10.4, 10.7).
SPOOL_WRITE = 1024 * 1024


@dataclass
class Spool:
    size: int
    flags: tuple[str, ...]
    internal_date: datetime | None
    buffer: bytearray = field(default_factory=bytearray)
    file: SpoolWriter | None = None

    async def write(self, data: bytes, store: Store) -> None:
        self.buffer += data
        if self.file is None and self.size > store.inline_max:
            self.file = await store.spool()
        if self.file is not None and len(self.buffer) >= SPOOL_WRITE:
            await self._drain()

    async def _drain(self) -> None:
        assert self.file is not None
        data, self.buffer = bytes(self.buffer), bytearray()
        await asyncio.to_thread(self.file.write, data)

    async def body(self) -> bytes | PreparedBody:
        """The message: bytes when small, else the spooled file, hashed and fsynced,
        which storage moves into place (the spool no longer owns it)."""
        if self.file is None:
            return bytes(self.buffer)
        if self.buffer:
            await self._drain()
        file, self.file = self.file, None
        try:
            return await asyncio.to_thread(file.finish)
        except BaseException:
            file.discard()
            raise

    def discard(self) -> None:
        if self.file is not None:
            self.file.discard()
            self.file = None
        self.buffer = bytearray()


@dataclass
class PendingAppend:
    tag: str
    mailbox: MailboxInfo
    messages: list[Spool] = field(default_factory=list)

    def discard(self) -> None:
        for spool in self.messages:
            spool.discard()


def _reject(session: Session, status: str, code: str | None, text: str) -> None:
    session.channel.reject_literal(status, code, text)
    abandon(session)


def abandon(session: Session) -> None:
    """Forget a half-received APPEND (a syntax error after its literal, a disconnect)."""
    pending: PendingAppend | None = session.append
    if pending is not None:
        pending.discard()
        session.append = None


async def _begin(session: Session, event: AppendBegin) -> None:
    if session.state not in AUTH:
        _reject(session, "BAD", None, "APPEND is not allowed before login")
        return
    faults = session.server.faults
    fault = faults.take(session, "APPEND", ("no", "bad")) if faults.faults else None
    if fault is not None:
        _reject(session, fault.action.upper(), fault.code,
                fault.text or "Fault injected by the test")
        return
    limit = session.server.append_limit()
    if event.size > limit:  # RFC 7889 §4
        _reject(session, "NO", "TOOBIG", f"Message larger than the {limit} byte limit")
        return
    try:
        encode_flags(event.flags)
    except InvalidFlag as exc:
        _reject(session, "BAD", None, f"Invalid flag: {exc}")
        return
    pending: PendingAppend | None = session.append
    if pending is None or pending.tag != event.tag:
        abandon(session)
        try:
            if (bad_name := names.undecodable(event)) is not None:
                # As for every command naming a mailbox (server/names.py): NO, not BAD.
                raise CommandFailed(f"Invalid mailbox name: {bad_name.reason}", "CANNOT")
            info = await target_mailbox(session, event.mailbox)
            await check_quota(session, info.id, event.size, 1)
        except CommandFailed as exc:
            # Refused before the client sends the message (RFC 3501 §6.3.11 TRYCREATE,
            # RFC 9208 OVERQUOTA, RFC 4314 NOPERM).
            _reject(session, "NO", exc.code, exc.text)
            return
        except StorageError as exc:
            answer = await session.storage_failure(exc, "APPEND")
            _reject(session, answer.status, answer.code, answer.text)
            return
        pending = PendingAppend(event.tag, info)
        session.append = pending
    else:
        # A second message in one APPEND is MULTIAPPEND (RFC 3502), which is not
        # advertised: refused before its bytes come (a non-synchronising one is counted
        # away, never kept), so one command cannot pile up messages (issue 11.4).
        _reject(session, "BAD", None, "MULTIAPPEND is not supported")
        return
    # RFC 4314 §4: flags the user has no right to set are dropped, the APPEND succeeds.
    rights = await rights_on_mailbox(session, pending.mailbox)
    flags = tuple(allowed_flags(event.flags, rights))
    pending.messages.append(Spool(event.size, flags, event.internal_date))
    session.channel.accept_literal()


async def _end(session: Session, event: AppendEnd) -> None:
    pending: PendingAppend | None = session.append
    session.append = None
    if pending is None:
        return
    try:
        result = await _store(session, pending)
    except NotFound:
        result = Result("Mailbox does not exist", "TRYCREATE", status="NO")
    except OverQuota as exc:
        # RFC 9208 §4.3, checked again in the write transaction (another session may have
        # filled the quota since the literal was accepted).
        result = Result(f"Quota exceeded ({exc.resource})", "OVERQUOTA", status="NO")
    except StorageError as exc:  # Busy: NO [UNAVAILABLE], from the one table
        result = await session.storage_failure(exc, "APPEND")
    except Exception:
        log.exception("APPEND failed")
        result = Result("Internal server error, logged", "SERVERBUG", status="NO")
    finally:
        pending.discard()
    await session.complete(event.tag, result)


async def _store(session: Session, pending: PendingAppend) -> Result:
    uids = []
    for spool in pending.messages:
        uid, _ = await deliver(session.server.store, pending.mailbox.id, await spool.body(),
                               spool.flags, spool.internal_date, viewer=session.viewer)
        uids.append(uid)
    # RFC 4315 §3: APPENDUID uidvalidity uid-set.
    return Result("APPEND completed", "APPENDUID",
                  (pending.mailbox.uidvalidity, compact_set(uids)))


async def handle_append_event(session: Session, event: Event) -> None:
    if isinstance(event, AppendBegin):
        await _begin(session, event)
    elif isinstance(event, AppendData):
        pending: PendingAppend | None = session.append
        if pending is not None and pending.tag == event.tag and pending.messages:
            await pending.messages[-1].write(event.data, session.server.store)
    elif isinstance(event, AppendEnd):
        await _end(session, event)
