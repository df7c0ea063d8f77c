"""NOTIFY (RFC 5465) over real sockets: the RFC's examples as transcripts, each event type,
the filters, SELECTED-DELAYED, [BADEVENT], [NOTIFICATIONOVERFLOW], and events delivered
between commands (no command in progress) as well as during IDLE."""

from __future__ import annotations

import imaplib
import re

from tests.server.harness import ServerThread, expect_ok, raw_login

MESSAGE = (b"From: alice@example.org\r\nTo: bob@example.org\r\n"
           b"Subject: Re: good morning\r\n\r\nHello\r\n")
SUPPORTED = (b"(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange "
             b"MailboxMetadataChange ServerMetadataChange)")


def append(imap: imaplib.IMAP4, mailbox: str, flags: str | None = None) -> None:
    typ, data = imap.append(mailbox, flags, None, MESSAGE)
    assert typ == "OK", data


def test_rfc_section_3_1_example(server: ServerThread) -> None:
    alice = raw_login(server)
    other = server.login()
    for name in ("Lists/Lemonade", "Lists/Im2000", "misc"):
        assert other.create(name)[0] == "OK"
    append(other, "Lists/Lemonade")
    # §3.1's command, with the MessageExpunge that §5 requires beside MessageNew.
    # Lists itself was created along with its inferiors, and is selectable here.
    assert expect_ok(alice, b"b", b"notify set status (selected MessageNew (uid "
                           b"body.peek[header.fields (from to subject)]) MessageExpunge) "
                           b"(subtree Lists (MessageNew MessageExpunge))") == [
        b'* STATUS "Lists" (UIDVALIDITY %s UIDNEXT 1 MESSAGES 0)' % uidvalidity(
            other, "Lists"),
        b'* STATUS "Lists/Im2000" (UIDVALIDITY %s UIDNEXT 1 MESSAGES 0)' % uidvalidity(
            other, "Lists/Im2000"),
        b'* STATUS "Lists/Lemonade" (UIDVALIDITY %s UIDNEXT 2 MESSAGES 1)' % uidvalidity(
            other, "Lists/Lemonade"),
    ]
    assert expect_ok(alice, b"c", b"select inbox")
    # Time passes. A new message is delivered to mailbox Lists/Lemonade: no command is in
    # progress, the STATUS comes at once.
    append(other, "Lists/Lemonade")
    assert alice.line() == b'* STATUS "Lists/Lemonade" (UIDNEXT 3 MESSAGES 2)'
    # A new message is delivered to the selected INBOX: EXISTS, then the FETCH asked for.
    append(other, "INBOX")
    assert alice.line() == b"* 1 EXISTS"
    assert alice.line() == b"* 1 RECENT"
    head = alice.line()
    match = re.fullmatch(rb"\* 1 FETCH \(UID 1 BODY\[HEADER\.FIELDS \(from to subject\)\] "
                         rb"\{(\d+)\}", head)
    assert match, head
    assert alice.take(int(match[1])) == (b"From: alice@example.org\r\nTo: bob@example.org\r\n"
                                         b"Subject: Re: good morning\r\n\r\n")
    assert alice.line() == b")"
    # The client adds misc without STATUS: no STATUS responses.
    assert expect_ok(alice, b"e", b"notify set (selected (MessageNew (uid "
                           b"body.peek[header.fields (from to subject)]) MessageExpunge)) "
                           b"(subtree Lists (MessageNew MessageExpunge)) "
                           b"(mailboxes misc (MessageNew MessageExpunge))") == []
    append(other, "misc")
    assert alice.line() == b'* STATUS "misc" (UIDNEXT 2 MESSAGES 1)'
    # Expunged in the selected mailbox: EXPUNGE at once (SELECTED, §5.3).
    other.select("INBOX")
    other.store("1", "+FLAGS", "\\Deleted")
    other.expunge()
    assert alice.line() == b"* 1 EXPUNGE"
    assert expect_ok(alice, b"f", b"NOOP") == []


def uidvalidity(imap: imaplib.IMAP4, name: str) -> bytes:
    typ, data = imap.status(f'"{name}"', "(UIDVALIDITY)")
    assert typ == "OK"
    found = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
    assert found
    return found[1]


