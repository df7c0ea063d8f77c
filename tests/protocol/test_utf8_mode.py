"""The protocol layer in UTF-8 mode (RFC 6855 §3, §4; RFC 9051 §5.1): names parsed and
written in UTF-8, invalid UTF-8 in quoted strings BAD, ``UTF8 (~{n})`` APPEND data framed,
and the same bytes byte by byte as whole."""

from __future__ import annotations

import pytest

from crispin.protocol import (
    AppendBegin,
    AppendData,
    AppendEnd,
    CommandError,
    CommandReceived,
    DataResponse,
    Mailbox,
    ServerConnection,
    StatusResponse,
    UndecodableName,
    serialize,
)
from crispin.protocol.commands import Select


def events(data: bytes, utf8: bool, step: int = 0) -> list[object]:
    conn = ServerConnection()
    conn.utf8 = utf8
    pieces = [data[i:i + step] for i in range(0, len(data), step)] if step else [data]
    out: list[object] = []
    for piece in pieces:
        conn.receive_data(piece)
        while (ev := conn.next_event()) is not None:
            if isinstance(ev, AppendBegin):
                conn.accept_literal()
            if isinstance(ev, AppendData) and out and isinstance(out[-1], AppendData):
                out[-1] = AppendData(ev.tag, out[-1].data + ev.data)
                continue
            out.append(ev)
    return out


def test_utf8_names_parsed_only_in_utf8_mode() -> None:
    line = 'a SELECT "été"\r\n'.encode()
    assert events(line, utf8=True) == [CommandReceived("a", Select("été"))]
    legacy = events(line, utf8=False)[0]
    assert isinstance(legacy, CommandReceived) and isinstance(legacy.command, Select)
    assert isinstance(legacy.command.mailbox, UndecodableName)
    # modified UTF-7 is no longer decoded in UTF-8 mode: the name is taken as it is
    assert events(b"a SELECT &AOk-\r\n", utf8=True) == [CommandReceived("a", Select("&AOk-"))]
    assert events(b"a SELECT &AOk-\r\n", utf8=False) == [CommandReceived("a", Select("é"))]


@pytest.mark.parametrize("raw", [b'a SELECT "caf\xe9"\r\n', b'a SEARCH SUBJECT "\xc3"\r\n',
                                 b"a SELECT {4+}\r\ncaf\xe9\r\n"])
def test_invalid_utf8_is_bad(raw: bytes) -> None:
    (error,) = events(raw, utf8=True)
    assert isinstance(error, CommandError) and error.status == "BAD"


def test_utf8_append_data_framed() -> None:
    msg = "Subject: Grüße\r\n\r\nx\r\n".encode()
    data = (b"t APPEND INBOX (\\Seen) UTF8 (~{%d}\r\n" % len(msg) + msg
            + b") UTF8 (~{%d+}\r\n" % len(msg) + msg + b")\r\nu NOOP\r\n")
    for step in (0, 1, 7):
        got = events(data, utf8=True, step=step)
        kinds = [type(e).__name__ for e in got]
        assert kinds == ["AppendBegin", "AppendData", "AppendBegin", "AppendData",
                         "AppendEnd", "CommandReceived"], step
        assert isinstance(got[1], AppendData) and got[1].data == msg
        assert isinstance(got[0], AppendBegin) and got[0].binary
        assert isinstance(got[4], AppendEnd)


def test_utf8_append_needs_literal8_and_closing_paren() -> None:
    (error,) = events(b"t APPEND INBOX UTF8 ({3}\r\n", utf8=True)
    assert isinstance(error, CommandError) and error.status == "BAD"
    got = events(b"t APPEND INBOX UTF8 (~{3+}\r\nabc\r\nu NOOP\r\n", utf8=True)
    assert isinstance(got[-2], CommandError) and got[-2].status == "BAD"
    assert isinstance(got[-1], CommandReceived)


def test_mailbox_written_as_utf8_or_modified_utf7() -> None:
    response = DataResponse(("LIST", Mailbox("été/a\"b")))
    assert serialize(response) == b'* "LIST" "&AOk-t&AOk-/a\\"b"\r\n'
    assert serialize(response, utf8=True) == '* "LIST" "été/a\\"b"\r\n'.encode()
    nested = DataResponse(("X", [Mailbox("ü"), ["é"]]))
    assert serialize(nested, utf8=True) == '* "X" ("ü" ({2}\r\né))\r\n'.encode()
    code = StatusResponse("t", "OK", "done", "X", (Mailbox("ü"),))
    assert serialize(code, utf8=True) == 't OK [X "ü"] done\r\n'.encode()
