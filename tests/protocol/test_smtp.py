"""The sans-I/O SMTP connection: framing, DATA transparency, command order, replies
(RFC 5321 §4.1.4, §4.5.2; RFC 2033 §4.2; RFC 3207 §4.2). Every case is fed whole and one byte
at a time, as h11's tests do."""

from __future__ import annotations

import re

import pytest

from crispin.protocol.smtp import (
    AuthResponse,
    BadCommand,
    CommandReceived,
    ConnectionClosed,
    Hello,
    MailFrom,
    MessageData,
    MessageEnd,
    RcptTo,
    Reply,
    SmtpConnection,
    SmtpEvent,
    parse_command,
)

OK = Reply(250, "OK", "2.0.0")


def drain(conn: SmtpConnection) -> list[SmtpEvent]:
    events: list[SmtpEvent] = []
    while (event := conn.next_event()) is not None:
        events.append(event)
        if isinstance(event, CommandReceived):
            cmd = event.command
            verb = getattr(cmd, "verb", "")
            conn.send(Reply(354, "go") if verb == "DATA" else OK)
        elif isinstance(event, MessageEnd):
            for _ in range(conn.recipients if conn.lmtp else 1):
                conn.send(OK)
    return events


def feed(data: bytes, one_byte: bool, **kwargs: object) -> tuple[SmtpConnection, list[SmtpEvent]]:
    conn = SmtpConnection(**kwargs)  # type: ignore[arg-type]
    events: list[SmtpEvent] = []
    chunks = [data[i:i + 1] for i in range(len(data))] if one_byte else [data]
    for chunk in chunks:
        conn.receive_data(chunk)
        events += drain(conn)
    return conn, events


def message_of(events: list[SmtpEvent]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, MessageData))


SESSION = (b"EHLO client\r\nMAIL FROM:<a@b> SIZE=10\r\nRCPT TO:<c@d>\r\nDATA\r\n"
           b"Subject: x\r\n\r\n..dot\r\n.\r\n"
           b"QUIT\r\n")


@pytest.mark.parametrize("one_byte", [False, True])
def test_whole_session(one_byte: bool) -> None:
    conn, events = feed(SESSION, one_byte)
    commands = [e.command for e in events if isinstance(e, CommandReceived)]
    assert commands[0] == Hello("EHLO", "client")
    assert commands[1] == MailFrom("a@b", {"SIZE": "10"})
    assert commands[2] == RcptTo("c@d")
    assert message_of(events) == b"Subject: x\r\n\r\n.dot\r\n"
    [end] = [e for e in events if isinstance(e, MessageEnd)]
    assert end == MessageEnd(len(b"Subject: x\r\n\r\n.dot\r\n"))
    assert conn.phase.value == "closed"


@pytest.mark.parametrize("one_byte", [False, True])
def test_bare_lf_accepted_as_crlf(one_byte: bool) -> None:
    data = b"EHLO c\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\nline one\nline two\r\n.\n"
    _, events = feed(data, one_byte)
    assert message_of(events) == b"line one\r\nline two\r\n"
    assert [e for e in events if isinstance(e, MessageEnd)] == [MessageEnd(20)]


def test_bare_lf_refused_when_configured() -> None:
    data = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nsmuggled\n.\nx\r\n.\r\nNOOP\n"
    _, events = feed(data, False, bare_lf="reject")
    [end] = [e for e in events if isinstance(e, MessageEnd)]
    assert end.bare_lf
    # "\n.\n" does not end the message (SMTP smuggling); the last command line is refused.
    assert message_of(events) == b"smuggled\r\n\r\nx\r\n"
    assert isinstance(events[-1], BadCommand) and events[-1].reply.code == 500


def test_size_limit_drops_the_excess_and_says_so() -> None:
    data = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + b"x" * 50 + b"\r\n.\r\n"
    _, events = feed(data, False, max_message_size=20)
    [end] = [e for e in events if isinstance(e, MessageEnd)]
    assert end.too_big and len(message_of(events)) <= 20


def test_long_line_in_data_is_passed_on_in_pieces() -> None:
    line = b"." + b"y" * 200000
    data = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + line + b"\r\n.\r\n"
    conn = SmtpConnection()
    events: list[SmtpEvent] = []
    for i in range(0, len(data), 4096):  # arriving bit by bit, never held whole
        conn.receive_data(data[i:i + 4096])
        events += drain(conn)
    pieces = [e for e in events if isinstance(e, MessageData)]
    assert len(pieces) > 1 and max(len(p.data) for p in pieces) < 100000
    assert message_of(events) == line[1:] + b"\r\n"


def test_command_order_refused_by_the_connection() -> None:
    _, events = feed(b"MAIL FROM:<a@b>\r\nEHLO c\r\nRCPT TO:<x@y>\r\nDATA\r\n"
                     b"MAIL FROM:<a@b>\r\nDATA\r\nMAIL FROM:<a@b>\r\n", False)
    codes = [e.reply.code if isinstance(e, BadCommand) else "cmd" for e in events]
    assert codes == [503, "cmd", 503, 503, "cmd", 554, 503]


def test_line_too_long_then_next_command_works() -> None:
    _, events = feed(b"NOOP " + b"x" * 5000 + b"\r\nNOOP\r\n", True)
    assert isinstance(events[0], BadCommand) and events[0].reply.code == 500
    assert isinstance(events[1], CommandReceived)


