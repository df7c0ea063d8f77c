"""``preview.message_preview`` (RFC 8970 §3.3): which part, decoded how, cut where."""

from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crispin.protocol.mime import parse_message
from crispin.protocol.mime.preview import PREVIEW_CHARS, html_text, message_preview, plain_text


def preview(raw: bytes) -> str:
    return message_preview(raw, parse_message(raw).part_tree)


def mixed(*parts: bytes, kind: bytes = b"mixed") -> bytes:
    out = b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/" + kind + \
        b'; boundary="b"\r\n\r\n'
    for part in parts:
        out += b"--b\r\n" + part + b"\r\n"
    return out + b"--b--\r\n"


def test_plain_text_with_white_space_collapsed() -> None:
    assert preview(b"Subject: x\r\n\r\nHello   there,\r\n\r\n\tsee you\r\n") == \
        "Hello there, see you"


def test_cut_at_200_characters_not_octets() -> None:
    text = "é" * 300  # two octets each in UTF-8
    raw = ("Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n" + text + "\r\n").encode()
    got = preview(raw)
    assert got == "é" * PREVIEW_CHARS and len(got) == 200


def test_quoted_printable_and_a_legacy_charset() -> None:
    raw = (b"Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
           b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
           b"Gr=FC=DFe aus K=F6ln, sch=\r\n=F6ne Tage\r\n")
    assert preview(raw) == "Grüße aus Köln, schöne Tage"


def test_base64_html_stripped_and_entities_decoded() -> None:
    html = (b"<html><head><title>T</title><style>p {color: red}</style></head>"
            b"<body><p>Caf&eacute; &amp; <b>cr&#232;me</b></p><div>next&nbsp;line</div>"
            b"<script>alert(1)</script></body></html>")
    raw = (b"Subject: x\r\nContent-Type: text/html; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(html))
    assert preview(raw) == "Café & crème next\xa0line".replace("\xa0", " ")


def test_alternative_prefers_plain_and_attachments_are_not_the_text() -> None:
    alt = mixed(b"Content-Type: text/html\r\n\r\n<p>the html</p>",
                b"Content-Type: text/plain\r\n\r\nthe plain text", kind=b"alternative")
    assert preview(alt) == "the plain text"
    attached = mixed(b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                     b"iVBORw0KGgo=",
                     b"Content-Type: text/plain\r\nContent-Disposition: attachment;"
                     b' filename="notes.txt"\r\n\r\nnot the body',
                     b"Content-Type: text/plain\r\n\r\nthe body")
    assert preview(attached) == "the body"


def test_quoted_lines_left_out_unless_nothing_else() -> None:
    assert preview(b"Subject: x\r\n\r\nI agree.\r\n> you wrote\r\n> this\r\n") == "I agree."
    assert preview(b"Subject: x\r\n\r\n> only\r\n> quotes\r\n") == "> only > quotes"


@pytest.mark.parametrize("raw", [
    b"Subject: x\r\nContent-Type: image/gif\r\n\r\nGIF89a",
    b"Subject: x\r\n\r\n",
    b"Subject: x\r\n\r\n   \r\n\t\r\n",
    mixed(b"Content-Type: application/pdf\r\n\r\n%PDF"),
])
def test_no_meaningful_preview_is_empty(raw: bytes) -> None:
    assert preview(raw) == ""


def test_control_characters_go_and_broken_html_still_gives_text() -> None:
    assert preview(b"Subject: x\r\n\r\na\x00b\x07c") == "a b c"
    assert html_text("<p>unclosed <b>tags <i>and &bogus; text") == " unclosed tags and &bogus; text"
    assert html_text("<head><title>x</title>no body tag, still head") == ""
    assert html_text("<head><title>x</title><body>after an open head") == "after an open head"


def whole_text_preview(text: str) -> str:
    """What the preview of plain text is by its definition (RFC 8970 §3.3 as the module
    docstring reads it), computed over the whole text: the reference for ``plain_text``,
    which looks at a prefix only."""
    lines = text.splitlines()
    kept = [line for line in lines if not line.lstrip().startswith(">")]
    text = "\n".join(kept if any(line.strip() for line in kept) else lines)
    text = re.sub(r"\s+", " ", re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", " ", text)).strip()
    return text[:PREVIEW_CHARS].rstrip()


LINE = st.one_of(st.text(alphabet=" \t\r\n>xé\x00\x1c\x85\xa0\u2028", max_size=150),
                 st.integers(0, 3000).map(" ".__mul__))  # long blank runs


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, max_size=400), st.integers(0, 3000))
def test_plain_text_from_a_prefix_is_the_whole_texts_preview(lines: list[str],
                                                             quoted: int) -> None:
    # Long quoted runs first, so the first windows often hold nothing to keep.
    text = "> q\n" * quoted + "\r\n".join(lines)
    assert plain_text(text) == whole_text_preview(text)


@pytest.mark.parametrize("text", [
    "> quoted\r\n" * 1000 + "the answer after 10 KB of quotes\r\n",
    "> quoted\r\n" * 1000,
    "x" * 76 + "\r\n" + ("word " * 15 + "\r\n") * 200,
    " " * 5000 + "late",
    "early " * 20 + " " * 5000 + "late",
    "a" * 2047 + "\r\n" + "> " + "b" * 400,
])
def test_plain_text_cases_at_the_window_edges(text: str) -> None:
    assert plain_text(text) == whole_text_preview(text)
    raw = b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode()
    assert preview(raw) == whole_text_preview(text)
