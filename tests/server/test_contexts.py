"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 §4) over real sockets: the RFC's examples as
transcripts, then the property the issue asks for: while another session appends,
expunges and changes flags, the ADDTO/REMOVEFROM stream applied to the client's list keeps
it equal to a fresh SEARCH or SORT.

The mailbox of the transcripts: 12 messages, UIDs 1-12; \\Deleted on 3, 5, 9; $Junk on 5,
6, 7; subjects "m1".."m12".
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import pytest

from crispin.server.contexts import MAX_CONTEXTS
from tests.server.harness import RawClient, ServerThread, raw_login


def _flags(n: int) -> str:
    flags = []
    if n in (3, 5, 9):
        flags.append("\\Deleted")
    if n in (5, 6, 7):
        flags.append("$Junk")
    return "(" + " ".join(flags) + ")"


def append(r: RawClient, subject: str, flags: str = "()", date: str = "") -> None:
    body = f"From: a@x\r\nSubject: {subject}\r\n{date}\r\nbody\r\n".encode()
    r.send(f"a APPEND INBOX {flags} {{{len(body)}+}}\r\n".encode() + body + b"\r\n")
    assert r.until_tagged(b"a")[-1].startswith(b"a OK")


@pytest.fixture
def pair(server: ServerThread) -> Iterator[tuple[RawClient, RawClient]]:
    """The client under test (INBOX selected) and another session changing INBOX."""
    other = raw_login(server)
    for n in range(1, 13):
        append(other, f"m{n}", _flags(n))
    assert other.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    me = raw_login(server)
    assert me.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    yield me, other
    me.close()
    other.close()


def ok(lines: list[bytes]) -> list[bytes]:
    assert lines[-1].split(b" ")[1] == b"OK", lines
    return lines[:-1]


def test_capabilities(pair: tuple[RawClient, RawClient]) -> None:
    me, _ = pair
    caps = ok(me.command(b"c", b"CAPABILITY"))[0].split()
    assert b"CONTEXT=SEARCH" in caps and b"CONTEXT=SORT" in caps and b"ESORT" in caps


# -- RFC 5267 §4.2, §4.3 -----------------------------------------------------------------------


def test_context_hint_count(pair: tuple[RawClient, RawClient]) -> None:
    """§4.2: CONTEXT is a hint; the answer is the COUNT asked for."""
    me, _ = pair
    assert ok(me.command(b"A01", b"SEARCH RETURN (CONTEXT COUNT) UNDELETED "
                                 b"UNKEYWORD $Junk")) == [b'* ESEARCH (TAG "A01") COUNT 7']


def test_update_count_and_tag_reuse(pair: tuple[RawClient, RawClient]) -> None:
    """§4.3: the second command with the live context's tag is BAD and has no effect."""
    me, other = pair
    lines = me.command(b"B01", b"UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk")
    assert lines[:-1] == [b'* ESEARCH (TAG "B01") UID COUNT 1']
    assert lines[-1].startswith(b"B01 OK")
    bad = me.command(b"B01", b"SORT RETURN (UPDATE) (ARRIVAL) UTF-8 FLAGGED")
    assert bad == [b"B01 BAD [CLIENTBUG] Tag reuse: a context with this tag is live"]
    # The context is still B01's search: \Flagged changes nothing in it.
    ok(other.command(b"x", b"STORE 1 +FLAGS (\\Flagged)"))
    assert ok(me.command(b"n", b"NOOP")) == [b"* 1 FETCH (UID 1 FLAGS (\\Flagged))"]


