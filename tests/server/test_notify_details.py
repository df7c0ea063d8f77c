"""NOTIFY (RFC 5465) details over real sockets: a new UIDVALIDITY behind a watched name is
told by STATUS (§5.1); the session's own APPEND to a watched mailbox is not echoed back (§5:
"The server SHOULD omit notifying the client if the event is caused by this client"); and a
change of names or rights costs a NOTIFY session only the mailboxes the commit names, never a
new reading of the whole tree."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import pytest

from crispin.server.commands import notify_events
from tests.server.harness import (
    RawClient,
    ServerThread,
    expect_ok,
    in_one_batch,
    raw_login,
)

MESSAGE = b"From: alice@example.org\r\nSubject: hi\r\n\r\nHello\r\n"


def append(raw: RawClient, mailbox: bytes) -> list[bytes]:
    return expect_ok(raw, b"ap", b"APPEND %s {%d+}\r\n" % (mailbox, len(MESSAGE)) + MESSAGE)


def uidvalidity(raw: RawClient, mailbox: bytes) -> int:
    line = expect_ok(raw, b"st", b"STATUS %s (UIDVALIDITY)" % mailbox)[0]
    found = re.search(rb"UIDVALIDITY (\d+)", line)
    assert found, line
    return int(found[1])


def test_recreated_mailbox_tells_new_uidvalidity(server: ServerThread) -> None:
    """§5.1: "When this event [FlagChange] is requested, the server MUST notify the client
    about mailbox UIDVALIDITY changes ... by sending a STATUS response that includes
    UIDVALIDITY": a watched name deleted and created again is a new mailbox."""
    alice = raw_login(server)
    other = raw_login(server)
    expect_ok(other, b"c", b"CREATE misc")
    append(other, b"misc")
    before = uidvalidity(other, b"misc")
    assert expect_ok(alice, b"n", b"NOTIFY SET (mailboxes misc (MessageNew MessageExpunge "
                           b"FlagChange))") == []
    expect_ok(other, b"d", b"DELETE misc")
    expect_ok(other, b"c", b"CREATE misc")
    after = uidvalidity(other, b"misc")
    assert after != before
    line = alice.line()
    assert line == b'* STATUS "misc" (UIDVALIDITY %d UIDNEXT 1 MESSAGES 0 UNSEEN 0)' % after \
        or line == b'* STATUS "misc" (UIDVALIDITY %d UIDNEXT 1 MESSAGES 0)' % after, line
    # Renaming another mailbox onto the watched name: a new UIDVALIDITY there too.
    expect_ok(other, b"c", b"CREATE elsewhere")
    append(other, b"elsewhere")
    moved = uidvalidity(other, b"elsewhere")
    expect_ok(other, b"d", b"DELETE misc")
    expect_ok(other, b"r", b"RENAME elsewhere misc")
    line = alice.line()
    assert line.startswith(b'* STATUS "misc" (UIDVALIDITY %d UIDNEXT 2 MESSAGES 1' % moved), \
        line
    assert expect_ok(alice, b"n", b"NOOP") == []


def test_recreated_mailbox_with_condstore(server: ServerThread) -> None:
    """With CONDSTORE enabled the STATUS carries HIGHESTMODSEQ as well (§5.1)."""
    alice = raw_login(server)
    other = raw_login(server)
    expect_ok(other, b"c", b"CREATE misc")
    expect_ok(alice, b"e", b"ENABLE CONDSTORE")
    expect_ok(alice, b"n", b"NOTIFY SET (mailboxes misc (MessageNew MessageExpunge FlagChange))")
    expect_ok(other, b"d", b"DELETE misc")
    expect_ok(other, b"c", b"CREATE misc")
    after = uidvalidity(other, b"misc")
    assert re.fullmatch(rb'\* STATUS "misc" \(UIDVALIDITY %d UIDNEXT 1 MESSAGES 0 '
                        rb'HIGHESTMODSEQ \d+\)' % after, alice.line())


