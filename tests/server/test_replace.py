"""REPLACE and UID REPLACE (RFC 8508): the new version appended and the old message removed
as one action; nothing changes, and no EXPUNGE is sent, when either part fails."""

from __future__ import annotations

import re
from typing import Any

import pytest

from crispin.storage import messages as storage_messages
from tests.server.harness import PASSWORD, RawClient, ServerThread

LOGIN = b'LOGIN alice "' + PASSWORD.encode() + b'"'

# RFC 8508 §3.2's example message (lines joined with CRLF)
FRITZ = b"\r\n".join([
    b"Date: Thu, 1 Jan 2015 00:05:00 -0500 (EST)",
    b"From: Fritz Schmidt <fritz.ze@example.org>",
    b"Subject: happy new year !!",
    b"To: miss.mitzy@example.org",
    b"Message-Id: <B238822388-0100000@example.org>",
    b"MIME-Version: 1.0",
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
    b"",
    b"Just saw the best fireworks show. Wish you were here.",
    b""])


def msg(n: int) -> bytes:
    return b"Subject: draft %d\r\n\r\nversion %d\r\n" % (n, n)


def drafts(server: ServerThread, count: int = 4) -> RawClient:
    c = server.raw()
    assert c.command(b"l", LOGIN)[-1].startswith(b"l OK")
    c.command(b"c", b"CREATE Drafts")
    for n in range(1, count + 1):
        body = msg(n)
        c.send(b"a APPEND Drafts {%d+}\r\n" % len(body) + body + b"\r\n")
        assert c.until_tagged(b"a")[-1].startswith(b"a OK")
    assert c.command(b"s", b"SELECT Drafts")[-1].startswith(b"s OK")
    return c


