"""IMAP URLs (RFC 5092), with the examples of RFC 5092 §9, RFC 4469 Appendix A and RFC 4467."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crispin.protocol import BodySection
from crispin.protocol.imapurl import (
    ImapUrl,
    UrlError,
    parse_url,
    percent_decode,
    percent_encode,
    remove_dot_segments,
)


def _join(*lines: str) -> str:
    """The RFCs fold long URLs over lines; the URL itself has no white space."""
    return "".join(line.strip() for line in lines)


def test_rfc5092_partial_example() -> None:
    # RFC 5092 §9: "UID FETCH 20 BODY.PEEK[]<0.1024>" after checking UIDVALIDITY.
    url = parse_url(_join("imap://minbari.example.org/gray-council;UIDVALIDITY=385759045/;",
                          "UID=20/;PARTIAL=0.1024"))
    assert url.absolute and url.host == "minbari.example.org" and url.user is None
    assert url.mailbox == "gray-council" and url.uidvalidity == 385759045
    assert url.uid == 20 and url.section is None and url.partial == (0, 1024)
    assert url.body_section() == BodySection(True, (), None, (), (0, 1024))


def test_rfc5092_utf8_mailbox_example() -> None:
    # RFC 5092 §9: the mailbox is UTF-8, percent-encoded; IMAP sees "~peter/&ZeVnLIqe-/&U,BTFw-".
    url = parse_url(_join("imap://psicorp.example.org/~peter/%E6%97%A5%E6%9C%AC%E8%AA%9E/",
                          "%E5%8F%B0%E5%8C%97"))
    assert url.mailbox == "~peter/日本語/台北"
    assert not url.is_message


def test_rfc5092_auth_section_example() -> None:
    url = parse_url(_join("imap://;AUTH=GSSAPI@minbari.example.org/gray-council/;uid=20/",
                          ";section=1.2"))
    assert url.auth_type == "GSSAPI" and url.user is None
    assert url.mailbox == "gray-council" and url.uid == 20 and url.section == "1.2"
    assert url.body_section() == BodySection(True, (1, 2), None)


IVANOVA = "\u0418\u0432\u0430\u043d\u043e\u0432\u0430"  # 14 octets of UTF-8


def test_rfc5092_search_examples() -> None:
    url = parse_url("imap://;AUTH=*@minbari.example.org/gray%20council?SUBJECT%20shadows")
    assert url.auth_type == "*" and url.mailbox == "gray council"
    assert url.search == "SUBJECT shadows" and not url.is_message
    url = parse_url(_join("imap://john;AUTH=*@minbari.example.org/babylon5/personel?",
                          "charset%20UTF-8%20SUBJECT%20%7B14+%7D%0D%0A%D0%98%D0%B2%",
                          "D0%B0%D0%BD%D0%BE%D0%B2%D0%B0"))
    assert url.user == "john" and url.mailbox == "babylon5/personel"
    assert url.search == "charset UTF-8 SUBJECT {14+}\r\n" + IVANOVA


def test_rfc5092_relative_examples() -> None:
    # §9.1: "</foo/;UID=20/..> is the same as </foo>".
    assert remove_dot_segments("/foo/;UID=20/..") == "/foo/"
    same = parse_url("/foo/;UID=20/..")
    assert same.mailbox == parse_url("/foo").mailbox == "foo"
    assert same.uid is None
    # ".." followed by ";UIDVALIDITY" is a mailbox name, not a dot-segment.
    edge = parse_url("/..;UIDVALIDITY=385759045/;UID=20")
    assert edge.mailbox == ".." and edge.uidvalidity == 385759045 and edge.uid == 20
    # §7.2: relative-path references ("<;UID=20>", "<;section=1.4>") are refused.
    for relative in (";UID=20", ";section=1.4", "..;UIDVALIDITY=385759045/;UID=20"):
        with pytest.raises(UrlError, match=r"7\.2"):
            parse_url(relative)


@pytest.mark.parametrize("text,section,parsed", [
    # RFC 4469 Appendix A, examples 1 to 4 (keywords in any case).
    ("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER", "HEADER",
     BodySection(True, (), "HEADER")),
    ("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME", "1.MIME",
     BodySection(True, (1,), "MIME")),
    ("/Drafts;UIDVALIDITY=385759045/;UID=20/;Section=2.MIME", "2.MIME",
     BodySection(True, (2,), "MIME")),
    ("/Drafts;UIDVALIDITY=385759045/;UID=30", None, BodySection(True, (), None)),
    ("/INBOX;UIDVALIDITY=785799047/;UID=113330/;section=1.5.9", "1.5.9",
     BodySection(True, (1, 5, 9), None)),
])
def test_rfc4469_catenate_urls(text: str, section: str | None, parsed: BodySection) -> None:
    url = parse_url(text)
    assert not url.absolute and url.host is None
    assert url.mailbox in ("Drafts", "INBOX") and url.uidvalidity is not None
    assert url.section == section
    assert url.body_section() == parsed


def test_header_fields_section_is_percent_encoded() -> None:
    url = parse_url("/INBOX/;UID=3/;SECTION=HEADER.FIELDS%20(Subject%20From)/;PARTIAL=5")
    assert url.section == "HEADER.FIELDS (Subject From)"
    assert url.partial == (5, None)
    body = url.body_section()
    assert body.text == "HEADER.FIELDS" and body.fields == ("SUBJECT", "FROM")
    assert body.partial is not None and body.partial[0] == 5


def test_rfc4467_urlauth_examples() -> None:
    rump = "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred"
    url = parse_url(rump)
    assert url.user == "joe" and url.host == "example.com" and url.mailbox == "INBOX"
    assert url.uid == 20 and url.section == "1.2"
    assert url.access == "submit+fred" and url.user_access == "fred"
    assert url.mechanism is None and url.token is None and url.rump == rump
    full = rump + ":internal:91354a473744909de610943775f92038"
    url = parse_url(full)
    assert url.mechanism == "INTERNAL" and url.token == "91354a473744909de610943775f92038"
    assert url.rump == rump  # verbatim: no case-folding (RFC 4467 §6)
    # The one without an access identifier parses; GENURLAUTH refuses it (no access).
    assert parse_url("imap://joe@example.com/INBOX/;uid=20/;section=1.2").access is None
    # RFC 4467 §9: the owner is missing here; the parser reports it, the command refuses.
    assert parse_url(_join("imap://example.com/Shared/;uid=20/",
                           ";section=1.2;urlauth=submit+fred")).user is None


def test_expire_and_access_identifiers() -> None:
    base = "imap://joe@example.com/INBOX;UIDVALIDITY=7/;UID=20"
    url = parse_url(base + ";EXPIRE=2026-12-04T09:00:00Z;URLAUTH=anonymous")
    assert url.expire == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert url.access == "anonymous" and url.user_access is None
    url = parse_url(base + ";expire=2026-12-04T10:00:00.5+01:00;urlauth=AUTHUSER")
    assert url.expire == datetime(2026, 12, 4, 10, 0, 0, 500000,
                                  tzinfo=timezone(timedelta(hours=1)))
    assert url.access == "authuser"
    assert parse_url(base + ";URLAUTH=user+j%C3%B6rg").user_access == "jörg"


@pytest.mark.parametrize("bad", [
    "",
    "http://example.com/INBOX",
    "imap://",  # no host
    "imap://@example.com/INBOX",
    "imap://joe;AUTH=@example.com/",
    "imap://example.com:12x/INBOX",
    "imap://example.com/INBOX;UID=20",  # ";UID=" must follow "/"
    "imap://example.com/INBOX/;UIDVALIDITY=5",  # ... and ";UIDVALIDITY=" must not
    "imap://example.com/INBOX/;UID=0",
    "imap://example.com/INBOX/;UID=020",
    "imap://example.com/INBOX/;UID=4294967296",
    "imap://example.com/INBOX/;UID=20/;SECTION=1..2",
    "imap://example.com/INBOX/;UID=20/;SECTION=BODY",
    "imap://example.com/INBOX/;UID=20/;PARTIAL=1.0",
    "imap://example.com/INBOX/;UID=20/;PARTIAL=x",
    "imap://example.com/INBOX/;SECTION=1/;UID=20",  # order
    "imap://example.com/INBOX/;UID=20/;UID=21",
    "imap://example.com/INBOX/;UID=20/;FOO=1",
    "imap://example.com/INBOX/;UID=20;URLAUTH=someone",
    "imap://example.com/INBOX/;UID=20;URLAUTH=user+",
    "imap://example.com/INBOX/;UID=20;URLAUTH=anonymous:internal:1234",  # token < 128 bits
    "imap://example.com/INBOX/;UID=20;URLAUTH=anonymous:internal",
    "imap://example.com/INBOX/;UID=20;URLAUTH=anonymous:in ternal:" + "0" * 32,
    "imap://example.com/INBOX/;UID=20;EXPIRE=2026-13-01T00:00:00Z;URLAUTH=anonymous",
    "imap://example.com/INBOX/;UID=20;EXPIRE=tomorrow;URLAUTH=anonymous",
    "imap://example.com/INBOX;URLAUTH=anonymous",  # §3: only a message or part
    "imap://example.com/INBOX?ALL/;UID=3",
    "imap://example.com/IN%ZZBOX",
    "imap://example.com/IN%FFBOX",  # not UTF-8
    "imap://example.com/IN BOX",
    "/INBOX/;UID=20/;SECTION=1;URLAUTH=anonymous:internal:" + "0" * 32 + ";UID=3",
    "//",
    "///INBOX",
])
def test_invalid_urls(bad: str) -> None:
    with pytest.raises(UrlError):
        parse_url(bad)


def test_percent_encoding_round_trip() -> None:
    name = "Sent Items/Ärger;50%"
    encoded = percent_encode(name)
    assert encoded == "Sent%20Items/%C3%84rger%3B50%25"
    assert parse_url("/" + encoded + "/;UID=1").mailbox == name
    assert percent_decode(encoded, frozenset(encoded), "test") == name


def test_server_forms() -> None:
    url = parse_url("imap://fred%40example.org@[::1]:1143/")
    assert url.user == "fred@example.org" and url.host == "[::1]" and url.port == 1143
    assert url.mailbox is None
    assert parse_url("//host/INBOX/;UID=4") == ImapUrl(
        "//host/INBOX/;UID=4", False, host="host", mailbox="INBOX", uid=4)
