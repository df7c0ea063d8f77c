"""Who may do what to a mailbox (RFC 4314 ACL), checked by every command.

A user has every right on their own mailboxes; on others' and on shared mailboxes, what the
ACL grants (storage computes it, including ``anyone`` and negative rights). Refusals never
reveal a mailbox the user may not see: without the "l" right, the answer is NONEXISTENT
whether the mailbox exists or not (RFC 4314 §6).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from crispin.server.namespaces import Place
from crispin.server.outcome import CommandFailed, Disconnect
from crispin.server.session import Session
from crispin.storage import (
    Alongside,
    AlongsideFound,
    CheckedWrite,
    MailboxInfo,
    NotFound,
    SelectSummary,
    SessionAccess,
    User,
)

ALL_RIGHTS = "lrswipkxtea"
T = TypeVar("T")

log = logging.getLogger("crispin.access")


@dataclass(frozen=True)
class Access:
    place: Place
    info: MailboxInfo
    rights: str


def nonexistent() -> CommandFailed:
    return CommandFailed("Mailbox does not exist", "NONEXISTENT")


async def find(session: Session, place: Place) -> MailboxInfo | None:
    if place.kind not in ("personal", "other", "shared"):
        return None
    return await session.server.store.get_mailbox_in(place.owner_id, place.name)


async def rights_on(session: Session, place: Place, info: MailboxInfo,
                    user: User | None = None) -> str:
    if place.kind == "personal":
        return ALL_RIGHTS
    return await rights_on_mailbox(session, info, user)


async def mailbox_for(session: Session, name: str, need: str = "",
                      allow_noselect: bool = False) -> Access:
    """The mailbox named ``name`` if the user holds every right in ``need``; else
    NO [NONEXISTENT] (cannot see it) or NO [NOPERM] (can see it, may not do this)."""
    assert session.user is not None
    return await mailbox_as(session, session.user, name, need, allow_noselect)


async def mailbox_as(session: Session, user: User, name: str, need: str = "",
                     allow_noselect: bool = False) -> Access:
    """:func:`mailbox_for` as ``user`` names mailboxes and with ``user``'s rights: the
    session's user, but for a URLAUTH-authorized URL, which works with the access of the
    URL's user (RFC 4467 §7 URLFETCH)."""
    place = await session.server.namespaces.resolve_as(session.server.store, user, name)
    info = await find(session, place)
    if info is None:
        raise nonexistent()
    return _checked(place, info, await rights_on(session, place, info, user), need,
                    allow_noselect)


def _checked(place: Place, info: MailboxInfo, rights: str, need: str,
             allow_noselect: bool = False) -> Access:
    if not rights:
        raise nonexistent()
    if info.noselect and not allow_noselect:
        raise nonexistent()
    missing = [r for r in need if r not in rights]
    if missing:
        if "l" not in rights and "r" not in rights:
            raise nonexistent()
        raise CommandFailed(f"Permission denied (needs the {missing[0]!r} right)", "NOPERM")
    return Access(place, info, rights)


async def mailbox_to_select(session: Session, name: str) -> tuple[Access, SelectSummary]:
    """``mailbox_for(name, "r")`` and SELECT's summary of it (the shared index brought up
    to date). A personal mailbox, on which the user holds every right, is looked up and
    summarised in one read (two trips before, each waiting for a reader and for the
    event loop under load: bench/README.md "Mixed load"); another user's or a shared one
    as before, its rights read first."""
    place = await session.server.namespaces.resolve(session, name)
    store = session.server.store
    if place.kind == "personal":
        info, index = await store.select_index(place.owner_id, place.name,
                                               viewer=session.viewer)
        if info is None:
            raise nonexistent()
        access = _checked(place, info, ALL_RIGHTS, "r")
        assert index is not None  # selectable: _checked refused a \Noselect one
        return access, index.summary()
    access = await mailbox_for(session, name, "r")
    return access, await store.shared_select_summary(access.info.id, viewer=session.viewer)


async def current_rights(session: Session) -> str:
    """The rights on the selected mailbox now: :func:`recheck` refreshed them at the start of
    this command if any right changed anywhere, so a right revoked while the mailbox is
    selected takes effect at once (RFC 4314 §4)."""
    view = session.view
    assert view is not None
    return view.rights


def require_selected(session: Session, right: str) -> None:
    """NO [NOPERM] unless the user holds ``right`` on the selected mailbox now: "r" for
    FETCH, SEARCH and the source of COPY/MOVE (RFC 4314 §4)."""
    view = session.view
    assert view is not None
    if right not in view.rights:
        raise CommandFailed(f"Permission denied (needs the {right!r} right)", "NOPERM")


