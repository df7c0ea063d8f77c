"""Waking sessions when a mailbox changes (IDLE, RFC 2177).

The hub only *wakes*: a woken session pulls the changes from storage itself (DESIGN.md "Many
clients, one mailbox"), so the hub carries no data and costs nothing per idle connection but
one ``asyncio.Event``. Changes made in this process wake at once: the hub subscribes to the
store's commit reports (``Store.on_commit``, DESIGN.md "Storage reports, the server reacts"),
so every write storage commits wakes the sessions of the mailboxes it changed, whichever
storage method made it. Changes made by another process (``crispin import``, the CLI, later
other servers on the same database) are found by one poll of the watched mailboxes' modseqs
for the whole server, not one per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable

from crispin.storage import Changes, CommitReport, MailboxStatus, MetadataChange, Store

log = logging.getLogger("crispin.hub")

POLL_INTERVAL = 0.25


class Hub:
    def __init__(self) -> None:
        self._watchers: defaultdict[int, set[asyncio.Event]] = defaultdict(set)
        self._known: dict[int, int] = {}
        self._poller: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        # Fan-out (one APPEND waking 1,000 idlers) must not cost 1,000 identical reads and
        # 1,000 \Recent claims: woken sessions share one read per (mailbox, modseq,
        # viewer) and one claim per change, until the mailbox changes again.
        self._generation: defaultdict[int, int] = defaultdict(int)
        self._shared: dict[tuple[int, int, int | None, int], asyncio.Future[Changes]] = {}
        self._claimed: dict[int, int] = {}
        # The same for NOTIFY's STATUS of a mailbox not selected (RFC 5465 §5.2): one
        # counting per (mailbox, change, viewer), not one per session told.
        self._statuses: dict[tuple[int, int, int | None], asyncio.Future[MailboxStatus]] = {}
        # Watchers of every mailbox at once (the HTTP long-poll and the web inbox's live
        # list): woken by any change, they look for what they wait for themselves.
        self._everything: set[asyncio.Event] = set()
        # Sessions told of changed annotations (RFC 5464 §4.4.2, ``metadata_events``).
        self._metadata: set[Callable[[tuple[MetadataChange, ...], object], None]] = set()
        # Sessions with NOTIFY (RFC 5465, ``notify_events``): every report, whole.
        self._reports: set[Callable[[CommitReport], None]] = set()
        self._store: Store | None = None

    def watch(self, mailbox_id: int, modseq: int) -> asyncio.Event:
        """An event set whenever the mailbox changes; ``modseq`` is what the watcher has
        already seen, the poll's baseline for changes made by other processes."""
        event = asyncio.Event()
        self._watchers[mailbox_id].add(event)
        known = self._known.get(mailbox_id)
        self._known[mailbox_id] = modseq if known is None else min(known, modseq)
        return event

    def unwatch(self, mailbox_id: int, event: asyncio.Event) -> None:
        watchers = self._watchers.get(mailbox_id)
        if watchers is not None:
            watchers.discard(event)
            if not watchers:
                del self._watchers[mailbox_id]
                self._known.pop(mailbox_id, None)

    def watch_all(self) -> asyncio.Event:
        """An event set at the next change to any mailbox (in this process, or found by
        the poll in a watched one)."""
        event = asyncio.Event()
        self._everything.add(event)
        return event

    def unwatch_all(self, event: asyncio.Event) -> None:
        self._everything.discard(event)

    def watch_metadata(self, listener: Callable[[tuple[MetadataChange, ...], object], None]
                       ) -> None:
        """Call ``listener(changes)`` with the annotations each commit of this process
        changed (RFC 5464; changes by other processes are not seen: only the IMAP server
        writes annotations)."""
        self._metadata.add(listener)
        self._origins_wanted()

    def unwatch_metadata(self, listener: Callable[[tuple[MetadataChange, ...], object], None]
                         ) -> None:
        self._metadata.discard(listener)
        self._origins_wanted()

    def watch_reports(self, listener: Callable[[CommitReport], None]) -> None:
        """Call ``listener(report)`` with every commit report of this process (NOTIFY,
        RFC 5465: names, subscriptions and mailboxes the session does not have selected).
        Changes by other processes are not seen here (the poll only wakes watchers)."""
        self._reports.add(listener)
        self._origins_wanted()

    def unwatch_reports(self, listener: Callable[[CommitReport], None]) -> None:
        self._reports.discard(listener)
        self._origins_wanted()

    def _origins_wanted(self) -> None:
        """Storage reports a batch's writes session by session only while a listener
        leaves out a session's own changes (NOTIFY, METADATA: ``CommitReport.origin``)."""
        if self._store is not None:
            self._store.database.report_origins = bool(self._reports or self._metadata)

    def notify_all(self) -> None:
        """Everything may have changed (a snapshot was restored): wake every watcher."""
        self.notify(*list(self._watchers))
        for event in self._everything:
            event.set()

    def notify(self, *mailbox_ids: int) -> None:
        for event in self._everything if mailbox_ids else ():
            event.set()
        for mailbox_id in mailbox_ids:
            self._generation[mailbox_id] += 1
            stale = [k for k in self._shared if k[0] == mailbox_id]
            for key in stale:
                del self._shared[key]
            for old in [k for k in self._statuses if k[0] == mailbox_id]:
                del self._statuses[old]
            for event in self._watchers.get(mailbox_id, ()):
                event.set()

    async def woken_changes(self, store: Store, mailbox_id: int, modseq: int,
                            viewer: int | None) -> Changes:
        """``changes_since`` for a session woken by :meth:`notify`: sessions that were
        told about the same change and have seen the same modseq get one shared read."""
        key = (mailbox_id, modseq, viewer, self._generation[mailbox_id])
        shared = self._shared.get(key)
        if shared is None:
            shared = asyncio.ensure_future(store.changes_since(mailbox_id, modseq,
                                                               viewer=viewer))
            self._shared[key] = shared
        return await asyncio.shield(shared)

    async def shared_status(self, store: Store, mailbox_id: int,
                            viewer: int | None) -> MailboxStatus:
        """``store.mailbox_status`` for sessions told of the same change (NOTIFY fan-out):
        one read per (mailbox, change, viewer)."""
        key = (mailbox_id, self._generation[mailbox_id], viewer)
        shared = self._statuses.get(key)
        if shared is None:
            shared = asyncio.ensure_future(store.mailbox_status(mailbox_id, viewer=viewer))
            self._statuses[key] = shared
        return await asyncio.shield(shared)

    def first_claim(self, mailbox_id: int) -> bool:
        """Whether this session is the first, since the last change, to claim \\Recent
        (RFC 3501 §2.3.2): later ones would get nothing from storage anyway."""
        generation = self._generation[mailbox_id]
        if self._claimed.get(mailbox_id) == generation:
            return False
        self._claimed[mailbox_id] = generation
        return True

    def on_commit(self, report: CommitReport) -> None:
        """A commit of this process changed these mailboxes: wake their watchers. (A
        private flag change wakes them all too: the woken sessions of other users pull
        nothing, since ``changes_since`` is per viewer; those of the same user report it.)"""
        for change in report.changes:
            if change.mailbox_id in self._known:
                # The poll need not find this change again.
                self._known[change.mailbox_id] = max(self._known[change.mailbox_id],
                                                     change.modseq)
        self.notify(*report.mailbox_ids)
        if report.metadata:
            for listener in list(self._metadata):
                listener(report.metadata, report.origin)
        for reporter in list(self._reports):
            reporter(report)

    def start(self, store: Store) -> None:
        """Listen to ``store``'s commit reports and poll for other processes' changes."""
        self._unsubscribe = store.on_commit(self.on_commit)
        self._store = store
        self._origins_wanted()
        self._poller = asyncio.get_running_loop().create_task(self._poll(store))

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def _poll(self, store: Store) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            if not self._watchers:
                continue
            try:
                current = await store.highest_modseqs(list(self._watchers))
            except Exception:
                log.exception("polling for changes failed")
                continue
            for mailbox_id, modseq in current.items():
                if self._known.get(mailbox_id, modseq) != modseq and \
                        mailbox_id in self._watchers:
                    self.notify(mailbox_id)
                    self._known[mailbox_id] = modseq
            for gone in set(self._watchers) - set(current):
                self.notify(gone)
