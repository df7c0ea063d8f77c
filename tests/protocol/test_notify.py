"""NOTIFY grammar (RFC 5465 §8) and the rules of §5 and §6.1 that make a command BAD, with
the RFC's examples."""

from __future__ import annotations

import pytest

from crispin.protocol import Limits
from crispin.protocol.notify import EventGroup, Notify
from crispin.protocol.parser import parse_command
from crispin.protocol.reader import ParseError


def parse(line: bytes) -> Notify:
    command = parse_command(line, Limits())[1]
    assert isinstance(command, Notify)
    return command


def test_rfc_examples() -> None:
    # §3.1's example, its events without parentheses as it writes them, but with the
    # MessageExpunge that §5 requires beside MessageNew.
    first = parse(b"b notify set status (selected MessageNew (uid "
                  b"body.peek[header.fields (from to subject)]) MessageExpunge) "
                  b"(subtree Lists (MessageNew MessageExpunge))")
    assert first.status
    selected, lists = first.groups
    assert selected.kind == "SELECTED" and selected.events == ("MessageNew", "MessageExpunge")
    assert len(selected.fetch) == 2
    assert lists == EventGroup("SUBTREE", ("Lists",), ("MessageNew", "MessageExpunge"))
    # §6's examples.
    assert parse(b"a notify set (mailboxes INBOX (Messagenew messageExpunge)) "
                 b"(personal (SubscriptionChange))") == Notify((
                     EventGroup("MAILBOXES", ("INBOX",), ("MessageNew", "MessageExpunge")),
                     EventGroup("PERSONAL", (), ("SubscriptionChange",))))
    both = parse(b"a notify set (selected (Messagenew (uid flags) messageExpunge)) "
                 b"(personal (MessageNew FlagChange MessageExpunge))")
    assert both.groups[1].events == ("MessageNew", "FlagChange", "MessageExpunge")
    assert parse(b"a NOTIFY NONE") == Notify(())
    assert parse(b"a NOTIFY SET (subtree (A B) NONE) (inboxes (MailboxName))").groups == (
        EventGroup("SUBTREE", ("A", "B"), ()), EventGroup("INBOXES", (), ("MailboxName",)))
    # An unknown event is no syntax error: the server answers NO [BADEVENT] (§3.1).
    assert parse(b"a NOTIFY SET (personal (MailboxName FancyEvent))").groups[0].events == \
        ("MailboxName", "FancyEvent")


@pytest.mark.parametrize("line", [
    b"a NOTIFY", b"a NOTIFY SET", b"a NOTIFY NONE (personal NONE)", b"a NOTIFY FOO",
    b"a NOTIFY SET STATUS", b"a NOTIFY SET (everything (MailboxName))",
    b"a NOTIFY SET (personal (MessageNew))", b"a NOTIFY SET (personal (MessageExpunge))",
    b"a NOTIFY SET (personal (FlagChange))",
    b"a NOTIFY SET (personal (FlagChange MessageNew))",
    b"a NOTIFY SET (selected (MailboxName))",
    b"a NOTIFY SET (selected NONE) (selected-delayed NONE)",
    b"a NOTIFY SET (personal (MessageNew (uid) MessageExpunge))",
    b"a NOTIFY SET (subtree (MailboxName))", b"a NOTIFY SET (personal ())",
    b"a NOTIFY SET (personal)", b"a NOTIFY SET (personal NONE MailboxName)",
    b"a NOTIFY SET (subtree Lists MessageNew)",
    b"a NOTIFY SET (personal (MailboxName MailboxName))",
])
def test_bad(line: bytes) -> None:
    with pytest.raises(ParseError):
        parse(line)


def test_update_fetch_atts_rfc_section_7() -> None:
    """RFC 5465 §7, §8: ``modifier-update = "UPDATE" ["(" fetch-att *(SP fetch-att) ")"]``,
    in SEARCH and SORT, with §7's example; the list after UPDATE only."""
    from crispin.protocol import BodySection, FetchAttr, Search, Sort

    cmd = parse_command(b'a00 SEARCH RETURN (COUNT UPDATE (UID BODY[HEADER.FIELDS (TO '
                        b'FROM SUBJECT)])) FROM "boss"', Limits())[1]
    assert isinstance(cmd, Search)
    assert cmd.returns == ("COUNT", "UPDATE")
    uid, header = cmd.update_fetch
    assert uid == FetchAttr("UID")
    assert isinstance(header, BodySection) and header.text == "HEADER.FIELDS"
    plain = parse_command(b"a SEARCH RETURN (UPDATE) ALL", Limits())[1]
    assert isinstance(plain, Search) and plain.update_fetch == ()
    sort = parse_command(b"a UID SORT RETURN (UPDATE (FLAGS) COUNT) (SUBJECT) UTF-8 ALL",
                         Limits())[1]
    assert isinstance(sort, Sort)
    assert sort.search.returns == ("UPDATE", "COUNT")
    assert sort.search.update_fetch == (FetchAttr("FLAGS"),)
    for bad in (b"a SEARCH RETURN (COUNT (UID)) ALL", b"a SEARCH RETURN (UPDATE ()) ALL",
                b"a SEARCH RETURN (UPDATE (NOSUCH)) ALL"):
        with pytest.raises(ParseError):
            parse_command(bad, Limits())
