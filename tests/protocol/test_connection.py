"""ServerConnection behaviour beyond the case files: API contract and bounded memory."""

from __future__ import annotations

import dataclasses

import pytest

from crispin.protocol import (
    AppendBegin,
    AppendData,
    AppendEnd,
    CommandError,
    CommandReceived,
    ConnectionClosed,
    Limits,
    LiteralAnnounced,
    Login,
    Noop,
    ServerConnection,
    StartTLS,
)

from .harness import feed, whole


def drain(conn: ServerConnection) -> list[object]:
    events = []
    while (ev := conn.next_event()) is not None:
        events.append(ev)
        if isinstance(ev, ConnectionClosed):
            break
    return events


def test_literal_minus_refuses_big_nonsync() -> None:
    limits = Limits(literal_minus=True, max_literal_size=10000)
    data = b"a1 LOGIN {4097+}\r\n" + b"x" * 4097 + b" y\r\n"
    data += b"a2 LOGIN {4096+}\r\n" + b"x" * 4096 + b" y\r\n"
    events = feed(whole(data), limits).events
    assert events[0] == CommandError(
        "a1", "BAD", "TOOBIG", "Non-synchronizing literal over 4096 octets",
    )
    assert events[1] == CommandReceived("a2", Login("x" * 4096, "y"))


def test_literal_bytes_per_command_and_per_connection() -> None:
    """Issue 11 point 5: the budgets the server sets before login."""
    limits = Limits(max_command_literal_bytes=100, max_connection_literal_bytes=250)
    data = b"a1 LOGIN {60+}\r\n" + b"x" * 60 + b" {60+}\r\n" + b"y" * 60 + b"\r\n"
    data += b"a2 LOGIN {50+}\r\n" + b"x" * 50 + b" {50+}\r\n" + b"y" * 50 + b"\r\n"
    data += b"a3 LOGIN {90+}\r\n" + b"x" * 90 + b" y\r\n"
    data += b"a4 LOGIN {90+}\r\n" + b"x" * 90 + b" y\r\n"
    data += b"a5 LOGIN x y\r\n"
    for chunks in (whole(data), [bytes([b]) for b in data]):
        events = feed(chunks, limits).events
        assert events[:5] == [
            CommandError("a1", "BAD", "TOOBIG", "Literals of this command too big"),
            CommandReceived("a2", Login("x" * 50, "y" * 50)),
            CommandReceived("a3", Login("x" * 90, "y")),
            CommandError("a4", "BAD", "LIMIT", "Too much literal data"),
            CommandReceived("a5", Login("x", "y")),
        ]


def test_append_streams_in_bounded_chunks() -> None:
    size = 200_000
    conn = ServerConnection()
    conn.receive_data(b"a1 APPEND INBOX {%d+}\r\n" % size)
    begin = conn.next_event()
    assert isinstance(begin, AppendBegin) and begin.size == size and not begin.synchronizing
    assert conn.next_event() is None  # waits for the server's decision
    assert conn.accept_literal() == b""
    payload = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    conn.receive_data(payload + b"\r\n")
    events = drain(conn)
    chunks = [e for e in events if isinstance(e, AppendData)]
    assert all(len(c.data) <= 65536 for c in chunks)
    assert b"".join(c.data for c in chunks) == payload
    assert events[-1] == AppendEnd("a1")


def test_sync_literal_waits_for_decision() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 LOGIN {3}\r\n")
    assert conn.next_event() == LiteralAnnounced("a1", 3, False)
    assert conn.next_event() is None
    assert conn.accept_literal() == b"+ Ready for literal data\r\n"
    conn.receive_data(b"bob pw\r\n")
    assert conn.next_event() == CommandReceived("a1", Login("bob", "pw"))


def test_reject_literal_response() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 APPEND INBOX {99999999}\r\n")
    assert isinstance(conn.next_event(), AppendBegin)
    reply = conn.reject_literal("NO", "TOOBIG", "Message too big")
    assert reply == b"a1 NO [TOOBIG] Message too big\r\n"
    conn.receive_data(b"a2 NOOP\r\n")
    assert conn.next_event() == CommandReceived("a2", Noop())


def test_decision_without_literal_is_an_error() -> None:
    conn = ServerConnection()
    with pytest.raises(RuntimeError):
        conn.accept_literal()
    with pytest.raises(RuntimeError):
        conn.reject_literal("NO", None, "x")


def test_starttls_discards_pipelined_plaintext() -> None:
    # CVE-2011-0411: commands injected before the TLS handshake must be dropped.
    conn = ServerConnection()
    conn.receive_data(b"a1 STARTTLS\r\na2 LOGIN evil {5}\r\nx")
    assert conn.next_event() == CommandReceived("a1", StartTLS())
    assert conn.discard_buffered() == b"a2 LOGIN evil {5}\r\nx"
    assert conn.next_event() is None
    conn.receive_data(b"a3 NOOP\r\n")
    assert conn.next_event() == CommandReceived("a3", Noop())


def test_overlong_line_is_not_buffered() -> None:
    conn = ServerConnection(Limits(max_line_length=1000))
    conn.receive_data(b"a1 LOGIN ")
    assert conn.next_event() is None
    error = None
    for _ in range(1000):
        conn.receive_data(b"x" * 4096)
        ev = conn.next_event()
        error = error or ev
        assert len(conn._in) < 2000
    # Reported as soon as the limit is passed, before the line ends.
    assert error == CommandError("a1", "BAD", "TOOBIG", "Command line too long")
    conn.receive_data(b"\r\na2 NOOP\r\n")
    assert conn.next_event() == CommandReceived("a2", Noop())


