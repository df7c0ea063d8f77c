"""NOTIFY SET and NOTIFY NONE (RFC 5465 §3.1); what happens afterwards is
``notify_events``'s.

The grammar and its BAD rules (§5, §6.1, §8) are the parser's (``protocol/notify.py``). Here:
- an event the server does not report is NO [BADEVENT (every supported event)] (§3.1);
- a fetch-att MessageNew may not carry is BAD, as the same item in FETCH would be;
- named mailboxes (MAILBOXES, SUBTREE) that do not exist or that the user may not LIST are
  ignored; one the user may LIST but not read gets a LIST (\\NoAccess) (§3.1);
- with STATUS, a STATUS response for each mailbox other than the selected one that message
  events are asked for, before the tagged OK, with the items §3.1 lists;
- NOTIFY SET replaces what an earlier one asked for, and is an implicit NOOP (§3.1): the
  command table lets the selected mailbox's updates follow it.
"""

from __future__ import annotations

from crispin.protocol import Atom, Mailbox, Notify
from crispin.server import names
from crispin.server.commands.mailboxes import status_values
from crispin.server.commands.notify_events import (
    NO_ACCESS,
    STATUS_ORDER,
    SUPPORTED,
    NotifyListener,
    check_fetch,
)
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session
from crispin.storage import CommitReport


async def notify(session: Session, tag: str, cmd: Notify) -> Result:
    previous = session.notify
    if not cmd.groups:  # NOTIFY NONE
        if previous is not None:
            previous.stop()
        return Result("NOTIFY completed")
    unsupported = [e for g in cmd.groups for e in g.events if e not in SUPPORTED]
    if unsupported:
        raise CommandFailed(f"Event {unsupported[0]} is not supported", "BADEVENT",
                            code_args=([Atom(e) for e in SUPPORTED],))
    for group in cmd.groups:
        check_fetch(group.fetch)
    if previous is not None:
        previous.stop()
    listener = NotifyListener(session, cmd.groups)
    # Reports are collected from before the tree is read, so that a commit landing while the
    # read is on its way back is not lost; one already in the tree read only repeats what
    # the client will be told anyway (a STATUS or LIST with the current values).
    early: list[CommitReport] = []
    hub = session.server.hub
    hub.watch_reports(early.append)
    try:
        await listener.refresh()
    finally:
        hub.unwatch_reports(early.append)
    hub.watch_reports(listener)
    for report in early:
        listener(report)
    known = listener.known
    for group in cmd.groups:
        for raw in group.mailboxes:
            info = known.by_name.get(names.normalize(raw))
            if info is not None and "r" not in known.rights[info.id]:
                session.untagged(Atom("LIST"), [NO_ACCESS], names.DELIMITER,
                                 Mailbox(known.names[info.id]))
    if cmd.status:
        try:
            await _statuses(session, listener)
        except BaseException:
            listener.stop()
            raise
    session.notify = listener
    return Result("NOTIFY completed")


async def _statuses(session: Session, listener: NotifyListener) -> None:
    """§3.1: MessageNew wants MESSAGES, UIDNEXT and UIDVALIDITY; MessageExpunge MESSAGES;
    FlagChange (this server has CONDSTORE) UIDVALIDITY and HIGHESTMODSEQ."""
    known = listener.known
    view = session.view
    for box, name in sorted(known.names.items(), key=lambda item: item[1]):
        info = known.infos[box]
        if info.noselect or "r" not in known.rights[box] or \
                (view is not None and view.mailbox_id == box):
            continue
        events = listener.events_for(name)
        items: set[str] = set()
        if "MessageNew" in events:
            items |= {"MESSAGES", "UIDNEXT", "UIDVALIDITY"}
        if "MessageExpunge" in events:
            items.add("MESSAGES")
        if "FlagChange" in events:
            items |= {"UIDVALIDITY", "HIGHESTMODSEQ"}
        if items:
            values = await status_values(session, info, tuple(i for i in STATUS_ORDER
                                                              if i in items))
            session.untagged(Atom("STATUS"), Mailbox(name), values)
