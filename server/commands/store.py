"""STORE and UID STORE (RFC 3501 §6.4.6, §6.4.8)."""

from __future__ import annotations

from protocol import Atom, Store, Value
from server.session import CommandFailed, Result, Session
from server.sets import compact_set
from server.view import InvalidSequence
from storage import InvalidFlag

MODES = {"": "set", "+": "add", "-": "remove"}


async def store(session: Session, tag: str, cmd: Store) -> Result:
    view = session.view
    assert view is not None
    try:
        pairs = view.select(cmd.sequence_set, cmd.uid)
    except InvalidSequence as exc:
        raise CommandFailed(str(exc), status="BAD") from None
    if view.readonly:
        raise CommandFailed("Mailbox is read-only", "READ-ONLY")
    conditional = cmd.unchangedsince is not None
    if conditional:
        session.enable_condstore()  # RFC 7162 §3.1: UNCHANGEDSINCE enables CONDSTORE
    uids = [u for _, u in pairs if u not in view.ghosts]
    missing = len(uids) != len(pairs)
    try:
        result = await session.server.store.store_flags(
            view.mailbox_id, uids, MODES[cmd.mode], cmd.flags,  # type: ignore[arg-type]
            cmd.unchangedsince)
    except InvalidFlag as exc:
        raise CommandFailed(f"Invalid flag: {exc}", status="BAD") from None
    if result.changed:
        # The answer below reports this change; the sync after must not echo it again.
        view.own_modseqs.add(result.highest_modseq)
    announce_keywords(session, cmd.flags)
    if len(result.messages) != len(uids):
        missing = True
    changed = set(result.changed)
    modified = set(result.modified)
    for m in result.messages:
        n = view.msn(m.uid)
        if n is None:
            continue
        values: list[Value] = [Atom("UID"), m.uid] if cmd.uid or view.condstore else []
        if m.uid in modified:
            # RFC 7162 §3.1.3 example 10: tell the client why the test failed.
            values += [Atom("MODSEQ"), [m.modseq], Atom("FLAGS"),
                       view.flags_value(m.uid, m.flags)]
        elif not cmd.silent:
            values += [Atom("FLAGS"), view.flags_value(m.uid, m.flags)]
            if view.condstore:
                values += [Atom("MODSEQ"), [m.modseq]]
        elif conditional and m.uid in changed:
            # RFC 7162 §3.1.3: a conditional STORE reports the new MODSEQ even if .SILENT.
            values += [Atom("MODSEQ"), [m.modseq]]
        else:
            continue
        session.untagged(n, Atom("FETCH"), values)
    code: str | None = None
    code_args: tuple[Value, ...] = ()
    if modified:
        # RFC 7162 §3.1.3: MODIFIED lists message numbers (UIDs for UID STORE).
        failed = sorted(modified) if cmd.uid else sorted(
            n for n in (view.msn(u) for u in modified) if n is not None)
        code, code_args = "MODIFIED", (compact_set(failed),)
    if missing and not cmd.uid and not cmd.silent:
        # RFC 2180 §4.2.3: FETCH data for the rest and a NO; but §4.2.1: a .SILENT STORE
        # that changed every message still there answers OK.
        return Result("Some of the messages no longer exist", code or "EXPUNGEISSUED",
                      code_args, status="NO")
    if code:
        return Result("Conditional STORE failed", code, code_args)
    return Result("STORE completed")


def announce_keywords(session: Session, flags: tuple[str, ...] | list[str]) -> None:
    """RFC 3501 §7.2.6: a keyword used for the first time joins FLAGS and PERMANENTFLAGS
    (see ``View.announce_keywords``)."""
    view = session.view
    if view is None:
        return
    for response in view.announce_keywords(flags):
        session.channel.send(response)
