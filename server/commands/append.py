"""APPEND (RFC 3501 §6.3.11) arrives as events, not as one command: the message literal is
streamed (AppendBegin, AppendData..., AppendEnd) into a spool, so a 50 MB message never sits
in memory while it arrives. The size limit is checked when the literal is announced, before
the client sends a byte of it (RFC 7888 §4 / RFC 5530 [TOOBIG]).

MULTIAPPEND (RFC 3502): one APPEND may carry several messages (one AppendBegin each). They
are all stored in one transaction when the command ends, or none is: a message refused
(too big, over quota, a bad flag) or a broken command discards every message before it
(§6.3.11 "If the server rejects any message, none are appended"). What one command may
hold is bounded: ``limits.max_multiappend_size`` octets and ``max_multiappend_messages``
messages together (each still at most ``max_append_size``), so its memory is no more than
one largest APPEND's; past ``MEMORY_BUDGET`` the messages go to spool files as they
arrive.

CATENATE (RFC 4469): a message may instead be built from parts — TEXT literals, streamed
like a message literal, and URLs of messages or parts the user may read, copied from storage
in chunks (``crispin.server.urlparts``) — into the same spool, so it takes the same path into
storage as any APPEND (one transaction with the rest of a MULTIAPPEND, the quota checked in
it). A part that fails makes the command fail whole: NO [BADURL url] (§4.1), NO [TOOBIG]
past the size limit (§4.2), answered at the next literal (which is then refused, so the
client sends no more) or at the end of the command."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from crispin.protocol import (
    AppendBegin,
    AppendData,
    AppendEnd,
    CatenateBegin,
    CatenateEnd,
    CatenateText,
    CatenateUrl,
    Event,
)
from crispin.server import names
from crispin.server.access import allowed_flags, rights_on_mailbox
from crispin.server.commands import replace
from crispin.server.commands.copy import check_quota, target_mailbox
from crispin.server.ingest import analysed, deliver, deliver_all
from crispin.server.outcome import AUTH, CommandFailed, Result
from crispin.server.session import Session
from crispin.server.sets import compact_set
from crispin.server.urlparts import BadUrl, catenate_part, response_text
from crispin.server.view import View
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
# The messages of one MULTIAPPEND kept in memory together, at most: the ones after it are
# spooled to files as they arrive, whatever their size.
MEMORY_BUDGET = 4 * 1024 * 1024


@dataclass
class Spool:
    size: int
    flags: tuple[str, ...]
    internal_date: datetime | None
    to_file: bool = False
    binary: bool = False  # sent as a literal8 (RFC 3516 §4.4)
    nul: bool = False
    header_8bit: bool = False  # an octet over 0x7F in the header fields (RFC 6855 §4)
    # The header's end not yet seen: the last two octets of it so far ("\n" at the start,
    # so that a message opening with an empty line has no header fields).
    header_tail: bytes | None = b"\n"
    buffer: bytearray = field(default_factory=bytearray)
    file: SpoolWriter | None = None
    received: int = 0
    # A spooled message once complete: its file closed, hashed and fsynced, so that a
    # MULTIAPPEND holds one open file at a time, not one per message.
    prepared: PreparedBody | None = None
    store: Store | None = None
    # CATENATE (RFC 4469): built part by part; ``size`` grows with each part, and the
    # message is complete at the ")" of its list, not when ``size`` octets have come.
    growing: bool = False

    async def write(self, data: bytes, store: Store) -> None:
        self.store = store
        if self.binary and not self.nul:
            self.nul = b"\0" in data
        if self.header_tail is not None:
            self._scan_header(data)
        self.buffer += data
        self.received += len(data)
        if self.file is None and (self.to_file or self.size > store.inline_max):
            self.file = await store.spool()
        if self.file is None:
            return
        if len(self.buffer) >= SPOOL_WRITE or self.received >= self.size:
            await self._drain()
        if self.received >= self.size and not self.growing:
            self.prepared = await self._finish()

    def _scan_header(self, data: bytes) -> None:
        """Note 8-bit octets in the header fields, which end at the first empty line (RFC
        5322 §2.1), as the message streams in."""
        assert self.header_tail is not None
        window = self.header_tail + data
        ends = [i for i in (window.find(b"\n\r\n"), window.find(b"\n\n")) if i >= 0]
        head = window[:min(ends)] if ends else window
        if not head.isascii():
            self.header_8bit = True
        self.header_tail = None if ends or self.header_8bit else window[-2:]

    async def _drain(self) -> None:
        assert self.file is not None
        data, self.buffer = bytes(self.buffer), bytearray()
        await asyncio.to_thread(self.file.write, data)

    async def _finish(self) -> PreparedBody:
        file, self.file = self.file, None
        assert file is not None
        try:
            return await asyncio.to_thread(file.finish)
        except BaseException:
            file.discard()
            raise

    async def body(self) -> bytes | PreparedBody:
        """The message: bytes when small, else the spooled file, hashed and fsynced,
        which storage moves into place (the spool no longer owns it)."""
        if self.prepared is not None:
            prepared, self.prepared = self.prepared, None
            return prepared
        if self.file is None:
            return bytes(self.buffer)
        if self.buffer:
            await self._drain()
        return await self._finish()

    def discard(self) -> None:
        if self.file is not None:
            self.file.discard()
            self.file = None
        if self.prepared is not None and self.store is not None:
            self.store.discard_body(self.prepared)
            self.prepared = None
        self.buffer = bytearray()


@dataclass
class PendingAppend:
    tag: str
    mailbox: MailboxInfo
    messages: list[Spool] = field(default_factory=list)
    replace_uid: int | None = None  # REPLACE (RFC 8508): the message it removes

    @property
    def octets(self) -> int:
        return sum(spool.size for spool in self.messages)

    def in_memory(self, inline_max: int) -> int:
        return sum(s.size for s in self.messages if not s.to_file and s.size <= inline_max)

    def discard(self) -> None:
        for spool in self.messages:
            spool.discard()


@dataclass
class Refused:
    """An APPEND refused while no literal was waiting for an answer (a CATENATE part): the
    refusal is sent at its next literal, or as its tagged response at its end; what the
    client sends until then is read and dropped."""

    tag: str
    status: str
    code: str | None
    text: str


def _reject(session: Session, status: str, code: str | None, text: str) -> None:
    session.channel.reject_literal(status, code, text)
    abandon(session)


def _refuse(session: Session, tag: str, status: str, code: str | None, text: str) -> None:
    abandon(session)
    session.append = Refused(tag, status, code, text)


def _refused(session: Session) -> bool:
    """Whether the APPEND in progress was refused already; a literal of it is refused too."""
    refused = session.append
    if not isinstance(refused, Refused):
        return False
    session.append = None
    session.channel.reject_literal(refused.status, refused.code, refused.text)
    return True


def abandon(session: Session) -> None:
    """Forget a half-received APPEND (a syntax error after its literal, a disconnect)."""
    pending: PendingAppend | Refused | None = session.append
    if isinstance(pending, PendingAppend):
        pending.discard()
    session.append = None


async def _begin(session: Session, event: AppendBegin) -> None:
    if _refused(session):
        return
    if event.size == 0:
        # RFC 3502 §6.3.11: a zero-length message is an error that MUST be answered NO;
        # a client uses it to cancel a MULTIAPPEND (nothing before it is stored).
        _reject(session, "NO", None, "Zero-length message: APPEND cancelled")
        return
    limit = session.server.append_limit()
    if event.size > limit:  # RFC 7889 §4
        _reject(session, "NO", "TOOBIG", f"Message larger than the {limit} byte limit")
        return
    refusal = await _new_message(session, event, event.size)
    if refusal is not None:
        _reject(session, *refusal)
        return
    pending = session.append
    assert isinstance(pending, PendingAppend)
    store = session.server.store
    to_file = pending.in_memory(store.inline_max) + event.size > MEMORY_BUDGET
    pending.messages.append(Spool(event.size, await _flags(session, pending, event),
                                  event.internal_date, to_file, event.binary))
    session.channel.accept_literal()


async def _flags(session: Session, pending: PendingAppend,
                 event: AppendBegin | CatenateBegin) -> tuple[str, ...]:
    # RFC 4314 §4: flags the user has no right to set are dropped, the APPEND succeeds.
    rights = await rights_on_mailbox(session, pending.mailbox)
    return tuple(allowed_flags(event.flags, rights))


async def _new_message(session: Session, event: AppendBegin | CatenateBegin,
                       size: int) -> tuple[str, str | None, str] | None:
    """The checks before a message of an APPEND (the first opens the PendingAppend);
    the refusal (status, code, text), or None."""
    if session.state not in AUTH:
        return "BAD", None, "APPEND is not allowed before login"
    faults = session.server.faults
    fault = faults.take(session, "APPEND", ("no", "bad")) if faults.faults else None
    if fault is not None:
        return fault.action.upper(), fault.code, fault.text or "Fault injected by the test"
    try:
        encode_flags(event.flags)
    except InvalidFlag as exc:
        return "BAD", None, f"Invalid flag: {exc}"
    pending: PendingAppend | Refused | None = session.append
    if not isinstance(pending, PendingAppend) or pending.tag != event.tag:
        abandon(session)
        replace_uid: int | None = None
        try:
            if event.replace is not None:
                replace_uid = replace.replaced_uid(session, event)
            if (bad_name := names.undecodable(event)) is not None:
                # As for every command naming a mailbox (server/names.py): NO, not BAD.
                raise CommandFailed(f"Invalid mailbox name: {bad_name.reason}", "CANNOT")
            info = await target_mailbox(session, event.mailbox)
            if replace_uid is None:
                # REPLACE: the quota counts the net change, in the transaction (RFC 8508).
                await check_quota(session, info.id, size, 1)
        except CommandFailed as exc:
            # Refused before the client sends the message (RFC 3501 §6.3.11 TRYCREATE,
            # RFC 9208 OVERQUOTA, RFC 4314 NOPERM).
            return exc.status, exc.code, exc.text
        except StorageError as exc:
            answer = await session.storage_failure(exc, "APPEND")
            return answer.status, answer.code, answer.text
        session.append = PendingAppend(event.tag, info, replace_uid=replace_uid)
        return None
    return await _may_add(session, pending, size, True)


async def _may_add(session: Session, pending: PendingAppend, size: int,
                   new_message: bool) -> tuple[str, str | None, str] | None:
    """A further message of a MULTIAPPEND (RFC 3502 §6.3.11), or more octets for a
    CATENATE message: refused, and the whole command with it, when the command's bounds
    or the quota cannot take it; answered before its bytes come (a non-synchronising one
    is counted away, never kept)."""
    config = session.server.config
    most = int(config.get("limits", "max_multiappend_messages"))
    new = 1 if new_message else 0  # else: a CATENATE part of the last message
    if len(pending.messages) + new > most:
        return "NO", "LIMIT", f"More than {most} messages in one APPEND"
    total = pending.octets + size
    limit = int(config.get("limits", "max_multiappend_size"))
    if total > limit:
        return "NO", "TOOBIG", f"Messages of one APPEND over {limit} bytes"
    try:
        # RFC 9208 §4.3 for all of them together; storage checks again when it commits.
        await check_quota(session, pending.mailbox.id, total, len(pending.messages) + new)
    except CommandFailed as exc:
        return "NO", exc.code, exc.text
    except StorageError as exc:
        answer = await session.storage_failure(exc, "APPEND")
        return answer.status, answer.code, answer.text
    return None


# --- CATENATE (RFC 4469) ----------------------------------------------------------------


async def _catenate_begin(session: Session, event: CatenateBegin) -> None:
    if isinstance(session.append, Refused):
        return
    refusal = await _new_message(session, event, 0)
    if refusal is not None:
        _refuse(session, event.tag, *refusal)
        return
    pending = session.append
    assert isinstance(pending, PendingAppend)
    store = session.server.store
    to_file = pending.in_memory(store.inline_max) > MEMORY_BUDGET
    pending.messages.append(Spool(0, await _flags(session, pending, event),
                                  event.internal_date, to_file, growing=True))


def _building(session: Session, tag: str) -> Spool | None:
    pending = session.append
    if not isinstance(pending, PendingAppend) or pending.tag != tag or not pending.messages:
        return None
    spool = pending.messages[-1]
    return spool if spool.growing else None


async def _grow(session: Session, tag: str, size: int) -> tuple[str, str | None, str] | None:
    """Room for ``size`` more octets in the message being catenated: RFC 4469 §4.2
    TOOBIG past the APPEND size limit (the 4 GB of IMAP's sizes are far above it)."""
    spool = _building(session, tag)
    pending = session.append
    if spool is None or not isinstance(pending, PendingAppend):
        return "BAD", None, "No CATENATE message in progress"
    limit = session.server.append_limit()
    if spool.size + size > limit:  # RFC 7889 §4, RFC 4469 §4.2
        return "NO", "TOOBIG", f"Catenated message larger than the {limit} byte limit"
    refusal = await _may_add(session, pending, size, False)
    if refusal is None:
        spool.size += size
        if not spool.to_file and pending.in_memory(session.server.store.inline_max) \
                > MEMORY_BUDGET:
            spool.to_file = True
    return refusal


async def _catenate_url(session: Session, event: CatenateUrl) -> None:
    if isinstance(session.append, Refused):
        return
    try:
        part = await catenate_part(session, event.url)
    except BadUrl as exc:
        log.info("%s: CATENATE URL refused: %s", session.peer, exc)
        code = "BADURL " + response_text(event.url)
        _refuse(session, event.tag, "NO", code, exc.shown or "CATENATE could not use this URL")
        return
    refusal = await _grow(session, event.tag, part.length)
    if refusal is not None:
        _refuse(session, event.tag, *refusal)
        return
    spool = _building(session, event.tag)
    assert spool is not None
    store = session.server.store
    try:
        async for chunk in part.chunks(store):
            await spool.write(chunk, store)
    except BadUrl as exc:
        log.error("%s: CATENATE URL %r: %s", session.peer, event.url, exc)
        code = "BADURL " + response_text(event.url)
        _refuse(session, event.tag, "NO", code, "CATENATE could not read this URL")


async def _catenate_text(session: Session, event: CatenateText) -> None:
    if _refused(session):
        return
    refusal = await _grow(session, event.tag, event.size)
    if refusal is not None:
        _reject(session, *refusal)
        return
    session.channel.accept_literal()


def _catenate_end(session: Session, event: CatenateEnd) -> None:
    spool = _building(session, event.tag)
    if spool is None:
        return
    if spool.size == 0:
        # RFC 3502 §6.3.11, as for a zero-length literal: the APPEND fails.
        _refuse(session, event.tag, "NO", None, "Zero-length message: APPEND cancelled")
        return
    spool.growing = False


async def _end(session: Session, event: AppendEnd) -> None:
    pending: PendingAppend | Refused | None = session.append
    session.append = None
    if isinstance(pending, Refused):
        await session.complete(event.tag, Result(pending.text, pending.code,
                                                 status=pending.status))
        return
    if pending is None:
        return
    try:
        if any(spool.nul for spool in pending.messages):
            # RFC 3516 §4.4: a mailbox that cannot store binary content fails the APPEND
            # with UNKNOWN-CTE. Messages are kept as sent, and FETCH BODY must return them
            # as BODYSTRUCTURE describes them, in strings that cannot carry NUL (§6): so
            # a literal8 holding NUL is refused rather than re-encoded.
            result = Result("Messages with NUL octets cannot be stored", "UNKNOWN-CTE",
                            status="NO")
        elif session.server.utf8_accept and not session.utf8 and any(
                spool.header_8bit for spool in pending.messages):
            # RFC 6855 §4: a server that supports UTF8=ACCEPT "MUST reject, with a NO
            # response, an APPEND command that includes any 8-bit character in message
            # header fields" from a client that has not issued ENABLE UTF8=ACCEPT (nor
            # IMAP4rev2, whose headers may be UTF-8). Not offering it, the server takes
            # them as IMAP4rev1 servers always have.
            result = Result("8-bit header fields need ENABLE UTF8=ACCEPT (RFC 6855)",
                            "CANNOT", status="NO")
        else:
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
    store = session.server.store
    view = session.view
    if len(pending.messages) == 1 and pending.replace_uid is None and view is not None \
            and view.mailbox_id == pending.mailbox.id:
        uids = [await _into_selected(session, view, pending.messages[0])]
    elif len(pending.messages) == 1 and pending.replace_uid is None:
        spool = pending.messages[0]
        uid, _ = await deliver(store, pending.mailbox.id, await spool.body(), spool.flags,
                               spool.internal_date, viewer=session.viewer)
        uids = [uid]
    else:
        # RFC 3502 §6.3.11: all in one transaction, or none.
        bodies = []
        try:
            for spool in pending.messages:
                bodies.append((await spool.body(), spool.flags, spool.internal_date))
        except BaseException:
            for body, _, _ in bodies:
                if isinstance(body, PreparedBody):
                    store.discard_body(body)
            raise
        removed = None
        if pending.replace_uid is not None:
            assert session.view is not None
            removed = (session.view.mailbox_id, pending.replace_uid)
        try:
            uids = await deliver_all(store, pending.mailbox.id, bodies, viewer=session.viewer,
                                     replace=removed)
        except NotFound:
            if removed is not None and await store.get_mailbox_by_id(pending.mailbox.id):
                return Result("The message to replace no longer exists", "EXPUNGEISSUED",
                              status="NO")
            raise
        if pending.replace_uid is not None:
            return await replace.replaced(session, pending.mailbox, pending.replace_uid, uids)
    # RFC 4315 §3: APPENDUID uidvalidity uid-set, in the order of the messages (RFC 3502
    # §6.3.11's example: "APPENDUID 38505 3955:3956").
    return Result("APPEND completed", "APPENDUID",
                  (pending.mailbox.uidvalidity, compact_set(uids)))


async def _into_selected(session: Session, view: View, spool: Spool) -> int:
    """One message into the selected mailbox, in one trip to the writer (issue 14): the
    \\Recent claim (RFC 3501 §2.3.2: this session is the first told of it, by the EXISTS
    after the APPEND; not a read-only one, nor an IMAP4rev2 one, which has no \\Recent,
    RFC 9051 Appendix E) and the changes the sync after the APPEND reports
    (``Session.prefetched``) in the APPEND's own transaction. Returns the UID."""
    store = session.server.store
    body = await spool.body()
    columns = await analysed(store, body)
    since = view.modseq
    (uid, _), recent, changes = await store.append_synced(
        view.mailbox_id, body, spool.flags, spool.internal_date, columns,
        viewer=session.viewer, claim=not (session.rev2 or view.readonly), since=since)
    view.recent.update(recent)
    session.prefetched = (since, changes)
    return uid


async def handle_append_event(session: Session, event: Event) -> None:
    if isinstance(event, AppendBegin):
        await _begin(session, event)
    elif isinstance(event, AppendData):
        pending = session.append
        if isinstance(pending, PendingAppend) and pending.tag == event.tag \
                and pending.messages:
            await pending.messages[-1].write(event.data, session.server.store)
    elif isinstance(event, AppendEnd):
        await _end(session, event)
    elif isinstance(event, CatenateBegin):
        await _catenate_begin(session, event)
    elif isinstance(event, CatenateUrl):
        await _catenate_url(session, event)
    elif isinstance(event, CatenateText):
        await _catenate_text(session, event)
    elif isinstance(event, CatenateEnd):
        _catenate_end(session, event)
