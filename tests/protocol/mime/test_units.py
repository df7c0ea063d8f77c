"""Unit cases for the pieces: IMAP strings, addresses, MIME parameters, headers, dates."""

from __future__ import annotations

import datetime

import pytest

from crispin.protocol.mime import parse_date_sent
from crispin.protocol.mime.addresses import MAX_ADDRESSES, address_list, parse_addresses
from crispin.protocol.mime.headers import header_bounds, split_fields
from crispin.protocol.mime.imapstr import nstring, string
from crispin.protocol.mime.params import parse_content_type, parse_disposition, parse_language
from crispin.protocol.mime.searchtext import address_text


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (b"plain", b'"plain"'),
        (b'a "b" \\c', b'"a \\"b\\" \\\\c"'),
        (b"", b'""'),
        (b"caf\xc3\xa9", b"{5}\r\ncaf\xc3\xa9"),
        (b"a\r\nb", b"{4}\r\na\r\nb"),
        (b"a\0b", b"{3}\r\na\x80b"),  # NUL cannot be in a literal: 0x80 like Dovecot
    ],
)
def test_string(value: bytes, want: bytes) -> None:
    assert string(value) == want


def test_nstring_nil() -> None:
    assert nstring(None) == b"NIL"


@pytest.mark.parametrize(
    ("header", "want"),
    [
        (b"", b"NIL"),
        (b" , ,", b"NIL"),
        (b"a@b", b"((NIL NIL \"a\" \"b\"))"),
        (b"<a@b>", b"((NIL NIL \"a\" \"b\"))"),
        (b"John Doe <jdoe@machine.example>", b'(("John Doe" NIL "jdoe" "machine.example"))'),
        (b'"Doe, John" <j@x>, k@y', b'(("Doe, John" NIL "j" "x")(NIL NIL "k" "y"))'),
        (b"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
         b'(("Pete" NIL "pete" "silly.test"))'),
        (b"j@x (John Doe)", b'(("John Doe" NIL "j" "x"))'),
        (b'"john doe"@x', b'((NIL NIL "\\"john doe\\"" "x"))'),
        (b"a . b @ c . d", b'((NIL NIL "a.b" "c.d"))'),
        (b"jdoe@[192.0.2.1]", b'((NIL NIL "jdoe" "[192.0.2.1]"))'),
        # RFC 3501 §7.4.2: the source route goes in the adl field
        (b"<@route1,@route2:user@host>", b'((NIL "@route1,@route2" "user" "host"))'),
        (b"<@route:user@domain>", b'((NIL "@route" "user" "domain"))'),
        (b"Joe <@a.example, (c) @b.example :joe@c.example>",
         b'(("Joe" "@a.example,@b.example" "joe" "c.example"))'),
        (b"undisclosed-recipients", b'((NIL NIL "undisclosed-recipients" "MISSING_DOMAIN"))'),
        (b"@host", b'((NIL NIL "MISSING_MAILBOX" "host"))'),
        (b"G:;", b'((NIL NIL "G" NIL)(NIL NIL NIL NIL))'),
        (b"G: a@b", b'((NIL NIL "G" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL))'),  # unclosed
        (b"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
         b'((NIL NIL "A Group" NIL)("Ed Jones" NIL "c" "a.test")(NIL NIL "joe" "where.test")'
         b'("John" NIL "jdoe" "one.test")(NIL NIL NIL NIL))'),
        (b"J\xc3\xbcrgen <j@x>", b'(({7}\r\nJ\xc3\xbcrgen NIL "j" "x"))'),
        (b"=?utf-8?q?J=C3=BCrgen?= <j@x>", b'(("=?utf-8?q?J=C3=BCrgen?=" NIL "j" "x"))'),
        (b'"unterminated <a@b>', b'((NIL NIL "\\"unterminated <a@b>" "MISSING_DOMAIN"))'),
    ],
)
def test_address_list(header: bytes, want: bytes) -> None:
    assert address_list(header) == want


def test_remembered_addresses_are_the_same_and_not_shared() -> None:
    """Short fields are parsed once and remembered (one message reads From several
    times); each caller still gets its own list, and the bound still applies."""
    first = parse_addresses(b"A <a@x>, b@y")
    first.clear()
    assert [a.mailbox for a in parse_addresses(b"A <a@x>, b@y")] == [b"a", b"b"]
    assert len(parse_addresses(b"a@x, b@y, c@z", 2)) == 2
    assert len(parse_addresses(b"a@x, b@y, c@z")) == 3
    long = b", ".join(b"u%d@x" % i for i in range(MAX_ADDRESSES + 5))
    assert len(parse_addresses(long)) == MAX_ADDRESSES


