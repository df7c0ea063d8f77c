"""Opening and closing a mailbox: SELECT, EXAMINE (RFC 3501 §6.3.1-2), CHECK, CLOSE,
EXPUNGE (§6.4.1-3) and UNSELECT (RFC 3691)."""

from __future__ import annotations

from protocol import Atom, Check, Close, Examine, Expunge, Select, Unselect, Value
from server.commands.mailboxes import existing_mailbox
from server.session import CommandFailed, Result, Session, State
from server.view import View


async def _open(session: Session, name: str, readonly: bool) -> Result:
    # RFC 3501 §6.3.1: a SELECT first deselects the current mailbox, even when it fails.
    session.deselect()
    info = await existing_mailbox(session, name)
    store = session.server.store
    messages = await store.list_messages(info.id)
    recent = [] if readonly else await store.claim_recent(info.id)
    view = View.create(info, (m.uid for m in messages), info.highest_modseq, readonly, recent)
    keywords: set[str] = set()
    first_unseen = 0
    for n, m in enumerate(messages, 1):
        if not first_unseen and "\\Seen" not in m.flags:
            first_unseen = n
        for flag in m.flags:
            if not flag.startswith("\\"):
                keywords.add(flag)
    view.keywords = keywords
    flags = view.flag_atoms()
    session.untagged(Atom("FLAGS"), flags)
    # RFC 3501 §7.1: "\*" says new keywords may be created; a read-only mailbox has none.
    permanent: list[Value] = [] if readonly else [*flags, Atom("\\*")]
    session.untagged_status("OK", "Flags permitted", "PERMANENTFLAGS", (permanent,))
    session.untagged(view.exists, Atom("EXISTS"))
    session.untagged(len(view.recent), Atom("RECENT"))
    if first_unseen:
        session.untagged_status("OK", "First unseen", "UNSEEN", (first_unseen,))
    session.untagged_status("OK", "UIDs valid", "UIDVALIDITY", (info.uidvalidity,))
    uidnext = max(info.uidnext, (view.uids[-1] + 1) if view.uids else 1)
    session.untagged_status("OK", "Predicted next UID", "UIDNEXT", (uidnext,))
    session.view = view
    session.state = State.SELECTED
    if readonly:
        return Result("EXAMINE completed", "READ-ONLY")
    return Result("SELECT completed", "READ-WRITE")


async def select(session: Session, tag: str, cmd: Select) -> Result:
    if cmd.params:
        raise CommandFailed("SELECT parameters are not supported", status="BAD")
    return await _open(session, cmd.mailbox, readonly=False)


async def examine(session: Session, tag: str, cmd: Examine) -> Result:
    if cmd.params:
        raise CommandFailed("EXAMINE parameters are not supported", status="BAD")
    return await _open(session, cmd.mailbox, readonly=True)


async def check(session: Session, tag: str, cmd: Check) -> Result:
    """RFC 3501 §6.4.1: every change is already on disk before its OK; nothing to do."""
    return Result("CHECK completed")


async def close(session: Session, tag: str, cmd: Close) -> Result:
    """RFC 3501 §6.4.2: silently expunge (never in a read-only mailbox), then deselect."""
    view = session.view
    assert view is not None
    session.deselect()
    if not view.readonly:
        await session.server.store.expunge(view.mailbox_id)
    return Result("CLOSE completed")


async def unselect(session: Session, tag: str, cmd: Unselect) -> Result:
    """RFC 3691: like CLOSE without the expunge."""
    session.deselect()
    return Result("UNSELECT completed")


async def expunge(session: Session, tag: str, cmd: Expunge) -> Result:
    """RFC 3501 §6.4.3: remove every \\Deleted message, one EXPUNGE response each."""
    view = session.view
    assert view is not None
    if view.readonly:
        raise CommandFailed("Mailbox is read-only", "READ-ONLY")
    uids = None
    if cmd.uid_set is not None:
        uids = [uid for _, uid in view.by_uid(cmd.uid_set)]
    expunged, _ = await session.server.store.expunge(view.mailbox_id, uids)
    for n in view.remove(expunged):
        session.untagged(n, Atom("EXPUNGE"))
    return Result("EXPUNGE completed")
