"""Part tree: offsets, serialisation round trip, and part-number resolution."""

from __future__ import annotations

import pytest

from crispin.protocol.mime import (
    Part,
    fetch_section,
    find_part,
    parse_message,
    part_tree_from_bytes,
    part_tree_to_bytes,
)

from .corpus_format import CORPUS, names


def _walk(p: Part) -> list[Part]:
    out = [p]
    for c in p.children:
        out += _walk(c)
    if p.message is not None:
        out += _walk(p.message)
    return out


@pytest.mark.parametrize("name", names())
def test_round_trip(name: str) -> None:
    raw = (CORPUS / f"{name}.eml").read_bytes()
    tree = parse_message(raw).part_tree
    data = part_tree_to_bytes(tree)
    assert isinstance(data, bytes)
    assert part_tree_from_bytes(data) == tree
    for p in _walk(tree):
        assert 0 <= p.header_start <= p.body_start <= p.body_end <= len(raw)
        assert p.size == p.body_end - p.body_start
        assert p.lines == raw.count(b"\n", p.body_start, p.body_end)


def test_from_bytes_rejects_garbage() -> None:
    for bad in (b"[2,[]]", b"[1,[1,2]]", b"{}", b"not json"):
        with pytest.raises(ValueError):
            part_tree_from_bytes(bad)


def test_nested_numbering() -> None:
    raw = (CORPUS / "nested-rfc822.eml").read_bytes()
    tree = parse_message(raw).part_tree
    p21 = find_part(tree, (2, 1))
    assert p21 is not None and p21.message is not None
    assert (p21.media_type, p21.media_subtype) == ("message", "rfc822")
    inner = find_part(tree, (2, 1, 2))
    assert inner is not None and inner.media_subtype == "html"
    assert find_part(tree, ()) is None
    assert find_part(tree, (0,)) is None
    # BODY[2.1] is the whole encapsulated message: its HEADER followed by its TEXT
    whole = fetch_section(raw, tree, (2, 1), None)
    assert whole == (fetch_section(raw, tree, (2, 1), "HEADER") or b"") + (
        fetch_section(raw, tree, (2, 1), "TEXT") or b"")


def test_top_level_message_rfc822() -> None:
    raw = (b"Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nhello\r\n")
    msg = parse_message(raw)
    tree = msg.part_tree
    assert fetch_section(raw, tree, (1,), None) == b"Subject: in\r\n\r\nhello\r\n"
    assert fetch_section(raw, tree, (1,), "HEADER") == b"Subject: in\r\n\r\n"
    assert fetch_section(raw, tree, (1, 1), None) == b"hello\r\n"
    assert fetch_section(raw, tree, (1,), "TEXT") == b"hello\r\n"
    assert msg.bodystructure.startswith(b'("message" "rfc822" NIL NIL NIL "7BIT" 22 (NIL "in" ')


def test_mime_needs_a_part_and_bad_specs() -> None:
    raw = b"Subject: x\r\n\r\nbody\r\n"
    tree = parse_message(raw).part_tree
    assert fetch_section(raw, tree, (), "MIME") is None
    assert fetch_section(raw, tree, (), "BOGUS") is None
    assert fetch_section(raw, tree, (), "header") == b"Subject: x\r\n\r\n"
    assert fetch_section(raw, tree, (), "HEADER.FIELDS", ("X-None",)) == b"\r\n"
    assert fetch_section(raw, tree, (), "HEADER.FIELDS", ()) == b"\r\n"
    assert fetch_section(raw, tree, (), "HEADER.FIELDS.NOT", ()) == b"Subject: x\r\n\r\n"


def test_header_fields_duplicates_and_no_final_newline() -> None:
    raw = b"Received: a\r\nSubject: s\r\nReceived: b\r\n\tc"
    tree = parse_message(raw).part_tree
    got = fetch_section(raw, tree, (), "HEADER.FIELDS", ("received",))
    assert got == b"Received: a\r\nReceived: b\r\n\tc\r\n\r\n"
