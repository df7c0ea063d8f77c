"""Round trips: parse → write → parse for every command in the case files, and
serialize_value → parse for strings (RFC 3501 §4.3 string forms)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crispin.protocol import CommandReceived, Limits, Literal, Mailbox, serialize_value
from crispin.protocol.reader import Reader

from .cases import load
from .harness import bytewise, feed, whole
from .imap_writer import to_imap

RECEIVED = [
    (case.name, ev)
    for name in ("commands.txt", "framing.txt")
    for case in load(name)
    for ev in feed(whole(case.data), case.limits, case.decisions, ()).events
    if isinstance(ev, CommandReceived)
]


@pytest.mark.parametrize(("name", "event"), RECEIVED, ids=[n for n, _ in RECEIVED])
def test_command_roundtrip(name: str, event: CommandReceived) -> None:
    line = to_imap(event.tag, event.command)
    again = [e for e in feed(whole(line), raw_after=()).events if isinstance(e, CommandReceived)]
    assert again == [event], line
    bytewise_again = feed(bytewise(line), raw_after=()).events
    assert [e for e in bytewise_again if isinstance(e, CommandReceived)] == [event]


def _reparse_astring(data: bytes) -> bytes:
    r = Reader(data, Limits())
    value = r.astring()
    r.end()
    return value


def _reparse_nstring(data: bytes) -> bytes | None:
    r = Reader(data, Limits())
    value = r.nstring()
    r.end()
    return value


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_str_value_roundtrip(text: str) -> None:
    data = serialize_value(text)
    assert _reparse_astring(data).decode("utf-8", "surrogateescape") == text
    assert _reparse_nstring(data) == text.encode("utf-8", "surrogateescape")


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_bytes_value_roundtrip(data: bytes) -> None:
    assert _reparse_astring(serialize_value(data)) == data
    assert _reparse_nstring(serialize_value(Literal(data))) == data


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_mailbox_value_roundtrip(name: str) -> None:
    r = Reader(serialize_value(Mailbox(name)), Limits())
    got = r.mailbox()
    r.end()
    assert got == ("INBOX" if name.upper() == "INBOX" else name)


def test_none_is_nil() -> None:
    assert _reparse_nstring(serialize_value(None)) is None
