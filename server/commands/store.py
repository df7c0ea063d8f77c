"""STORE and UID STORE (RFC 3501 §6.4.6, §6.4.8)."""

from __future__ import annotations

from collections.abc import Sequence

from crispin.protocol import Store, Value
from crispin.server.access import (
    allowed_flags,
    apply_checked,
    current_rights,
    recheck,
    session_key,
)
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session
from crispin.server.sets import compact_set
from crispin.server.view import InvalidSequence, View
from crispin.storage import InvalidFlag, StoreMode, StoreResult
from crispin.storage import validate_flags as encode_flags

MODES: dict[str, StoreMode] = {"": "set", "+": "add", "-": "remove"}
LINES_PER_WRITE = 2000


async def store(session: Session, tag: str, cmd: Store) -> Result:
    view = session.view
    assert view is not None
    try:
        runs = view.runs(cmd.sequence_set, cmd.uid)
    except InvalidSequence as exc:
        raise CommandFailed(str(exc), status="BAD") from None
    if view.readonly:
        raise CommandFailed("Mailbox is read-only", "READ-ONLY")
    conditional = cmd.unchangedsince is not None
    if conditional:
        session.enable_condstore()  # RFC 7162 §3.1: UNCHANGEDSINCE enables CONDSTORE
    # A message another session expunged (a ghost until this session is told, RFC 3501
    # §7.4.1) is left alone, silently: RFC 2180 §4.2.1 allows it, Dovecot does it, and a
    # tagged NO would make client libraries throw on an ordinary sync (issue 9 point 2).
    uids = _uids(view, runs)
    try:
        encode_flags(cmd.flags)
    except InvalidFlag as exc:
        raise CommandFailed(f"Invalid flag: {exc}", status="BAD") from None
    # RFC 3501 §6.4.6 .SILENT: no FETCH answers, so no message's state is read back,
    # except those a conditional STORE reports (RFC 7162 §3.1.3).
    want = not cmd.silent or conditional
    # With every flag right (the common case), one trip: the access recheck, the write
    # and the sync's changes in one transaction (``Store.store_flags_checked``).
    checked = await _store_checked(session, uids, cmd, want) \
        if all(r in view.rights for r in "stw") else None
    if checked is not None:
        result = checked
    else:
        await recheck(session)  # rare: a right missing, or just revoked
        rights = await current_rights(session)
        if all(r in rights for r in "stw"):
            results = [await session.store_flags(uids, MODES[cmd.mode], cmd.flags,
                                                 cmd.unchangedsince, want_states=want)]
        else:
            results = await _store_within_rights(session, uids, cmd, rights, want)
        result = _merge(results)
    announce_keywords(session, cmd.flags)
    await _answer(session, cmd, result, conditional)
    modified = result.modified
    code: str | None = None
    code_args: tuple[Value, ...] = ()
    if modified:
        # RFC 7162 §3.1.3: MODIFIED lists message numbers (UIDs for UID STORE).
        failed = sorted(modified) if cmd.uid else sorted(
            n for n in (view.msn(u) for u in modified) if n is not None)
        code, code_args = "MODIFIED", (compact_set(failed),)
    if code:
        return Result("Conditional STORE failed", code, code_args)
    return Result("STORE completed")


async def _answer(session: Session, cmd: Store, result: StoreResult, conditional: bool) -> None:
    """The untagged FETCH of each message (RFC 3501 §6.4.6), built as bytes in bulk: a
    ``STORE 1:* +FLAGS`` of 100,000 messages is 100,000 lines (issue 14). The UID goes
    first for UID STORE (§6.4.8) and once CONDSTORE is on (RFC 7162 §3.2.4)."""
    view = session.view
    assert view is not None
    changed = set(result.changed) if conditional else set()
    modified = set(result.modified)
    head = b"* %d FETCH (UID %d " if cmd.uid or view.condstore else b"* %d FETCH ("
    with_uid = head.count(b"%d") == 2
    texts: dict[tuple[str, ...], bytes] = {}
    out: list[bytes] = []
    for m in result.messages:
        n = view.msn(m.uid)
        if n is None:
            continue
        flags = texts.get(m.flags)
        if flags is None:
            flags = texts[m.flags] = b"FLAGS " + view.flags_bytes(0, m.flags)
        if m.uid in view.recent:
            flags = b"FLAGS " + view.flags_bytes(m.uid, m.flags)
        modseq = b"MODSEQ (%d)" % m.modseq
        if m.uid in modified:
            # RFC 7162 §3.1.3 example 10: tell the client why the test failed.
            items = modseq + b" " + flags
        elif not cmd.silent:
            items = flags + b" " + modseq if view.condstore else flags
        elif conditional and m.uid in changed:
            # RFC 7162 §3.1.3: a conditional STORE reports the new MODSEQ even if .SILENT.
            items = modseq
        else:
            continue
        out.append((head % (n, m.uid) if with_uid else head % n) + items + b")\r\n")
        if len(out) >= LINES_PER_WRITE:
            session.channel.write(b"".join(out))
            out.clear()
            await session.channel.pace()
    if out:
        session.channel.write(b"".join(out))


