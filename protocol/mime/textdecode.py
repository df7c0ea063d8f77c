"""Turning message bytes into text for SEARCH (RFC 2047, RFC 2045 §6, RFC 2046 §4.1.2).

Everything here is best effort and never raises: unknown charsets fall back to
UTF-8 (or Latin-1 when the bytes are not UTF-8), broken base64 and
quoted-printable decode as much as they can.
"""

from __future__ import annotations

import binascii
import codecs
import re

_ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_SPACE_ONLY = re.compile(rb"[ \t\r\n]*")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def bytes_to_text(data: bytes, charset: str | None = None) -> str:
    """Decode *data* in *charset*; without a usable charset try UTF-8, then Latin-1."""
    if charset:
        name = charset.strip().strip('"').lower()
        if name not in ("", "us-ascii", "ascii", "unknown-8bit", "x-unknown"):
            try:
                codecs.lookup(name)
            except (LookupError, ValueError):  # ValueError: NUL in the name
                pass
            else:
                try:
                    return data.decode(name, errors="replace")
                except Exception:  # a codec may fail in odd ways on odd input
                    pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _decode_word(charset: bytes, enc: bytes, text: bytes) -> str:
    cs = charset.split(b"*", 1)[0].decode("ascii", "replace")  # RFC 2231 §5 language
    if enc in (b"b", b"B"):
        data = decode_base64(text)
    else:
        data = re.sub(
            rb"=([0-9A-Fa-f]{2})",
            lambda m: bytes([int(m.group(1), 16)]),
            text.replace(b"_", b" "),
        )
    return bytes_to_text(data, cs)


def decode_words(value: bytes) -> str:
    """Decode RFC 2047 encoded-words in a header value; white space between words is dropped."""
    out: list[str] = []
    pos = 0
    prev_word = False
    for m in _ENCODED_WORD.finditer(value):
        between = value[pos : m.start()]
        if not (prev_word and _SPACE_ONLY.fullmatch(between)):
            out.append(bytes_to_text(between))
        out.append(_decode_word(m.group(1), m.group(2), m.group(3)))
        pos = m.end()
        prev_word = True
    out.append(bytes_to_text(value[pos:]))
    return "".join(out)


def decode_base64(data: bytes) -> bytes:
    """Lenient base64: ignore non-alphabet bytes, stop at padding, decode what is there."""
    clean = _B64_JUNK.sub(b"", data.split(b"=", 1)[0])
    clean = clean[: len(clean) - (len(clean) % 4 == 1)]  # a lone 6-bit group is junk
    clean += b"=" * (-len(clean) % 4)
    try:
        return binascii.a2b_base64(clean)
    except (binascii.Error, ValueError):
        return b""


def decode_transfer(data: bytes, encoding: str) -> bytes:
    """Undo a Content-Transfer-Encoding (RFC 2045 §6); unknown encodings pass through."""
    if encoding == "base64":
        return decode_base64(data)
    if encoding == "quoted-printable":
        try:
            return binascii.a2b_qp(data)
        except (binascii.Error, ValueError):
            return data
    return data
