"""Response serialisation (RFC 3501 §7, §9)."""

from __future__ import annotations

import pytest

from crispin.protocol import (
    Atom,
    BodySection,
    ContinuationResponse,
    DataResponse,
    Literal,
    Literal8,
    Mailbox,
    Raw,
    ServerConnection,
    StatusResponse,
    serialize,
    serialize_value,
)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (StatusResponse("a1", "OK", "SELECT completed", "READ-WRITE"),
         b"a1 OK [READ-WRITE] SELECT completed\r\n"),
        (StatusResponse(None, "OK", "UIDs valid", "UIDVALIDITY", (42,)),
         b"* OK [UIDVALIDITY 42] UIDs valid\r\n"),
        (StatusResponse(None, "OK", "Limited", "PERMANENTFLAGS", ([Atom("\\Seen"), Atom("\\*")],)),
         b"* OK [PERMANENTFLAGS (\\Seen \\*)] Limited\r\n"),
        (StatusResponse(None, "OK", "ready", "CAPABILITY", (Atom("IMAP4rev1"), Atom("STARTTLS"))),
         b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
        (StatusResponse(None, "BYE", "bye\r\nx FAKE injected"), b"* BYE bye  x FAKE injected\r\n"),
        (StatusResponse("a2", "NO", "No such mailbox", "TRYCREATE"),
         b"a2 NO [TRYCREATE] No such mailbox\r\n"),
        (DataResponse((3, Atom("EXISTS"))), b"* 3 EXISTS\r\n"),
        (DataResponse((Atom("LIST"), [Atom("\\HasNoChildren")], "/", Mailbox("Sent"))),
         b'* LIST (\\HasNoChildren) "/" "Sent"\r\n'),
        (DataResponse((Atom("LIST"), [], None, Mailbox("Entwürfe & Co"))),
         b'* LIST () NIL "Entw&APw-rfe &- Co"\r\n'),
        (DataResponse((Atom("FLAGS"), (Atom("\\Answered"), Atom("$Junk")))),
         b"* FLAGS (\\Answered $Junk)\r\n"),
        (DataResponse((1, Atom("FETCH"), [Atom("UID"), 7, Atom("BODY[]"), Literal(b"hi\r\n")])),
         b"* 1 FETCH (UID 7 BODY[] {4}\r\nhi\r\n)\r\n"),
        (DataResponse((1, Atom("FETCH"), [Atom("BINARY[1]"), Literal8(b"\x00")])),
         b"* 1 FETCH (BINARY[1] ~{1}\r\n\x00)\r\n"),
        (DataResponse((1, Atom("FETCH"), [Atom("ENVELOPE"), Raw(b'("x" NIL)')])),
         b'* 1 FETCH (ENVELOPE ("x" NIL))\r\n'),
        (ContinuationResponse("Ready"), b"+ Ready\r\n"),
        (ContinuationResponse(""), b"+ \r\n"),
    ],
)
def test_responses(response: object, expected: bytes) -> None:
    assert serialize(response) == expected  # type: ignore[arg-type]
    assert ServerConnection().send(response) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, b"NIL"),
        (0, b"0"),
        (4294967295, b"4294967295"),
        ("", b'""'),
        ('a "quoted" \\ back', b'"a \\"quoted\\" \\\\ back"'),
        ("line\r\nbreak", b"{11}\r\nline\r\nbreak"),
        ("nul\x00", b"{4}\r\nnul\x00"),
        ("café", b"{5}\r\ncaf\xc3\xa9"),
        (b"plain", b'"plain"'),
        (b"\xff", b"{1}\r\n\xff"),
        (b"x" * 2000, b"{2000}\r\n" + b"x" * 2000),
        (Atom("BODY[HEADER]<0>"), b"BODY[HEADER]<0>"),
        (Atom("\\Seen"), b"\\Seen"),
        (Mailbox("INBOX"), b'"INBOX"'),
        ([1, [2, "x"], ()], b'(1 (2 "x") ())'),
    ],
)
def test_values(value: object, expected: bytes) -> None:
    assert serialize_value(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    ["", "two words", "a(b", 'q"', "pct%", "star*", "x\r\n", "ü", "a{1}", "\\", "a\\b", "\\\\x"],
)
def test_atom_refuses_bad_chars(bad: str) -> None:
    with pytest.raises(ValueError):
        serialize_value(Atom(bad))


def test_unserialisable() -> None:
    with pytest.raises(TypeError):
        serialize_value(1.5)  # type: ignore[arg-type]


def test_body_section_response_names() -> None:
    assert BodySection(True, (1, 2), "HEADER.FIELDS", ("FROM", "TO"), (0, 100),
                       fields_echo=("From", "To")).response_name() == (
        b"BODY[1.2.HEADER.FIELDS (From To)]<0>"
    )
    assert BodySection(False, (), None).response_name() == b"BODY[]"
    assert BodySection(True, (3,), "MIME").response_name() == b"BODY[3.MIME]"
    assert BodySection(True, (1,), None, binary=True, partial=(5, 6)).response_name() == (
        b"BINARY[1]<5>"
    )
    assert BodySection(False, (), "HEADER.FIELDS", ("X Y",)).response_name() == (
        b'BODY[HEADER.FIELDS ("X Y")]'
    )