def subjects(c: RawClient, mailbox: bytes = b"Drafts") -> list[bytes]:
    c.command(b"x", b"EXAMINE " + mailbox)
    lines = c.command(b"y", b"FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    return [line for line in lines if line.startswith(b"Subject:")]


def test_rfc8508_examples(server: ServerThread) -> None:
    c = drafts(server)
    assert b"REPLACE" in c.command(b"k", b"CAPABILITY")[0].split()
    c.send(b"A003 REPLACE 4 Drafts (\\Seen \\Draft) {%d}\r\n" % len(FRITZ))
    assert c.line() == b"+ Ready for literal data"
    c.send(FRITZ + b"\r\n")
    lines = c.until_tagged(b"A003")
    assert re.fullmatch(rb"\* OK \[APPENDUID \d+ 5\] Replacement Message ready", lines[0])
    # §3.2 shows "* 5 EXISTS" before "* 4 EXPUNGE"; the server reports its own expunge
    # first (as MOVE does), then the new message: the same mailbox either way.
    assert lines[1:] == [b"* 4 EXPUNGE", b"* 4 EXISTS", b"* 4 RECENT",
                         b"A003 OK REPLACE completed"]
    second = FRITZ.replace(b"Wish you were here.", b"Wish you were here.\r\n"
                           b"Hopefully next year you can join us.")
    # §3.3: UID REPLACE of the message just written (UID 5)
    c.send(b"A004 UID REPLACE 5 Drafts (\\Seen \\Draft) {%d}\r\n" % len(second))
    assert c.line() == b"+ Ready for literal data"
    c.send(second + b"\r\n")
    lines = c.until_tagged(b"A004")
    assert re.fullmatch(rb"\* OK \[APPENDUID \d+ 6\] Replacement Message ready", lines[0])
    assert lines[1:] == [b"* 4 EXPUNGE", b"* 4 EXISTS", b"* 4 RECENT",
                         b"A004 OK REPLACE completed"]
    flags = c.command(b"f", b"UID FETCH 6 (FLAGS)")[0]
    assert b"\\Seen" in flags and b"\\Draft" in flags
    assert subjects(c) == [b"Subject: draft 1", b"Subject: draft 2", b"Subject: draft 3",
                           b"Subject: happy new year !!"]
    c.close()


def test_replace_into_another_mailbox(server: ServerThread) -> None:
    """§3.4: the named mailbox need not be the selected one (a draft becomes a sent
    message)."""
    c = drafts(server, 2)
    c.command(b"c", b"CREATE Sent")
    sent = b"Subject: sent\r\n\r\ngone out\r\n"
    c.send(b"r REPLACE 1 Sent {%d+}\r\n" % len(sent) + sent + b"\r\n")
    lines = c.until_tagged(b"r")
    assert lines[1:] == [b"* 1 EXPUNGE", b"r OK REPLACE completed"]
    assert subjects(c) == [b"Subject: draft 2"]
    assert subjects(c, b"Sent") == [b"Subject: sent"]
    c.close()


@pytest.mark.parametrize("command, answer", [
    (b"UID REPLACE 99 Drafts {5}\r\n", b"t NO"),        # no such UID
    (b"REPLACE 9 Drafts {5}\r\n", b"t BAD"),            # beyond EXISTS
    (b"REPLACE 1 Nowhere {5}\r\n", b"t NO [TRYCREATE]"),
    (b"REPLACE 1 Drafts {0}\r\n", b"t NO"),             # zero-length
    (b"REPLACE 1 Drafts {5+}\r\nhello {5+}\r\nworld\r\n", b"t BAD"),  # one message only
])
def test_refused_replace_changes_nothing(server: ServerThread, command: bytes,
                                         answer: bytes) -> None:
    c = drafts(server, 2)
    c.send(b"t " + command)
    lines = c.until_tagged(b"t")
    assert lines[-1].startswith(answer), lines
    assert not any(b"EXPUNGE" in line for line in lines)
    assert c.command(b"n", b"NOOP")[-1] == b"n OK NOOP completed"
    assert subjects(c) == [b"Subject: draft 1", b"Subject: draft 2"]
    c.close()


def test_states_and_rights(server: ServerThread) -> None:
    c = drafts(server, 1)
    c.command(b"u", b"UNSELECT")
    # §3.5: selected state only
    c.send(b"a REPLACE 1 Drafts {5}\r\n")
    assert c.line().startswith(b"a BAD")
    c.send(b"b UID REPLACE 1 Drafts {5}\r\n")
    assert c.line().startswith(b"b BAD")
    # a read-only selection cannot remove the message
    c.command(b"e", b"EXAMINE Drafts")
    c.send(b"d REPLACE 1 Drafts {5}\r\n")
    assert c.line().startswith(b"d NO [READ-ONLY]")
    assert subjects(c) == [b"Subject: draft 1"]
    c.close()


def test_a_failure_while_committing_keeps_the_old_message(
        server: ServerThread, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(*args: Any, **kwargs: Any) -> tuple[int, int]:
        raise OSError("disk full (injected)")

    c = drafts(server, 2)
    monkeypatch.setattr(storage_messages, "append", failing)
    body = msg(9)
    c.send(b"r REPLACE 2 Drafts {%d+}\r\n" % len(body) + body + b"\r\n")
    lines = c.until_tagged(b"r")
    monkeypatch.undo()
    assert lines[-1].startswith(b"r NO") and not any(b"EXPUNGE" in x for x in lines), lines
    assert subjects(c) == [b"Subject: draft 1", b"Subject: draft 2"]
    c.close()


def test_quota_counts_the_net_change(server: ServerThread) -> None:
    """§3.4: APPEND's quota is evaluated with the pending EXPUNGE: a full mailbox can still
    replace a message by one of the same size, while an APPEND is over quota."""
    c = drafts(server, 2)
    store = server.running.ctx.store
    alice = server.call(store.get_user("alice"))
    assert alice is not None
    server.call(store.set_quota("user", alice.id, None, 2))
    body = msg(3)
    c.send(b"a APPEND Drafts {%d+}\r\n" % len(body) + body + b"\r\n")
    assert c.until_tagged(b"a")[-1].startswith(b"a NO [OVERQUOTA]")
    c.send(b"r REPLACE 1 Drafts {%d+}\r\n" % len(body) + body + b"\r\n")
    assert c.until_tagged(b"r")[-1] == b"r OK REPLACE completed"
    assert subjects(c) == [b"Subject: draft 2", b"Subject: draft 3"]
    c.close()