def test_own_append_not_echoed(server: ServerThread) -> None:
    """§5: the session's own APPEND to a watched mailbox that is not selected gives no
    STATUS (nor MULTIAPPEND); another session's still does."""
    alice = raw_login(server)
    other = raw_login(server)
    expect_ok(other, b"c", b"CREATE misc")
    expect_ok(alice, b"n", b"NOTIFY SET (personal (MessageNew MessageExpunge FlagChange))")
    assert append(alice, b"misc") == []
    multi = b"APPEND misc {%d+}\r\n%s {%d+}\r\n" % (len(MESSAGE), MESSAGE, len(MESSAGE)) \
        + MESSAGE
    assert expect_ok(alice, b"m", multi) == []
    assert expect_ok(alice, b"n", b"NOOP") == []
    append(other, b"misc")
    assert alice.line() == b'* STATUS "misc" (UIDNEXT 5 MESSAGES 4 UNSEEN 4)'


def test_own_append_to_selected_still_exists(server: ServerThread) -> None:
    """The selected mailbox's EXISTS is not an event but RFC 3501 §7.3.1's: it still
    follows the session's own APPEND; NOTIFY's FETCH does not (§5.2)."""
    alice = raw_login(server)
    expect_ok(alice, b"s", b"SELECT INBOX")
    expect_ok(alice, b"n", b"NOTIFY SET (selected (MessageNew (UID) MessageExpunge))")
    assert append(alice, b"INBOX") == [b"* 1 EXISTS", b"* 1 RECENT"]


@pytest.fixture
def tree_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every reading of a user's whole mailbox tree by NOTIFY, by the user it was for."""
    calls: list[str] = []
    real = notify_events.visible_tree

    async def counted(session: Any) -> Any:
        calls.append(session.user.name)
        return await real(session)

    monkeypatch.setattr(notify_events, "visible_tree", counted)
    return calls


def test_name_changes_do_not_reread_the_tree(server: ServerThread,
                                             tree_reads: list[str]) -> None:
    """Defect: every CREATE, RENAME or ACL change by anyone made each NOTIFY session read
    its whole tree again. Now NOTIFY SET reads it once; later changes read only the
    mailboxes the commit report names, and the events stay right."""
    alice = raw_login(server)
    other = raw_login(server)
    bob = raw_login(server, "bob")
    for n in range(20):
        expect_ok(other, b"c", b"CREATE box%d" % n)
    expect_ok(alice, b"n", b"NOTIFY SET (personal (MailboxName SubscriptionChange)) "
                    b"(subtree \"Other Users\" (MailboxName))")
    assert tree_reads == ["alice"]
    expect_ok(bob, b"c", b"CREATE Unshared")  # not alice's to see: nothing
    expect_ok(other, b"c", b"CREATE Top/Sub")
    assert [alice.line(), alice.line()] == [b'* LIST (\\HasChildren) "/" "Top"',
                                            b'* LIST (\\HasNoChildren) "/" "Top/Sub"']
    expect_ok(other, b"r", b"RENAME Top Moved")
    assert alice.line() == b'* LIST (\\HasChildren) "/" "Moved" ("OLDNAME" ("Top"))'
    expect_ok(other, b"s", b"SUBSCRIBE Moved/Sub")
    assert alice.line() == b'* LIST (\\HasNoChildren \\Subscribed) "/" "Moved/Sub"'
    expect_ok(bob, b"a", b"SETACL Unshared alice lr")  # §5.4: the "l" right granted is a creation
    assert [alice.line(), alice.line()] == [
        b'* LIST (\\HasNoChildren) "/" "Other Users/bob/Unshared"',
        b'* LIST (\\Noselect) "/" "Other Users/bob"']  # and its parent is affected
    expect_ok(bob, b"r", b"RENAME Unshared Shown")
    assert alice.line() == b'* LIST (\\HasNoChildren) "/" "Other Users/bob/Shown" ' \
                           b'("OLDNAME" ("Other Users/bob/Unshared"))'
    expect_ok(bob, b"a", b"SETACL Shown alice r")  # the "l" right revoked: a deletion
    assert [alice.line(), alice.line()] == [
        b'* LIST (\\NonExistent) "/" "Other Users/bob/Shown"',
        b'* LIST (\\NonExistent) "/" "Other Users/bob"']  # nothing of bob's left to see
    expect_ok(other, b"d", b"DELETE Moved/Sub")  # still subscribed (RFC 3501 §6.3.4)
    assert [alice.line(), alice.line()] == [b'* LIST (\\NonExistent \\Subscribed) "/" "Moved/Sub"',
                                            b'* LIST (\\HasNoChildren) "/" "Moved"']
    assert expect_ok(alice, b"n", b"NOOP") == []
    assert tree_reads == ["alice"]


