"""SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8) over real sockets: every search key,
sequence sets, nesting, decoded headers and bodies, CHARSET, and ghosts (RFC 2180 §4.1)."""

from __future__ import annotations

import base64
import imaplib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from crispin.protocol import SequenceSet
from crispin.protocol.mime import parse_message
from crispin.server.search import (
    msn_criterion,
    search_columns,
    to_numbers,
    uid_criterion,
    uids_criterion,
)
from crispin.server.view import View
from crispin.storage import MailboxInfo
from crispin.storage.messages import PARSED_COLUMNS
from crispin.storage.search import UidIn
from tests.server.harness import PASSWORD, RawClient, ServerThread

# 1: plain, \Seen
M1 = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Cc: Carol <carol@example.org>\r\n"
    b"Subject: Meeting notes\r\n"
    b"Date: Mon, 1 Jan 2024 09:00:00 +0000\r\n"
    b"Message-ID: <m1@example.org>\r\n"
    b"\r\n"
    b"Agenda for the quarterly review.\r\n"
)
# 2: RFC 2047 subject and From, base64 UTF-8 body, \Answered \Flagged $Work
M2 = (
    b"From: =?ISO-8859-1?Q?J=F6rg?= <joerg@example.de>\r\n"
    b"To: erin@example.org\r\n"
    b"Bcc: dave@example.org\r\n"
    b"Subject: =?UTF-8?B?" + base64.b64encode("Grüße aus München".encode()) + b"?=\r\n"
    b"Date: Fri, 16 Feb 2024 01:00:00 +0900\r\n"
    b"Message-ID: <m2@example.de>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + base64.encodebytes("Das Frühstück ist fertig.\n".encode()).replace(b"\n", b"\r\n")
)
# 3: quoted-printable latin-1 body, no Date, large, \Deleted \Draft, X-Priority
M3 = (
    b"From: chef@example.fr\r\n"
    b"To: frank@example.org\r\n"
    b"Subject: dessert\r\n"
    b"X-Priority: 1\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Caf=E9 cr=E8me br=FBl=E9e\r\n"
    + b"padding line =\r\n" * 150
    + b"end\r\n"
)
# 4: multipart, keyword Urgent, no flags
M4 = (
    b"From: grace@example.org\r\n"
    b"To: heidi@example.org\r\n"
    b"Subject: Quarterly report\r\n"
    b"Date: Sat, 2 Mar 2024 08:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"See the attached figures.\r\n"
    b"--b1\r\n"
    b"Content-Type: text/csv; name=figures.csv\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + base64.encodebytes(b"region,revenue\nnorth,1234567\n").replace(b"\n", b"\r\n")
    + b"--b1--\r\n"
)

MESSAGES = [
    (M1, "(\\Seen)", '"01-Jan-2024 10:00:00 +0000"'),
    (M2, "(\\Answered \\Flagged $Work)", '"15-Feb-2024 23:30:00 -0800"'),
    (M3, "(\\Deleted \\Draft)", '"20-Mar-2024 12:00:00 +0000"'),
    (M4, "(Urgent)", '"02-Mar-2024 00:30:00 +0100"'),
]


def fill(client: imaplib.IMAP4, mailbox: str = "INBOX") -> None:
    for raw, flags, when in MESSAGES:
        typ, data = client.append(mailbox, flags, when, raw)
        assert typ == "OK", data


@pytest.fixture
def client(server: ServerThread) -> Iterator[imaplib.IMAP4]:
    c = server.login()
    fill(c)
    typ, _ = c.select("INBOX")
    assert typ == "OK"
    yield c
    c.logout()


def raw_login(server: ServerThread) -> RawClient:
    r = server.raw()
    assert r.command(b"l", f'LOGIN alice "{PASSWORD}"'.encode())[-1].startswith(b"l OK")
    return r


def found(client: imaplib.IMAP4, *criteria: str, charset: str | None = None) -> list[int]:
    typ, data = client.search(charset, *criteria)
    assert typ == "OK", data
    return [int(n) for n in data[0].split()]


def uid_found(client: imaplib.IMAP4, *criteria: str) -> list[int]:
    typ, data = client.uid("SEARCH", *criteria)
    assert typ == "OK", data
    return [int(n) for n in data[0].split()]


