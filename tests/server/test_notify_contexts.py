"""RFC 5465 §7 over real sockets: ``UPDATE (fetch-att ...)`` in SEARCH and SORT (CONTEXT=SEARCH,
CONTEXT=SORT of RFC 5267) asks for a FETCH of a new message that joins the result; with
NOTIFY's MessageNew attributes (§5.2) one FETCH carries both.  The orders the RFC gives:
§7 "the EXISTS response MUST precede any FETCH responses, and together they MUST precede the
ESEARCH response"; §5.2, when NOTIFY asked attributes too, "The FETCH response(s) MUST follow
any ESEARCH ADDTO responses"."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.server.harness import RawClient, ServerThread, raw_login

HEADER = b"From: myboss@example.org\r\nTo: bob@example.org\r\nSubject: Re: good morning\r\n"


def ok(r: RawClient, tag: bytes, text: bytes) -> list[bytes]:
    lines = r.command(tag, text)
    assert lines[-1].startswith(tag + b" OK"), lines
    return lines[:-1]


def append(r: RawClient, sender: str = "myboss@example.org", subject: str = "hi") -> None:
    body = (f"From: {sender}\r\nTo: bob@example.org\r\nSubject: {subject}\r\n\r\n"
            f"body\r\n").encode()
    ok(r, b"a", b"APPEND INBOX {%d+}\r\n" % len(body) + body)


def fetch_with_literal(r: RawClient, pattern: bytes) -> tuple[re.Match[bytes], bytes]:
    """One untagged FETCH whose line ends in a literal: the match of ``pattern`` (which
    captures the literal's size last) and the literal."""
    line = r.line()
    match = re.fullmatch(pattern, line)
    assert match, line
    data = r.take(int(match[match.lastindex or 0]))
    assert r.line() == b")"
    return match, data


@pytest.fixture
def pair(server: ServerThread) -> Iterator[tuple[RawClient, RawClient]]:
    """The client under test (INBOX selected, 3 messages, 2 from the boss) and another
    session adding to INBOX."""
    other = raw_login(server)
    for sender in ("myboss@example.org", "carol@example.org", "myboss@example.org"):
        append(other, sender)
    me = raw_login(server)
    ok(me, b"s", b"SELECT INBOX")
    yield me, other
    me.close()
    other.close()


def test_rfc_section_7_example(pair: tuple[RawClient, RawClient]) -> None:
    """§7's example (BODY.PEEK instead of BODY: §5.2 asks clients not to use attributes
    that set \\Seen), the updates after a NOOP: EXISTS, the FETCH, then ESEARCH ADDTO."""
    me, other = pair
    assert ok(me, b"a00", b"SEARCH RETURN (COUNT UPDATE (UID BODY.PEEK[HEADER.FIELDS (TO "
                          b'FROM SUBJECT)])) FROM "boss"') == [b'* ESEARCH (TAG "a00") COUNT 2']
    append(other, subject="Re: good morning")
    me.send(b"n NOOP\r\n")
    assert me.line() == b"* 4 EXISTS"
    assert me.line() == b"* 4 RECENT"
    _, header = fetch_with_literal(
        me, rb"\* 4 FETCH \(UID 4 BODY\[HEADER\.FIELDS \(TO FROM SUBJECT\)\] \{(\d+)\}")
    assert header == HEADER + b"\r\n"
    assert me.line() == b'* ESEARCH (TAG "a00") ADDTO (0 4)'
    assert me.line().startswith(b"n OK")
    # A new message outside the result: its EXISTS only.
    append(other, sender="carol@example.org")
    assert ok(me, b"n", b"NOOP") == [b"* 5 EXISTS", b"* 5 RECENT"]


def test_flag_change_joins_without_fetch(pair: tuple[RawClient, RawClient]) -> None:
    """§7: "No untagged FETCH response SHOULD be returned if a message becomes a member of
    UPDATE SEARCH due to flag or annotation changes": the flag update and ADDTO only."""
    me, other = pair
    assert ok(me, b"f1", b"UID SEARCH RETURN (UPDATE (UID ENVELOPE)) FLAGGED") == [
        b'* ESEARCH (TAG "f1") UID']
    ok(other, b"s", b"SELECT INBOX")
    ok(other, b"t", b"STORE 2 +FLAGS.SILENT (\\Flagged)")
    assert ok(me, b"n", b"NOOP") == [b"* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))",
                                     b'* ESEARCH (TAG "f1") UID ADDTO (0 2)']


def test_sort_context_fetches_new_members(pair: tuple[RawClient, RawClient]) -> None:
    """CONTEXT=SORT: the same for an ESORT context, ADDTO giving the position in sort order
    (RFC 5267 §4.3.3)."""
    me, other = pair
    assert ok(me, b"s1", b"SORT RETURN (COUNT UPDATE (UID)) (SUBJECT) UTF-8 "
                         b"FROM boss") == [b'* ESEARCH (TAG "s1") COUNT 2']
    append(other, subject="Aardvark")  # first in subject order
    assert ok(me, b"n", b"NOOP") == [b"* 4 EXISTS", b"* 4 RECENT", b"* 4 FETCH (UID 4)",
                                     b'* ESEARCH (TAG "s1") ADDTO (1 4)']


def test_own_append_not_fetched(pair: tuple[RawClient, RawClient]) -> None:
    """§5.2: "A FETCH response SHOULD NOT be generated for a new message created by the
    client on this particular connection" (APPEND, COPY); the ADDTO still comes."""
    me, _ = pair
    ok(me, b"c1", b"SEARCH RETURN (UPDATE (UID FLAGS)) FROM boss")
    body = b"From: myboss@example.org\r\n\r\nx\r\n"
    assert ok(me, b"a", b"APPEND INBOX {%d+}\r\n" % len(body) + body) == [
        b"* 4 EXISTS", b"* 4 RECENT", b'* ESEARCH (TAG "c1") ADDTO (0 4)']
    assert ok(me, b"c", b"COPY 1 INBOX") == [
        b"* 5 EXISTS", b"* 5 RECENT", b'* ESEARCH (TAG "c1") ADDTO (0 5)']


def test_with_notify_one_fetch_between_commands(pair: tuple[RawClient, RawClient]) -> None:
    """NOTIFY SELECTED with MessageNew (UID FLAGS) and a context asking UID and a header:
    with no command in progress, EXISTS, ESEARCH ADDTO, then one FETCH with the attributes
    of both, UID once (§5.2)."""
    me, other = pair
    ok(me, b"c1", b"UID SEARCH RETURN (UPDATE (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])) "
                  b"FROM boss")
    assert ok(me, b"ns", b"NOTIFY SET (SELECTED (MessageNew (UID FLAGS) MessageExpunge))") \
        == []
    append(other, subject="joined")
    assert me.line() == b"* 4 EXISTS"
    assert me.line() == b"* 4 RECENT"
    assert me.line() == b'* ESEARCH (TAG "c1") UID ADDTO (0 4)'
    _, header = fetch_with_literal(
        me, rb"\* 4 FETCH \(UID 4 FLAGS \(\\Recent\) "
            rb"BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{(\d+)\}")
    assert header == b"Subject: joined\r\n\r\n"
    # A message not in the result: NOTIFY's FETCH alone.
    append(other, sender="carol@example.org")
    assert [me.line() for _ in range(3)] == [b"* 5 EXISTS", b"* 5 RECENT",
                                              b"* 5 FETCH (UID 5 FLAGS (\\Recent))"]
    assert ok(me, b"n", b"NOOP") == []


def test_update_fetch_atts_checked(pair: tuple[RawClient, RawClient]) -> None:
    """An attribute FETCH would refuse is BAD here too, and starts no context."""
    me, _ = pair
    lines = me.command(b"b1", b"SEARCH RETURN (UPDATE (UID BINARY.SIZE[1] X-NOSUCH)) ALL")
    assert lines[-1].startswith(b"b1 BAD"), lines
    lines = me.command(b"b1", b"SEARCH RETURN (UPDATE) ALL")
    assert lines[-1].startswith(b"b1 OK"), lines
