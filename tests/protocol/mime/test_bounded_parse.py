"""APPEND's parse is bounded by counts and its memory is a small multiple of the message
(issue 11 point 6): many MIME parts, many header fields, many addresses."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

from crispin.protocol.mime import parse_message
from crispin.protocol.mime.addresses import MAX_ADDRESSES
from crispin.protocol.mime.headers import MAX_FIELDS, Headers, header_bounds
from crispin.protocol.mime.parttree import Part
from crispin.protocol.mime.searchtext import body_text, header_text
from crispin.protocol.mime.walker import MAX_TOTAL_PARTS, parse_tree


def many_parts(groups: int, per: int = 1000) -> bytes:
    out = [b"Subject: parts\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"]
    for _ in range(groups):
        out.append(b"--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
        out.append(b"--b\r\nX: 1\r\n\r\n" * per)
        out.append(b"--b--\r\n")
    out.append(b"--a--\r\n")
    return b"".join(out)


def many_fields(count: int) -> bytes:
    return b"Subject: first\r\n" + b"X-F: v\r\n" * count + b"To: late@x.test\r\n\r\nbody\r\n"


def many_addresses(count: int) -> bytes:
    to = b",".join(b"u%d@example.test" % i for i in range(count))
    return b"Subject: crowd\r\nTo: " + to + b"\r\n\r\nbody\r\n"


def count_parts(p: Part) -> int:
    return 1 + sum(count_parts(c) for c in p.children) + \
        (count_parts(p.message) if p.message is not None else 0)


def peak_of(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_total_parts_are_bounded() -> None:
    raw = many_parts(30)  # 30,000 parts
    parsed = parse_message(raw)
    assert count_parts(parsed.part_tree) <= MAX_TOTAL_PARTS
    assert parsed.bodystructure.startswith(b"((")
    assert b'"parts"' in parsed.envelope
    assert parsed.part_tree.body_end == len(raw)


def test_header_fields_are_bounded() -> None:
    raw = many_fields(200_000)
    root = parse_tree(raw)
    assert len(root.headers.fields) == MAX_FIELDS
    assert b'"first"' in root.envelope
    assert b"late" not in root.envelope  # past the bound: not in ENVELOPE
    header_end, body_start = header_bounds(raw, 0, len(raw))
    assert raw[body_start:] == b"body\r\n"  # BODY[TEXT] is exact all the same
    assert len(Headers(raw[:header_end]).fields) == MAX_FIELDS
    assert header_text(raw, parse_message(raw).part_tree).count("\n") == MAX_FIELDS - 1


def test_envelope_addresses_are_bounded() -> None:
    raw = many_addresses(20_000)
    envelope = parse_message(raw).envelope
    assert envelope.count(b'"example.test")') == MAX_ADDRESSES
    assert b'"u0" "example.test"' in envelope


def analysis(raw: bytes) -> Callable[[], object]:
    def run() -> None:
        parsed = parse_message(raw)
        header_text(raw, parsed.part_tree)
        body_text(raw, parsed.part_tree)

    return run


def test_memory_is_a_small_multiple_of_the_message() -> None:
    for raw in (many_fields(100_000), many_addresses(50_000)):
        peak = peak_of(analysis(raw))
        assert peak < 10 * len(raw) + (4 << 20), (len(raw), peak)


def test_memory_for_many_parts_stops_growing_at_the_bound() -> None:
    """Each kept part costs about a kilobyte of structures, however small it is; past
    MAX_TOTAL_PARTS a bigger message costs no more."""
    at_bound = peak_of(analysis(many_parts(11)))
    far_past = peak_of(analysis(many_parts(40)))
    assert far_past < at_bound * 1.3 + 4 * len(many_parts(40)), (at_bound, far_past)
