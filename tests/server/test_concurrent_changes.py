"""What a session answers when another session changed its mailbox meanwhile (issue 9
points 1-3; RFC 3501 §7.4.1, RFC 2180): nothing after LOGOUT's BYE, data for every number
of a FETCH whose messages were expunged by someone else, and a clean end when the selected
mailbox is deleted.

Every test uses two real connections to 127.0.0.1, exchanges as the issue shows them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread
from tests.server.imap_client import Imap, client_factory, fill, flags_of, message


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def expunge_from_b(b: Imap, *numbers: int) -> None:
    b.select()
    for n in numbers:
        assert b.cmd(f"STORE {n} +FLAGS.SILENT (\\Deleted)").ok
    assert b.cmd("EXPUNGE").ok


# -- 1. LOGOUT ---------------------------------------------------------------------------------


def test_nothing_but_the_tagged_ok_after_bye(imap: Any) -> None:
    """Issue 9 point 1: with an EXPUNGE, an EXISTS and a FETCH pending, ``a LOGOUT`` was
    answered BYE, then the updates, then OK; RFC 3501 §6.1.3 puts nothing between."""
    a, b = imap(), imap()
    fill(a, 4)
    a.select()
    expunge_from_b(b, 2)
    assert b.cmd("STORE 3 +FLAGS (\\Flagged)").ok
    assert b.append("INBOX", message("late")).ok
    a.send(b"z LOGOUT\r\n")
    lines = [a.line(), a.line()]
    assert lines[0].startswith(b"* BYE ")
    assert lines[1].startswith(b"z OK ")
    assert a.buf == b"" and a.sock.recv(100) == b""  # and the server closed


# -- 2. FETCH and STORE of messages another session expunged ----------------------------------


def test_fetch_answers_every_number_of_the_set(imap: Any) -> None:
    """Issue 9 point 2: B expunges 2 and 4; A's ``FETCH 1:* (UID FLAGS)`` answers all five
    numbers (the expunged ones with their UID and last flags) and a tagged OK."""
    a, b = imap(), imap()
    fill(a, 5)
    a.select()
    assert a.cmd("STORE 4 +FLAGS (\\Answered)").ok
    expunge_from_b(b, 2, 4)
    r = a.cmd("FETCH 1:* (UID FLAGS)")
    assert r.ok, r
    assert "EXPUNGE" not in r.kinds()  # RFC 3501 §7.4.1
    got = [(n, i["UID"], flags_of(i) - {"\\Recent"}) for n, i in r.fetches()]
    assert got == [(1, 1, set()), (2, 2, {"\\Deleted"}), (3, 3, set()),
                   (4, 4, {"\\Answered", "\\Deleted"}), (5, 5, set())]
    # once told about them (NOOP), the numbers shift as usual
    assert a.cmd("NOOP").numbered("EXPUNGE") == [2, 3]
    assert [i["UID"] for _, i in a.cmd("FETCH 1:* UID").fetches()] == [1, 3, 5]


def test_fetch_of_a_body_that_is_gone_is_nil_with_expungeissued(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 3)
    a.select()
    expunge_from_b(b, 2)
    r = a.cmd("FETCH 1:3 (UID RFC822.SIZE ENVELOPE BODY.PEEK[])")
    # RFC 5530 EXPUNGEISSUED: the command worked, but some data was no longer there
    assert r.status == "OK" and r.code() == "EXPUNGEISSUED", r
    f = dict(r.fetches())
    assert sorted(f) == [1, 2, 3]
    assert b"Subject: m1\r\n" in f[1]["BODY[]"] and f[3]["ENVELOPE"][1] == b"m3"
    assert f[2]["UID"] == 2 and f[2]["BODY[]"] is None
    assert f[2]["RFC822.SIZE"] == 0 and f[2]["ENVELOPE"][1] is None
    # the ghost still has its number until a command that may report the expunge
    r = a.cmd("FETCH 2 (FLAGS BODY.PEEK[HEADER])")
    assert r.ok and r.code() == "EXPUNGEISSUED" and [n for n, _ in r.fetches()] == [2]


def test_uid_fetch_skips_expunged_messages_and_reports_the_expunge(imap: Any) -> None:
    """The UID form carries no numbers to keep: an expunged UID is skipped like one that
    never existed (RFC 3501 §6.4.8) and the EXPUNGE follows (§7.4.1)."""
    a, b = imap(), imap()
    fill(a, 3)
    a.select()
    expunge_from_b(b, 2)
    r = a.cmd("UID FETCH 1:* (UID FLAGS BODY.PEEK[])")
    assert r.ok and r.code() is None, r
    assert [(n, i["UID"]) for n, i in r.fetches()] == [(1, 1), (3, 3)]
    assert r.numbered("EXPUNGE") == [2]


def test_imaplib_sync_raises_nothing(server: ServerThread) -> None:
    """The ordinary sync of an imaplib client while another session expunges: no
    exception, every message number answered."""
    a, b = server.login(), server.login()
    for i in range(4):
        assert a.append("INBOX", None, None, message(f"m{i}"))[0] == "OK"
    a.select("INBOX")
    b.select("INBOX")
    b.store("1,3", "+FLAGS.SILENT", "(\\Deleted)")
    b.expunge()
    typ, data = a.fetch("1:*", "(UID FLAGS)")
    assert typ == "OK" and len(data) == 4
    typ, data = a.store("1:4", "+FLAGS", "(\\Seen)")  # 1 and 3 are gone: silently skipped
    assert typ == "OK"
    assert sorted(d.split()[0] for d in data if d) == [b"2", b"4"]
    typ, data = a.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    typ, _ = a.noop()
    assert typ == "OK"
    typ, data = a.fetch("1:*", "(UID FLAGS)")
    assert typ == "OK" and len(data) == 2 and all(b"\\Seen" in d for d in data)
    for c in (a, b):
        c.logout()


def test_imapclient_sync_raises_nothing(server: ServerThread) -> None:
    imapclient = pytest.importorskip("imapclient")
    a = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    b = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    for c in (a, b):
        c.login("alice", "correct horse battery staple")
    for i in range(3):
        a.append("INBOX", message(f"m{i}"))
    a.select_folder("INBOX")
    b.select_folder("INBOX")
    b.delete_messages([2])
    b.expunge()
    # IMAPClient maps numbers to UIDs only for UID commands: use_uid off for this sync
    a.use_uid = False
    data = a.fetch([1, 2, 3], ["UID", "FLAGS"])
    assert sorted(data) == [1, 2, 3] and data[2][b"UID"] == 2
    assert sorted(a.add_flags([1, 2, 3], [b"\\Seen"])) == [1, 3]
    for c in (a, b):
        c.logout()


def test_store_on_an_expunged_message_is_a_silent_no_op(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 3)
    a.select()
    expunge_from_b(b, 2)
    r = a.cmd("STORE 1:3 +FLAGS (\\Answered)")
    assert r.ok, r
    assert "EXPUNGE" not in r.kinds()
    assert [n for n, _ in r.fetches()] == [1, 3]
    r = a.cmd("STORE 2 +FLAGS (\\Answered)")
    assert r.ok and r.untagged == []
    assert a.cmd("NOOP").numbered("EXPUNGE") == [2]


# -- 3. the selected mailbox deleted or renamed by another session -----------------------------


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert bad == [], [r.getMessage() for r in bad]


def deleted_under(imap: Any, name: str = "Victim", children: bool = False) -> Imap:
    """A's session with ``name`` selected (two messages), after B deleted it."""
    a, b = imap(), imap()
    assert a.cmd(f"CREATE {name}").ok
    if children:
        assert a.cmd(f"CREATE {name}/Child").ok
    fill(a, 2, name)
    a.select(name)
    assert b.cmd(f"DELETE {name}").ok
    return a


