"""MULTIAPPEND (RFC 3502): several messages in one APPEND, stored all together in one
transaction or not at all, APPENDUID with a UID set (RFC 4315 §3), quota for the whole."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest

from crispin.storage import messages as storage_messages
from tests.server.harness import PASSWORD, RawClient, ServerThread
from tests.server.memory import populate
from tests.server.process import ServerProcess

LOGIN = b'LOGIN alice "' + PASSWORD.encode() + b'"'

# RFC 3502 §6.3.11's example messages (lines joined with CRLF)
FRED = b"\r\n".join([
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)",
    b"From: Fred Foobar <foobar@Blurdybloop.example.COM>",
    b"Subject: afternoon meeting",
    b"To: mooch@owatagu.example.net",
    b"Message-Id: <B27397-0100000@Blurdybloop.example.COM>",
    b"MIME-Version: 1.0",
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
    b"",
    b"Hello Joe, do you think we can meet at 3:30 tomorrow?",
    b""])
JOE = b"\r\n".join([
    b"Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)",
    b"From: Joe Mooch <mooch@OWaTaGu.example.net>",
    b"Subject: Re: afternoon meeting",
    b"To: foobar@blurdybloop.example.com",
    b"Message-Id: <a0434793874930@OWaTaGu.example.net>",
    b"MIME-Version: 1.0",
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
    b"",
    b"3:30 is fine with me.",
    b""])


def login(server: ServerThread) -> RawClient:
    c = server.raw()
    assert c.command(b"l", LOGIN)[-1].startswith(b"l OK")
    return c


def lit(body: bytes, sync: bool = False) -> bytes:
    return b"{%d%s}\r\n" % (len(body), b"" if sync else b"+") + body


def count(c: RawClient, mailbox: bytes = b"INBOX") -> int:
    line = c.command(b"st", b"STATUS " + mailbox + b" (MESSAGES)")[0]
    m = re.search(rb"MESSAGES (\d+)", line)
    assert m is not None, line
    return int(m[1])


def msg(n: int) -> bytes:
    return b"Subject: %d\r\n\r\nbody %d\r\n" % (n, n)


def test_rfc3502_example(server: ServerThread) -> None:
    c = login(server)
    assert b"MULTIAPPEND" in c.command(b"a", b"CAPABILITY")[0].split()
    c.command(b"b", b"CREATE saved-messages")
    c.send(b"A003 APPEND saved-messages (\\Seen) {%d}\r\n" % len(FRED))
    assert c.line() == b"+ Ready for literal data"
    c.send(FRED + b' (\\Seen) " 7-Feb-1994 22:43:04 -0800" {%d}\r\n' % len(JOE))
    assert c.line() == b"+ Ready for literal data"
    c.send(JOE + b"\r\n")
    ok = c.until_tagged(b"A003")
    m = re.fullmatch(rb"A003 OK \[APPENDUID (\d+) 1:2\] APPEND completed", ok[-1])
    assert m is not None, ok
    # A004: no automatic create; [TRYCREATE] (before the client sends the message)
    c.send(b"A004 APPEND bogusname (\\Flagged) {1023}\r\n")
    assert c.line().startswith(b"A004 NO [TRYCREATE]")
    c.command(b"s", b"SELECT saved-messages")
    fetched = c.command(b"f", b"FETCH 1:2 (FLAGS INTERNALDATE RFC822.SIZE)")
    # the RFC's sizes (329, 295), flags and the second message's date as given
    assert re.fullmatch(rb'\* 1 FETCH \(FLAGS \(\\Seen \\Recent\) INTERNALDATE "[^"]+"'
                        rb" RFC822\.SIZE 329\)", fetched[0]), fetched
    assert fetched[1] == (b'* 2 FETCH (FLAGS (\\Seen \\Recent) INTERNALDATE'
                          b' " 7-Feb-1994 22:43:04 -0800" RFC822.SIZE 295)')
    uids = c.command(b"u", b"UID SEARCH ALL")[0]
    assert uids == b"* SEARCH 1 2"
    c.close()


def test_nonsynchronising_and_selected_mailbox_sees_exists(server: ServerThread) -> None:
    c = login(server)
    c.command(b"s", b"SELECT INBOX")
    c.send(b"a APPEND INBOX " + lit(msg(1)) + b" (\\Flagged) " + lit(msg(2)) + b" "
           + lit(msg(3)) + b"\r\n")
    lines = c.until_tagged(b"a")
    assert b"* 3 EXISTS" in lines
    assert re.fullmatch(rb"a OK \[APPENDUID \d+ 1:3\] APPEND completed", lines[-1]), lines
    assert c.command(b"f", b"FETCH 2 (FLAGS)")[0] == b"* 2 FETCH (FLAGS (\\Flagged \\Recent))"
    c.close()


@pytest.mark.parametrize("second, answer", [
    (b"{0}\r\n", b"a NO "),  # §6.3.11: zero-length cancels, MUST be NO
    (b"{0+}\r\n\r\n", b"a NO "),
    (b"(\\Bad\\Flag) {5}\r\n", b"a BAD"),
    (b'"31-Feb-2024 00:00:00 +0000" {5}\r\n', b"a BAD"),
    (b"{999999}\r\n", b"a NO [TOOBIG]"),  # over the configured limit
])
def test_a_refused_second_message_stores_nothing(make_server: Any, second: bytes,
                                                 answer: bytes) -> None:
    server = make_server(limits={"max_append_size": 1000})
    c = login(server)
    c.send(b"a APPEND INBOX " + lit(msg(1)) + b" " + second)
    lines = c.until_tagged(b"a")
    assert lines[-1].startswith(answer), lines
    assert count(c) == 0
    # the connection goes on, and a good APPEND afterwards works
    c.send(b"b APPEND INBOX " + lit(msg(1)) + b" " + lit(msg(2)) + b"\r\n")
    assert c.until_tagged(b"b")[-1].startswith(b"b OK [APPENDUID")
    assert count(c) == 2
    c.close()


def test_garbage_after_a_later_message_stores_nothing(server: ServerThread) -> None:
    c = login(server)
    c.send(b"a APPEND INBOX " + lit(msg(1)) + b" " + lit(msg(2)) + b" junk\r\n")
    assert c.until_tagged(b"a")[-1].startswith(b"a BAD")
    assert count(c) == 0
    c.close()


def test_quota_is_checked_for_the_whole(server: ServerThread) -> None:
    store = server.running.ctx.store
    alice = server.call(store.get_user("alice"))
    assert alice is not None
    server.call(store.set_quota("user", alice.id, None, 2))
    c = login(server)
    c.send(b"a APPEND INBOX " + lit(msg(1), True)[:-len(msg(1))])
    assert c.line() == b"+ Ready for literal data"
    c.send(msg(1) + b" " + lit(msg(2), True)[:-len(msg(2))])
    assert c.line() == b"+ Ready for literal data"
    c.send(msg(2) + b" " + lit(msg(3), True)[:-len(msg(3))])
    assert c.line().startswith(b"a NO [OVERQUOTA]")
    assert count(c) == 0
    c.close()


def test_a_failure_inside_the_transaction_keeps_nothing(
        server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    """Storage refuses the third message while it commits (a disk error, a quota filled
    by another session meanwhile): the first two are rolled back with it."""
    real = storage_messages.append
    calls = []

    def failing(*args: Any, **kwargs: Any) -> tuple[int, int]:
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full (injected)")
        return real(*args, **kwargs)

    monkeypatch.setattr(storage_messages, "append", failing)
    c = login(server)
    big = b"Subject: big\r\n\r\n" + b"y" * (300 * 1024) + b"\r\n"  # a file blob
    c.send(b"a APPEND INBOX " + lit(msg(1)) + b" " + lit(big) + b" " + lit(msg(3)) + b"\r\n")
    assert c.until_tagged(b"a")[-1].startswith(b"a NO")
    monkeypatch.setattr(storage_messages, "append", real)
    assert count(c) == 0
    tmp = server.config.data_dir / "blobs" / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []  # no spool file left behind
    c.close()


def test_command_bounds(make_server: Any) -> None:
    server = make_server(limits={"max_multiappend_messages": 3, "max_multiappend_size": 200})
    c = login(server)
    c.send(b"a APPEND INBOX " + b" ".join(lit(msg(n)) for n in range(4)) + b"\r\n")
    assert c.until_tagged(b"a")[-1].startswith(b"a NO [LIMIT]")
    body = b"Subject: x\r\n\r\n" + b"z" * 80 + b"\r\n"
    c.send(b"b APPEND INBOX " + lit(body) + b" " + lit(body) + b" " + lit(body) + b"\r\n")
    assert c.until_tagged(b"b")[-1].startswith(b"b NO [TOOBIG]")
    assert count(c) == 0
    c.close()


def test_sigkill_between_messages_commits_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    populate(data, "alice", PASSWORD, [msg(0)])
    srv = ServerProcess(data)
    try:
        c = RawClient("127.0.0.1", srv.port)
        assert c.command(b"l", LOGIN)[-1].startswith(b"l OK")
        c.send(b"a APPEND INBOX {%d}\r\n" % len(msg(1)))
        assert c.line() == b"+ Ready for literal data"
        c.send(msg(1) + b" {%d}\r\n" % len(msg(2)))
        # the first message is in; the second announced and accepted: kill now
        assert c.line() == b"+ Ready for literal data"
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(30)
        c.close()
    finally:
        srv.kill()
    srv = ServerProcess(data)
    try:
        c = RawClient("127.0.0.1", srv.port)
        assert c.command(b"l", LOGIN)[-1].startswith(b"l OK")
        assert count(c) == 1  # the imported one only
        c.close()
    finally:
        srv.kill()
