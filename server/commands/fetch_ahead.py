"""Pipelined one-message body fetches read in one trip to the database (issue 14).

A client that downloads mail one message at a time pipelines ``UID FETCH u (BODY.PEEK[])``
commands (mbsync does; bench/folder_open.py's body row keeps 10 in flight). Each such
command used to cost a trip to a reader thread, and the trip (waking the thread, waking
the loop with the outcome) costs several times the read itself on this kind of machine
(bench/README.md "Opening a big folder"). When the first of them runs, the commands of the
same kind already received after it are parsed (``Channel.look_ahead``: they still run
one after another, in order, each with its own tagged answer) and the messages of all of
them are read in the same read transaction as the first one's, with the access recheck
and the mailbox's changes.

Why this answers each command as if it had been run on its own: every one of these
commands had been received when the snapshot was taken, and none of them changes
anything (``BODY.PEEK``, RFC 3501 §6.4.5: no \\Seen); so each answer is the mailbox as it
stood at one moment between the command's arrival and its answer. The rights read with
the snapshot are applied and the "r" right checked before each command answers (RFC 4314
§4); a UID that the snapshot no longer holds is answered with nothing, as a UID FETCH of
an expunged message is (RFC 3501 §6.4.8); the mailbox changes since the view's modseq are
reported after the first command, and after the others what happened since the snapshot
waits for the next command that reads on its own (RFC 3501 §7: the server may report
changes at any later command).
"""

from __future__ import annotations

from crispin.protocol import BodySection, Fetch, FetchAttr
from crispin.server.access import apply_access, require_selected, session_key
from crispin.server.commands.fetch_body import Body
from crispin.server.commands.fetch_headers import bulk_fetchable
from crispin.server.read_ahead import ReadAhead
from crispin.server.session import Session
from crispin.server.view import View
from crispin.storage import Changes, MessageRecord

# Commands read behind the first at most. A body read with the record is at most storage's
# inline size (256 KB, ``storage.blobs.INLINE_MAX``; larger ones stay in their files and
# are streamed): the read holds at most 17 of them, ~4 MB, as one FETCH batch does.
AHEAD = 16
# FETCH items such a command may ask for besides the message itself: all of them come
# with the message's record.
PLAIN_ITEMS = frozenset({"UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE"})


def one_uid(command: object) -> int | None:
    """The UID of ``UID FETCH <uid> (BODY.PEEK[]<partial>?, UID, FLAGS, ...)``: one UID
    and no modifier, the whole message (no part, no header fields: no structure to read,
    no \\Seen to set); None for any other command."""
    if not isinstance(command, Fetch) or not command.uid or command.modifiers:
        return None
    seq = command.sequence_set
    if seq.saved or len(seq.ranges) != 1:
        return None
    first, last = seq.ranges[0]
    if first is None or first != last:
        return None
    whole = False
    for item in command.items:
        if isinstance(item, BodySection):
            if not item.peek or item.binary or item.part or item.text is not None:
                return None
            whole = True
        elif not isinstance(item, FetchAttr) or item.name not in PLAIN_ITEMS \
                or item.modifiers:
            return None
    if not whole or bulk_fetchable(list(command.items)):
        return None
    return first


def take(session: Session, view: View, command: object) -> ReadAhead | None:
    """The read made for ``command`` by the first of its pipeline, if there was one; its
    rights are applied and checked, and the changes for the sync after the command set."""
    ahead = session.read_ahead
    if ahead is None or ahead.view is not view or not ahead.holds(command):
        return None
    del ahead.commands[id(command)]
    if not ahead.commands:
        session.read_ahead = None
    apply_access(session, ahead.found)
    require_selected(session, "r")
    if view.modseq == ahead.highest_modseq:
        # The first command's sync brought the view to the snapshot: nothing since.
        session.prefetched = (view.modseq, Changes(view.modseq, ahead.uidnext, [], []))
    return ahead


async def read_one(session: Session, view: View, command: Fetch, uid: int
                   ) -> tuple[list[MessageRecord], dict[int, Body]]:
    """The record and body of ``uid`` for ``command`` (a :func:`one_uid` command with the
    access recheck left to its read; none if it is expunged), with the rights applied and
    checked and the changes for the sync after it (``Session.prefetched``) set: from the
    read made for it by the first of its pipeline, or read now with the commands of its
    kind received behind it."""
    ahead = take(session, view, command)
    if ahead is not None:
        rec = ahead.records.get(uid)
        body = ahead.bodies.get(uid)
        if rec is None:  # expunged (RFC 3501 §6.4.8: nothing to answer)
            return [], {}
        return [rec], ({uid: body} if body is not None else {})
    session.read_ahead = None
    behind = [(c, u) for c in session.channel.look_ahead(lambda c: one_uid(c) is not None,
                                                         AHEAD)
              if isinstance(c, Fetch) and (u := one_uid(c)) is not None]
    uids = sorted({uid, *(u for _, u in behind)})
    modseq = view.modseq
    # No byte budget: every UID asked for comes if it is there (AHEAD bounds the bytes).
    recs, bodies, changes, found = await session.server.store.fetch_records_bodies_and_changes(
        view.mailbox_id, uids, False, "full", modseq, viewer=session.viewer,
        access=session_key(session))
    if changes is not None:
        session.prefetched = (modseq, changes)
    apply_access(session, found)
    require_selected(session, "r")  # before a byte of it is answered
    if behind and changes is not None:
        session.read_ahead = ReadAhead(
            view, changes.highest_modseq, changes.uidnext, found,
            {r.uid: r for r in recs}, bodies, {id(c): c for c, _ in behind})
    mine = [r for r in recs if r.uid == uid]
    return mine, ({uid: bodies[uid]} if mine and uid in bodies else {})
