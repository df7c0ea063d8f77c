"""The streaming transfer decoder of FETCH BINARY (RFC 3516): fed in any pieces, it gives
what decoding the whole at once gives (so BINARY.SIZE, counted in one pass, matches what
BINARY sends in another), and what SEARCH's decoder gives."""

from __future__ import annotations

import base64
import binascii
import random

import pytest

from crispin.protocol.mime.cte import Decoder, decode, known
from crispin.protocol.mime.textdecode import decode_transfer

SAMPLES = [
    ("base64", base64.encodebytes(bytes(range(256)) * 3).replace(b"\n", b"\r\n")),
    ("base64", b"aGVs bG8g\r\nd29y\x00bGQ=\r\njunk after padding"),
    ("base64", b"YQ"),  # unpadded
    ("quoted-printable", binascii.b2a_qp(("\u00e9t\u00e9 " * 40).encode(), istext=True)),
    ("quoted-printable", b"soft=\r\nbreak and =3D sign=\nend" + b"x" * 70000 + b"=41"),
    ("7bit", b"plain\r\ntext\n"),
]


def pieces(data: bytes, rng: random.Random) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        n = rng.choice((1, 2, 3, 5, 64, 1000, 70000))
        out.append(data[pos:pos + n])
        pos += n
    return out


@pytest.mark.parametrize("textual", [False, True])
@pytest.mark.parametrize("encoding, data", SAMPLES)
def test_pieces_decode_as_the_whole(encoding: str, data: bytes, textual: bool) -> None:
    whole = decode(data, encoding, textual)
    rng = random.Random(7)
    for _ in range(5):
        d = Decoder(encoding, textual)
        assert b"".join(d.feed(p) for p in pieces(data, rng)) + d.finish() == whole
    if not textual:
        assert whole == decode_transfer(data, encoding)


def test_textual_parts_get_crlf_across_pieces() -> None:
    d = Decoder("7bit", textual=True)
    out = d.feed(b"a\r") + d.feed(b"\nb\n") + d.feed(b"\n") + d.finish()
    assert out == b"a\r\nb\r\n\r\n"


def test_known_encodings() -> None:
    assert all(known(e) for e in ("7bit", "8BIT", "Binary", "base64", "Quoted-Printable"))
    assert not known("x-uuencode")
    with pytest.raises(ValueError):
        Decoder("x-uuencode", False)
