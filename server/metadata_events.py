"""Unsolicited METADATA responses (RFC 5464 §4.4.2) for a session that asked for them.

RFC 5464 §4.1: a server that sends unsolicited METADATA responses MUST support ENABLE and
send them only after ``ENABLE METADATA`` (mailbox and server entries) or ``ENABLE
METADATA-SERVER`` (server entries); §4.4: once enabled, it "MUST send unsolicited METADATA
responses if server or mailbox annotations are changed by a third-party", with the entry
names only, never the values.

How they arrive: storage names every annotation a commit changed (``CommitReport.metadata``,
DESIGN.md "Storage reports, the server reacts"); the hub hands those to every listening
session (``Hub.watch_metadata``) on the event loop, and the listener keeps the names it may
report: shared entries, and private ones of its own user. They are sent after the session's
next command (before its tagged answer, like any pending update) or at once during IDLE,
which the listener wakes. Whether the user may still see the mailbox (RFC 5464 §3.3: "l" and
one of "rswip") is checked then, and the mailbox is named as this user names it.

"Third-party": the entries the session's own SETMETADATA writes are not reported back to it:
the commit report names the session its writes were made for (``CommitReport.origin``), so
another session's change of the same entry, committed in the same batch, still is.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from crispin.protocol import Atom, Mailbox, Value
from crispin.protocol.reader import ATOM_CHARS
from crispin.storage import MetadataChange

if TYPE_CHECKING:
    from crispin.server.session import Session

# RFC 5464 §3.3: "l" and any one of these.
ACCESS_RIGHTS = frozenset("rswip")


def entry_item(name: str) -> Value:
    """An entry name as an astring: an atom when it can be one (as the RFC's examples)."""
    if name and all(ord(c) in ATOM_CHARS for c in name):
        return Atom(name)
    return name


class MetadataListener:
    def __init__(self, session: Session, mailboxes: bool) -> None:
        self.session = session
        self.mailboxes = mailboxes
        """ENABLE METADATA: mailbox entries too; METADATA-SERVER alone: server entries."""
        self.pending: dict[int | None, set[str]] = {}
        self.wake: asyncio.Event | None = None
        """Set when something is pending: the event an IDLE in progress waits on."""

    def __call__(self, changes: tuple[MetadataChange, ...], origin: object = None) -> None:
        """Hub, on the event loop: keep what this session may be told of (``origin``: the
        session whose writes made the changes)."""
        user = self.session.user
        if user is None or origin is self.session:
            return
        for change in changes:
            if change.user_id is not None and change.user_id != user.id:
                continue  # another user's private entry (§3.3)
            if change.mailbox_id is not None and not self.mailboxes:
                continue
            self.pending.setdefault(change.mailbox_id, set()).add(change.name)
        if self.pending and self.wake is not None:
            self.wake.set()

    async def flush(self) -> None:
        """Send what is pending: one METADATA response per mailbox (§4.4.2), server
        entries first."""
        if not self.pending:
            return
        pending, self.pending = self.pending, {}
        for mailbox_id in sorted(pending, key=lambda m: -1 if m is None else m):
            shown = "" if mailbox_id is None else await self._visible_name(mailbox_id)
            if shown is None:
                continue
            self.session.untagged(Atom("METADATA"), Mailbox(shown),
                                  *[entry_item(n) for n in sorted(pending[mailbox_id])])

    async def _visible_name(self, mailbox_id: int) -> str | None:
        """The mailbox's name as this user sees it, or None when they may no longer use its
        annotations (or it is gone)."""
        from crispin.server.access import rights_on_mailbox

        session = self.session
        assert session.user is not None
        store = session.server.store
        info = await store.get_mailbox_by_id(mailbox_id)
        if info is None:
            return None
        if info.owner_id == session.user.id:
            return info.name
        rights = await rights_on_mailbox(session, info)
        if "l" not in rights or not ACCESS_RIGHTS & set(rights):
            return None
        ns = session.server.namespaces
        if info.owner_id is None:
            return ns.shared_name(info.name)
        owner = await store.get_user_by_id(info.owner_id)
        return None if owner is None else ns.other_name(owner.name, info.name)


def enable(session: Session, capability: str) -> None:
    """ENABLE METADATA or METADATA-SERVER (RFC 5464 §4.1)."""
    listener = session.metadata_events
    if listener is None:
        listener = MetadataListener(session, capability == "METADATA")
        session.metadata_events = listener
        session.server.hub.watch_metadata(listener)
    elif capability == "METADATA":
        listener.mailboxes = True


def disable(session: Session) -> None:
    """The session ends, or UNAUTHENTICATE resets it (RFC 8437 §3: ENABLEd extensions
    cease)."""
    listener = session.metadata_events
    if listener is not None:
        session.server.hub.unwatch_metadata(listener)
        session.metadata_events = None