def test_lmtp_answers_once_per_recipient() -> None:
    conn = SmtpConnection(lmtp=True)
    conn.receive_data(b"LHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\n"
                      b"DATA\r\nhi\r\n.\r\nNOOP\r\n")
    for _ in range(4):
        assert isinstance(conn.next_event(), CommandReceived)
        conn.send(OK)
    assert isinstance(conn.next_event(), CommandReceived)
    conn.send(Reply(354, "go"))
    assert conn.next_event() == MessageData(b"hi\r\n")
    assert conn.next_event() == MessageEnd(4)
    assert conn.next_event() is None  # no command until both replies are out
    conn.send(OK)
    assert conn.next_event() is None
    conn.send(OK)
    assert isinstance(conn.next_event(), CommandReceived)


def test_starttls_forgets_pipelined_plaintext() -> None:
    conn = SmtpConnection()
    conn.receive_data(b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<injected@x>\r\n")
    conn.next_event()
    conn.send(OK)
    conn.next_event()
    conn.send(Reply(220, "go", "2.0.0"))
    assert conn.next_event() is None  # CVE-2011-0411
    conn.receive_data(b"MAIL FROM:<a@b>\r\n")
    event = conn.next_event()
    assert isinstance(event, BadCommand) and event.reply.code == 503  # EHLO again first


def test_auth_exchange_lines() -> None:
    conn = SmtpConnection()
    conn.receive_data(b"EHLO c\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n")
    conn.next_event()
    conn.send(OK)
    conn.next_event()
    assert conn.send(Reply(334, "VXNlcm5hbWU6")) == b"334 VXNlcm5hbWU6\r\n"
    assert conn.next_event() == AuthResponse("dXNlcg==")
    conn.send(Reply(334, "UGFzc3dvcmQ6"))
    assert conn.next_event() == AuthResponse("cGFzcw==")
    assert conn.send(Reply(235, "ok", "2.7.0")) == b"235 2.7.0 ok\r\n"
    assert conn.authenticated


def test_eof_inside_data_is_not_a_message() -> None:
    conn, events = feed(b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\npartial\r\n",
                        False)
    conn.receive_data(b"")
    events += drain(conn)
    assert isinstance(events[-1], ConnectionClosed)
    assert not [e for e in events if isinstance(e, MessageEnd)]


@pytest.mark.parametrize(("line", "expected"), [
    ("MAIL FROM:<>", MailFrom("")),
    ("mail from: <a@b> BODY=8BITMIME", MailFrom("a@b", {"BODY": "8BITMIME"})),
    ("RCPT TO:<@relay.example:user@x.example>", RcptTo("user@x.example")),
    ('RCPT TO:<"john doe"@x>', RcptTo('"john doe"@x')),
    ("RCPT TO:<postmaster>", RcptTo("postmaster")),
    ("RCPT TO:<用户@例子.测试>", RcptTo("用户@例子.测试")),
])
def test_parse_paths(line: str, expected: object) -> None:
    assert parse_command(line) == expected


def test_reply_serialisation() -> None:
    reply = Reply(250, ("host", "PIPELINING", "SIZE 10"))
    assert reply.to_bytes() == b"250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n"
    assert Reply(550, "No\r\nsuch", "5.1.1").to_bytes() == b"550 5.1.1 No  such\r\n"


def unstuffed(rest: bytes, accept_bare_lf: bool) -> tuple[bytes, bool]:
    """RFC 5321 §4.5.2 read plainly, line by line: (the message, whether a bare LF was
    seen), up to the terminating line."""
    out, bare = [], False
    for line in re.findall(rb"[^\n]*\n", rest):
        if line == b".\r\n" or (accept_bare_lf and line == b".\n"):
            break
        if line.startswith(b"."):
            line = line[1:]
        if not line.endswith(b"\r\n"):
            bare = True
            line = line[:-1] + b"\r\n"
        out.append(line)
    return b"".join(out), bare


@pytest.mark.parametrize("bare_lf", ["accept", "reject"])
def test_data_in_any_chunking_reads_as_line_by_line(bare_lf: str) -> None:
    """Whole clean lines are taken in one piece (``_clean_lines``); whatever the chunking
    (a byte at a time too), the message is the one read plainly line by line."""
    import random

    rng = random.Random(5321)
    pieces = [b"plain line\r\n", b".stuffed\r\n", b"..two\r\n", b"bare\n", b"\r\n",
              b"x" * 300 + b"\r\n", b"cr\ronly\r\n", b"\n", b".\n", b"end.\r\n"]
    head = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
    for _ in range(60):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 60)))
        rest = body + b".\r\nQUIT\r\n"
        message, bare = unstuffed(rest, bare_lf == "accept")
        for one_byte in (True, False):
            conn = SmtpConnection(bare_lf=bare_lf)
            events: list[SmtpEvent] = []
            data, at = head + rest, 0
            while at < len(data):
                step = 1 if one_byte else rng.randint(1, 400)
                conn.receive_data(data[at:at + step])
                events += drain(conn)
                at += step
            assert message_of(events) == message, body
            ends = [e for e in events if isinstance(e, MessageEnd)]
            assert ends[0] == MessageEnd(len(message), False, bare and bare_lf == "reject"), \
                body
