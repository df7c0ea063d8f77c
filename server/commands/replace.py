"""REPLACE and UID REPLACE (RFC 8508): APPEND a new version of a message and remove the old
one from the selected mailbox, as one action.

The message literal arrives like APPEND's (``crispin.server.commands.append`` streams it); this
module checks what REPLACE adds before the literal is accepted, and answers after the one
transaction that removes the old message and adds the new (``Store.append_messages`` with
``replace``): the quota sees only the net change (§3.4), and nothing changes if either part
fails, so no EXPUNGE is sent unless both happened (§3.4).
"""

from __future__ import annotations

from crispin.protocol import AppendBegin, CatenateBegin
from crispin.server.outcome import SELECTED, CommandFailed, Result
from crispin.server.session import Session
from crispin.server.sets import compact_set
from crispin.storage import MailboxInfo


def replaced_uid(session: Session, event: AppendBegin | CatenateBegin) -> int:
    """The UID of the message to replace, checked before the literal comes: BAD outside
    the selected state (§3.5) or for a message number beyond EXISTS; NO for a UID that is
    not (or no longer) in the mailbox, a read-only mailbox, or without the rights UID STORE
    \\Deleted and UID EXPUNGE need (§4.1: "t" and "e"; the "i" of APPEND is checked on the
    target like any APPEND's)."""
    assert event.replace is not None
    view = session.view
    if session.state not in SELECTED or view is None:
        raise CommandFailed("REPLACE needs a selected mailbox", status="BAD")
    number, by_uid = event.replace
    if by_uid:
        if view.msn(number) is None:
            raise CommandFailed(f"No message with UID {number}")
        uid = number
    else:
        if number > view.exists:
            raise CommandFailed("Invalid message sequence number", status="BAD")
        uid = view.uids[number - 1]
    if uid in view.ghosts:
        raise CommandFailed("The message was expunged meanwhile", "EXPUNGEISSUED")
    if view.readonly:
        raise CommandFailed("Mailbox is read-only", "READ-ONLY")
    for right in "te":
        if right not in view.rights:
            raise CommandFailed(f"Permission denied (needs the {right!r} right)", "NOPERM")
    return uid


async def replaced(session: Session, target: MailboxInfo, old_uid: int,
                   new_uids: list[int]) -> Result:
    """§3.2's answer: APPENDUID in an untagged OK, then the EXPUNGE of the old message (the
    EXISTS of a new one in the selected mailbox follows with the sync after the command)."""
    session.untagged_status("OK", "Replacement Message ready", "APPENDUID",
                            (target.uidvalidity, compact_set(new_uids)))
    await session.report_own_expunges([old_uid])
    return Result("REPLACE completed")
