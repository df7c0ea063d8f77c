"""What a session asked NOTIFY (RFC 5465) to tell it, and telling it.

How events arrive: storage reports every commit (``CommitReport``, DESIGN.md "Storage
reports, the server reacts"), which the hub hands whole to each listening session
(``Hub.watch_reports``): mailboxes changed and how, names before and after (``NameChange``,
§5.4), subscriptions (``SubscriptionChange``, §5.5), annotations (§5.6, §5.7). The listener
only *collects* them on the event loop (quick, no database); the session sends them:
- between commands, at once (§3.1 "the client listens for event notifications all the
  time"): ``Connection`` calls :meth:`NotifyListener.deliver` whenever it waits for a new
  command and nothing of one has arrived, never between a continuation request and its
  literal (RFC 3501 §7.5), nor during a command;
- during IDLE (§4: the same events as NOTIFY asks for), which the listener wakes;
- before the tagged answer of any command that allows updates (``Session.complete``).

The selected mailbox (§6.1): with SELECTED its changes come between commands too, EXPUNGE
included (the client gave up message numbers, §5.3); with SELECTED-DELAYED new messages and
flags may come at once but expunges wait for a command that allows them (RFC 3501 §7.4.1),
kept as ghosts meanwhile. EXISTS and EXPUNGE still follow commands as RFC 3501 §7.3.1 and
§7.4.1 require whatever the filter (message numbers must stay in step with the client);
without FlagChange for the selected mailbox no flag FETCH is sent (§3.1: "SELECTED NONE").

Other mailboxes get STATUS responses (§5.1-§5.3), mailbox names LIST responses (§5.4, §5.5),
annotations METADATA (§5.6, §5.7). Events need the "l" and "r" rights (§5); a mailbox whose
"l" right is granted or revoked counts as created or deleted (§5.4, §5.9), one that keeps
"l" but loses "r" is listed with \\NoAccess (§5.9). A watched name that comes to stand for
another mailbox (deleted and created again, renamed onto) gets a STATUS with its new
UIDVALIDITY (§5.1).

Names and rights: NOTIFY SET reads the user's tree once (``known``); afterwards each
delivery reads again only the mailboxes the commit reports named (created, renamed,
deleted, ACL or settings changed) that the user owns, sees or may have been granted, in one
read (``Store.mailboxes_as_seen``); subscriptions are taken from the reports themselves.

Bounded (§5.8): a session that does not keep up (its client does not read, so delivery
waits on the socket) collects at most ``limits.notify_queue`` events; one more and it is
sent ``* OK [NOTIFICATIONOVERFLOW]`` and behaves as after NOTIFY NONE.

§5: events the session caused itself are not reported: storage names the origin of the
writes each commit report describes (``CommitReport.origin``, the session whose task queued
them: ``Connection.run`` sets it), and a batch holding several sessions' writes is reported
one session's writes at a time; so exactly the session's own changes are left out, never
another session's committed with them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crispin.protocol import Atom, EventGroup, FetchItem, Mailbox, Value
from crispin.server import names
from crispin.server.commands.listing import (
    HAS_CHILDREN,
    HAS_NO_CHILDREN,
    NONEXISTENT,
    NOSELECT,
    SUBSCRIBED,
    special_use_atoms,
    visible_tree,
)
from crispin.server.metadata_events import MetadataListener
from crispin.storage import (
    ChangeKind,
    CommitReport,
    MailboxInfo,
    MetadataChange,
    NameChange,
    NotFound,
    StorageError,
    SubscriptionChange,
)

if TYPE_CHECKING:
    from crispin.server.session import Session

log = logging.getLogger("crispin.notify")

MESSAGE_EVENTS = frozenset({"MessageNew", "MessageExpunge", "FlagChange"})
SUPPORTED = ("MessageNew", "MessageExpunge", "FlagChange", "MailboxName",
             "SubscriptionChange", "MailboxMetadataChange", "ServerMetadataChange")
"""Every event this server reports, the list [BADEVENT] names (§3.1); AnnotationChange
(per-message annotations, RFC 5257) is not among them: no ANNOTATE here."""
STATUS_ORDER = ("UIDVALIDITY", "UIDNEXT", "MESSAGES", "UNSEEN", "HIGHESTMODSEQ")
NO_ACCESS = Atom("\\NoAccess")


@dataclass
class Known:
    """The mailboxes this user may see (the "l" right), by id: client name, rights."""

    names: dict[int, str] = field(default_factory=dict)
    by_name: dict[str, MailboxInfo] = field(default_factory=dict)
    rights: dict[int, str] = field(default_factory=dict)
    infos: dict[int, MailboxInfo] = field(default_factory=dict)
    tree: set[str] = field(default_factory=set)


class NotifyListener:
    def __init__(self, session: Session, groups: tuple[EventGroup, ...]) -> None:
        self.session = session
        self.selected: EventGroup | None = None
        self.groups: tuple[EventGroup, ...] = ()
        self.set_groups(groups)
        self.known = Known()
        self.subscribed: set[str] = set()
        # Mailboxes whose names or rights the next delivery reads again: only those a
        # commit report names (created, renamed, deleted, ACL or settings changed) that
        # this user owns, sees, or may have been granted, never the whole tree again.
        self.reread: set[int] = set()
        self.quiet: set[int] = set()  # their new names are the session's own doing (§5)
        self.boxes: dict[int, set[ChangeKind]] = {}
        self.renames: list[NameChange] = []
        self.acl: set[int] = set()
        self.subscriptions: list[SubscriptionChange] = []
        self.meta = MetadataListener(session, mailboxes=True)
        self.selected_dirty = False
        self.count = 0
        self.overflow = False
        self.wake = asyncio.Event()
        self.idle_wake: asyncio.Event | None = None
        self.limit = int(session.server.config.get("limits", "notify_queue"))

    def set_groups(self, groups: tuple[EventGroup, ...]) -> None:
        self.selected = next((g for g in groups if g.kind in ("SELECTED", "SELECTED-DELAYED")),
                             None)
        self.groups = tuple(g for g in groups if g.kind not in ("SELECTED",
                                                                  "SELECTED-DELAYED"))

    # -- what the client asked for ------------------------------------------------------
    @property
    def selected_flags(self) -> bool:
        """FlagChange asked for the selected mailbox (§5.1)."""
        return self.selected is not None and "FlagChange" in self.selected.events

    def _matches(self, group: EventGroup, name: str) -> bool:
        """§6.2-§6.6 for a client name. INBOXES is PERSONAL (§6.3 allows it: delivery
        may reach any personal mailbox, by the CLI's import or a Sieve-less MDA)."""
        kind = group.kind
        if kind in ("PERSONAL", "INBOXES"):
            ns = self.session.server.namespaces
            return not name.startswith((ns.other, ns.shared))
        if kind == "SUBSCRIBED":
            return name in self.subscribed
        wanted = [names.normalize(n) for n in group.mailboxes]
        if kind == "MAILBOXES":  # §6.6: no wildcards
            return name in wanted
        return any(name == w or name.startswith(w + names.DELIMITER) for w in wanted)

    def events_for(self, name: str, subscribed_too: bool = False) -> set[str]:
        """The events of every non-selected group matching ``name`` (§6: several groups
        may apply to one mailbox)."""
        found: set[str] = set()
        for group in self.groups:
            if self._matches(group, name) or (subscribed_too and group.kind == "SUBSCRIBED"):
                found.update(group.events)
        return found

    def _wanted_anywhere(self, event: str) -> bool:
        return any(event in g.events for g in self.groups)

    # -- collecting (event loop, from the hub) --------------------------------------------
    def __call__(self, report: CommitReport) -> None:
        session = self.session
        user = session.user
        if user is None or self.overflow:
            return
        view = session.view
        before = self.count
        known = self.known.names
        mine = report.origin is session  # §5: caused by this client
        for named in report.names:
            if named.owner_id == user.id or named.mailbox_id in known:
                self.reread.add(named.mailbox_id)
                if mine and named.owner_id == user.id:
                    self.quiet.add(named.mailbox_id)
        for change in report.changes:
            # A right granted or revoked on any mailbox may be this user's (§5.4, §5.9);
            # a known one's settings (\Noselect, special use) show in its LIST.
            if ChangeKind.ACL in change.kinds or (ChangeKind.SETTINGS in change.kinds
                                                  and change.mailbox_id in known):
                self.reread.add(change.mailbox_id)
        names_here: tuple[NameChange, ...] = () if mine else report.names
        for change in report.changes:
            box = change.mailbox_id
            if view is not None and box == view.mailbox_id:
                if self.selected is not None and self.selected.events \
                        and not self.selected_dirty:
                    self.selected_dirty = True  # pulled from storage, not queued
                    self.count += 1
                continue
            if mine:
                continue
            if box in known or box in self.reread:
                if box not in self.boxes:
                    self.count += 1
                self.boxes.setdefault(box, set()).update(change.kinds)
            if ChangeKind.ACL in change.kinds:
                self.acl.add(box)
        if self._wanted_anywhere("MailboxName"):
            self.renames += names_here
            self.count += len(names_here)
        subs = [s for s in report.subscriptions if s.user_id == user.id]
        if subs:
            for sub in subs:  # the SUBSCRIBED filter follows at once (§6.4)
                if sub.subscribed:
                    self.subscribed.add(sub.name)
                else:
                    self.subscribed.discard(sub.name)
            if self._wanted_anywhere("SubscriptionChange") and not mine:
                self.subscriptions += subs
                self.count += len(subs)
        if report.metadata and not mine:
            kept = self._metadata(report.metadata)
            if kept:
                self.meta(kept)
                self.count += len(kept)
        if self.count > self.limit:
            self.overflow = True
        if self.count != before or self.overflow:
            self.wake.set()
            if self.idle_wake is not None:
                self.idle_wake.set()

    def _metadata(self, changes: tuple[MetadataChange, ...]) -> tuple[MetadataChange, ...]:
        """§5.6, §5.7: server entries for ServerMetadataChange in any group, mailbox
        entries for MailboxMetadataChange in a group naming the mailbox."""
        server = self._wanted_anywhere("ServerMetadataChange")
        kept = []
        for change in changes:
            if change.mailbox_id is None:
                if server:
                    kept.append(change)
                continue
            name = self.known.names.get(change.mailbox_id)
            if name is not None and "MailboxMetadataChange" in self.events_for(name):
                kept.append(change)
        return tuple(kept)

    @property
    def pending(self) -> bool:
        return bool(self.count or self.overflow or self.meta.pending or self.selected_dirty)

    # -- sending --------------------------------------------------------------------------
    async def refresh(self) -> Known:
        """Read the names this user sees, their rights, and the subscriptions (NOTIFY SET;
        later changes are followed by :meth:`_reread`); returns what was known before."""
        session = self.session
        assert session.user is not None
        tree = await visible_tree(session)
        known = Known(tree=set(tree))
        for name, visible in tree.items():
            if visible.info is not None:
                known.names[visible.info.id] = name
                known.by_name[name] = visible.info
                known.rights[visible.info.id] = visible.rights
                known.infos[visible.info.id] = visible.info
        previous, self.known = self.known, known
        self.subscribed = set(await session.server.store.list_subscriptions(session.user.id))
        return previous

    async def _reread(self, ids: set[int]) -> Known:
        """Read again the names and rights of these mailboxes only (one read, whatever the
        size of the tree) and put them in ``known``; returns what was known of them before
        (names, rights and infos of those that were visible)."""
        session = self.session
        user = session.user
        assert user is not None
        found = await session.server.store.mailboxes_as_seen(sorted(ids), user.id, user.name)
        known, previous = self.known, Known()
        ns = session.server.namespaces
        foreign = False
        for box in ids:
            name = known.names.pop(box, None)
            if name is None:
                continue
            previous.names[box] = name
            previous.infos[box] = info = known.infos.pop(box)
            previous.rights[box] = known.rights.pop(box)
            foreign |= info.owner_id != user.id
            if known.by_name.get(name) is info:
                del known.by_name[name]
                known.tree.discard(name)
        for info, rights, owner in found:
            if "l" not in rights:  # §5.9: no longer (or not yet) visible
                continue
            if info.owner_id == user.id:
                name = info.name
            else:
                foreign = True
                name = ns.shared_name(info.name) if owner is None \
                    else ns.other_name(owner, info.name)
            known.names[info.id] = name
            known.by_name[name] = info
            known.rights[info.id] = rights
            known.infos[info.id] = info
            known.tree.add(name)
        if foreign:
            known.tree = set(known.names.values()) | self._levels()
        return previous

    def _levels(self) -> set[str]:
        """The \\Noselect levels leading to other users' and shared mailboxes
        ("Other Users", "Other Users/bob", "Shared"), as ``visible_tree`` has them."""
        ns = self.session.server.namespaces
        other_root, shared_root = ns.roots()
        out: set[str] = set()
        for name in self.known.names.values():
            if name.startswith(ns.other):
                owner = name[len(ns.other):].partition(names.DELIMITER)[0]
                out |= {other_root, f"{ns.other}{owner}"}
            elif name.startswith(ns.shared):
                out.add(shared_root)
        return out

    def _as_seen(self, changes: list[NameChange], acl: set[int],
                 previous: Known) -> list[NameChange]:
        """The name changes in client names. The user's own mailboxes are named as
        storage names them; another user's (or a shared) mailbox by the name it had and
        has for this user, which also makes the "l" right granted or revoked its creation
        or deletion (§5.4, §5.9)."""
        user = self.session.user
        assert user is not None
        mine = [c for c in changes if c.owner_id == user.id]
        foreign = {c.mailbox_id for c in changes if c.owner_id != user.id} | acl
        for box in sorted(foreign):
            old, new = previous.names.get(box), self.known.names.get(box)
            info = self.known.infos.get(box) or previous.infos.get(box)
            if old != new and (info is None or info.owner_id != user.id):
                mine.append(NameChange(box, None, old, new))
        return mine

    async def deliver(self, between_commands: bool) -> None:
        """Send what is pending. ``between_commands``: no command is in progress, so the
        selected mailbox's changes come here too (§6.1); after a command or in IDLE the
        session's own sync has reported them."""
        session = self.session
        if self.overflow:
            self.stop()
            session.untagged_status("OK", "Too many events; NOTIFY NONE now",
                                    "NOTIFICATIONOVERFLOW")
            return
        # Taken before any await: what arrives meanwhile waits for the next round (a
        # refresh below may already show its effect, which the next round shows again).
        boxes, self.boxes = self.boxes, {}
        renames, self.renames = self.renames, []
        subscriptions, self.subscriptions = self.subscriptions, []
        acl, self.acl = self.acl, set()
        self.count = 0
        reread, self.reread = self.reread, set()
        quiet, self.quiet = self.quiet, set()
        previous = await self._reread(reread) if reread else Known()
        # §5.1: a name that now stands for another mailbox (created again, renamed onto,
        # or visible again) has a new UIDVALIDITY, which a STATUS tells where message
        # events are watched; not when the session's own command made it so (§5).
        fresh = {box for box in reread - quiet if box in self.known.names
                 and previous.names.get(box) != self.known.names[box]}
        if between_commands and self.selected_dirty:
            if self.selected is not None and session.view is not None:
                # ``Session.sync`` clears ``selected_dirty`` before it reads.
                await session.sync(allow_expunge=self.selected.kind == "SELECTED",
                                   woken=True, flags=self.selected_flags)
            else:
                self.selected_dirty = False  # unselected meanwhile
        await self._names(self._as_seen(renames, acl, previous))
        for box in sorted(reread - quiet):
            # §5.4: DELETE of a mailbox with inferiors keeps its name as \\Noselect (RFC
            # 3501 §6.3.4): no name changed, but the mailbox is deleted all the same.
            name = self.known.names.get(box)
            if name is not None and previous.names.get(box) == name \
                    and previous.infos[box].noselect != self.known.infos[box].noselect \
                    and "MailboxName" in self.events_for(name):
                await self._list(name)
        for box in sorted(acl & reread):
            # §5.9: a watched mailbox still listed whose "r" right (events need "l" and
            # "r", §5) was revoked: LIST with \\NoAccess, and monitoring stops; granted
            # again: LIST without it, and a STATUS to start again from.
            name = self.known.names.get(box)
            if name is None or previous.names.get(box) != name or not self.events_for(name):
                continue
            has = "r" in self.known.rights[box]
            if has != ("r" in previous.rights[box]):
                await self._list(name, no_access=not has)
                if has:
                    fresh.add(box)
        for sub in subscriptions:
            if {"SubscriptionChange"} & self.events_for(sub.name, subscribed_too=True):
                await self._list(sub.name)
        view = session.view
        for box in sorted(boxes.keys() | fresh):
            if view is not None and box == view.mailbox_id:
                continue
            await self._status(box, boxes.get(box, set()), box in fresh)
        await self.meta.flush()

    async def _status(self, box: int, kinds: set[ChangeKind], fresh: bool = False) -> None:
        """§5.1-§5.3: a STATUS response for a change in a mailbox not selected; ``fresh``:
        its name stands for this mailbox since the last delivery (a new UIDVALIDITY, §5.1:
        "the server MUST notify the client about mailbox UIDVALIDITY changes"), told
        where any message event is watched, with the counts MessageNew's STATUS of §3.1
        has (the client's UIDNEXT and MESSAGES belong to the mailbox gone)."""
        name = self.known.names.get(box)
        info = self.known.infos.get(box)
        if name is None or info is None or info.noselect or "r" not in self.known.rights[box]:
            return
        events = self.events_for(name)
        session = self.session
        items: set[str] = set()
        if ChangeKind.APPENDED in kinds and "MessageNew" in events:
            items |= {"UIDNEXT", "MESSAGES"}
            if session.condstore:
                items.add("HIGHESTMODSEQ")
        if ChangeKind.EXPUNGED in kinds and "MessageExpunge" in events:
            items |= {"UIDNEXT", "MESSAGES"}
            if session.qresync:
                items.add("HIGHESTMODSEQ")
        if fresh and events & MESSAGE_EVENTS:
            items |= {"UIDVALIDITY", "UIDNEXT", "MESSAGES"}
            if session.condstore:
                items.add("HIGHESTMODSEQ")
        if "FlagChange" in events and not session.condstore and (fresh or \
                kinds & {ChangeKind.FLAGS, ChangeKind.APPENDED, ChangeKind.EXPUNGED}):
            # §5.1: without CONDSTORE, flag changes are told as UNSEEN; and since "if the
            # number of messages with the \\Seen flag changes, the server MAY also include
            # the UNSEEN data item", a new or expunged message updates it too (else the
            # client's UNSEEN would go stale with no flag having changed).
            items.add("UNSEEN")
        elif ChangeKind.FLAGS in kinds and "FlagChange" in events:
            # §5.1: HIGHESTMODSEQ and UIDVALIDITY once CONDSTORE is enabled.
            items |= {"HIGHESTMODSEQ", "UIDVALIDITY"}
        if not items:
            return
        try:
            st = await session.server.hub.shared_status(session.server.store, box,
                                                        session.viewer)
        except NotFound:
            return  # deleted meanwhile: its MailboxName event says so
        counts = {"UIDVALIDITY": st.uidvalidity, "UIDNEXT": st.uidnext,
                  "MESSAGES": st.messages, "UNSEEN": st.unseen,
                  "HIGHESTMODSEQ": st.highest_modseq}
        values: list[Value] = []
        for item in STATUS_ORDER:
            if item in items:
                values += [Atom(item), counts[item]]
        session.untagged(Atom("STATUS"), Mailbox(name), values)

    async def _names(self, changes: list[NameChange]) -> None:
        """§5.4: a LIST for each name created, deleted or renamed (OLDNAME), and for the
        direct parent of one created or deleted; inferiors renamed along with their
        superior are not reported on their own."""
        if not changes:
            return
        renamed = {c.old for c in changes if c.old and c.new}
        sent: set[str] = set()
        for change in changes:
            old, new = change.old, change.new
            if old is not None and new is not None and any(
                    p in renamed for p in names.parent_names(old)):
                continue
            affected = [n for n in (old, new) if n is not None]
            if not any("MailboxName" in self.events_for(n) for n in affected):
                continue
            if old is not None and new is not None:
                await self._list(new, oldname=old)
                continue
            name = new if new is not None else old
            assert name is not None
            for target in (name, *names.parent_names(name)[-1:]):
                if target not in sent:
                    sent.add(target)
                    await self._list(target)

    async def _list(self, name: str, oldname: str | None = None,
                    no_access: bool = False) -> None:
        """An unsolicited LIST with attributes computed as LIST computes them (§5.4,
        §5.5); \\NonExistent for a name that is gone, \\NoAccess if asked (§5.9)."""
        tree = self.known.tree
        info = self.known.by_name.get(name)
        attrs: list[Value] = []
        if info is None:
            attrs.append(NOSELECT if name in tree else NONEXISTENT)
        else:
            if info.noselect:
                attrs.append(NOSELECT)
            prefix = name + names.DELIMITER
            attrs.append(HAS_CHILDREN if any(n.startswith(prefix) for n in tree)
                         else HAS_NO_CHILDREN)
            attrs += special_use_atoms(info)
            if no_access:
                attrs.append(NO_ACCESS)
        if name in self.subscribed:
            attrs.append(SUBSCRIBED)
        extra: list[Value] = [["OLDNAME", [Mailbox(oldname)]]] if oldname is not None else []
        self.session.untagged(Atom("LIST"), attrs, names.DELIMITER, Mailbox(name), *extra)

    @property
    def new_fetch(self) -> tuple[FetchItem, ...]:
        """§5.2: what MessageNew asked to FETCH for a new message in the selected mailbox
        (``Session.sync`` sends it after the EXISTS)."""
        return self.selected.fetch if self.selected is not None else ()

    async def deliver_now(self) -> None:
        """Between commands (``Connection``): like :meth:`deliver`, where no tagged answer
        can carry a failure, so a storage error is logged and the next event retries; the
        selected mailbox deleted meanwhile ends the session (``Disconnect``)."""
        try:
            await self.deliver(between_commands=True)
        except StorageError as exc:
            # Not retried at once (the same failure would spin): the next event retries
            # the selected mailbox (pulled, not queued); what was queued is dropped.
            log.warning("%s: NOTIFY delivery failed in storage: %r", self.session.peer, exc)
            self.count = 0
            self.boxes.clear()
            self.renames.clear()
            self.subscriptions.clear()
            self.meta.pending.clear()

    def stop(self) -> None:
        self.session.server.hub.unwatch_reports(self)
        if self.session.notify is self:
            self.session.notify = None


def check_fetch(items: tuple[FetchItem, ...]) -> None:
    from crispin.server.commands.fetch import check_items

    check_items(items)
