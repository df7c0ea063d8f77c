"""Malformed input never makes parse_message / fetch_section raise, and output stays valid."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crispin.protocol.mime import (
    Part,
    body_text,
    fetch_section,
    header_text,
    parse_message,
    part_tree_from_bytes,
    part_tree_to_bytes,
)
from crispin.protocol.mime.walker import MAX_DEPTH

from .corpus_format import CORPUS, names
from .syntax import check_body, check_envelope, read

CORPUS_MESSAGES = [(CORPUS / f"{n}.eml").read_bytes() for n in names()]
TEXTS = (None, "HEADER", "TEXT", "MIME", "HEADER.FIELDS", "HEADER.FIELDS.NOT")


def _part_paths(p: Part, prefix: tuple[int, ...], out: list[tuple[int, ...]]) -> None:
    kids = p.children or ((p.message,) if p.message is not None else ())
    for i, c in enumerate(kids, 1):
        if c is None:
            continue
        out.append((*prefix, i))
        if len(out) < 200:
            _part_paths(c, (*prefix, i), out)


def check_message(raw: bytes) -> None:
    msg = parse_message(raw)
    assert msg.size == len(raw)
    check_envelope(read(msg.envelope))
    check_body(read(msg.bodystructure), extended=True)
    check_body(read(msg.body), extended=False)
    tree = msg.part_tree
    assert part_tree_from_bytes(part_tree_to_bytes(tree)) == tree
    assert fetch_section(raw, tree, (), None) == raw
    head = fetch_section(raw, tree, (), "HEADER")
    text = fetch_section(raw, tree, (), "TEXT")
    assert head is not None and text is not None and head + text == raw
    paths: list[tuple[int, ...]] = [(1,), (2,), (1, 1), (9, 9, 9)]
    _part_paths(tree, (), paths)
    for path in paths[:60]:
        for t in TEXTS:
            fetch_section(raw, tree, path, t, ("Subject", "Content-Type"))
    header_text(raw, tree)
    body_text(raw, tree)


def test_corpus_messages_are_valid() -> None:
    for raw in CORPUS_MESSAGES:
        check_message(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes(raw: bytes) -> None:
    check_message(raw)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(CORPUS_MESSAGES)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        pos = draw(st.integers(0, len(raw)))
        if op == "insert":
            raw[pos:pos] = draw(st.sampled_from(
                [b"\r\n", b"\n", b"--", b"\0", b"\xff", b"\"", b"(", b"<", b":", b";",
                 b"=?utf-8?q?", b"--b\r\n", b"\r\n\r\n", b"Content-Type: multipart/mixed;"
                 b" boundary=b\r\n", b"Content-Type: message/rfc822\r\n"]))
        elif op == "delete":
            del raw[pos : pos + draw(st.integers(1, 20))]
        elif op == "replace" and pos < len(raw):
            raw[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del raw[pos:]
    return bytes(raw)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_corpus(raw: bytes) -> None:
    check_message(raw)


_header_value = st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" "))


@st.composite
def structured(draw: st.DrawFn, depth: int = 0) -> bytes:
    headers = draw(st.lists(st.tuples(
        st.sampled_from([b"From", b"To", b"Cc", b"Subject", b"Content-Disposition",
                         b"Content-Language", b"Content-Transfer-Encoding", b"Sender",
                         b"Date", b"X-Junk"]),
        st.one_of(_header_value, st.sampled_from([
            b"a@b", b"G: a@b, <c@d>;", b"\"x\" <y@z>", b"attachment; filename*0*=utf-8''%41;"
            b" filename*1=b", b"base64", b"en, fr", b"=?utf-8?b?w6k=?= <e@f>", b"(c) d@e"]))),
        max_size=6))
    nl = draw(st.sampled_from([b"\r\n", b"\n"]))
    kind = draw(st.sampled_from(["text", "multipart", "message"] if depth < 4 else ["text"]))
    lines = [name + b": " + value for name, value in headers]
    if kind == "text":
        lines.append(b"Content-Type: " + draw(st.sampled_from(
            [b"text/plain; charset=utf-8", b"text/html", b"application/pdf", b"bogus"])))
        return nl.join(lines) + nl + nl + draw(st.binary(max_size=200))
    if kind == "message":
        lines.append(b"Content-Type: message/rfc822")
        return nl.join(lines) + nl + nl + draw(structured(depth + 1))
    boundary = draw(st.sampled_from([b"b", b"==x==", b"b1", b"outer"]))
    sub = draw(st.sampled_from([b"mixed", b"alternative", b"digest", b"related"]))
    lines.append(b"Content-Type: multipart/" + sub + b'; boundary="' + boundary + b'"')
    body = [draw(st.binary(max_size=30))]
    for _ in range(draw(st.integers(0, 4))):
        body.append(nl + b"--" + boundary + draw(st.sampled_from([b"", b"  "])) + nl)
        body.append(draw(structured(depth + 1)))
    if draw(st.booleans()):
        body.append(nl + b"--" + boundary + b"--" + nl + draw(st.binary(max_size=20)))
    return nl.join(lines) + nl + nl + b"".join(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structured())
def test_structured_messages(raw: bytes) -> None:
    check_message(raw)


def test_deep_nesting_is_capped() -> None:
    depth = 300
    raw = b""
    for i in range(depth):
        raw += b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
    raw += b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    for i in reversed(range(depth)):
        raw += b"--b%d--\r\n" % i
    check_message(raw)
    bs = parse_message(raw).bodystructure
    assert bs.count(b'"mixed"') == MAX_DEPTH
    assert b'"APPLICATION" "OCTET-STREAM"' in bs


def test_deep_message_rfc822_nesting_is_capped() -> None:
    raw = b"Content-Type: message/rfc822\r\n\r\n" * 200 + b"Subject: bottom\r\n\r\nx"
    check_message(raw)


def test_huge_header_and_many_parts() -> None:
    raw = b"Subject: " + b"x" * 1_000_000 + b"\r\nTo: " + b"a@b, " * 20000 + b"\r\n\r\nbody"
    check_message(raw)
    parts = b"".join(b"--b\r\n\r\np%d\r\n" % i for i in range(3000))
    raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + b"--b--\r\n"
    msg = parse_message(raw)
    assert len(msg.part_tree.children) == 1000  # the rest folded into the last part
    check_message(raw)


def test_no_blank_line_and_junk() -> None:
    for raw in (b"Content-Type: text/plain; a*" + b"9" * 5000 + b"=x\r\n\r\n",
                b"Date: 99999999999999999999999 Feb 2022\r\n\r\n",
                b"just some words", b"\r\n", b"\n\n\n", b":", b"From:\r\n\r\n", b"\0\0\0",
                b"Content-Type: multipart/mixed\r\n\r\n--\r\n",
                b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n",
                b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA"):
        check_message(raw)
