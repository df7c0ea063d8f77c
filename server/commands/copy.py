"""COPY (RFC 3501 §6.4.7) and MOVE (RFC 6851), with COPYUID (RFC 4315 §3)."""

from __future__ import annotations

from crispin.protocol import Atom, Copy, Move
from crispin.server.access import current_rights, mailbox_for, require_selected
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session
from crispin.server.sets import compact_set
from crispin.server.view import InvalidSequence
from crispin.storage import CopyResult, MailboxInfo, NotFound, OverQuota


async def target_mailbox(session: Session, name: str) -> MailboxInfo:
    """Where COPY, MOVE and APPEND put messages: it must exist (else TRYCREATE, RFC 3501
    §6.4.7, also when the user may not see it) and grant "i" (RFC 4314 §4)."""
    try:
        return (await mailbox_for(session, name, "i")).info
    except CommandFailed as exc:
        if exc.code == "NONEXISTENT":
            raise CommandFailed("Mailbox does not exist", "TRYCREATE") from None
        raise


async def check_quota(session: Session, mailbox_id: int, octets: int, messages: int) -> None:
    """RFC 9208 §4.3: an APPEND that would go over quota is refused before the client sends
    the message.  Only an early answer: storage checks again inside the transaction that
    adds the messages (``OverQuota``), which is what keeps concurrent writers in bounds."""
    over = await session.server.store.check_quota(mailbox_id, octets, messages)
    if over is not None:
        raise CommandFailed(f"Quota exceeded ({over.name})", "OVERQUOTA")


async def _run(session: Session, cmd: Copy | Move, move: bool) -> CopyResult | None:
    view = session.view
    assert view is not None
    require_selected(session, "r")  # RFC 4314 §4: reading the source, as it stands now
    target = await target_mailbox(session, cmd.mailbox)
    try:
        pairs = view.select(cmd.sequence_set, cmd.uid)
    except InvalidSequence as exc:
        raise CommandFailed(str(exc), status="BAD") from None
    if move and view.readonly:
        raise CommandFailed("Mailbox is read-only", "READ-ONLY")
    rights = await current_rights(session) if move else ""
    if move and not all(r in rights for r in "te"):
        # RFC 6851 §4.3: MOVE needs what STORE \Deleted and EXPUNGE need at the source.
        raise CommandFailed("Permission denied (needs the 't' and 'e' rights)", "NOPERM")
    uids = [u for _, u in pairs if u not in view.ghosts]
    if len(uids) != len(pairs) and not cmd.uid:
        # RFC 2180 §4.4.1: a COPY naming a message expunged by another session fails
        # whole rather than copying part of what the client asked for.
        raise CommandFailed("Some of the messages no longer exist", "EXPUNGEISSUED")
    if not uids:
        return None
    store = session.server.store
    try:
        if move:
            return await store.move_messages(view.mailbox_id, uids, target.id,
                                             viewer=session.viewer)
        return await store.copy_messages(view.mailbox_id, uids, target.id,
                                         viewer=session.viewer)
    except NotFound:
        # The source deleted under us ends the session; only a missing target is TRYCREATE.
        await session.check_selected()
        raise CommandFailed("Mailbox does not exist", "TRYCREATE") from None
    except OverQuota as exc:
        # RFC 9208 §4.3: checked in the transaction; nothing was copied.
        raise CommandFailed(f"Quota exceeded ({exc.resource})", "OVERQUOTA") from None


def _copyuid(result: CopyResult) -> tuple[int, Atom, Atom]:
    return (result.uidvalidity, compact_set([s for s, _ in result.uid_map]),
            compact_set([d for _, d in result.uid_map]))


async def copy(session: Session, tag: str, cmd: Copy) -> Result:
    result = await _run(session, cmd, move=False)
    if result is None or not result.uid_map:
        return Result("COPY completed")
    return Result("COPY completed", "COPYUID", _copyuid(result))


async def move(session: Session, tag: str, cmd: Move) -> Result:
    """RFC 6851 §3.3: COPYUID in an untagged OK before the EXPUNGE responses."""
    result = await _run(session, cmd, move=True)
    if result is not None and result.uid_map:
        session.untagged_status("OK", "Moved", "COPYUID", _copyuid(result))
        view = session.view
        assert view is not None
        await session.report_own_expunges(result.expunged)
        if session.qresync:
            # RFC 6851 §4.4 / RFC 7162 §3.2.7: the new mailbox modseq after the expunge.
            modseqs = await session.server.store.highest_modseqs([view.mailbox_id])
            if view.mailbox_id in modseqs:
                return Result("MOVE completed", "HIGHESTMODSEQ", (modseqs[view.mailbox_id],))
    return Result("MOVE completed")
