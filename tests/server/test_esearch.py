"""ESEARCH (RFC 4731), SEARCHRES (RFC 5182) and WITHIN (RFC 5032) over real sockets: the
RFC examples as transcripts, on a mailbox shaped so their answers come out the same.

The mailbox: 12 messages; \\Flagged on 2, 10, 11; \\Deleted on 3 and 5; \\Seen on 1-3;
$Junk on 6 and 7; "From: Smith" on 12 (flagged nowhere, so NOT FROM "Smith" changes
nothing but is exercised); INTERNALDATE in 2020 for 1-6, now for 7-12.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.server.harness import PASSWORD, RawClient, ServerThread

OLD = '"01-Jun-2020 12:00:00 +0000"'


def _flags(n: int) -> str:
    flags = []
    if n in (2, 10, 11):
        flags.append("\\Flagged")
    if n in (3, 5):
        flags.append("\\Deleted")
    if n <= 3:
        flags.append("\\Seen")
    if n in (6, 7):
        flags.append("$Junk")
    return "(" + " ".join(flags) + ")"


@pytest.fixture
def raw(server: ServerThread) -> Iterator[RawClient]:
    r = server.raw()
    assert r.command(b"l", f'LOGIN alice "{PASSWORD}"'.encode())[-1].startswith(b"l OK")
    assert r.command(b"c", b"CREATE Junk")[-1].startswith(b"c OK")
    assert r.command(b"c", b'CREATE "Other Messages"')[-1].startswith(b"c OK")
    for n in range(1, 13):
        sender = "Smith <smith@x>" if n == 12 else f"user{n} <u{n}@x>"
        body = (f"From: {sender}\r\nSubject: m{n}\r\n\r\n" + "x" * (n * 500) + "\r\n").encode()
        date = f" {OLD}" if n <= 6 else ""
        r.send(f"a APPEND INBOX {_flags(n)}{date} {{{len(body)}+}}\r\n".encode() + body + b"\r\n")
        assert r.until_tagged(b"a")[-1].startswith(b"a OK")
    assert r.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    yield r
    r.close()


def ok(lines: list[bytes]) -> list[bytes]:
    assert lines[-1].split(b" ")[1] == b"OK", lines
    return lines[:-1]


# -- RFC 4731 §3.1 examples ------------------------------------------------------------------


def test_rfc4731_examples(raw: RawClient) -> None:
    assert ok(raw.command(b"A282", b'SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 '
                                   b'NOT FROM "Smith"')) == \
        [b'* ESEARCH (TAG "A282") MIN 2 COUNT 3']
    assert ok(raw.command(b"A283", b'SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 '
                                   b'NOT FROM "Smith"')) == \
        [b'* ESEARCH (TAG "A283") ALL 2,10:11']
    assert ok(raw.command(b"A284", b"SEARCH RETURN (MIN) UNSEEN")) == \
        [b'* ESEARCH (TAG "A284") MIN 4']
    assert ok(raw.command(b"A285", b"UID SEARCH RETURN (MIN MAX) 1:5000")) == \
        [b'* ESEARCH (TAG "A285") UID MIN 1 MAX 12']
    assert ok(raw.command(b"A286", b"SEARCH RETURN (COUNT) DELETED")) == \
        [b'* ESEARCH (TAG "A286") COUNT 2']


def test_no_match_sends_esearch_with_count_only(raw: RawClient) -> None:
    assert ok(raw.command(b"t", b"SEARCH RETURN (MIN MAX ALL COUNT) KEYWORD nothing")) == \
        [b'* ESEARCH (TAG "t") COUNT 0']
    assert ok(raw.command(b"t", b"UID SEARCH RETURN (MIN) KEYWORD nothing")) == \
        [b'* ESEARCH (TAG "t") UID']


def test_uid_search_all_is_a_compact_uid_set(raw: RawClient) -> None:
    ok(raw.command(b"d", b"EXPUNGE"))  # 3 and 5 go: numbers and UIDs now differ
    assert ok(raw.command(b"t", b"UID SEARCH RETURN (ALL COUNT) 1:*")) == \
        [b'* ESEARCH (TAG "t") UID COUNT 10 ALL 1:2,4,6:12']
    assert ok(raw.command(b"t", b"SEARCH RETURN (ALL) UID 6:12")) == \
        [b'* ESEARCH (TAG "t") ALL 4:10']


def test_condstore_modseq_item(raw: RawClient) -> None:
    # RFC 4731 §3.2: give 2 and 10 their own, later, modseqs.
    ok(raw.command(b"f", b"STORE 10 +FLAGS (x1)"))
    ok(raw.command(b"f", b"STORE 2 +FLAGS (x2)"))
    lines = ok(raw.command(b"m", b"FETCH 2,10,11 (MODSEQ)"))
    mod = {int(line.split()[1]): int(re.findall(rb"MODSEQ \((\d+)\)", line)[0])
           for line in lines if b"FETCH" in line}
    assert mod[2] > mod[10] > mod[11]
    q = b"MODSEQ 1 FLAGGED"
    assert ok(raw.command(b"a1", b"SEARCH RETURN (MIN) " + q)) == \
        [b'* ESEARCH (TAG "a1") MIN 2 MODSEQ %d' % mod[2]]
    assert ok(raw.command(b"a2", b"SEARCH RETURN (MAX) " + q)) == \
        [b'* ESEARCH (TAG "a2") MAX 11 MODSEQ %d' % mod[11]]
    assert ok(raw.command(b"a3", b"SEARCH RETURN (MIN MAX) " + q)) == \
        [b'* ESEARCH (TAG "a3") MIN 2 MAX 11 MODSEQ %d' % mod[2]]
    assert ok(raw.command(b"a4", b"SEARCH RETURN (MAX COUNT) " + q)) == \
        [b'* ESEARCH (TAG "a4") MAX 11 COUNT 3 MODSEQ %d' % mod[2]]


# -- RFC 5182 examples -----------------------------------------------------------------------


def fetched(lines: list[bytes]) -> list[int]:
    return [int(line.split()[1]) for line in lines if b" FETCH " in line]


def test_rfc5182_example_1_2_fetch_saved(raw: RawClient) -> None:
    assert ok(raw.command(b"A282", b'SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 '
                                   b'NOT FROM "Smith"')) == []
    assert fetched(ok(raw.command(b"A283", b"FETCH $ (UID INTERNALDATE FLAGS)"))) == \
        [2, 10, 11]
    # Pipelined (example 2): the FETCH sees the SEARCH's result.
    raw.send(b'A284 SEARCH RETURN (SAVE) DELETED\r\nA285 FETCH $ (UID)\r\n')
    assert raw.until_tagged(b"A284")[-1].startswith(b"A284 OK")
    assert fetched(ok(raw.until_tagged(b"A285"))) == [3, 5]


def test_rfc5182_example_3_4_search_with_saved(raw: RawClient) -> None:
    ok(raw.command(b"A300", b'SEARCH RETURN (SAVE) SINCE 1-Jan-2004 NOT FROM "Smith"'))
    want = [b"* SEARCH 1 2 3 4 5 6 7 8"]  # every message but 12; UIDs below 4096 octets
    assert ok(raw.command(b"A301", b"UID SEARCH UID $ SMALLER 4096")) == want
    assert ok(raw.command(b"A301", b"UID SEARCH $ SMALLER 4096")) == want
    ok(raw.command(b"P282", b"SEARCH RETURN (SAVE) FLAGGED"))
    assert ok(raw.command(b"P283", b"SEARCH CHARSET UTF-8 (OR $ 1,3000:3021) TEXT m1")) == \
        [b"* SEARCH 1 10 11"]


def test_rfc5182_failed_save_empties_saved(raw: RawClient) -> None:
    ok(raw.command(b"B282", b'SEARCH RETURN (SAVE) SINCE 1-Feb-1994 NOT FROM "Smith"'))
    # §2.1: without SAVE, a NO leaves "$" alone...
    lines = raw.command(b"B283", b"SEARCH CHARSET KOI8-R (OR $ 1,3000:3021) TEXT x")
    assert lines[-1].startswith(b"B283 NO [BADCHARSET")
    assert len(fetched(ok(raw.command(b"f", b"FETCH $ (UID)")))) == 11
    # ... a BAD too ...
    assert raw.command(b"B284", b"SEARCH RETURN (SAVE) BOGUS")[-1].startswith(b"B284 BAD")
    assert len(fetched(ok(raw.command(b"f", b"FETCH $ (UID)")))) == 11
    # ... and a NO with SAVE empties it.
    lines = raw.command(b"B285", b"SEARCH RETURN (SAVE) CHARSET KOI8-R TEXT x")
    assert lines[-1].startswith(b"B285 NO [BADCHARSET")
    assert ok(raw.command(b"f", b"FETCH $ (UID)")) == []


def test_rfc5182_example_6_7_copy_store_saved(raw: RawClient) -> None:
    raw.send(b'E282 SEARCH RETURN (SAVE) SINCE 28-Oct-2006 NOT FROM "user"\r\n'
             b'E283 COPY $ "Other Messages"\r\n')
    ok(raw.until_tagged(b"E282"))
    assert raw.until_tagged(b"E283")[-1].startswith(b"E283 OK")  # only 12: From Smith
    raw.send(b"F282 SEARCH RETURN (SAVE) KEYWORD $Junk\r\n"
             b'F283 COPY $ "Junk"\r\n'
             b"F284 STORE $ +FLAGS.Silent (\\Deleted)\r\n")
    ok(raw.until_tagged(b"F282"))
    ok(raw.until_tagged(b"F283"))
    ok(raw.until_tagged(b"F284"))
    assert ok(raw.command(b"s", b"SEARCH DELETED")) == [b"* SEARCH 3 5 6 7"]
    assert ok(raw.command(b"st", b"STATUS Junk (MESSAGES)")) == \
        [b'* STATUS "Junk" (MESSAGES 2)']
    assert ok(raw.command(b"st", b'STATUS "Other Messages" (MESSAGES)')) == \
        [b'* STATUS "Other Messages" (MESSAGES 1)']
    # An empty "$" is a valid set that matches nothing.
    ok(raw.command(b"e", b"SEARCH RETURN (SAVE) KEYWORD nothing"))
    assert raw.command(b"E", b'COPY $ "Other Messages"')[-1].startswith(b"E OK")
    assert ok(raw.command(b"F", b"FETCH $ FLAGS")) == []


def test_rfc5182_example_9_10_last_save_wins(raw: RawClient) -> None:
    ok(raw.command(b"H282", b"SEARCH RETURN (SAVE) KEYWORD $Junk"))
    ok(raw.command(b"H283", b"SEARCH RETURN (SAVE) FLAGGED"))
    assert fetched(ok(raw.command(b"f", b"FETCH $ UID"))) == [2, 10, 11]
    q = b' SINCE 12-Feb-2006 NOT FROM "Smith" NOT 1 NOT 3:9 NOT 12'
    assert ok(raw.command(b"C282", b"SEARCH RETURN (ALL)" + q)) == \
        [b'* ESEARCH (TAG "C282") ALL 2,10:11']
    assert fetched(ok(raw.command(b"f", b"FETCH $ UID"))) == [2, 10, 11]  # unchanged
    ok(raw.command(b"H", b"SEARCH RETURN (SAVE) DELETED"))
    assert ok(raw.command(b"C283", b"SEARCH RETURN (ALL SAVE)" + q)) == \
        [b'* ESEARCH (TAG "C283") ALL 2,10:11']
    assert fetched(ok(raw.command(b"f", b"FETCH $ UID"))) == [2, 10, 11]
    assert ok(raw.command(b"C284", b"SEARCH RETURN (SAVE MIN)" + q)) == \
        [b'* ESEARCH (TAG "C284") MIN 2']
    assert fetched(ok(raw.command(b"f", b"FETCH $ UID"))) == [2]
    assert ok(raw.command(b"C285", b"SEARCH RETURN (MAX SAVE MIN)" + q)) == \
        [b'* ESEARCH (TAG "C285") MIN 2 MAX 11']
    assert fetched(ok(raw.command(b"f", b"FETCH $ UID"))) == [2, 11]
    assert ok(raw.command(b"C286", b"SEARCH RETURN (SAVE COUNT MIN)" + q)) == \
        [b'* ESEARCH (TAG "C286") MIN 2 COUNT 3']
    assert fetched(ok(raw.command(b"f", b"FETCH $ UID"))) == [2, 10, 11]


def test_saved_follows_expunge_and_select(server: ServerThread, raw: RawClient) -> None:
    ok(raw.command(b"a", b"UID SEARCH RETURN (SAVE) 2:4"))
    # Another session expunges 3 (\Deleted): it leaves "$".
    other = server.login()
    other.select("INBOX")
    other.uid("EXPUNGE", "3")
    other.logout()
    ok(raw.command(b"n", b"NOOP"))
    assert fetched(ok(raw.command(b"f", b"UID FETCH $ UID"))) == [2, 3]  # UIDs 2, 4
    assert ok(raw.command(b"s", b"UID SEARCH $")) == [b"* SEARCH 2 4"]
    assert ok(raw.command(b"s", b"SORT (REVERSE SIZE) UTF-8 $")) == [b"* SORT 3 2"]
    # UID EXPUNGE $ and MOVE $ take it too.
    ok(raw.command(b"st", b"STORE $ +FLAGS (\\Deleted)"))
    lines = ok(raw.command(b"x", b"UID EXPUNGE $"))
    assert lines == [b"* 2 EXPUNGE", b"* 2 EXPUNGE"]  # UIDs 2 and 4
    ok(raw.command(b"m", b"SEARCH RETURN (SAVE) 1"))
    lines = raw.command(b"M", b"MOVE $ Junk")
    assert lines[-1].startswith(b"M OK") and b"* 1 EXPUNGE" in lines
    assert ok(raw.command(b"s", b"SEARCH RETURN (COUNT) ALL")) == \
        [b'* ESEARCH (TAG "s") COUNT 8']
    # A new SELECT starts with an empty "$".
    ok(raw.command(b"a", b"SEARCH RETURN (SAVE) ALL"))
    ok(raw.command(b"s", b"SELECT INBOX"))
    assert ok(raw.command(b"f", b"FETCH $ UID")) == []


# -- RFC 5032 WITHIN -------------------------------------------------------------------------


def test_within(raw: RawClient) -> None:
    # Messages 1-6 arrived (INTERNALDATE) in 2020, 7-12 just now.
    assert ok(raw.command(b"a1", b"SEARCH UNSEEN YOUNGER 259200")) == \
        [b"* SEARCH 7 8 9 10 11 12"]
    assert ok(raw.command(b"a2", b"SEARCH OLDER 259200")) == [b"* SEARCH 1 2 3 4 5 6"]
    assert ok(raw.command(b"a3", b"SEARCH NOT YOUNGER 259200 NOT OLDER 259200")) == \
        [b"* SEARCH"]
    assert raw.command(b"a4", b"SEARCH YOUNGER 0")[-1].startswith(b"a4 BAD")


def test_capabilities(raw: RawClient) -> None:
    caps = ok(raw.command(b"c", b"CAPABILITY"))[0].split()
    assert {b"ESEARCH", b"SEARCHRES", b"WITHIN"} <= set(caps)
