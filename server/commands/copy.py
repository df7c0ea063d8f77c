"""COPY (RFC 3501 §6.4.7) and MOVE (RFC 6851), with COPYUID (RFC 4315 §3)."""

from __future__ import annotations

from protocol import Atom, Copy, Move
from server import names
from server.session import CommandFailed, Result, Session
from server.sets import compact_set
from server.view import InvalidSequence
from storage import MailboxInfo, NotFound
from storage.models import CopyResult


async def _target(session: Session, name: str) -> MailboxInfo:
    assert session.user is not None
    info = await session.server.store.get_mailbox(session.user.id, names.normalize(name))
    if info is None or info.noselect:
        # RFC 3501 §6.4.7: the client may create the mailbox and try again.
        raise CommandFailed("Mailbox does not exist", "TRYCREATE")
    return info


async def _run(session: Session, cmd: Copy | Move, move: bool) -> CopyResult | None:
    view = session.view
    assert view is not None
    target = await _target(session, cmd.mailbox)
    try:
        pairs = view.select(cmd.sequence_set, cmd.uid)
    except InvalidSequence as exc:
        raise CommandFailed(str(exc), status="BAD") from None
    if move and view.readonly:
        raise CommandFailed("Mailbox is read-only", "READ-ONLY")
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
            return await store.move_messages(view.mailbox_id, uids, target.id)
        return await store.copy_messages(view.mailbox_id, uids, target.id)
    except NotFound:
        raise CommandFailed("Mailbox does not exist", "TRYCREATE") from None


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
        for response in view.remove(result.expunged):
            session.channel.send(response)
    return Result("MOVE completed")
