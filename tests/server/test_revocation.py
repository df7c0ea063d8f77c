"""Access ends when it should (issue 11 points 1 and 2).

A right revoked while a session has the mailbox selected applies to that session's next
command, whatever the command and whoever revoked it (SETACL in another session, the CLI in
another process). A changed password is never accepted from the auth cache; a deleted user
cannot log in and their open sessions end with ``* BYE``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.harness import PASSWORD, RawClient, ServerThread

ROOT = Path(__file__).resolve().parents[2]
MSG = b"From: alice@example.com\r\nSubject: secret plan\r\n\r\nthe plan\r\n"
BOX = b'"Other Users/alice/Rev-x"'


def cli(server: ServerThread, *args: str, stdin: str | None = None) -> None:
    """``crispin …`` in another process, on the running server's database."""
    result = subprocess.run(
        [sys.executable, "-m", "crispin", *args[:2], "--data-dir",
         str(server.config.data_dir), *args[2:]],
        input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr


def login(server: ServerThread, user: str, password: str = PASSWORD) -> RawClient:
    raw = server.raw()
    assert raw.command(b"l", b'LOGIN %s "%s"' % (user.encode(), password.encode()))[-1] \
        .startswith(b"l OK")
    return raw


@pytest.fixture
def shared(server: ServerThread) -> tuple[RawClient, RawClient]:
    """alice shares Rev-x (one message) with bob ("lrsi"); bob has it selected."""
    alice = login(server, "alice")
    assert alice.command(b"c", b"CREATE Rev-x")[-1].startswith(b"c OK")
    alice.send(b"a APPEND Rev-x {%d+}\r\n%s\r\n" % (len(MSG), MSG))
    assert alice.until_tagged(b"a")[-1].startswith(b"a OK")
    assert alice.command(b"s", b"SETACL Rev-x bob lrsi")[-1].startswith(b"s OK")
    bob = login(server, "bob")
    assert bob.command(b"x", b"SELECT " + BOX)[-1].startswith(b"x OK")
    assert bob.command(b"f", b"FETCH 1 BODY.PEEK[]")[-1].startswith(b"f OK")
    return alice, bob


def assert_reading_refused(bob: RawClient) -> None:
    lines = bob.command(b"f1", b"FETCH 1 BODY.PEEK[]")
    assert lines[-1].startswith(b"f1 NO [NOPERM]"), lines
    assert not any(b"secret plan" in line for line in lines)
    lines = bob.command(b"f2", b"UID FETCH 1:* (FLAGS ENVELOPE)")
    assert lines[-1].startswith(b"f2 NO [NOPERM]"), lines
    lines = bob.command(b"s1", b"SEARCH SUBJECT secret")
    assert lines == [b"s1 NO [NOPERM] Permission denied (needs the 'r' right)"], lines
    assert bob.command(b"c1", b"COPY 1 INBOX")[-1].startswith(b"c1 NO [NOPERM]")
    assert bob.command(b"m1", b"MOVE 1 INBOX")[-1].startswith(b"m1 NO [NOPERM]")
    assert bob.command(b"st", b"STORE 1 +FLAGS (\\Seen)")[-1].startswith(b"st NO")
    bob.command(b"sel", b"SELECT INBOX")
    assert bob.command(b"n", b"SEARCH ALL")[-2:] == [b"* SEARCH", b"n OK SEARCH completed"]


@pytest.mark.parametrize("how", ["setacl", "cli-delete", "cli-set-l"])
def test_revoked_read_right_stops_a_selected_session(
        server: ServerThread, shared: tuple[RawClient, RawClient], how: str) -> None:
    alice, bob = shared
    if how == "setacl":
        assert alice.command(b"r", b"DELETEACL Rev-x bob")[-1].startswith(b"r OK")
    elif how == "cli-delete":
        cli(server, "acl", "delete", "alice/Rev-x", "bob")
    else:
        cli(server, "acl", "set", "alice/Rev-x", "bob", "l")
    assert_reading_refused(bob)


def test_granted_again_reads_again(server: ServerThread,
                                   shared: tuple[RawClient, RawClient]) -> None:
    alice, bob = shared
    cli(server, "acl", "set", "alice/Rev-x", "bob", "l")
    assert bob.command(b"a", b"FETCH 1 FLAGS")[-1].startswith(b"a NO [NOPERM]")
    assert alice.command(b"g", b"SETACL Rev-x bob +r")[-1].startswith(b"g OK")
    lines = bob.command(b"b", b"FETCH 1 BODY.PEEK[]")
    assert lines[-1].startswith(b"b OK") and any(b"secret plan" in x for x in lines)
    # Without "i" any more, COPY into the shared mailbox is refused at once, too.
    assert alice.command(b"h", b"SETACL Rev-x bob -i")[-1].startswith(b"h OK")
    assert bob.command(b"c", b"SELECT INBOX")[-1].startswith(b"c OK")
    assert bob.command(b"d", b"COPY 1:* " + BOX)[-1].startswith(b"d NO")


def test_changed_password_is_not_taken_from_the_cache(server: ServerThread) -> None:
    server.add_user("carol")
    login(server, "carol").command(b"z", b"LOGOUT")  # the password is now cached
    cli(server, "user", "passwd", "carol", "--password-stdin", stdin="new secret\n")
    raw = server.raw()
    assert raw.command(b"a", b'LOGIN carol "%s"' % PASSWORD.encode())[-1] \
        .startswith(b"a NO [AUTHENTICATIONFAILED]")
    assert raw.command(b"b", b'LOGIN carol "new secret"')[-1].startswith(b"b OK")


def test_deleted_user_cannot_log_in_and_their_sessions_end(server: ServerThread) -> None:
    server.add_user("x")
    selected = login(server, "x")
    assert selected.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    authenticated = login(server, "x")
    cli(server, "user", "delete", "x")
    raw = server.raw()
    assert raw.command(b"a", b'LOGIN x "%s"' % PASSWORD.encode())[-1] \
        .startswith(b"a NO [AUTHENTICATIONFAILED]")
    for session in (selected, authenticated):
        session.send(b"n NOOP\r\n")
        assert session.line().startswith(b"* BYE")
        assert session.closed()


def test_deleted_user_idling_gets_bye(server: ServerThread) -> None:
    server.add_user("x")
    idler = login(server, "x")
    assert idler.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    idler.send(b"i IDLE\r\n")
    assert idler.line().startswith(b"+ ")
    cli(server, "user", "delete", "x")
    # The hub notices the deleted INBOX and wakes the session, which finds its user gone.
    assert idler.line().startswith(b"* BYE")
    assert idler.closed()


@pytest.mark.parametrize("command", [b"FETCH 1 BODY.PEEK[]", b"UID FETCH 1 (BODY.PEEK[])",
                                     b"UID FETCH 1 (RFC822.SIZE BODY.PEEK[TEXT]<4.4>)"])
def test_one_message_fetch_rechecks_access_in_its_own_read(
        server: ServerThread, shared: tuple[RawClient, RawClient], command: bytes) -> None:
    """Issue 14: a FETCH of one message reads the access serial in the same trip as the
    message, and a right revoked between SELECT and the FETCH (by another session or by
    another process) still refuses it before a byte of the message goes out (RFC 4314 §4);
    granted again, it reads again."""
    alice, bob = shared
    lines = bob.command(b"a", command)
    assert lines[-1].startswith(b"a OK") and b"plan" in b"".join(lines), lines
    assert alice.command(b"r", b"SETACL Rev-x bob -r")[-1].startswith(b"r OK")
    lines = bob.command(b"b", command)
    assert lines == [b"b NO [NOPERM] Permission denied (needs the 'r' right)"], lines
    assert alice.command(b"g", b"SETACL Rev-x bob +r")[-1].startswith(b"g OK")
    lines = bob.command(b"c", command)
    assert lines[-1].startswith(b"c OK") and b"plan" in b"".join(lines), lines
    cli(server, "acl", "set", "alice/Rev-x", "bob", "l")
    lines = bob.command(b"d", command)
    assert lines == [b"d NO [NOPERM] Permission denied (needs the 'r' right)"], lines


@pytest.mark.parametrize("command", [b"UID FETCH 1 (BODY.PEEK[])",
                                     b"UID STORE 1 +FLAGS (\\Flagged)",
                                     b"FETCH 1:* (UID FLAGS)", b"UID SEARCH UNSEEN"])
def test_one_trip_command_of_a_deleted_user_ends_the_session(server: ServerThread,
                                                             command: bytes) -> None:
    """The user deleted between two FETCHes of one message, two STOREs, two flag fetches
    or two searches, each of which rechecks access in its one trip, with its data (issue
    14): BYE, no data, nothing written."""
    server.add_user("x")
    x = login(server, "x")
    x.send(b"a APPEND INBOX {%d+}\r\n%s\r\n" % (len(MSG), MSG))
    assert x.until_tagged(b"a")[-1].startswith(b"a OK")
    assert x.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    assert x.command(b"f", command)[-1].startswith(b"f OK")
    cli(server, "user", "delete", "x")
    x.send(b"g " + command + b"\r\n")
    line = x.line()
    assert line.startswith(b"* BYE"), line
    assert x.closed()


def test_pipelined_one_message_fetches_recheck_access_in_their_one_read(
        server: ServerThread, shared: tuple[RawClient, RawClient]) -> None:
    """Issue 14: pipelined ``UID FETCH 1 (BODY.PEEK[])`` commands are read in one trip
    (``fetch_ahead``), the access recheck with them: revoked before they were sent, each
    is refused (RFC 4314 §4) and no byte of the message goes out; granted again, each
    reads."""
    alice, bob = shared
    assert alice.command(b"r", b"SETACL Rev-x bob -r")[-1].startswith(b"r OK")
    bob.send(b"".join(b"p%d UID FETCH 1 (BODY.PEEK[])\r\n" % i for i in range(4)))
    for i in range(4):
        lines = bob.until_tagged(b"p%d" % i)
        assert lines == [b"p%d NO [NOPERM] Permission denied (needs the 'r' right)" % i], lines
    assert alice.command(b"g", b"SETACL Rev-x bob +r")[-1].startswith(b"g OK")
    bob.send(b"".join(b"q%d UID FETCH 1 (BODY.PEEK[])\r\n" % i for i in range(4)))
    for i in range(4):
        lines = bob.until_tagged(b"q%d" % i)
        assert lines[-1].startswith(b"q%d OK" % i) and b"plan" in b"".join(lines), lines


def _flags(alice: RawClient) -> bytes:
    lines = alice.command(b"af", b"FETCH 1:* (UID FLAGS)")
    assert lines[-1].startswith(b"af OK"), lines
    return b"\n".join(x for x in lines if b"FETCH" in x)


@pytest.mark.parametrize("how", ["setacl", "cli"])
def test_store_and_expunge_recheck_access_in_their_one_write(
        server: ServerThread, shared: tuple[RawClient, RawClient], how: str) -> None:
    """Issue 14: STORE, EXPUNGE and CLOSE recheck access in their own write transaction
    (one trip): a right revoked after bob's last command, by another session or another
    process, still refuses the write, and nothing is written (RFC 4314 §4)."""
    alice, bob = shared
    assert alice.command(b"s", b"SELECT Rev-x")[-1].startswith(b"s OK")

    def grant(rights: bytes) -> None:
        if how == "setacl":
            assert alice.command(b"g", b"SETACL Rev-x bob " + rights)[-1].startswith(b"g OK")
        else:
            cli(server, "acl", "set", "alice/Rev-x", "bob", rights.decode())

    grant(b"lrswite")
    assert bob.command(b"a", b"STORE 1 +FLAGS (\\Answered)")[-1].startswith(b"a OK")
    assert bob.command(b"b", b"UID STORE 1 +FLAGS.SILENT (\\Draft)")[-1].startswith(b"b OK")
    grant(b"lrs")
    lines = bob.command(b"c", b"UID STORE 1 +FLAGS ($Later \\Deleted)")
    assert lines == [b"c NO [NOPERM] Permission denied for these flags"], lines
    assert b"$Later" not in _flags(alice) and b"\\Deleted" not in _flags(alice)
    # \Seen is still allowed ("s"): written, the others left out.
    lines = bob.command(b"d", b"STORE 1 +FLAGS (\\Seen \\Flagged)")
    assert lines[-1].startswith(b"d OK"), lines
    assert b"\\Seen" in lines[0] and b"\\Flagged" not in lines[0]

    grant(b"lrswite")
    assert alice.command(b"x", b"STORE 1 +FLAGS (\\Deleted)")[-1].startswith(b"x OK")
    assert bob.command(b"n", b"NOOP")[-1].startswith(b"n OK")  # rights: "e" again
    grant(b"lrswit")
    for tag, command in ((b"e1", b"UID EXPUNGE 1"), (b"e2", b"EXPUNGE")):
        lines = bob.command(tag, command)
        assert lines == [tag + b" NO [NOPERM] Permission denied (needs the 'e' right)"], lines
    assert b"UID 1 " in _flags(alice)
    grant(b"lrswite")
    assert bob.command(b"n2", b"NOOP")[-1].startswith(b"n2 OK")
    grant(b"lrswit")
    assert bob.command(b"cl", b"CLOSE")[-1].startswith(b"cl OK")  # no expunge, still OK
    assert b"UID 1 " in _flags(alice)

@pytest.mark.parametrize("command", [b"FETCH 1:* (UID FLAGS)", b"UID FETCH 1:* (FLAGS)",
                                     b"FETCH 1 (FLAGS MODSEQ)", b"UID SEARCH UNSEEN",
                                     b"SEARCH SUBJECT secret", b"UID SEARCH ALL"])
def test_flag_fetch_and_search_recheck_access_in_their_own_read(
        server: ServerThread, shared: tuple[RawClient, RawClient], command: bytes) -> None:
    """Issue 14: the flag resync and a plain SEARCH read the access serial in the same
    trip as their data; a right revoked between SELECT and the command (by another
    session, by the CLI in another process) still refuses it before any of its data goes
    out (RFC 4314 §4); granted again, it answers."""
    alice, bob = shared
    answer = (b"* 1 FETCH (", b"* SEARCH 1")
    lines = bob.command(b"a", command)
    assert lines[-1].startswith(b"a OK") and lines[-2].startswith(answer), lines
    assert alice.command(b"r", b"SETACL Rev-x bob -r")[-1].startswith(b"r OK")
    lines = bob.command(b"b", command)
    assert lines == [b"b NO [NOPERM] Permission denied (needs the 'r' right)"], lines
    assert alice.command(b"g", b"SETACL Rev-x bob +r")[-1].startswith(b"g OK")
    lines = bob.command(b"c", command)
    assert lines[-1].startswith(b"c OK") and lines[-2].startswith(answer), lines
    cli(server, "acl", "set", "alice/Rev-x", "bob", "l")
    lines = bob.command(b"d", command)
    assert lines == [b"d NO [NOPERM] Permission denied (needs the 'r' right)"], lines


@pytest.mark.parametrize("how", ["setacl", "cli"])
def test_append_into_the_selected_mailbox_after_insert_revoked(
        server: ServerThread, shared: tuple[RawClient, RawClient], how: str) -> None:
    """APPEND into the mailbox the session has selected (one write with its \\Recent
    claim and the sync's changes, issue 14) reads the rights afresh: "i" revoked, by
    another session or another process, refuses it, nothing stored (RFC 4314 §4)."""
    alice, bob = shared
    bob.send(b"a APPEND " + BOX + b" {%d+}\r\n%s\r\n" % (len(MSG), MSG))
    lines = bob.until_tagged(b"a")
    assert lines[-1].startswith(b"a OK [APPENDUID"), lines
    assert lines[:2] == [b"* 2 EXISTS", b"* 2 RECENT"], lines  # 1 from its SELECT
    if how == "setacl":
        assert alice.command(b"r", b"SETACL Rev-x bob lrs")[-1].startswith(b"r OK")
    else:
        cli(server, "acl", "set", "alice/Rev-x", "bob", "lrs")
    bob.send(b"b APPEND " + BOX + b" {%d+}\r\n%s\r\n" % (len(MSG), MSG))
    lines = bob.until_tagged(b"b")
    assert lines[-1].startswith(b"b NO [NOPERM]"), lines
    assert b"MESSAGES 2" in alice.command(b"st", b"STATUS Rev-x (MESSAGES)")[0]