def test_read_right_revoked_and_granted(server: ServerThread) -> None:
    """§5.9: a watched mailbox that loses the "r" right (but stays listable) is told by a
    LIST with \\NoAccess and no longer watched; the right granted again, a LIST without it
    and a STATUS to start from."""
    alice = raw_login(server)
    bob = raw_login(server, "bob")
    expect_ok(bob, b"c", b"CREATE Team")
    expect_ok(bob, b"a", b"SETACL Team alice lr")
    expect_ok(alice, b"n", b'NOTIFY SET (subtree "Other Users" (MessageNew MessageExpunge))')
    expect_ok(bob, b"a", b"SETACL Team alice l")
    # (subscribed: a grant subscribes the grantee, test_grant_subscribe)
    assert alice.line() == \
        b'* LIST (\\HasNoChildren \\NoAccess \\Subscribed) "/" "Other Users/bob/Team"'
    append(bob, b"Team")
    assert expect_ok(alice, b"z", b"NOOP") == []  # no events without "r"
    expect_ok(bob, b"a", b"SETACL Team alice lr")
    assert alice.line() == b'* LIST (\\HasNoChildren \\Subscribed) "/" "Other Users/bob/Team"'
    line = alice.line()
    assert re.fullmatch(rb'\* STATUS "Other Users/bob/Team" \(UIDVALIDITY \d+ UIDNEXT 2 '
                        rb'MESSAGES 1\)', line), line
    append(bob, b"Team")
    assert alice.line() == b'* STATUS "Other Users/bob/Team" (UIDNEXT 3 MESSAGES 2)'


def test_inbox_renamed(server: ServerThread) -> None:
    """§5.4: "When INBOX is renamed, a new INBOX is assumed to be created. No MailboxName
    event is sent for INBOX in this case": the new name only."""
    alice = raw_login(server)
    other = raw_login(server)
    append(other, b"INBOX")
    expect_ok(alice, b"n", b"NOTIFY SET (personal (MailboxName))")
    expect_ok(other, b"r", b"RENAME INBOX Archive")
    assert alice.line() == b'* LIST (\\HasNoChildren) "/" "Archive"'
    assert expect_ok(alice, b"z", b"NOOP") == []