def test_addto_and_removefrom(pair: tuple[RawClient, RawClient]) -> None:
    me, other = pair
    assert ok(me.command(b"B01", b"UID SEARCH RETURN (UPDATE COUNT) DELETED "
                                 b"KEYWORD $Junk")) == [b'* ESEARCH (TAG "B01") UID COUNT 1']
    ok(other.command(b"x", b"STORE 10:11 +FLAGS.SILENT (\\Deleted $Junk)"))
    lines = ok(me.command(b"n", b"NOOP"))
    assert lines[-3:] == [
        b"* 10 FETCH (UID 10 FLAGS (\\Deleted $Junk))",
        b"* 11 FETCH (UID 11 FLAGS (\\Deleted $Junk))",
        b'* ESEARCH (TAG "B01") UID ADDTO (0 10:11)',
    ]
    # §4.3.4: a message of the result is expunged: REMOVEFROM, then its EXPUNGE.
    ok(other.command(b"x", b"UID EXPUNGE 10"))
    assert ok(me.command(b"B03", b"NOOP")) == [
        b'* ESEARCH (TAG "B01") UID REMOVEFROM (0 10)',
        b"* 10 EXPUNGE",
    ]
    # A flag change taking a message out of the result.
    ok(other.command(b"x", b"UID STORE 5 -FLAGS.SILENT ($Junk)"))
    assert ok(me.command(b"n", b"NOOP")) == [
        b"* 5 FETCH (UID 5 FLAGS (\\Deleted))",
        b'* ESEARCH (TAG "B01") UID REMOVEFROM (0 5)',
    ]
    # §4.3.5: no more updates after CANCELUPDATE.
    assert ok(me.command(b"B04", b'CANCELUPDATE "B01"')) == []
    ok(other.command(b"x", b"UID STORE 5 +FLAGS.SILENT ($Junk)"))
    assert ok(me.command(b"n", b"NOOP")) == [b"* 5 FETCH (UID 5 FLAGS (\\Deleted $Junk))"]
    # The tag is free again, and an unknown one is NO.
    assert me.command(b"B05", b'CANCELUPDATE "B01"') == \
        [b"B05 NO [NONEXISTENT] No search context with tag B01"]
    assert ok(me.command(b"B01", b"UID SEARCH RETURN (UPDATE) DELETED KEYWORD $Junk")) == \
        [b'* ESEARCH (TAG "B01") UID ALL 5,11']


def test_message_numbers_removed_before_expunge(pair: tuple[RawClient, RawClient]) -> None:
    """§4.3.2: SEARCH (not UID) contexts report message numbers; §4.3.4 REMOVEFROM while
    the number is still valid; §4.3.3 ADDTO after EXISTS."""
    me, other = pair
    assert ok(me.command(b"C", b"SEARCH RETURN (UPDATE) NOT KEYWORD $Junk")) == \
        [b'* ESEARCH (TAG "C") ALL 1:4,8:12']
    ok(other.command(b"x", b"UID EXPUNGE 3"))
    # A non-UID FETCH may not carry the EXPUNGE: the message is a ghost, still numbered 3.
    assert ok(me.command(b"f", b"FETCH 1 UID")) == [
        b"* 1 FETCH (UID 1)", b'* ESEARCH (TAG "C") REMOVEFROM (0 3)']
    assert ok(me.command(b"n", b"NOOP")) == [b"* 3 EXPUNGE"]
    append(other, "m13")
    assert ok(me.command(b"n", b"NOOP")) == [
        b"* 12 EXISTS", b"* 0 RECENT", b'* ESEARCH (TAG "C") ADDTO (0 12)']


def test_own_expunge(pair: tuple[RawClient, RawClient]) -> None:
    """The session's own EXPUNGE: REMOVEFROM with the numbers before the EXPUNGEs."""
    me, _ = pair
    assert ok(me.command(b"C", b"SEARCH RETURN (UPDATE COUNT) ALL")) == \
        [b'* ESEARCH (TAG "C") COUNT 12']
    assert ok(me.command(b"e", b"EXPUNGE")) == [
        b'* ESEARCH (TAG "C") REMOVEFROM (0 3,5,9)',
        b"* 3 EXPUNGE", b"* 4 EXPUNGE", b"* 7 EXPUNGE"]


def test_noupdate_past_the_limit(pair: tuple[RawClient, RawClient]) -> None:
    """§4.3.1: past the limit, NO [NOUPDATE "tag"], the other options still answered."""
    me, other = pair
    for i in range(MAX_CONTEXTS):
        ok(me.command(f"K{i}".encode(), b"UID SEARCH RETURN (UPDATE COUNT) ALL"))
    lines = me.command(b"B02", b"UID SORT RETURN (UPDATE COUNT) (DATE) UTF-8 KEYWORD $Junk")
    assert lines == [b'* ESEARCH (TAG "B02") UID COUNT 3',
                     b'* NO [NOUPDATE "B02"] Too many contexts',
                     b"B02 OK SORT completed, will not notify"]
    assert ok(me.command(b"x", b'CANCELUPDATE "K0" "K1"')) == []
    assert me.command(b"B02", b"UID SORT RETURN (UPDATE COUNT) (DATE) UTF-8 "
                               b"KEYWORD $Junk")[-1] == b"B02 OK SORT completed, will notify"
    ok(other.command(b"x", b"UID STORE 1 +FLAGS.SILENT ($Junk)"))
    assert ok(me.command(b"n", b"NOOP"))[-1] == b'* ESEARCH (TAG "B02") UID ADDTO (1 1)'