KEYS: list[tuple[str, list[int]]] = [
    ("ALL", [1, 2, 3, 4]),
    ("ANSWERED", [2]),
    ("UNANSWERED", [1, 3, 4]),
    ("DELETED", [3]),
    ("UNDELETED", [1, 2, 4]),
    ("DRAFT", [3]),
    ("UNDRAFT", [1, 2, 4]),
    ("FLAGGED", [2]),
    ("UNFLAGGED", [1, 3, 4]),
    ("SEEN", [1]),
    ("UNSEEN", [2, 3, 4]),
    ("KEYWORD $work", [2]),
    ("KEYWORD URGENT", [4]),
    ("KEYWORD Nothing", []),
    ("UNKEYWORD $Work", [1, 3, 4]),
    # \Recent: this session selected first.
    ("RECENT", [1, 2, 3, 4]),
    ("NEW", [2, 3, 4]),
    ("OLD", []),
    # Header fields, decoded (RFC 2047) and case-insensitive.
    ("FROM alice", [1]),
    ("FROM JOERG@EXAMPLE", [2]),
    ("TO bob", [1]),
    ("TO example.org", [1, 2, 3, 4]),
    ("CC carol", [1]),
    ("CC bob", []),
    ("BCC dave", [2]),
    ("SUBJECT quarterly", [4]),
    ('SUBJECT "aus M"', [2]),
    ('SUBJECT ""', [1, 2, 3, 4]),
    ("HEADER X-Priority 1", [3]),
    ('HEADER x-priority ""', [3]),
    ('HEADER Message-ID ""', [1, 2]),
    ("HEADER Message-ID example.de", [2]),
    ("HEADER Subject dessert", [3]),
    ("HEADER X-Other x", []),
    # Bodies: transfer encodings undone, charsets converted.
    ("BODY quarterly", [1]),
    ("BODY agenda", [1]),
    ("BODY meeting", []),
    ("BODY attached", [4]),
    ("BODY padding", [3]),
    ("TEXT meeting", [1]),
    ("TEXT agenda", [1]),
    ("TEXT carol", [1]),
    ("TEXT x-priority", [3]),
    # Internal date, calendar day in its own zone.
    ("BEFORE 15-Feb-2024", [1]),
    ("ON 15-Feb-2024", [2]),
    ("ON 16-Feb-2024", []),
    ("ON 2-Mar-2024", [4]),
    ("ON 1-Mar-2024", []),
    ('SINCE "02-Mar-2024"', [3, 4]),
    # Date header, its own day; M3 has none.
    ("SENTBEFORE 1-Mar-2024", [1, 2]),
    ("SENTON 16-Feb-2024", [2]),
    ("SENTON 15-Feb-2024", []),
    ("SENTSINCE 16-Feb-2024", [2, 4]),
    ("NOT SENTSINCE 1-Jan-2000", [3]),
    # Sizes (RFC822.SIZE).
    (f"LARGER {len(M3) - 1}", [3]),
    (f"LARGER {len(M3)}", []),
    (f"SMALLER {len(M1)}", []),
    (f"SMALLER {len(M1) + 1}", [1]),
    # Sequence sets and UIDs.
    ("2:3", [2, 3]),
    ("3:2", [2, 3]),
    ("*", [4]),
    ("1,4", [1, 4]),
    ("3:*", [3, 4]),
    ("5", []),
    ("2:9", [2, 3, 4]),
    ("2:3 SEEN", []),
    ("UID 2:3", [2, 3]),
    ("UID *", [4]),
    ("UID 9:*", [4]),
    ("UID 100", []),
    # Nesting.
    ("OR SEEN FLAGGED", [1, 2]),
    ("OR OR SEEN ANSWERED DRAFT", [1, 2, 3]),
    ("NOT SEEN", [2, 3, 4]),
    ("NOT NOT SEEN", [1]),
    ("NOT (OR SEEN DELETED)", [2, 4]),
    ("NOT (SEEN OR DELETED ANSWERED)", [1, 2, 3, 4]),
    ("(OR SEEN DELETED) NOT KEYWORD $work", [1, 3]),
    ("OR (SUBJECT meeting SEEN) (NOT UNDELETED)", [1, 3]),
    ("((UNSEEN)) (OR 1:2 4) NOT (KEYWORD Urgent)", [2]),
    ("NOT OR BODY agenda BODY attached", [2, 3]),
]


@pytest.mark.parametrize(("key", "expected"), KEYS, ids=[k for k, _ in KEYS])
def test_search_key(client: imaplib.IMAP4, key: str, expected: list[int]) -> None:
    assert found(client, key) == expected


def test_recent_is_per_session(server: ServerThread, client: imaplib.IMAP4) -> None:
    other = server.login()
    try:
        assert other.select("INBOX")[0] == "OK"
        assert found(other, "RECENT") == []
        assert found(other, "NEW") == []
        assert found(other, "OLD") == [1, 2, 3, 4]
    finally:
        other.logout()