def assert_bye(a: Imap, tag: str) -> None:
    """The session ended as Dovecot ends it: BYE with a clear text, no tagged answer."""
    line = a.line()
    assert line.startswith(b"* BYE ") and b"deleted" in line, line
    with pytest.raises(ConnectionError):
        a.line()
    assert tag.encode() not in a.buf


@pytest.mark.parametrize("command", ["NOOP", "FETCH 1:2 (UID FLAGS)", "FETCH 1 BODY.PEEK[]",
                                     "STORE 1 +FLAGS (\\Seen)", "UID STORE 1 +FLAGS (\\Seen)",
                                     "SEARCH ALL", "EXPUNGE", "CHECK", "UID FETCH 1:* FLAGS",
                                     "COPY 1 INBOX", "UID MOVE 1 INBOX"])
def test_selected_mailbox_deleted_ends_the_session_cleanly(
        imap: Any, command: str, caplog: pytest.LogCaptureFixture) -> None:
    """Issue 9 point 3: NOOP said OK, FETCH NO [EXPUNGEISSUED], STORE NO [SERVERBUG], COPY
    a misleading [TRYCREATE] (INBOX exists); now every command gets ``* BYE``."""
    caplog.set_level(logging.INFO)
    a = deleted_under(imap)
    a.send(b"x " + command.encode() + b"\r\n")
    assert_bye(a, "x ")
    no_errors_logged(caplog)


def test_deleted_with_inferiors_ends_the_session_too(imap: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """DELETE of a mailbox with inferiors leaves its name as \\Noselect (RFC 3501 §6.3.4):
    for the session that had it selected, it is gone all the same."""
    caplog.set_level(logging.INFO)
    a = deleted_under(imap, children=True)
    a.send(b"x FETCH 1:* FLAGS\r\n")
    assert_bye(a, "x ")
    no_errors_logged(caplog)


def test_idle_on_a_deleted_mailbox_ends_with_bye_not_a_tagged_no(
        imap: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The IDLE in progress was ended by a tagged NO [SERVERBUG] before the client's DONE
    (which was then read as a command); now the server says BYE and closes."""
    caplog.set_level(logging.INFO)
    a, b = imap(), imap()
    assert a.cmd("CREATE Victim").ok
    fill(a, 1, "Victim")
    a.select("Victim")
    a.send(b"i IDLE\r\n")
    assert a.line().startswith(b"+ ")
    assert b.cmd("DELETE Victim").ok
    assert_bye(a, "i ")
    no_errors_logged(caplog)
    assert b.cmd("NOOP").ok


def test_rename_of_the_selected_mailbox_keeps_the_session(
        imap: Any, caplog: pytest.LogCaptureFixture) -> None:
    """As in Dovecot, the session goes on serving the mailbox under its new name."""
    caplog.set_level(logging.INFO)
    a, b = imap(), imap()
    assert a.cmd("CREATE Old").ok
    fill(a, 2, "Old")
    a.select("Old")
    assert b.cmd("RENAME Old New").ok
    assert a.cmd("NOOP").ok
    assert b.append("New", message("after")).ok
    r = a.cmd("NOOP")
    assert r.ok and r.numbered("EXISTS") == [3]
    r = a.cmd("STORE 1:3 +FLAGS (\\Flagged)")
    assert r.ok and [n for n, _ in r.fetches()] == [1, 2, 3]
    assert a.cmd("COPY 3 INBOX").ok
    assert b.cmd("SELECT New").ok
    assert b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").ok and b.cmd("EXPUNGE").ok
    assert a.cmd("NOOP").numbered("EXPUNGE") == [1]
    no_errors_logged(caplog)