def test_contexts_end_with_the_selection(pair: tuple[RawClient, RawClient]) -> None:
    """§4.3: updates cease when the mailbox is no longer selected."""
    me, other = pair
    ok(me.command(b"C", b"UID SEARCH RETURN (UPDATE COUNT) KEYWORD $Junk"))
    ok(me.command(b"s", b"SELECT INBOX"))
    ok(other.command(b"x", b"UID STORE 1 +FLAGS.SILENT ($Junk)"))
    assert not any(b"ESEARCH" in line for line in ok(me.command(b"n", b"NOOP")))
    assert me.command(b"x", b'CANCELUPDATE "C"')[-1].startswith(b"x NO [NONEXISTENT]")
    assert ok(me.command(b"u", b"UNSELECT")) == []
    assert me.command(b"x", b'CANCELUPDATE "C"')[-1].startswith(b"x BAD")


def test_sort_context_positions(pair: tuple[RawClient, RawClient]) -> None:
    """§4.3.3: ADDTO for SORT carries positions in sort order.  Like the example of C01
    (result 2734:2735 becoming 2731:2735): the preferred form, one run at position 1."""
    me, other = pair
    assert ok(me.command(b"C01", b"UID SORT RETURN (UPDATE ALL) (REVERSE SUBJECT) UTF-8 "
                                 b"SUBJECT x")) == [b'* ESEARCH (TAG "C01") UID']
    append(other, "x4")
    append(other, "x5")
    lines = ok(me.command(b"n", b"NOOP"))
    assert lines[-1] == b'* ESEARCH (TAG "C01") UID ADDTO (1 14,13)'
    append(other, "x1")
    append(other, "x2")
    append(other, "x3")
    lines = ok(me.command(b"n", b"NOOP"))
    assert lines[-1] == b'* ESEARCH (TAG "C01") UID ADDTO (3 17,16,15)'
    ok(other.command(b"x", b"UID STORE 14:16 +FLAGS.SILENT (\\Deleted)"))
    assert ok(me.command(b"n", b"NOOP")) == [
        b"* 14 FETCH (UID 14 FLAGS (\\Deleted))", b"* 15 FETCH (UID 15 FLAGS (\\Deleted))",
        b"* 16 FETCH (UID 16 FLAGS (\\Deleted))"]
    ok(other.command(b"x", b"UID EXPUNGE 14:16"))
    lines = ok(me.command(b"n", b"NOOP"))
    assert lines[0] == b'* ESEARCH (TAG "C01") UID REMOVEFROM (1 14 3 16,15)'


# -- RFC 5267 §4.4, RFC 9394 §3.1: PARTIAL ---------------------------------------------------


def test_partial_examples(pair: tuple[RawClient, RawClient]) -> None:
    """The A02-A04 examples, on 7 results (UIDs 1 2 4 8 10 11 12), and RFC 9394's negative
    range."""
    me, _ = pair
    prog = b"UNDELETED UNKEYWORD $Junk"
    assert ok(me.command(b"A02", b"UID SEARCH RETURN (PARTIAL 5:10) " + prog)) == \
        [b'* ESEARCH (TAG "A02") UID PARTIAL (5:10 10:12)']
    assert ok(me.command(b"A03", b"UID SEARCH RETURN (PARTIAL 1:3) " + prog)) == \
        [b'* ESEARCH (TAG "A03") UID PARTIAL (1:3 1:2,4)']
    assert ok(me.command(b"A04", b"UID SEARCH RETURN (PARTIAL 8:20) " + prog)) == \
        [b'* ESEARCH (TAG "A04") UID PARTIAL (8:20 NIL)']
    assert ok(me.command(b"A01", b"UID SEARCH RETURN (PARTIAL -1:-2) " + prog)) == \
        [b'* ESEARCH (TAG "A01") UID PARTIAL (-1:-2 11:12)']
    assert ok(me.command(b"A05", b"SEARCH RETURN (COUNT PARTIAL 3:2) " + prog)) == \
        [b'* ESEARCH (TAG "A05") COUNT 7 PARTIAL (3:2 2,4)']
    # SORT: positions in sort order.
    assert ok(me.command(b"A06", b"UID SORT RETURN (PARTIAL 1:3) (REVERSE SUBJECT) UTF-8 "
                         + prog)) == [b'* ESEARCH (TAG "A06") UID PARTIAL (1:3 8,4,2)']
    # §4.4: one PARTIAL or one ALL, not both.
    assert me.command(b"A07", b"SEARCH RETURN (PARTIAL 1:3 ALL) ALL")[-1].startswith(b"A07 BAD")
    assert me.command(b"A08", b"SEARCH RETURN (PARTIAL 0:3) ALL")[-1].startswith(b"A08 BAD")
    assert me.command(b"A09", b"SEARCH RETURN (PARTIAL 1:*) ALL")[-1].startswith(b"A09 BAD")
    assert ok(me.command(b"n", b"NOOP")) == []