async def recheck(session: Session, with_changes: bool = False) -> None:
    """At the start of every command of a logged-in session: one read of storage's access
    serial; when it moved (an ACL changed, a mailbox or a user was deleted — by any session,
    the CLI or another process), re-read the rights on the selected mailbox, and end the
    session with ``* BYE`` if its user no longer exists (RFC 3501 §7.1.5).
    ``with_changes``: the command reads nothing else (NOOP, CHECK), so the selected
    mailbox's changes are read in the same trip and the sync after it uses them
    (``Session.prefetched``)."""
    user = session.user
    if user is None:
        return
    view = session.view
    store = session.server.store
    if with_changes and view is not None:
        modseq = view.modseq
        found, changes = await store.session_access_and_changes(
            session.access_serial, user.id, user.name, view.mailbox_id, modseq,
            session.viewer)
        if changes is not None:
            session.prefetched = (modseq, changes)
    else:
        found = await store.session_access(
            session.access_serial, user.id, user.name,
            None if view is None else view.mailbox_id)
    apply_access(session, found)


def session_key(session: Session) -> tuple[int, int, str]:
    """What storage needs to recheck the session's access inside another read
    (``acl.session_access``): the serial last seen, the user's id and name."""
    user = session.user
    assert user is not None
    return session.access_serial, user.id, user.name


def apply_access(session: Session, found: SessionAccess | None) -> None:
    """What :func:`recheck` read, applied: a command that read it together with its own
    data (a FETCH of one message) calls this before it answers anything."""
    if found is None:
        return
    user = session.user
    assert user is not None
    view = session.view
    session.access_serial = found.serial
    if not found.user_exists:
        log.info("%s: user %s was deleted; ending the session", session.peer, user.name)
        session.untagged_status("BYE", "This account no longer exists")
        raise Disconnect
    if view is not None and found.rights is not None:
        view.rights = found.rights


def apply_checked(session: Session, done: CheckedWrite[T], since: int | None) -> T | None:
    """What a checked write (``Store.*_checked``: the access recheck, the write and the
    changes since ``since`` in one transaction) found: the access applied (RFC 4314 §4), the
    changes kept for the sync after the command (``Session.prefetched``); the write's
    outcome, None when the recheck refused it (nothing written)."""
    apply_access(session, done.access)
    if since is not None and done.changes is not None:
        session.prefetched = (since, done.changes)
    return done.result


class Folded:
    """The access recheck (RFC 4314 §4) and the changes for the sync after the command,
    read in the same trip as a command's own data (``Alongside``) rather than one trip
    each (issue 14, bench/README.md "Mixed load": each trip waits 1-2 ms for a database
    thread and for the event loop; the reads take ~0.05 ms). For a command whose spec
    ``checks_access``: what it read is applied before it answers a byte of its data, and
    ``settle`` rechecks on its own if no read carried the recheck (nothing to read)."""

    def __init__(self, session: Session, right: str = "r", changes: bool = True) -> None:
        self.session = session
        self.right = right
        self.access_due = True
        self.changes_due = changes

    def also(self, last: bool = True) -> Alongside | None:
        """What the next read should carry: the recheck if still due; the changes too if
        it is the command's ``last`` read (a later one would see later changes anyway)."""
        session = self.session
        view = session.view
        assert view is not None
        access = session_key(session) if self.access_due else None
        modseq = view.modseq if self.changes_due and last else None
        if access is None and modseq is None:
            return None
        return Alongside(view.mailbox_id, access, modseq, session.viewer)

    def apply(self, found: AlongsideFound | None) -> None:
        """The rights read (a deleted user: BYE; a right revoked: NO [NOPERM]) and the
        changes kept for the sync (``Session.prefetched``)."""
        if found is None:
            return
        session = self.session
        if found.access_read:
            self.access_due = False
            apply_access(session, found.access)
            require_selected(session, self.right)
        if found.modseq is not None and found.changes is not None:
            self.changes_due = False
            session.prefetched = (found.modseq, found.changes)

    async def read(self, reader: Callable[[Alongside | None],
                                          Awaitable[tuple[T, AlongsideFound | None]]],
                   last: bool = True) -> T:
        """``reader(also)`` (a store method ``*_with``), what it read alongside applied.
        The mailbox deleted meanwhile (``NotFound``): the recheck on its own first, so a
        deleted user is told BYE as before; then the error goes on as it did."""
        try:
            result, found = await reader(self.also(last))
        except NotFound:
            await self.settle()
            raise
        self.apply(found)
        return result

    async def settle(self) -> None:
        """The recheck in a trip of its own, if no read carried it (call before answering
        any data: a no-op once a read applied it)."""
        if self.access_due:
            self.access_due = False
            await recheck(self.session)
            require_selected(self.session, self.right)


def allowed_flags(flags: tuple[str, ...] | list[str], rights: str) -> list[str]:
    """RFC 4314 §4: \\Seen needs "s", \\Deleted "t", every other flag "w"."""
    out = []
    for flag in flags:
        lower = flag.lower()
        need = "s" if lower == "\\seen" else "t" if lower == "\\deleted" else "w"
        if need in rights:
            out.append(flag)
    return out


async def rights_on_mailbox(session: Session, info: MailboxInfo,
                            user: User | None = None) -> str:
    """The rights of ``user`` (the session's by default) on a mailbox already found."""
    user = user or session.user
    assert user is not None
    if info.owner_id == user.id:
        return ALL_RIGHTS
    return await session.server.store.rights_of(info.id, user.id, user.name)
