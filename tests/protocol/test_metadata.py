"""GETMETADATA / SETMETADATA grammar (RFC 5464 §5) and entry names (§3.2)."""

from __future__ import annotations

import pytest

from crispin.protocol import GetMetadata, Limits, MetadataDepth, SetMetadata
from crispin.protocol.parser import parse_command
from crispin.protocol.reader import ParseError


def parse(line: bytes) -> object:
    return parse_command(line, Limits())[1]


@pytest.mark.parametrize(("line", "expected"), [
    (b'a GETMETADATA "" /shared/comment', GetMetadata("", ("/shared/comment",))),
    (b"a GETMETADATA inbox (/Shared/Comment /private/comment)",
     GetMetadata("INBOX", ("/shared/comment", "/private/comment"))),
    # Options after the mailbox (the RFC's examples) or before it (its grammar).
    (b'a GETMETADATA "INBOX" (MAXSIZE 1024) (/shared/comment /private/comment)',
     GetMetadata("INBOX", ("/shared/comment", "/private/comment"), 1024)),
    (b"a GETMETADATA (depth INFINITY maxsize 5) INBOX /private/filters",
     GetMetadata("INBOX", ("/private/filters",), 5, MetadataDepth.INFINITY)),
    (b"a GETMETADATA INBOX (DEPTH 1) (/private/filters/values)",
     GetMetadata("INBOX", ("/private/filters/values",), None, MetadataDepth.ONE)),
    (b'a GETMETADATA INBOX ("/private/comment")', GetMetadata("INBOX", ("/private/comment",))),
    # §4.3's example: its {33} counts "My new comment across" CRLF "two lines.".
    (b"a SETMETADATA INBOX (/private/comment {33}\r\nMy new comment across\r\ntwo lines.)",
     SetMetadata("INBOX", (("/private/comment", b"My new comment across\r\ntwo lines."),))),
    (b'a SETMETADATA INBOX (/private/comment NIL /shared/comment "x")',
     SetMetadata("INBOX", (("/private/comment", None), ("/shared/comment", b"x")))),
    (b"a SETMETADATA INBOX (/private/blob ~{3}\r\na\x00b)",
     SetMetadata("INBOX", (("/private/blob", b"a\x00b"),))),
    (b"a SETMETADATA INBOX (/shared/vendor/acme/x NIL)",
     SetMetadata("INBOX", (("/shared/vendor/acme/x", None),))),
])
def test_parsed(line: bytes, expected: object) -> None:
    assert parse(line) == expected


@pytest.mark.parametrize("line", [
    b"a GETMETADATA INBOX /private", b"a GETMETADATA INBOX /other/x",
    b"a GETMETADATA INBOX private/x", b"a GETMETADATA INBOX /private//x",
    b"a GETMETADATA INBOX /private/x/", b"a GETMETADATA INBOX /private/x*",
    b"a GETMETADATA INBOX /private/%", b'a GETMETADATA INBOX "/private/\xc3\xa9"',
    b"a GETMETADATA INBOX /shared/vendor/acme", b"a GETMETADATA INBOX ()",
    b"a GETMETADATA (DEPTH 2) INBOX /private/x", b"a GETMETADATA (MAXSIZE) INBOX /private/x",
    b"a GETMETADATA (DEPTH 1 DEPTH 0) INBOX /private/x", b"a GETMETADATA (X 1) INBOX /private/x",
    b"a GETMETADATA INBOX", b"a SETMETADATA INBOX ()", b"a SETMETADATA INBOX (/private/x)",
    b'a SETMETADATA INBOX /private/x "v"', b'a SETMETADATA INBOX (/private/x "1" /Private/X NIL)',
])
def test_bad(line: bytes) -> None:
    with pytest.raises(ParseError):
        parse(line)