def test_message_events_in_other_mailboxes(server: ServerThread) -> None:
    """§5.1-§5.3 for a mailbox not selected: STATUS (UIDNEXT MESSAGES), UNSEEN for flags
    without CONDSTORE, HIGHESTMODSEQ and UIDVALIDITY with it."""
    alice = raw_login(server)
    other = server.login()
    assert other.create("Work")[0] == "OK"
    assert expect_ok(alice, b"a", b"NOTIFY SET (mailboxes Work (MessageNew MessageExpunge "
                           b"FlagChange))") == []
    append(other, "Work")
    # Without CONDSTORE, FlagChange keeps UNSEEN current too (§5.1's MAY).
    assert alice.line() == b'* STATUS "Work" (UIDNEXT 2 MESSAGES 1 UNSEEN 1)'
    other.select("Work")
    other.store("1", "+FLAGS", "\\Seen")
    assert alice.line() == b'* STATUS "Work" (UNSEEN 0)'
    assert expect_ok(alice, b"b", b"ENABLE CONDSTORE")
    other.store("1", "+FLAGS", "\\Flagged")
    line = alice.line()
    assert re.fullmatch(rb'\* STATUS "Work" \(UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)', line), line
    other.store("1", "+FLAGS", "\\Deleted")
    alice.line()  # the flag change
    other.expunge()
    assert re.fullmatch(rb'\* STATUS "Work" \(UIDNEXT 2 MESSAGES 0\)', alice.line())
    # Own changes are not reported (§5): alice's COPY into Work.
    assert expect_ok(alice, b"c", b"SELECT INBOX")
    append(other, "INBOX")
    assert expect_ok(alice, b"d", b"NOOP") == [b"* 1 EXISTS", b"* 1 RECENT"]
    assert expect_ok(alice, b"e", b"COPY 1 Work") == []
    # NOTIFY NONE: nothing more.
    assert expect_ok(alice, b"f", b"NOTIFY NONE") == []
    append(other, "Work")
    assert expect_ok(alice, b"g", b"NOOP") == []


def test_mailbox_name_and_subscription_change(server: ServerThread) -> None:
    """§5.4 and §5.5, with the RFC's examples: LIST for a created mailbox, \\NonExistent
    for a deleted one, OLDNAME for a renamed one; \\Subscribed iff subscribed."""
    alice = raw_login(server)
    other = server.login()
    assert expect_ok(alice, b"a", b"NOTIFY SET (personal (MailboxName SubscriptionChange))") == []
    assert other.create("NewMailbox")[0] == "OK"
    assert alice.line() == b'* LIST (\\HasNoChildren) "/" "NewMailbox"'
    assert other.rename("NewMailbox", "Renamed")[0] == "OK"
    assert alice.line() == \
        b'* LIST (\\HasNoChildren) "/" "Renamed" ("OLDNAME" ("NewMailbox"))'
    assert other.subscribe("Renamed")[0] == "OK"
    assert alice.line() == b'* LIST (\\HasNoChildren \\Subscribed) "/" "Renamed"'
    assert other.unsubscribe("Renamed")[0] == "OK"
    assert alice.line() == b'* LIST (\\HasNoChildren) "/" "Renamed"'
    assert other.delete("Renamed")[0] == "OK"
    assert alice.line() == b'* LIST (\\NonExistent) "/" "Renamed"'
    # An inferior: the mailbox and its direct parent are affected (§5.4).
    assert other.create("Top/Sub")[0] == "OK"
    assert [alice.line(), alice.line()] == [b'* LIST (\\HasChildren) "/" "Top"',
                                            b'* LIST (\\HasNoChildren) "/" "Top/Sub"']
    # Renaming the superior: one LIST, not one per inferior.
    assert other.rename("Top", "Moved")[0] == "OK"
    assert alice.line() == b'* LIST (\\HasChildren) "/" "Moved" ("OLDNAME" ("Top"))'
    # Her own CREATE is not reported back (§5).
    assert expect_ok(alice, b"b", b"CREATE Mine") == []
    assert expect_ok(alice, b"c", b"NOOP") == []


def test_badevent_and_bad(server: ServerThread) -> None:
    alice = raw_login(server)
    assert alice.command(b"a", b"NOTIFY SET (personal (MessageNew MessageExpunge "
                               b"AnnotationChange))") == [
        b"a NO [BADEVENT " + SUPPORTED + b"] Event AnnotationChange is not supported"]
    assert alice.command(b"b", b"NOTIFY SET (personal (MailboxName FancyEvent))")[0] \
        .startswith(b"b NO [BADEVENT " + SUPPORTED + b"]")
    assert alice.command(b"c", b"NOTIFY SET (personal (MessageNew))")[0].startswith(b"c BAD")
    assert alice.command(b"d", b"NOTIFY SET (selected (MessageNew (FOO) MessageExpunge))")[0] \
        .startswith(b"d BAD")
    assert expect_ok(alice, b"e", b"NOOP") == []


def test_selected_delayed_keeps_expunges_for_a_command(server: ServerThread) -> None:
    """§6.1.2: new messages at once, expunges only with a command that allows them."""
    alice = raw_login(server)
    other = server.login()
    append(other, "INBOX")
    append(other, "INBOX")
    assert expect_ok(alice, b"a", b"SELECT INBOX")
    assert expect_ok(alice, b"b", b"NOTIFY SET (selected-delayed (MessageNew MessageExpunge "
                           b"FlagChange))") == []
    other.select("INBOX")
    other.store("1", "+FLAGS", "\\Deleted")
    assert alice.line() == b"* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))"
    other.expunge()
    append(other, "INBOX")
    assert alice.line() == b"* 3 EXISTS"
    # Which session claims \\Recent first (RFC 3501 §2.3.2) is a race with the other
    # session, which has INBOX selected too.
    assert re.fullmatch(rb"\* \d RECENT", alice.line())
    # FETCH forbids EXPUNGE (RFC 3501 §7.4.1); NOOP brings it.
    assert expect_ok(alice, b"c", b"FETCH 1 UID") == [b"* 1 FETCH (UID 1)"]
    assert expect_ok(alice, b"d", b"NOOP") == [b"* 1 EXPUNGE"]