def test_partial_with_save(pair: tuple[RawClient, RawClient]) -> None:
    """RFC 9394 §3.2 Table 1."""
    me, _ = pair
    prog = b"UNDELETED UNKEYWORD $Junk"  # UIDs 1 2 4 8 10 11 12

    def saved() -> bytes:
        return ok(me.command(b"f", b"UID SEARCH RETURN (ALL) UID $"))[0]

    assert ok(me.command(b"s1", b"UID SEARCH RETURN (SAVE PARTIAL 2:3) " + prog)) == \
        [b'* ESEARCH (TAG "s1") UID PARTIAL (2:3 2,4)']
    assert saved() == b'* ESEARCH (TAG "f") UID ALL 2,4'
    ok(me.command(b"s2", b"UID SEARCH RETURN (SAVE PARTIAL 2:3 MIN MAX) " + prog))
    assert saved() == b'* ESEARCH (TAG "f") UID ALL 1:2,4,12'
    ok(me.command(b"s3", b"UID SEARCH RETURN (SAVE PARTIAL 2:3 COUNT) " + prog))
    assert saved() == b'* ESEARCH (TAG "f") UID ALL 1:2,4,8,10:12'


# -- the property: the stream keeps the client's list equal to a fresh answer --------------


def _numbers(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo, hi = int(a), int(b or a)
        out += list(range(lo, hi + 1)) if lo <= hi else list(range(lo, hi - 1, -1))
    return out


class Mirror:
    """A client's copy of one context's result, kept by ADDTO/REMOVEFROM (§4.3.2-§4.3.4),
    and by EXPUNGE for message numbers."""

    def __init__(self, tag: str, first: list[int], numbers: bool) -> None:
        self.tag, self.items, self.numbers = tag, list(first), numbers

    def feed(self, line: bytes) -> None:
        text = line.decode()
        if m := re.fullmatch(r"\* (\d+) EXPUNGE", text):
            if self.numbers:
                n = int(m[1])
                assert n not in self.items, "REMOVEFROM must come before the EXPUNGE"
                self.items = [i - 1 if i > n else i for i in self.items]
            return
        if not text.startswith(f'* ESEARCH (TAG "{self.tag}")'):
            return
        for kind, payload in re.findall(r"(ADDTO|REMOVEFROM) \(([^)]*)\)", text):
            words = payload.split()
            for pos_text, set_text in zip(words[::2], words[1::2], strict=True):
                pos, values = int(pos_text), _numbers(set_text)
                if kind == "REMOVEFROM":
                    if pos == 0:
                        self.items = [i for i in self.items if i not in values]
                    else:
                        assert self.items[pos - 1:pos - 1 + len(values)] == values
                        del self.items[pos - 1:pos - 1 + len(values)]
                elif pos == 0:
                    self.items = sorted(self.items + values)
                else:
                    self.items[pos - 1:pos - 1] = values


def _all(lines: list[bytes]) -> list[int]:
    m = re.search(rb" ALL (\S+)", ok(lines)[0])
    return _numbers(m[1].decode()) if m else []


PROGRAMS = [
    ("S1", b"UID SEARCH", b"", b"UNDELETED KEYWORD $Junk", False),
    ("S2", b"SEARCH", b"", b"OR FLAGGED SUBJECT c", True),
    ("T1", b"UID SORT", b"(SUBJECT REVERSE ARRIVAL) UTF-8 ", b"UNSEEN", False),
    ("T2", b"SORT", b"(REVERSE DATE) UTF-8 ", b"NOT DELETED", True),
]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_updates_keep_the_list_equal_to_a_fresh_answer(
        pair: tuple[RawClient, RawClient], seed: int) -> None:
    me, other = pair
    rng = random.Random(seed)
    mirrors = []
    for tag, cmd, sort, prog, numbers in PROGRAMS:
        first = _all(me.command(tag.encode(), cmd + b" RETURN (UPDATE ALL) " + sort + prog))
        mirrors.append(Mirror(tag, first, numbers))
    flags = ["\\Seen", "\\Deleted", "\\Flagged", "$Junk"]
    for round_ in range(12):
        idle = round_ % 2 == 1
        if idle:  # half the rounds, the updates arrive during IDLE
            me.send(b"i IDLE\r\n")
            assert me.line().startswith(b"+ ")
        for _ in range(rng.randint(1, 4)):
            op = rng.random()
            if op < 0.35:
                day = rng.randint(1, 28)
                append(other, f"{rng.choice('abc')}{rng.randint(0, 9)}",
                       f"({rng.choice(flags)})", f"Date: {day} Jan 2020 10:00:00 +0000")
            elif op < 0.75:
                sign = rng.choice("+-")
                uid_set = f"{rng.randint(1, 20)}:{rng.randint(1, 30)}"
                ok(other.command(b"x", f"UID STORE {uid_set} {sign}FLAGS.SILENT "
                                       f"({rng.choice(flags)})".encode()))
            else:
                ok(other.command(b"x", f"UID EXPUNGE {rng.randint(1, 30)}".encode()))
        lines: list[bytes] = []
        if idle:
            me.send(b"DONE\r\n")
            lines += me.until_tagged(b"i")
        lines += me.command(b"n", b"NOOP")
        for line in lines:
            for mirror in mirrors:
                mirror.feed(line)
        for mirror, (tag, cmd, sort, prog, _) in zip(mirrors, PROGRAMS, strict=True):
            fresh = _all(me.command(b"f", cmd + b" RETURN (ALL) " + sort + prog))
            assert mirror.items == fresh, (tag, round_, lines)


# -- RFC 9394 §3.3, §3.4: UID FETCH (PARTIAL) ------------------------------------------------


def test_uid_fetch_partial(pair: tuple[RawClient, RawClient]) -> None:
    """The §3.3 examples on UIDs 3:10 (messages 3 to 10), and §3.4 with CHANGEDSINCE."""
    me, other = pair
    caps = ok(me.command(b"c", b"CAPABILITY"))[0].split()
    assert b"PARTIAL" in caps
    assert ok(me.command(b"10", b"UID FETCH 3:10 (UID FLAGS) (PARTIAL -1:-3)")) == [
        b"* 8 FETCH (UID 8 FLAGS ())",
        b"* 9 FETCH (UID 9 FLAGS (\\Deleted))",
        b"* 10 FETCH (UID 10 FLAGS ())"]
    assert ok(me.command(b"11", b"UID FETCH 3:10 (UID FLAGS) (PARTIAL 1:3)")) == [
        b"* 3 FETCH (UID 3 FLAGS (\\Deleted))",
        b"* 4 FETCH (UID 4 FLAGS ())",
        b"* 5 FETCH (UID 5 FLAGS (\\Deleted $Junk))"]
    assert ok(me.command(b"12", b"UID FETCH 3:10 (UID) (PARTIAL 20:30)")) == []
    ok(other.command(b"x", b"UID STORE 4,9 +FLAGS.SILENT (\\Flagged)"))
    lines = ok(me.command(b"n", b"NOOP"))
    fetched = b" ".join(ok(me.command(b"m", b"UID FETCH 4 (MODSEQ)")))
    modseq = int(re.findall(rb"MODSEQ \((\d+)\)", fetched)[-1])
    assert len(lines) == 2
    # §3.4: the last three of 3:10 first (8, 9, 10), then those changed since.
    assert ok(me.command(b"101", f"UID FETCH 3:10 (UID FLAGS) (PARTIAL -1:-3 CHANGEDSINCE "
                                 f"{modseq - 1})".encode())) == [
        f"* 9 FETCH (UID 9 FLAGS (\\Flagged \\Deleted) MODSEQ ({modseq}))".encode()]
    assert ok(me.command(b"102", f"UID FETCH 3:10 (UID FLAGS) (CHANGEDSINCE {modseq - 1} "
                                 f"PARTIAL -1:-3)".encode())) == [
        f"* 9 FETCH (UID 9 FLAGS (\\Flagged \\Deleted) MODSEQ ({modseq}))".encode()]
    # Only UID FETCH takes it, and only a valid range.
    assert me.command(b"13", b"FETCH 1:3 (UID) (PARTIAL 1:2)")[-1].startswith(b"13 BAD")
    for bad in (b"0:2", b"1:*", b"-1:2", b"1:2,5", b"-0:-3"):
        assert me.command(b"14", b"UID FETCH 1:3 (UID) (PARTIAL " + bad + b")")[-1] \
            .startswith(b"14 BAD"), bad
