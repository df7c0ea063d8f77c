"""Pipelined ``UID FETCH u (BODY.PEEK[])`` commands are read in one trip to the database
(issue 14, ``crispin.server.commands.fetch_ahead``); each is still answered on its own, in
order, as if it had run alone: its own message, nothing for a UID that is gone (RFC 3501
§6.4.8), no \\Seen (§6.4.5), the changes of other sessions reported between commands
(§7.4.1), and a command of another kind behind them runs on what they left."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread, count_reads
from tests.server.imap_client import Imap, Reply, client_factory, message


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def pipeline(client: Imap, commands: list[str]) -> list[Reply]:
    """Send every command in one write, then read each answer in order."""
    tags = [client.tag() for _ in commands]
    client.send(b"".join(f"{t} {c}\r\n".encode() for t, c in zip(tags, commands, strict=True)))
    return [client.until_tagged(t) for t in tags]


def subject(reply: Reply) -> str:
    assert reply.ok and len(reply.untagged) == 1, reply
    m = re.search(rb"Subject: (\S+)", reply.untagged[0])
    assert m is not None, reply
    return m.group(1).decode()


def test_pipelined_body_fetches_are_one_read_each_answered_alone(
        imap: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a = imap()
    for i in range(1, 9):
        assert a.append("INBOX", message(f"m{i}")).ok
    a.select()
    reads = count_reads(monkeypatch)
    uids = [5, 2, 99, 8, 2, 1, 7]
    replies = pipeline(a, [f"UID FETCH {u} (BODY.PEEK[])" for u in uids])
    # The recheck, the 6 messages and the changes: one read.
    assert len(reads) == 1, reads
    for uid, reply in zip(uids, replies, strict=True):
        if uid == 99:  # no such UID: nothing but OK (RFC 3501 §6.4.8)
            assert reply.ok and reply.untagged == [], reply
            continue
        assert reply.untagged[0].startswith(b"* %d FETCH (UID %d BODY[] {" % (uid, uid))
        assert subject(reply) == f"m{uid}"
    # With UID, FLAGS, RFC822.SIZE and a partial, from the same kind of read.
    reads.clear()
    replies = pipeline(a, ["UID FETCH 3 (FLAGS BODY.PEEK[]<0.5>)",
                           "UID FETCH 4 (UID RFC822.SIZE BODY.PEEK[]<0.5>)"])
    assert len(reads) == 1, reads
    assert replies[0].untagged == [b"* 3 FETCH (UID 3 FLAGS (\\Recent) BODY[]<0> {5}\r\nFrom:)"]
    assert re.fullmatch(rb"\* 4 FETCH \(UID 4 RFC822\.SIZE \d+ BODY\[\]<0> \{5\}\r\nFrom:\)",
                        replies[1].untagged[0]), replies[1]
    # BODY.PEEK[] set no \Seen (RFC 3501 §6.4.5).
    flags = a.cmd("FETCH 1:* FLAGS")
    assert flags.ok and not any(b"\\Seen" in line for line in flags.untagged), flags


def test_a_pipeline_stops_at_a_command_of_another_kind(imap: Any) -> None:
    """BODY[] (it sets \\Seen), a STORE: each runs in its turn, and what comes after it
    sees what it did. IDLE behind the FETCHes takes its DONE as a raw line (RFC 2177),
    though the FETCHes before it were parsed early."""
    a = imap()
    for i in range(1, 4):
        assert a.append("INBOX", message(f"m{i}")).ok
    a.select()
    replies = pipeline(a, [
        "UID FETCH 1 (BODY.PEEK[])",
        "UID FETCH 2 (BODY[]<0.5>)",
        "UID FETCH 2 (FLAGS BODY.PEEK[]<0.5>)",
        "UID STORE 3 +FLAGS.SILENT (\\Flagged)",
        "UID FETCH 3 (FLAGS BODY.PEEK[]<0.5>)",
        "UID FETCH 1 (BODY.PEEK[]<0.5>)",
    ])
    assert subject(replies[0]) == "m1"
    assert replies[1].untagged == [
        b"* 2 FETCH (UID 2 BODY[]<0> {5}\r\nFrom: FLAGS (\\Seen \\Recent))"], replies[1]
    assert replies[2].untagged == [
        b"* 2 FETCH (UID 2 FLAGS (\\Seen \\Recent) BODY[]<0> {5}\r\nFrom:)"], replies[2]
    assert replies[3].ok and replies[3].untagged == [], replies[3]
    assert replies[4].untagged == [
        b"* 3 FETCH (UID 3 FLAGS (\\Flagged \\Recent) BODY[]<0> {5}\r\nFrom:)"], replies[4]
    assert replies[5].untagged == [b"* 1 FETCH (UID 1 BODY[]<0> {5}\r\nFrom:)"], replies[5]
    tags = [a.tag() for _ in range(3)]
    a.send(b"%s UID FETCH 2 (BODY.PEEK[]<0.5>)\r\n%s UID FETCH 3 (BODY.PEEK[]<0.5>)\r\n"
           b"%s IDLE\r\n" % tuple(t.encode() for t in tags))
    assert a.until_tagged(tags[0]).untagged == [b"* 2 FETCH (UID 2 BODY[]<0> {5}\r\nFrom:)"]
    assert a.until_tagged(tags[1]).untagged == [b"* 3 FETCH (UID 3 BODY[]<0> {5}\r\nFrom:)"]
    assert a.line().startswith(b"+ ")
    a.send(b"DONE\r\n")
    assert a.until_tagged(tags[2]).ok
    assert a.cmd("NOOP").ok


def test_changes_of_another_session_are_reported_between_pipelined_fetches(
        imap: Any) -> None:
    """Message 2 expunged by another session before the pipeline: reported after the
    first FETCH (a UID FETCH may be followed by EXPUNGE, RFC 3501 §7.4.1), its UID then
    answers nothing, and the next message has its new number."""
    a, b = imap(), imap()
    for i in range(1, 4):
        assert a.append("INBOX", message(f"m{i}")).ok
    a.select()
    b.select()
    assert b.cmd("UID STORE 2 +FLAGS.SILENT (\\Deleted)").ok and b.cmd("EXPUNGE").ok
    assert b.cmd("UID STORE 3 +FLAGS.SILENT (\\Answered)").ok
    replies = pipeline(a, [f"UID FETCH {u} (BODY.PEEK[]<0.5>)" for u in (1, 2, 3)])
    assert replies[0].untagged == [
        b"* 1 FETCH (UID 1 BODY[]<0> {5}\r\nFrom:)",
        b"* 2 EXPUNGE",
        b"* 2 FETCH (UID 3 FLAGS (\\Answered \\Recent))",
    ], replies[0]
    assert replies[1].ok and replies[1].untagged == [], replies[1]
    assert replies[2].untagged == [b"* 2 FETCH (UID 3 BODY[]<0> {5}\r\nFrom:)"], replies[2]
    assert a.cmd("NOOP").untagged == []


def test_a_big_message_in_a_pipeline_comes_whole(imap: Any) -> None:
    """A body kept in a file (over storage's inline size) between small ones."""
    a = imap()
    big = message("big", "x" * 80 + "\r\n") * 1 + b"y" * (300 * 1024) + b"\r\n"
    assert a.append("INBOX", message("m1")).ok
    assert a.append("INBOX", big).ok
    assert a.append("INBOX", message("m3")).ok
    a.select()
    replies = pipeline(a, [f"UID FETCH {u} (BODY.PEEK[])" for u in (1, 2, 3)])
    assert subject(replies[0]) == "m1" and subject(replies[2]) == "m3"
    assert replies[1].untagged[0] == b"* 2 FETCH (UID 2 BODY[] {%d}\r\n%s)" % (len(big), big)


def test_a_pipeline_of_big_bodies_is_read_sixteen_behind_the_first(
        imap: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies kept in the database (under storage's inline size), 20 of 240 KB pipelined:
    the first read takes 17 of them (``fetch_ahead.AHEAD`` behind the first: ~4 MB held at
    most), the next read the other 3; every command gets its own whole message."""
    a = imap()
    bodies = {}
    for i in range(1, 21):
        msg = message(f"m{i}", (f"line {i} " * 30 + "\r\n") * 1000)
        assert 200 * 1024 < len(msg) < 256 * 1024
        assert a.append("INBOX", msg).ok
        bodies[i] = msg
    a.select()
    reads = count_reads(monkeypatch)
    order = [7, 1, 20, 3, 12, 5, 18, 2, 9, 14, 11, 4, 16, 6, 19, 8, 13, 10, 17, 15]
    replies = pipeline(a, [f"UID FETCH {u} (BODY.PEEK[])" for u in order])
    for uid, reply in zip(order, replies, strict=True):
        assert reply.untagged == [b"* %d FETCH (UID %d BODY[] {%d}\r\n%s)" % (
            uid, uid, len(bodies[uid]), bodies[uid])], uid
    assert len(reads) == 2, reads