def test_content_type_basic() -> None:
    assert parse_content_type(b"text/plain") == (b"text", b"plain", [])
    assert parse_content_type(b' Text / HTML ; Charset = "UTF-8" (comment)') == (
        b"Text", b"HTML", [(b"Charset", b"UTF-8")])
    assert parse_content_type(b"text") is None
    assert parse_content_type(b"/plain") is None
    assert parse_content_type(b"") is None


def test_content_type_lenient_values() -> None:
    _, _, params = parse_content_type(b"application/x; name=my file.txt; a=1") or (0, 0, [])
    assert params == [(b"name", b"my file.txt"), (b"a", b"1")]
    _, _, params = parse_content_type(b'text/plain; junk; charset="a\\"b"') or (0, 0, [])
    assert params == [(b"charset", b'a"b')]


def test_rfc2231() -> None:
    ct = parse_content_type(b"message/external-body; access-type=URL;"
                            b' URL*0="ftp://";  URL*1="cs.utk.edu/pub/moore/'
                            b'bulk-mailer/bulk-mailer.tar"')
    assert ct is not None
    assert ct[2] == [(b"access-type", b"URL"),
                     (b"URL", b"ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")]
    # encoded values stay encoded, as one "name*" parameter (Dovecot)
    ct = parse_content_type(b"application/x-stuff;"
                            b" title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A")
    assert ct is not None
    assert ct[2] == [(b"title*", b"us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A")]
    ct = parse_content_type(b"application/x-stuff; title*1*=%2A%2A%2Afun%2A%2A%2A%20;"
                            b" title*0*=us-ascii'en'This%20is%20even%20more%20;"
                            b' title*2="isn\'t it!"')
    assert ct is not None
    assert ct[2] == [(b"title*", b"us-ascii'en'This%20is%20even%20more%20"
                                 b"%2A%2A%2Afun%2A%2A%2A%20isn%27t%20it!")]


def test_disposition_and_language() -> None:
    assert parse_disposition(b"inline") == (b"inline", [])
    assert parse_disposition(b'attachment; filename="a b.txt"') == (
        b"attachment", [(b"filename", b"a b.txt")])
    assert parse_disposition(b";x=y") is None
    assert parse_language(b"en, fr (French)") == [b"en", b"fr"]
    assert parse_language(b"") == []


def test_header_bounds() -> None:
    assert header_bounds(b"A: b\r\n\r\nbody", 0, 13) == (6, 8)
    assert header_bounds(b"A: b\n\nbody", 0, 10) == (5, 6)
    assert header_bounds(b"\r\nbody", 0, 6) == (0, 2)
    assert header_bounds(b"A: b\r\n", 0, 6) == (6, 6)
    assert header_bounds(b"A: b\n\r\nX\n\nY", 0, 11) == (5, 7)


def test_split_fields_folding_and_orphans() -> None:
    fields = split_fields(b" orphan\r\nA: 1\r\n  2\r\nno colon\r\nB :3\r\n\r\nC: body")
    assert [(f.name, f.value()) for f in fields] == [
        (b"", b""), (b"A", b"1  2"), (b"no colon", b""), (b"B", b"3")]


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (b"Mon, 7 Feb 1994 21:52:25 -0800 (PST)", datetime.date(1994, 2, 7)),
        (b"7 Feb 94 21:52 EST", datetime.date(1994, 2, 7)),
        (b"Sat, 31 Dec 2022 23:30:00 -1200", datetime.date(2022, 12, 31)),
        (b"garbage", None),
        (b"31 Feb 2022 10:00 +0000", None),
        (b"", None),
    ],
)
def test_date_sent(value: bytes, want: datetime.date | None) -> None:
    assert parse_date_sent(value) == want


@pytest.mark.parametrize(("value", "lines"), [
    # what SEARCH FROM/TO/CC/BCC match: the decoded header, then each address as ENVELOPE
    # shows it (name, mailbox@host), so comments and white space in it do not hide it
    (b"<user-from (comment)@ (comment) domain.org>",
     ["<user-from (comment)@ (comment) domain.org>", "user-from@domain.org"]),
    (b"=?utf-8?q?=C3=89loise?= <e (x) @ x.fr>, G: a@b;",
     ["Éloise <e (x) @ x.fr>, G: a@b;", "Éloise", "e@x.fr", "G", "a@b"]),
    (b"a@b", ["a@b"]),
])
def test_address_text(value: bytes, lines: list[str]) -> None:
    assert address_text(value).split("\n") == lines
