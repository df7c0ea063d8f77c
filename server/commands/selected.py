"""Opening and closing a mailbox: SELECT, EXAMINE (RFC 3501 §6.3.1-2), CHECK, CLOSE,
EXPUNGE (§6.4.1-3) and UNSELECT (RFC 3691)."""

from __future__ import annotations

from dataclasses import dataclass

from crispin.protocol import (
    Atom,
    Check,
    Close,
    Examine,
    Expunge,
    Param,
    Select,
    SequenceSet,
    Unselect,
    Value,
)
from crispin.server import objectid
from crispin.server.access import (
    apply_checked,
    mailbox_to_select,
    recheck,
    session_key,
)
from crispin.server.commands.listing import list_selected
from crispin.server.outcome import CommandFailed, Result, State
from crispin.server.session import Session
from crispin.server.sets import compact_set
from crispin.server.view import View
from crispin.storage import SEEN_FLAG, Changes


@dataclass(frozen=True)
class Qresync:
    """The QRESYNC select parameter (RFC 7162 §3.2.5)."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None


def _as_set(value: object) -> SequenceSet | None:
    if isinstance(value, SequenceSet):
        return value
    if isinstance(value, int) and value > 0:
        return SequenceSet(((value, value),))
    return None


def _select_params(session: Session, params: tuple[Param, ...]) -> tuple[bool, Qresync | None]:
    """RFC 4466 select-params: CONDSTORE (RFC 7162 §3.1.8) and QRESYNC (§3.2.5); anything
    malformed is BAD before the current mailbox is closed."""
    condstore = False
    qresync: Qresync | None = None
    for name, value in params:
        if name == "CONDSTORE" and value is None:
            condstore = True
        elif name == "QRESYNC":
            if not session.qresync:
                raise CommandFailed("ENABLE QRESYNC first", status="BAD")
            args = value if isinstance(value, tuple) else ()
            uidvalidity = args[0] if args else None
            modseq = args[1] if len(args) > 1 else None
            if not (2 <= len(args) <= 4 and isinstance(uidvalidity, int)
                    and isinstance(modseq, int) and 0 < uidvalidity < 2**32 and modseq >= 0):
                raise CommandFailed("Invalid QRESYNC parameter", status="BAD")
            known = None
            if len(args) >= 3:
                known = _as_set(args[2])
                if known is None:
                    raise CommandFailed("Invalid known-uids in QRESYNC", status="BAD")
            # The optional sequence match data (§3.2.5.2) helps servers that forget
            # expunges; Crispin keeps a tombstone for each, so it is not needed.
            qresync = Qresync(uidvalidity, modseq, known)
        else:
            raise CommandFailed(f"Unknown SELECT parameter {name}", status="BAD")
    return condstore, qresync


async def _open(session: Session, name: str, readonly: bool, params: tuple[Param, ...]) -> Result:
    condstore, qresync = _select_params(session, params)
    # RFC 3501 §6.3.1: a SELECT first deselects the current mailbox, even when it fails;
    # RFC 7162 §3.2.11: [CLOSED] marks where the old mailbox's responses end.
    if session.view is not None:
        session.untagged_status("OK", "Previous mailbox closed", "CLOSED")
    session.deselect()
    # Shared with every session that selected the unchanged mailbox before (issue 14).
    access, summary = await mailbox_to_select(session, name)
    # RFC 4314 §5.2: the response code says READ-ONLY unless the user may insert, expunge
    # or change a *shared* flag; with \Seen private (the default in others' and shared
    # mailboxes) "s" alone does not count. The user may still keep their own \Seen, so
    # the session itself is read-only only when no right changes anything.
    shared_flag_rights = set("wt") | (
        set() if SEEN_FLAG in access.info.private_flag_names else {"s"})
    reported_readonly = readonly or not (set("ie") | shared_flag_rights) & set(access.rights)
    readonly = readonly or not set("iestw") & set(access.rights)
    info = summary.mailbox
    view = View.shared(info, summary.uids, info.highest_modseq, readonly)
    # RFC 3501 §2.3.2: nothing to claim when every message of the snapshot is below the
    # first unclaimed UID (another session claimed them): no write (bench/README.md "Mixed
    # load"). One appended after the snapshot is claimed by the sync that reports it.
    if summary.uids and summary.uids[-1] >= summary.first_recent_uid:
        await session.claim_recent(view)
    view.keywords = set(summary.keywords)
    view.rights = access.rights
    first_unseen = 0 if summary.first_unseen_uid is None else \
        (view.msn(summary.first_unseen_uid) or 0)
    flags = view.flag_atoms()
    session.untagged(Atom("FLAGS"), flags)
    # RFC 3501 §7.1: "\*" says new keywords may be created; a read-only mailbox has none.
    permanent: list[Value] = [] if readonly else [*flags, Atom("\\*")]
    session.untagged_status("OK", "Flags permitted", "PERMANENTFLAGS", (permanent,))
    session.untagged(view.exists, Atom("EXISTS"))
    if session.rev2:
        # RFC 9051 §6.3.2: "The server MUST return a LIST response with the mailbox name"
        # with accurate attributes; RECENT and [UNSEEN] are gone (Appendix E items 11, 12).
        await list_selected(session, name, info)
    else:
        session.untagged(len(view.recent), Atom("RECENT"))
        if first_unseen:
            session.untagged_status("OK", "First unseen", "UNSEEN", (first_unseen,))
    session.untagged_status("OK", "UIDs valid", "UIDVALIDITY", (info.uidvalidity,))
    uidnext = max(info.uidnext, (view.uids[-1] + 1) if view.uids else 1)
    session.untagged_status("OK", "Predicted next UID", "UIDNEXT", (uidnext,))
    # RFC 7162 §3.1.2.1: sent on every SELECT, not only after a CONDSTORE enabling
    # command: Thunderbird uses CONDSTORE only when the server volunteers it.
    session.untagged_status("OK", "Highest", "HIGHESTMODSEQ", (info.highest_modseq,))
    # RFC 8474 §4.2: on every successful SELECT and EXAMINE.
    session.untagged_status("OK", "Mailbox id", "MAILBOXID", ([Atom(objectid.mailbox_id(info))],))
    # RFC 4467 §8: URLMECH "is returned in an untagged OK response in response to a
    # RESETKEY, SELECT, or EXAMINE command".
    session.untagged_status("OK", "URLAUTH mechanisms", "URLMECH", (Atom("INTERNAL"),))
    if condstore:
        session.enable_condstore()
    view.condstore = session.condstore
    view.qresync = session.qresync
    view.rev2 = session.rev2
    session.view = view
    session.state = State.SELECTED
    # The summary is the mailbox at ``view.modseq``: the sync after SELECT would only read
    # "nothing since" again, one more trip (bench/README.md "Mixed load"); a change made
    # meanwhile is reported after the next command, as any other (RFC 3501 §7).
    session.prefetched = (view.modseq, Changes(highest_modseq=view.modseq,
                                               uidnext=info.uidnext, updated=[], expunged=[]))
    if qresync is not None and qresync.uidvalidity == info.uidvalidity:
        await _resync(session, view, qresync, uidnext)
    if reported_readonly:
        return Result("EXAMINE completed" if readonly else "SELECT completed", "READ-ONLY")
    return Result("SELECT completed", "READ-WRITE")


async def _resync(session: Session, view: View, q: Qresync, uidnext: int) -> None:
    """RFC 7162 §3.2.5.1: what changed since the client's modseq, among the UIDs it knows
    (all up to UIDNEXT-1 when it gave none): VANISHED (EARLIER), then FETCH with UID."""
    known = q.known_uids or SequenceSet(((1, max(uidnext - 1, 1)),))
    largest = max(uidnext - 1, 1)
    changes = await session.server.store.changes_since(view.mailbox_id, q.modseq,
                                                       viewer=session.viewer)
    vanished = sorted(u for u in changes.expunged if known.contains(u, largest))
    if vanished:
        session.untagged(Atom("VANISHED"), [Atom("EARLIER")], compact_set(vanished))
    for m in changes.updated:
        n = view.msn(m.uid)
        if n is not None and known.contains(m.uid, largest):
            session.untagged(n, Atom("FETCH"), [
                Atom("UID"), m.uid, Atom("FLAGS"), view.flags_value(m.uid, m.flags),
                Atom("MODSEQ"), [m.modseq]])


async def select(session: Session, tag: str, cmd: Select) -> Result:
    return await _open(session, cmd.mailbox, False, cmd.params)


async def examine(session: Session, tag: str, cmd: Examine) -> Result:
    return await _open(session, cmd.mailbox, True, cmd.params)


async def check(session: Session, tag: str, cmd: Check) -> Result:
    """RFC 3501 §6.4.1: every change is already on disk before its OK; nothing to do.
    IMAP4rev2 removed CHECK (RFC 9051 Appendix E item 17; not in its §9 grammar): BAD."""
    if session.rev2:
        raise CommandFailed("CHECK is not part of IMAP4rev2, use NOOP", "CLIENTBUG",
                            status="BAD")
    return Result("CHECK completed")


async def close(session: Session, tag: str, cmd: Close) -> Result:
    """RFC 3501 §6.4.2: silently expunge (never in a read-only mailbox), then deselect."""
    view = session.view
    assert view is not None
    # RFC 4314 §4: without "e" the expunge is skipped, the close still succeeds. The
    # access recheck is made in the expunge's own transaction (one trip, issue 14): a
    # right revoked meanwhile skips it there.
    if view.readonly or "e" not in view.rights:
        # Nothing to write: the recheck alone (a deleted user ends the session, RFC
        # 3501 §7.1.5; an "e" granted meanwhile counts).
        await recheck(session)
    may_expunge = not view.readonly and "e" in view.rights
    session.deselect()
    if may_expunge:
        apply_checked(session, await session.server.store.expunge_checked(
            view.mailbox_id, None, viewer=session.viewer, access=session_key(session),
            need="e", since=None), None)
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
    if "e" not in view.rights:
        await recheck(session)  # the right may have been granted since
    if "e" not in view.rights:
        raise CommandFailed("Permission denied (needs the 'e' right)", "NOPERM")
    uids = None
    if cmd.uid_set is not None:
        uids = [uid for _, uid in view.select(cmd.uid_set, True)]
    # One trip (issue 14): the access recheck, the expunge and the changes since the
    # view's modseq for the sync after the command, in one transaction. A right revoked
    # meanwhile (RFC 4314 §4, by any session or process) refuses it, nothing expunged.
    since = view.modseq
    done = apply_checked(session, await session.server.store.expunge_checked(
        view.mailbox_id, uids, viewer=session.viewer, access=session_key(session),
        need="e", since=since), since)
    if done is None:
        raise CommandFailed("Permission denied (needs the 'e' right)", "NOPERM")
    expunged, modseq = done
    await session.report_own_expunges(expunged)
    if session.qresync:
        # RFC 7162 §3.2.7, §3.2.9: the new mailbox modseq goes with the tagged OK.
        return Result("EXPUNGE completed", "HIGHESTMODSEQ", (modseq,))
    return Result("EXPUNGE completed")
