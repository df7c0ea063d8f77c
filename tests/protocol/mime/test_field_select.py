"""FieldSelector (the HEADER.FIELDS fast path) gives exactly what filter_header gives.

filter_header cuts the block into fields with split_fields, one at a time: it is the
reference (RFC 3501 §6.4.5); the selector must agree with it on every block, including the
odd ones a mailbox really holds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crispin.protocol.mime import filter_header
from crispin.protocol.mime.field_select import FieldSelector, header_end

THUNDERBIRD = ("FROM", "TO", "CC", "SUBJECT", "DATE", "MESSAGE-ID", "PRIORITY",
               "X-PRIORITY", "REFERENCES", "NEWSGROUPS", "IN-REPLY-TO", "CONTENT-TYPE",
               "REPLY-TO")

TRICKY = [
    # folded fields, a duplicate field, a wanted field at the very start and the end
    b"Subject: one\r\n two\r\n\tthree\r\nFrom: a@x\r\nX-Other: 1\r\nsubject : again\r\n"
    b"To: b@y\r\n\r\n",
    # LF-only line ends, a colon-less line, a name alone on a line (with blanks, CRs)
    b"From: a@x\nTo: b@y\n\tcontinued\nNoColonLine\nSubject \r\nCc\r\r\n\nbody\n",
    # no blank line, no body, no final line end
    b"Subject: no body and no newline",
    b"From: a@x\r\nSubject: last, no line end",
    # CR-only line ends: one line to split_fields
    b"From: a@x\rTo: b@y\rSubject: s\r\r",
    # 8-bit bytes in names and values
    b"Subject: caf\xc3\xa9 \xff\r\nX-\xe9t\xe9: v\r\nFrom: \x80@x\r\n\r\n",
    # a continuation line first, an empty value, a blank-only continuation line
    b" leading continuation\r\nFrom:\r\nTo: a\r\n \r\n next\r\n\r\n",
    # names that share a prefix with wanted ones, a colon only in the continuation
    b"To-Do: x\r\nFromage: y\r\nX-Priority-Extra: 1\r\nReply-To\r\n : z\r\nTo: t\r\n\r\n",
    # an empty line inside the stored block: the header ends there
    b"From: a\r\n\r\nTo: after the blank line\r\n\r\n",
    b"From: a\n\nSubject: after\n",
    b"\r\nFrom: a\r\n",
    b"\nFrom: a\n",
    b"",
    b"\r\n",
    b"From: a@x\r\nFROM: b@y\r\nfrom : c@z\r\n\r\n",
]
FIELD_SETS: list[tuple[str, ...]] = [
    THUNDERBIRD, ("SUBJECT",), ("FROM",), ("NOPE",), ("CC",), ("REPLY-TO", "TO"),
    ("SUBJECT", "NOCOLONLINE"), ("X-\xe9T\xe9",), ("A.B", "X-*"),
]


@pytest.mark.parametrize("block", TRICKY)
@pytest.mark.parametrize("fields", FIELD_SETS)
@pytest.mark.parametrize("negate", [False, True])
def test_tricky_blocks_match_filter_header(block: bytes, fields: tuple[str, ...],
                                           negate: bool) -> None:
    assert FieldSelector(fields, negate).select(block) == filter_header(block, fields, negate)


def test_selection_keeps_order_folding_and_duplicates() -> None:
    block = TRICKY[0]
    assert FieldSelector(("subject",), False).select(block) == (
        b"Subject: one\r\n two\r\n\tthree\r\nsubject : again\r\n\r\n")
    assert FieldSelector(("SUBJECT", "TO"), True).select(block) == (
        b"From: a@x\r\nX-Other: 1\r\n\r\n")
    assert FieldSelector(("NOPE",), False).select(block) == b"\r\n"


def test_header_end() -> None:
    assert header_end(b"A: b\r\n\r\nC: d\r\n") == 6
    assert header_end(b"A: b\n\nC: d\n\r\n") == 5
    assert header_end(b"\r\nA: b") == 0
    assert header_end(b"A: b") == 4


LINE_PARTS = st.sampled_from([
    b"From", b"from", b"TO", b"To", b"Cc", b"Subject", b"X-Priority", b"Priority",
    b"Reply-To", b"X", b"Toto", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"a", b"\xff",
    b"value", b" :", b"=?utf-8?q?x?=",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(LINE_PARTS, max_size=40),
       st.lists(st.sampled_from(["FROM", "TO", "SUBJECT", "X-PRIORITY", "PRIORITY", "X"]),
                min_size=1, max_size=4),
       st.booleans())
def test_random_blocks_match_filter_header(parts: list[bytes], fields: list[str],
                                           negate: bool) -> None:
    block = b"".join(parts)
    assert FieldSelector(fields, negate).select(block) == filter_header(block, tuple(fields),
                                                                        negate)
