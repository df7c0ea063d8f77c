"""SORT/THREAD keys: RFC 5256 §2.1 base subject, RFC 5051 i;unicode-casemap, RFC 5957
DISPLAY values, msg-id normalisation (RFC 5256 §3), sent date (§2.2)."""

from __future__ import annotations

import calendar

import pytest

from crispin.protocol.mime.headers import Headers
from crispin.protocol.mime.sortkeys import (
    address_key,
    base_subject,
    casemap,
    display_key,
    message_ids,
    sent_seconds,
    sort_fields,
)


@pytest.mark.parametrize(
    ("subject", "base", "reply"),
    [
        ("Hello", "Hello", False),
        ("Re: Hello", "Hello", True),
        ("RE: re: Re:Hello", "Hello", True),
        ("Fwd: Hello", "Hello", True),
        ("fw: Hello", "Hello", True),
        ("FW : Hello", "Hello", True),  # *WSP before ":"
        ("Re[2]: Hello", "Hello", True),  # subj-refwd with a subj-blob
        ("Re [2] : Hello", "Hello", True),
        ("[list] Hello", "Hello", False),  # (4) blob removed: a base remains
        ("[list] Re: Hello", "Hello", True),  # *subj-blob subj-refwd is one leader
        ("Re: Fwd: [list] Budget", "Budget", True),
        ("[a][b] [c] Hello", "Hello", False),
        ("[list]", "[list]", False),  # (4) not removed: nothing would remain
        ("Re: [list]", "[list]", True),
        ("[a] [b]", "[b]", False),  # the last blob is the base
        ("Hello (fwd)", "Hello", True),  # (2) trailer
        ("Hello(FWD) (fwd)  ", "Hello", True),
        ("[Fwd: Hello]", "Hello", True),  # (6)
        ("[fwd: Re: [x] Hello (fwd)]", "Hello", True),
        ("[Fwd: Hello] tail", "tail", False),  # a blob followed by a base, not (6)
        ("Re:   lots\tof \t space  ", "lots of space", True),  # (1) spaces collapsed
        ("Reply to all", "Reply to all", False),
        ("Ré: Hello", "Ré: Hello", False),  # not a subj-refwd
        ("Fwd:", "", True),
        ("", "", False),
        ("   ", "", False),
        ("Re: Re:", "", True),
        ("[]Hello", "Hello", False),
        ("Re: [fwd: x]", "x", True),
        ("[x Re: y", "[x Re: y", False),  # unclosed "[" is no blob
    ],
)
def test_base_subject(subject: str, base: str, reply: bool) -> None:
    assert base_subject(subject) == (base, reply)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("abc", "ABC"),
        ("Ünïcödé", "U\u0308NI\u0308CO\u0308DE\u0301"),
        ("\u01c4", "Dz\u030c"),  # RFC 5051 §2 example
        ("\u01c6", "Dz\u030c"),  # dž: titlecase U+01C5, then decomposed
        ("ß", "ß"),  # no simple titlecase; no decomposition
        ("\ufb01", "fi"),  # no titlecase; compatibility decomposition
        ("é", "E\u0301"),
        ("ﬀ", "ff"),
        ("한", "한"),  # Hangul syllables have no decomposition property
    ],
)
def test_casemap(text: str, want: str) -> None:
    assert casemap(text) == want


def test_casemap_orders_like_utf8_octets() -> None:
    words = ["zebra", "Apple", "éclair", "Eclair", "\U0001f600", "\uffe0"]
    keys = [casemap(w) for w in words]
    assert sorted(keys) == sorted(keys, key=lambda k: k.encode("utf-8"))
    assert casemap("éclair") == casemap("ÉCLAIR")


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (b'<"01KF8JCEOCBS0045PS"@xxx.yyy.com>', ["01KF8JCEOCBS0045PS@xxx.yyy.com"]),
        (b"<01KF8JCEOCBS0045PS@xxx.yyy.com>", ["01KF8JCEOCBS0045PS@xxx.yyy.com"]),
        (b"<a@b> <c@d>\r\n <e@f>", ["a@b", "c@d", "e@f"]),
        (b"<a@b> (comment <x@y>) <no-at> <>", ["a@b", "x@y"]),
        (b"<Case@Kept>", ["Case@Kept"]),
        (b"< a @ b >", ["a@b"]),
        (b"nothing", []),
    ],
)
def test_message_ids(value: bytes, want: list[str]) -> None:
    assert message_ids(value) == want


@pytest.mark.parametrize(
    ("value", "addr", "display"),
    [
        (b"Alice <Alice@Example.org>", "ALICE", "ALICE"),
        (b"<bob@example.org>", "BOB", "BOB@EXAMPLE.ORG"),
        (b"bob@example.org (Bobby)", "BOB", "BOBBY"),
        (b"=?UTF-8?Q?=C3=89ric?= <eric@x>", "ERIC", "E\u0301RIC"),
        (b'"" <z@x>', "Z", "Z@X"),  # empty display name: mailbox@host
        # The first IMAP address is the group marker (NIL NIL "undisclosed-recipients" NIL):
        # its addr-mailbox is the group name (RFC 3501 §7.4.2).
        (b"undisclosed-recipients:;", "UNDISCLOSED-RECIPIENTS", "UNDISCLOSED-RECIPIENTS"),
        (b"a@b, c@d", "A", "A@B"),
        (None, "", ""),
    ],
)
def test_address_keys(value: bytes | None, addr: str, display: str) -> None:
    assert address_key(value) == addr
    assert display_key(value) == display


def test_sent_date() -> None:
    # RFC 5256 §2.2: "31 Dec 2000 16:01:33 -0800" is 1 Jan 2001 00:01:33 UTC.
    assert sent_seconds(b"Sun, 31 Dec 2000 16:01:33 -0800") == calendar.timegm(
        (2001, 1, 1, 0, 1, 33, 0, 0, 0))
    assert sent_seconds(b"31 Dec 2000 16:01:33 XYZ") == calendar.timegm(
        (2000, 12, 31, 16, 1, 33, 0, 0, 0))  # invalid zone: UTC
    assert sent_seconds(b"not a date") is None
    assert sent_seconds(None) is None


def test_sort_fields() -> None:
    f = sort_fields(Headers(
        b"Subject: =?UTF-8?Q?Re=3A_=C3=A9clair?= (fwd)\r\n"
        b"From: Zed <zed@x>\r\nTo: amy@x\r\nCc: =?UTF-8?Q?=C3=81?= <b@y>\r\n"
        b"Message-ID: <m1@x> <m2@x>\r\nIn-Reply-To: <p@x>\r\n\r\n"))
    assert f.subject == "E\u0301CLAIR" and f.reply
    assert (f.from_, f.to, f.cc) == ("ZED", "AMY", "B")
    assert (f.display_from, f.display_to) == ("ZED", "AMY@X")
    assert f.message_id == "m1@x"
    assert f.references == ("p@x",)  # no References: the first In-Reply-To id
    assert f.date is None
    g = sort_fields(Headers(b"References: <a@x> junk <b@x>\r\nIn-Reply-To: <c@x>\r\n\r\n"))
    assert g.references == ("a@x", "b@x") and g.subject == "" and g.message_id is None