def test_non_ascii_needles_in_literals(client: imaplib.IMAP4) -> None:
    cases = [
        ("SUBJECT", "grüße", [2]),  # RFC 2047 B-encoded subject
        ("SUBJECT", "MÜNCHEN", [2]),  # case-insensitive beyond ASCII
        ("FROM", "jörg", [2]),  # RFC 2047 Q-encoded latin-1 display name
        ("BODY", "FRÜHSTÜCK", [2]),  # base64 UTF-8 body
        ("BODY", "crème brûlée", [3]),  # quoted-printable latin-1 body
        ("TEXT", "münchen", [2]),
        ("BODY", "münchen", []),
    ]
    for key, needle, expected in cases:
        for charset in ("UTF-8", "utf-8"):
            client.literal = needle.encode()  # type: ignore[assignment]
            assert found(client, key, charset=charset) == expected, (key, needle)


def test_search_response_lines(server: ServerThread, client: imaplib.IMAP4) -> None:
    r = raw_login(server)
    try:
        r.command(b"s", b"SELECT INBOX")
        lines = r.command(b"a", b"SEARCH 2:* UNSEEN")
        assert lines == [b"* SEARCH 2 3 4", b"a OK SEARCH completed"]
        assert r.command(b"b", b"SEARCH KEYWORD none") == [b"* SEARCH", b"b OK SEARCH completed"]
        assert r.command(b"c", b"UID SEARCH ALL")[0] == b"* SEARCH 1 2 3 4"
        assert r.command(b"d", b"search charset us-ascii subject DESSERT")[0] == b"* SEARCH 3"
        lines = r.command(b"e", b"SEARCH CHARSET UTF-8 BODY {6+}\r\ncr\xc3\xa8me")
        assert lines[0] == b"* SEARCH 3"
    finally:
        r.close()


def test_charset_errors(server: ServerThread, client: imaplib.IMAP4) -> None:
    r = raw_login(server)
    try:
        r.command(b"s", b"SELECT INBOX")
        lines = r.command(b"a", b"SEARCH CHARSET KOI8-R SUBJECT x")
        assert lines == [b"a NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset"]
        lines = r.command(b"b", b"SEARCH CHARSET UTF-8 SUBJECT {2+}\r\n\xff\xfe")
        assert lines[-1].startswith(b"b BAD ")
        # ESEARCH, WITHIN and SEARCHRES (test_esearch.py) are there; their errors are BAD.
        lines = r.command(b"c", b"SEARCH RETURN (MIN) ALL")
        assert lines == [b'* ESEARCH (TAG "c") MIN 1', b"c OK SEARCH completed"]
        for key in (b"RETURN (BOGUS) ALL", b"YOUNGER 0", b"OLDER -1", b"$:1"):
            lines = r.command(b"d", b"SEARCH " + key)
            assert lines[-1].startswith(b"d BAD "), key
        # The connection is still usable.
        assert r.command(b"e", b"SEARCH SEEN")[0] == b"* SEARCH 1"
    finally:
        r.close()


def test_search_needs_a_selected_mailbox(server: ServerThread) -> None:
    r = raw_login(server)
    try:
        assert r.command(b"a", b"SEARCH ALL")[-1].startswith(b"a BAD ")
    finally:
        r.close()


def test_empty_mailbox(server: ServerThread) -> None:
    c = server.login()
    try:
        assert c.create("Empty")[0] == "OK"
        assert c.select("Empty")[0] == "OK"
        assert found(c, "ALL") == []
        assert found(c, "1:*") == []
        assert uid_found(c, "UID 1:*") == []
    finally:
        c.logout()


