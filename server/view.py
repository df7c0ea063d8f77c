"""A session's view of its selected mailbox: message sequence numbers and what it was told.

DESIGN.md "Many clients, one mailbox": the view is the sorted UID list the client knows
(MSN = index + 1) and the modseq up to which it has been told about changes. Changes are pulled
from storage; this module decides what to tell the client and when.

RFC 3501 §7.4.1: an EXPUNGE may not be sent during FETCH, STORE or SEARCH (non-UID forms), nor
when no command is in progress, because the client's message numbers would shift under it.
Messages expunged by someone else stay here as *ghosts* at their sequence numbers until a
command that may report them; FETCH answers a ghost with what its tombstone still knows and
STORE leaves it alone (RFC 2180 §4.1-4.2, ``crispin.server.commands.fetch_expunged``). Which
commands may report expunges is stated once, in the command table (``crispin.server.command_spec``).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crispin.protocol import Atom, DataResponse, Response, SequenceSet, StatusResponse, Value
from crispin.server.flags import SYSTEM_FLAGS
from crispin.server.sets import compact_set
from crispin.storage import Changes, MailboxInfo

if TYPE_CHECKING:
    from crispin.server.contexts import Context


class InvalidSequence(Exception):
    """A message sequence number beyond EXISTS (answered BAD, RFC 3501 §6.4.5)."""


@dataclass
class View:
    mailbox: MailboxInfo
    uids: array[int]
    modseq: int
    readonly: bool = False
    recent: set[int] = field(default_factory=set)
    ghosts: set[int] = field(default_factory=set)
    keywords: set[str] = field(default_factory=set)
    # RFC 7162: how this session wants changes reported (set from the session's ENABLEs).
    condstore: bool = False
    qresync: bool = False
    # RFC 9051 Appendix E item 12: an IMAP4rev2 session is sent no RECENT response.
    rev2: bool = False
    # RFC 5182 SEARCHRES: the UIDs of the last SEARCH RETURN (SAVE), the "$" set.  Kept as
    # UIDs, so an expunged message simply drops out of it; a new SELECT makes a new view,
    # so the variable starts empty, as §2.1 requires.
    saved: list[int] = field(default_factory=list)
    # RFC 4314 §4: the user's rights on the mailbox, as of the start of the current command
    # (``crispin.server.access.recheck`` refreshes them when any right changed anywhere).
    rights: str = ""
    # The UID array is shared with other sessions' views of the unchanged mailbox (storage's
    # ``shared_select_summary``, issue 14): it is never changed in place while this is
    # true; the first new message copies it (copy on write), removals build a new one.
    uids_shared: bool = False
    # RFC 5267 §4.3: the UPDATE contexts by the tag of their searching command; they end
    # with the view (the mailbox no longer selected), or by CANCELUPDATE.
    contexts: dict[str, Context] = field(default_factory=dict)

    @classmethod
    def create(cls, mailbox: MailboxInfo, uids: Iterable[int], modseq: int, readonly: bool,
               recent: Iterable[int] = ()) -> View:
        return cls(mailbox, array("I", uids), modseq, readonly, set(recent))

    @classmethod
    def shared(cls, mailbox: MailboxInfo, uids: array[int], modseq: int,
               readonly: bool) -> View:
        """A view on a UID array other views may hold too (not copied: ten sessions on a
        100,000-message mailbox share one 400 KB array)."""
        return cls(mailbox, uids, modseq, readonly, uids_shared=True)

    @property
    def mailbox_id(self) -> int:
        return self.mailbox.id

    @property
    def exists(self) -> int:
        return len(self.uids)

    def msn(self, uid: int) -> int | None:
        i = bisect_left(self.uids, uid)
        if i < len(self.uids) and self.uids[i] == uid:
            return i + 1
        return None

    # -- sequence sets ------------------------------------------------------------------------
    def runs(self, seqset: SequenceSet, uid: bool) -> list[tuple[int, int]]:
        """The messages a set names as half-open ranges of positions in ``uids`` (message
        number - 1), ascending and apart: a set resolves sorted and merged (RFC 3501 §9:
        each message once). A message number beyond EXISTS is an error
        (``InvalidSequence``); UIDs not in the view are simply absent (RFC 3501 §6.4.8),
        and "*" is the largest UID, so "n:*" always includes the last message. "$"
        (RFC 5182) is the saved messages still in the view, whichever kind of set."""
        uids = self.uids
        if seqset.saved:
            positions = [n - 1 for n in map(self.msn, sorted(self.saved)) if n is not None]
            out: list[tuple[int, int]] = []
            for i in positions:
                if out and out[-1][1] == i:
                    out[-1] = (out[-1][0], i + 1)
                else:
                    out.append((i, i + 1))
            return out
        if uid:
            if not uids:
                return []
            spans = ((bisect_left(uids, lo), bisect_left(uids, hi + 1))
                     for lo, hi in seqset.resolve(uids[-1]))
            return [(a, b) for a, b in spans if a < b]
        count = len(uids)
        out = []
        for lo, hi in seqset.resolve(count):
            if lo < 1 or hi > count:
                raise InvalidSequence("Invalid message sequence number")
            out.append((lo - 1, hi))
        return out

    def pairs(self, runs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """(msn, uid) for every position of ``runs``."""
        uids = self.uids
        out: list[tuple[int, int]] = []
        for a, b in runs:
            out.extend(zip(range(a + 1, b + 1), uids[a:b], strict=True))
        return out

    def select(self, seqset: SequenceSet, uid: bool) -> list[tuple[int, int]]:
        """(msn, uid) pairs of the messages a set names (``runs``)."""
        return self.pairs(self.runs(seqset, uid))

    # -- updates ------------------------------------------------------------------------------
    def flags_bytes(self, uid: int, flags: Iterable[str]) -> bytes:
        """``flags_value`` written out: flags are atoms (storage checks keywords)."""
        names = [f.encode() for f in flags]
        if uid in self.recent:
            names.append(b"\\Recent")
        return b"(" + b" ".join(names) + b")"

    def flags_value(self, uid: int, flags: Iterable[str]) -> list[Value]:
        """The FLAGS list for this session: \\Recent is per session (RFC 3501 §2.3.2)."""
        out: list[Value] = [Atom(f) for f in flags]
        if uid in self.recent:
            out.append(Atom("\\Recent"))
        return out

    def flag_atoms(self) -> list[Value]:
        """The FLAGS list: system flags, then the keywords in use (RFC 3501 §7.2.6)."""
        return [Atom(f) for f in (*SYSTEM_FLAGS, *sorted(self.keywords))]

    def announce_keywords(self, flags: Iterable[str]) -> list[Response]:
        """RFC 3501 §7.2.6: a keyword used for the first time joins FLAGS (and
        PERMANENTFLAGS when read-write); the client learns it from new untagged FLAGS
        and PERMANENTFLAGS responses, sent before any FETCH that shows it."""
        known = {k.lower() for k in self.keywords}
        new: list[str] = []
        for f in flags:
            if not f.startswith("\\") and f.lower() not in known:
                known.add(f.lower())
                new.append(f)
        if not new:
            return []
        self.keywords.update(new)
        atoms = self.flag_atoms()
        out: list[Response] = [DataResponse((Atom("FLAGS"), atoms))]
        if not self.readonly:
            out.append(StatusResponse(None, "OK", "Flags permitted", "PERMANENTFLAGS",
                                      ([*atoms, Atom("\\*")],)))
        return out

    def apply(self, changes: Changes, allow_expunge: bool,
              hide: Collection[int] = (), flags: bool = True) -> list[Response]:
        """Bring the view up to date and return the untagged responses, in the order
        EXPUNGE, FLAGS (new keywords), EXISTS, RECENT, FETCH (as Dovecot's imap-sync
        does). Flag changes at a modseq in ``hide`` were answered by the command that
        made them and are not echoed (``crispin.server.command_spec``); ``flags`` False:
        the client asked for no FlagChange events at all (NOTIFY, RFC 5465 §3.1, §5.1)."""
        out: list[Response] = []
        last = self.uids[-1] if self.uids else 0
        for uid in changes.expunged:
            if uid <= last and uid not in self.ghosts and self.msn(uid) is not None:
                self.ghosts.add(uid)
        if allow_expunge and self.ghosts:
            out += self._drop_ghosts()
        # Keywords another session used first (RFC 3501 §7.2.6), before the data using them.
        out += self.announce_keywords(
            f for c in changes.updated if c.uid not in self.ghosts for f in c.flags)
        new = sorted(c.uid for c in changes.updated if c.uid > last)
        if new:
            if self.uids_shared:
                self.uids, self.uids_shared = array("I", self.uids), False
            self.uids.extend(new)
            out.append(DataResponse((len(self.uids), Atom("EXISTS"))))
            if not self.rev2:
                out.append(DataResponse((len(self.recent), Atom("RECENT"))))
        for change in changes.updated if flags else ():
            if change.uid > last or change.uid in self.ghosts:
                continue
            if change.modseq in hide:
                continue
            n = self.msn(change.uid)
            if n is not None:
                out.append(DataResponse((n, Atom("FETCH"), self.flag_items(
                    change.uid, change.flags, change.modseq))))
        self.modseq = max(self.modseq, changes.highest_modseq)
        return out

    def flag_items(self, uid: int, flags: Iterable[str], modseq: int) -> list[Value]:
        """The items of an unsolicited FETCH reporting flags. The UID always goes with
        them: RFC 3501 §6.4.8 requires it for any FETCH caused by a UID command, RFC 9051
        §7.5.2 for every unsolicited one; once CONDSTORE is enabled, MODSEQ too (RFC 7162
        §3.2.4)."""
        items: list[Value] = [Atom("UID"), uid, Atom("FLAGS"), self.flags_value(uid, flags)]
        if self.condstore:
            items += [Atom("MODSEQ"), [modseq]]
        return items

    def _drop_ghosts(self) -> Iterator[Response]:
        """Remove the ghosts and report them: one VANISHED once QRESYNC is enabled (RFC
        7162 §3.2.10.2), else EXPUNGE responses in ascending order, each number valid when
        the client reads it, so every earlier removal shifts later ones down.  The view is
        updated at once; the responses are made as they are taken (one per expunged
        message: the caller sends them paced, not all held at once)."""
        gone = self.ghosts
        out: Iterator[Response]
        if self.qresync:
            out = iter([DataResponse((Atom("VANISHED"), compact_set(sorted(gone))))]
                       if gone else [])
        else:
            msns = sorted(n for n in (self.msn(u) for u in gone) if n is not None)
            out = (DataResponse((n - shift, Atom("EXPUNGE"))) for shift, n in enumerate(msns))
        self.uids = array("I", (u for u in self.uids if u not in gone))
        self.uids_shared = False
        self.recent -= gone
        self.ghosts = set()
        return out

    def remove(self, uids: Iterable[int]) -> Iterator[Response]:
        """Remove messages this session expunged itself, with the responses reporting it
        (other sessions' pending expunges go with them: the command allows it)."""
        self.ghosts.update(u for u in uids if self.msn(u) is not None)
        return self._drop_ghosts()