async def _store_checked(session: Session, uids: Sequence[int], cmd: Store, want: bool
                         ) -> StoreResult | None:
    """The STORE of a session holding every flag right, in one trip to the writer: the
    access recheck first (RFC 4314 §4: a right revoked meanwhile, by any session or
    process, refuses the write: None, the access applied, nothing written), then the
    write, then the changes since the view's modseq but the STORE's own, for the sync
    after the command (``Session.prefetched``)."""
    view = session.view
    assert view is not None
    since = view.modseq
    result = apply_checked(session, await session.server.store.store_flags_checked(
        view.mailbox_id, uids, MODES[cmd.mode], cmd.flags, cmd.unchangedsince,
        viewer=session.viewer, want_states=want, access=session_key(session), need="stw",
        since=since), since)
    if result is not None and result.changed:  # not echoed by the sync (``Session.store_flags``)
        session.written.append(result.highest_modseq)
    return result


def _uids(view: View, runs: list[tuple[int, int]]) -> Sequence[int]:
    """The view's UIDs at ``runs`` but its ghosts. One run and no ghost (``STORE 1:*``)
    is a ``range`` of UIDs, which storage matches as one range: the UIDs between two of
    the view's are the view's, or expunged (new mail only gets larger ones)."""
    if len(runs) == 1 and not view.ghosts:
        a, b = runs[0]
        return range(view.uids[a], view.uids[b - 1] + 1)
    return [u for _, u in view.pairs(runs) if u not in view.ghosts]


def _changeable(flag: str, rights: str) -> bool:
    return bool(allowed_flags([flag], rights))


async def _store_within_rights(session: Session, uids: Sequence[int], cmd: Store,
                               rights: str, want: bool) -> list[StoreResult]:
    """RFC 4314 §4: each flag needs its own right (\\Seen "s", \\Deleted "t", the rest
    "w"); a STORE changes the flags it may and keeps the others, and fails only when it
    may change none of those named."""
    view = session.view
    assert view is not None
    store = session.server.store
    allowed = allowed_flags(cmd.flags, rights)
    if cmd.flags and not allowed:
        raise CommandFailed("Permission denied for these flags", "NOPERM")
    if cmd.mode:
        return [await session.store_flags(uids, MODES[cmd.mode], allowed, cmd.unchangedsince,
                                          want_states=want)]
    # Replacing FLAGS: flags the user may not change stay as they are on each message.
    groups: dict[tuple[str, ...], list[int]] = {}
    for m in await store.flag_records(view.mailbox_id, uids, viewer=session.viewer):
        kept = [f for f in m.flags if not _changeable(f, rights)]
        target = tuple(dict.fromkeys([*kept, *allowed]))
        groups.setdefault(target, []).append(m.uid)
    return [await session.store_flags(group, "set", list(target), cmd.unchangedsince,
                                      want_states=want)
            for target, group in groups.items()]


def _merge(results: list[StoreResult]) -> StoreResult:
    if len(results) == 1:
        return results[0]
    messages = sorted((m for r in results for m in r.messages), key=lambda m: m.uid)
    return StoreResult(messages, [u for r in results for u in r.changed],
                       [u for r in results for u in r.modified],
                       max((r.highest_modseq for r in results), default=0))


def announce_keywords(session: Session, flags: tuple[str, ...] | list[str]) -> None:
    """RFC 3501 §7.2.6: a keyword used for the first time joins FLAGS and PERMANENTFLAGS
    (see ``View.announce_keywords``)."""
    view = session.view
    if view is None:
        return
    for response in view.announce_keywords(flags):
        session.channel.send(response)