def test_uid_search_answers_uids(client: imaplib.IMAP4) -> None:
    assert client.store("3", "-FLAGS", "(\\Deleted)")[0] == "OK"
    assert client.store("1", "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert client.expunge()[0] == "OK"
    # UIDs 2 3 4 are now MSNs 1 2 3.
    assert found(client, "ALL") == [1, 2, 3]
    assert uid_found(client, "ALL") == [2, 3, 4]
    assert uid_found(client, "UNSEEN") == [2, 3, 4]
    assert uid_found(client, "1") == [2]  # a sequence set is still message numbers
    assert found(client, "UID 1:2") == [1]
    assert uid_found(client, "UID 3:*") == [3, 4]
    client.literal = "crème".encode()  # type: ignore[assignment]
    assert uid_found(client, "CHARSET", "UTF-8", "BODY") == [3]


def test_flag_changes_are_searched(client: imaplib.IMAP4) -> None:
    assert client.store("2:3", "+FLAGS", "(\\Seen Later)")[0] == "OK"
    assert found(client, "SEEN") == [1, 2, 3]
    assert found(client, "KEYWORD later") == [2, 3]
    assert found(client, "UNSEEN") == [4]


def test_new_messages_appear_after_they_are_announced(
    server: ServerThread, client: imaplib.IMAP4
) -> None:
    other = server.login()
    try:
        fill(other)  # UIDs 5..8
    finally:
        other.logout()
    # The SEARCH itself covers the messages known when it began; the EXISTS after it
    # announces the new ones, which the next SEARCH finds.
    first = found(client, "SUBJECT dessert")
    assert first in ([3], [3, 7])
    assert found(client, "SUBJECT dessert") == [3, 7]
    assert uid_found(client, "SUBJECT dessert") == [3, 7]


def test_ghosts_never_match_and_no_expunge_during_search(server: ServerThread) -> None:
    a = raw_login(server)
    b = raw_login(server)
    try:
        setup = server.login()
        fill(setup)
        setup.logout()
        assert a.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
        assert b.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
        assert b.command(b"x", b"STORE 2 +FLAGS.SILENT (\\Deleted)")[-1].startswith(b"x OK")
        lines = b.command(b"y", b"EXPUNGE")  # UIDs 2 and 3 (M3 was \Deleted already)
        assert lines[:2] == [b"* 2 EXPUNGE", b"* 2 EXPUNGE"]

        # A still numbers 1..4; UIDs 2 and 3 are ghosts: never matched, never expunged here.
        lines = a.command(b"a", b"SEARCH ALL")
        assert lines[0] == b"* SEARCH 1 4"
        assert not any(line.endswith(b"EXPUNGE") for line in lines)
        assert a.command(b"b", b"SEARCH NOT SEEN")[0] == b"* SEARCH 4"
        assert a.command(b"c", b"SEARCH DELETED")[0] == b"* SEARCH"
        assert a.command(b"d", b"SEARCH 2:3")[0] == b"* SEARCH"
        assert a.command(b"e", b"SEARCH BODY padding")[0] == b"* SEARCH"
        lines = a.command(b"f", b"SEARCH OR 1 4")
        assert lines == [b"* SEARCH 1 4", b"f OK SEARCH completed"]

        lines = a.command(b"n", b"NOOP")
        assert lines[:2] == [b"* 2 EXPUNGE", b"* 2 EXPUNGE"]
        assert a.command(b"g", b"SEARCH ALL")[0] == b"* SEARCH 1 2"
        assert a.command(b"h", b"UID SEARCH ALL")[0] == b"* SEARCH 1 4"
    finally:
        a.close()
        b.close()


# -- the pure parts -----------------------------------------------------------------------


def test_search_columns() -> None:
    cols = search_columns(M2, parse_message(M2))
    assert set(cols) <= PARSED_COLUMNS
    assert cols["hdr_subject"] == "grüsse aus münchen"  # casefold: ß → ss
    # the decoded header, then its addresses as ENVELOPE shows them (issue 9 point 8)
    assert cols["hdr_from"] == "jörg <joerg@example.de>\njörg\njoerg@example.de"
    assert cols["hdr_bcc"] == "dave@example.org"
    assert cols["hdr_cc"] is None
    assert cols["hdr_message_id"] == "<m2@example.de>"
    assert cols["sent_on"] == "2024-02-16"
    assert cols["hdr_date"] == int(datetime(2024, 2, 15, 16, 0, tzinfo=UTC).timestamp())
    assert "das frühstück ist fertig." in str(cols["text_body"])
    assert "subject: grüsse aus münchen" in str(cols["text_headers"]).split("\n")
    no_date = search_columns(M3, parse_message(M3))
    assert no_date["sent_on"] is None and no_date["hdr_date"] is None
    assert "café crème brûlée" in str(no_date["text_body"])


def make_view(uids: list[int]) -> View:
    info = MailboxInfo(1, 1, "INBOX", 1, max(uids, default=0) + 1, 1, False, None)
    return View.create(info, uids, 1, False)


def test_sets_through_the_view() -> None:
    view = make_view([3, 5, 6, 9])
    seq = SequenceSet.parse
    assert msn_criterion(view, seq("2:3")) == UidIn(((5, 6),))
    assert msn_criterion(view, seq("1,4")) == UidIn(((3, 3), (9, 9)))
    assert msn_criterion(view, seq("1:2,2:4")) == UidIn(((3, 9),))
    assert msn_criterion(view, seq("4:*")) == UidIn(((9, 9),))
    assert msn_criterion(view, seq("5:7")) == UidIn(())  # beyond EXISTS: no match
    assert uid_criterion(view, seq("4:8")) == UidIn(((5, 6),))
    assert uid_criterion(view, seq("100:*")) == UidIn(((9, 9),))
    assert uid_criterion(view, seq("1:2")) == UidIn(())
    assert uids_criterion(view, {9, 5, 100}) == UidIn(((5, 5), (9, 9)))
    assert uid_criterion(make_view([]), seq("1:*")) == UidIn(())


def test_to_numbers() -> None:
    view = make_view([3, 5, 6, 9])
    view.ghosts = {5}
    assert to_numbers(view, [3, 5, 9], uid=False) == [1, 4]
    assert to_numbers(view, [3, 5, 9], uid=True) == [3, 9]
    assert to_numbers(view, [3, 6, 10], uid=False) == [1, 3]