def test_skipped_literal_is_not_buffered() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 LOGIN {50000000+}\r\n")
    for _ in range(499):
        conn.receive_data(b"y" * 100_000)
        assert conn.next_event() is None
        assert not conn._in
    conn.receive_data(b"y" * 100_000 + b" z\r\na2 NOOP\r\n")
    assert conn.next_event() == CommandError("a1", "BAD", "TOOBIG", "Literal too big")
    assert conn.next_event() == CommandReceived("a2", Noop())


def test_eof() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 NOOP\r\na2 NO")
    conn.receive_data(b"")
    assert conn.next_event() == CommandReceived("a1", Noop())
    assert conn.next_event() == ConnectionClosed()
    assert conn.next_event() == ConnectionClosed()


def test_expect_line_then_commands() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 IDLE\r\nDONE\r\na2 NOOP\r\n")
    assert isinstance(conn.next_event(), CommandReceived)
    conn.expect_line()
    events = drain(conn)
    assert [type(e).__name__ for e in events] == ["ContinuationLine", "CommandReceived"]


def test_multiappend_line_limit_is_per_message() -> None:
    conn = ServerConnection(Limits(max_line_length=40))
    conn.receive_data(b"a1 APPEND INBOX {1+}\r\nx")
    for _ in range(20):
        conn.receive_data(b" (\\Seen) {1+}\r\ny")
    conn.receive_data(b"\r\n")
    events = drain(conn)
    assert sum(isinstance(e, AppendBegin) for e in events) == 1
    while True:
        if isinstance(events[-1], AppendBegin):
            conn.accept_literal()
        more = drain(conn)
        if not more:
            break
        events += more
    assert sum(isinstance(e, AppendBegin) for e in events) == 21
    assert events[-1] == AppendEnd("a1")


@pytest.mark.parametrize("sync", [False, True])
def test_parse_work_is_linear_across_literals(sync: bool) -> None:
    """Issue 10.14: a 64 KB command with 64 one-byte literals must not be re-parsed whole
    at each literal; the bytes handed to the parser stay within a small multiple of it."""
    conn = ServerConnection(Limits(max_literals_per_command=1000))
    marker = b"{1}" if sync else b"{1+}"
    pad = b"x" * 1000
    # (SEARCH, not ID: ID has at most 30 pairs, RFC 2971 §3.3.)
    parts = [b"a1 SEARCH"]
    for i in range(64):
        parts.append(b' TEXT "k%d%s" TEXT ' % (i, pad) + marker + b"\r\nz")
    command = b"".join(parts) + b"\r\n"
    assert len(command) > 64_000
    # Fed whole: synchronising literals are accepted as they are announced.
    conn.receive_data(command)
    events: list[object] = []
    while (ev := conn.next_event()) is not None:
        events.append(ev)
        if isinstance(ev, LiteralAnnounced):
            conn.accept_literal()
    assert isinstance(events[-1], CommandReceived), events[-1]
    assert conn.parsed_bytes < 4 * len(command), conn.parsed_bytes


def test_append_message_literal_still_recognised_after_a_mailbox_literal() -> None:
    conn = ServerConnection()
    conn.receive_data(b"a1 APPEND {5+}\r\nINBOX (\\Seen) {3+}\r\nabc\r\n")
    events = drain(conn)
    assert isinstance(events[0], AppendBegin) and events[0].mailbox == "INBOX"
    conn.accept_literal()
    events = drain(conn)
    assert events[0] == AppendData("a1", b"abc") and events[1] == AppendEnd("a1")


def test_error_in_a_later_literal_is_still_answered_bad() -> None:
    """A literal where the grammar allows none, past the first: caught by the final parse."""
    conn = ServerConnection()
    data = b"a1 LOGIN {1+}\r\nx {1+}\r\ny {1+}\r\nz\r\na2 NOOP\r\n"
    conn.receive_data(data)
    events = drain(conn)
    assert isinstance(events[0], CommandError) and events[0].tag == "a1"
    assert events[1] == CommandReceived("a2", Noop())


def test_search_stops_parsing_at_the_criteria_budget() -> None:
    """Issue 11 point 3: a program past ``max_search_criteria`` is refused with NO [LIMIT]
    at the first key over the budget; what follows is never parsed (here it would be a
    syntax error, answered BAD if it were). NOT and OR count, parentheses do not."""
    limits = Limits(max_search_criteria=4)
    refused = CommandError("a1", "NO", "LIMIT", "Too many search criteria (at most 4)")
    data = b"a1 SEARCH NOT TEXT q0 (ALL SEEN) OR ALL ))garbage((\r\n"
    data += b"a2 UID SORT (DATE) UTF-8 " + b"NOT " * 5 + b"ALL\r\n"
    data += b"a3 THREAD REFERENCES UTF-8 ((ALL) (SEEN) OR ALL ALL\r\n"
    data += b"a4 SEARCH NOT TEXT q0 (ALL SEEN)\r\n"
    events = feed(whole(data), limits).events
    assert events[0] == refused
    assert events[1] == dataclasses.replace(refused, tag="a2")
    assert events[2] == dataclasses.replace(refused, tag="a3")
    assert isinstance(events[3], CommandReceived) and events[3].tag == "a4"
    unbounded = feed(whole(data), Limits()).events
    assert isinstance(unbounded[0], CommandError) and unbounded[0].status == "BAD"