def test_no_flag_changes_without_flagchange(server: ServerThread) -> None:
    """§3.1: without FlagChange for the selected mailbox no flag FETCH is sent, while
    EXISTS still follows a command (RFC 3501 §7.3.1)."""
    alice = raw_login(server)
    other = server.login()
    append(other, "INBOX")
    assert expect_ok(alice, b"a", b"SELECT INBOX")
    assert expect_ok(alice, b"b", b"NOTIFY SET (personal (MailboxName))") == []
    other.select("INBOX")
    other.store("1", "+FLAGS", "\\Flagged")
    append(other, "INBOX")
    exists, recent = expect_ok(alice, b"c", b"NOOP")
    assert exists == b"* 2 EXISTS" and re.fullmatch(rb"\* \d RECENT", recent)


def test_metadata_events(make_server) -> None:  # type: ignore[no-untyped-def]
    """§5.6 and §5.7, the RFC's examples: no ENABLE METADATA needed."""
    server: ServerThread = make_server(auth={"admins": "alice"})
    alice = raw_login(server)
    other = raw_login(server)
    assert expect_ok(alice, b"a", b"NOTIFY SET (inboxes (MailboxMetadataChange "
                           b"ServerMetadataChange))") == []
    expect_ok(other, b"b", b'SETMETADATA INBOX (/shared/comment "hi")')
    assert alice.line() == b'* METADATA "INBOX" /shared/comment'
    expect_ok(other, b"c", b'SETMETADATA "" (/shared/comment "server")')
    assert alice.line() == b'* METADATA "" /shared/comment'


def test_events_during_idle(server: ServerThread) -> None:
    """§4: IDLE sends the same events as NOTIFY asked for."""
    alice = raw_login(server)
    other = server.login()
    assert other.create("Work")[0] == "OK"
    assert expect_ok(alice, b"a", b"NOTIFY SET (mailboxes Work (MessageNew MessageExpunge))") == []
    alice.send(b"b IDLE\r\n")
    assert alice.line().startswith(b"+ ")
    append(other, "Work")
    assert alice.line() == b'* STATUS "Work" (UIDNEXT 2 MESSAGES 1)'
    alice.send(b"DONE\r\n")
    assert alice.until_tagged(b"b") == [b"b OK IDLE terminated"]


def test_status_indicator_and_noaccess(server: ServerThread) -> None:
    """§3.1: STATUS for each mailbox with message events; a named mailbox the user may
    LIST but not read gets LIST (\\NoAccess); one that does not exist is ignored."""
    alice = raw_login(server)
    bob = raw_login(server, "bob")
    expect_ok(bob, b"a", b"CREATE Private")
    expect_ok(bob, b"b", b"SETACL Private alice l")
    assert expect_ok(alice, b"c", b'NOTIFY SET STATUS (mailboxes ("Other Users/bob/Private" '
                           b'Nowhere) (MessageNew MessageExpunge FlagChange))') == [
        b'* LIST (\\NoAccess) "/" "Other Users/bob/Private"']


def test_overflow(make_server) -> None:  # type: ignore[no-untyped-def]
    """§5.8: more events waiting than ``limits.notify_queue``: OK [NOTIFICATIONOVERFLOW]
    and NOTIFY NONE from then on."""
    server: ServerThread = make_server(limits={"notify_queue": 5})
    alice = raw_login(server)
    other = server.login()
    assert expect_ok(alice, b"a", b"NOTIFY SET (personal (MailboxName))") == []
    for name in ("A/1", "A/2", "A/3", "A/4"):
        assert other.create(name)[0] == "OK"
        if name == "A/1":
            alice.line(), alice.line()  # A/1 and its parent A
    # One commit reporting more names than the queue holds.
    assert other.rename("A", "B")[0] == "OK"
    line = alice.line()
    while line.startswith(b"* LIST"):
        line = alice.line()
    assert line.startswith(b"* OK [NOTIFICATIONOVERFLOW]"), line
    assert other.create("C")[0] == "OK"
    assert expect_ok(alice, b"b", b"NOOP") == []


def test_advertised_after_login(server: ServerThread) -> None:
    """RFC 5465 §3: the NOTIFY capability; NOTIFY is a command of the authenticated state
    (§8 ``command-auth``), so it is listed once logged in."""
    raw = server.raw()
    assert b"NOTIFY" not in raw.command(b"a", b"CAPABILITY")[0].split()
    raw = raw_login(server)
    assert b"NOTIFY" in raw.command(b"b", b"CAPABILITY")[0].split()