def test_qresync_and_condstore_forms(server: ServerThread) -> None:
    """§5.3: with QRESYNC enabled an expunge in the selected mailbox is VANISHED, one in
    another mailbox a STATUS (UIDNEXT MESSAGES HIGHESTMODSEQ); §5.2: a new message in
    another mailbox with CONDSTORE enabled carries HIGHESTMODSEQ."""
    alice = raw_login(server)
    other = raw_login(server)
    expect_ok(other, b"c", b"CREATE misc")
    append(other, b"INBOX")
    append(other, b"misc")
    expect_ok(alice, b"e", b"ENABLE QRESYNC")
    expect_ok(alice, b"s", b"SELECT INBOX")
    expect_ok(alice, b"n", b"NOTIFY SET (selected (MessageNew MessageExpunge)) "
                    b"(mailboxes misc (MessageNew MessageExpunge))")
    expect_ok(other, b"s", b"SELECT INBOX")
    expect_ok(other, b"d", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    expect_ok(other, b"x", b"EXPUNGE")
    assert alice.line() == b"* VANISHED 1"
    append(other, b"misc")
    assert re.fullmatch(rb'\* STATUS "misc" \(UIDNEXT 3 MESSAGES 2 HIGHESTMODSEQ \d+\)',
                        alice.line())
    expect_ok(other, b"s", b"SELECT misc")
    expect_ok(other, b"d", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    expect_ok(other, b"x", b"EXPUNGE")
    assert re.fullmatch(rb'\* STATUS "misc" \(UIDNEXT 3 MESSAGES 1 HIGHESTMODSEQ \d+\)',
                        alice.line())
    assert expect_ok(alice, b"z", b"NOOP") == []


def test_delete_with_inferiors(server: ServerThread) -> None:
    """§5.4 for a DELETE that keeps the name as \\Noselect for its inferiors (RFC 3501
    §6.3.4): the mailbox is deleted, its LIST says \\Noselect."""
    alice = raw_login(server)
    other = raw_login(server)
    expect_ok(other, b"c", b"CREATE Top/Sub")
    expect_ok(alice, b"n", b"NOTIFY SET (personal (MailboxName))")
    expect_ok(other, b"d", b"DELETE Top")
    assert alice.line() == b'* LIST (\\Noselect \\HasChildren) "/" "Top"'
    assert expect_ok(alice, b"z", b"NOOP") == []


def test_a_change_during_notify_set_is_not_lost(server: ServerThread,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect: NOTIFY SET read the user's tree, then subscribed to the commit reports; a
    commit in between (here another session's APPEND, landed while the tree read was
    still on its way back) was never reported (§5.1: MessageNew for a watched mailbox).
    Now the reports are collected from before the tree read and applied after it."""
    real = notify_events.visible_tree
    tree_read, release = threading.Event(), threading.Event()

    async def slow(session: Any) -> Any:
        tree = await real(session)
        if session.user.name == "alice" and not tree_read.is_set():
            tree_read.set()
            assert await asyncio.to_thread(release.wait, 30)
        return tree

    monkeypatch.setattr(notify_events, "visible_tree", slow)
    alice = raw_login(server)
    other = raw_login(server)
    expect_ok(other, b"c", b"CREATE misc")
    alice.send(b"n NOTIFY SET (mailboxes misc (MessageNew MessageExpunge))\r\n")
    assert tree_read.wait(30)
    append(other, b"misc")
    release.set()
    lines = alice.until_tagged(b"n")
    assert lines[-1] == b"n OK NOTIFY completed", lines
    lines = lines[:-1] + expect_ok(alice, b"p", b"NOOP")
    assert lines == [b'* STATUS "misc" (UIDNEXT 2 MESSAGES 1)'], lines


def test_another_sessions_append_committed_with_ours_is_reported(server: ServerThread
                                                                  ) -> None:
    """Defect: a session's own APPEND was recognised by the mailbox it writes to, for as
    long as the command ran; another session's APPEND to the same mailbox, committed in
    the same group-commit batch (or reported while the APPEND waited for the writer), was
    taken for the session's own and never reported (§5.1: MessageNew; §5 omits only the
    events "caused by this client")."""
    alice = raw_login(server)
    other = raw_login(server)
    expect_ok(other, b"c", b"CREATE misc")
    expect_ok(alice, b"n", b"NOTIFY SET (personal (MessageNew MessageExpunge))")
    appended = b"APPEND misc {%d+}\r\n" % len(MESSAGE) + MESSAGE
    lines = in_one_batch(server, (alice, b"a1", appended), (other, b"o1", appended))
    lines += expect_ok(alice, b"p", b"NOOP")
    assert lines == [b'* STATUS "misc" (UIDNEXT 3 MESSAGES 2)'], lines


def test_another_sessions_create_committed_with_ours_is_reported(server: ServerThread
                                                                  ) -> None:
    """Defect: a report naming the session's own CREATE had every name change in it
    dropped, so another session's CREATE (the same user's, in another client) committed in
    the same batch was never reported (§5.4: MailboxName)."""
    alice = raw_login(server)
    other = raw_login(server)
    expect_ok(alice, b"n", b"NOTIFY SET (personal (MailboxName))")
    lines = in_one_batch(server, (alice, b"a1", b"CREATE mine"), (other, b"o1", b"CREATE theirs"))
    lines += expect_ok(alice, b"p", b"NOOP")
    assert lines == [b'* LIST (\\HasNoChildren) "/" "theirs"'], lines
