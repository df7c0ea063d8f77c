"""Modified UTF-7 (RFC 3501 §5.1.3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crispin.protocol import decode_mutf7, encode_mutf7

EXAMPLES = [
    ("INBOX", b"INBOX"),
    ("&", b"&-"),
    ("a&b&&", b"a&-b&-&-"),
    ("Entwürfe", b"Entw&APw-rfe"),
    ("~peter/mail/台北/日本語", b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("😀", b"&2D3eAA-"),
    ("tab\there", b"tab&AAk-here"),
    ("", b""),
]

INVALID = [
    b"&",  # unterminated
    b"&Jjo",  # unterminated run
    b"&AGE-",  # encodes printable ASCII "a"
    b"&ACY-",  # encodes "&" itself
    b"&Jjo-&Jjo-",  # two runs that should have been one
    b"&Jjp-",  # non-zero padding bits
    b"&Jj-",  # not a whole UTF-16 unit
    b"&2D0-",  # lone high surrogate
    b"&Jjo=-",  # base64 padding is not used
    b"&Jj/o-",  # "/" is "," in modified base64
    b"caf\xc3\xa9",  # 8-bit
    b"a\x01b",  # control character
    b"a\x7fb",  # DEL
]


@pytest.mark.parametrize(("text", "encoded"), EXAMPLES)
def test_examples(text: str, encoded: bytes) -> None:
    assert encode_mutf7(text) == encoded
    assert decode_mutf7(encoded) == text
    assert decode_mutf7(encoded.decode()) == text


@pytest.mark.parametrize("data", INVALID)
def test_rejects(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_mutf7(data)


def test_rejects_8bit_str() -> None:
    with pytest.raises(ValueError):
        decode_mutf7("café")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_roundtrip(text: str) -> None:
    encoded = encode_mutf7(text)
    assert all(0x20 <= b <= 0x7E for b in encoded)
    assert decode_mutf7(encoded) == text


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=24))
def test_decode_is_canonical(data: bytes) -> None:
    # Whatever decodes must be the one encoding of its result.
    try:
        text = decode_mutf7(data)
    except ValueError:
        return
    assert encode_mutf7(text) == data
