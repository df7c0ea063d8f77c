"""Turning message bytes into text for SEARCH (RFC 2047, RFC 2045 §6, RFC 2046 §4.1.2).

Everything here is best effort and never raises: unknown charsets fall back to
UTF-8 (or Latin-1 when the bytes are not UTF-8), broken base64 and
quoted-printable decode as much as they can.

What comes from the standard library:

- RFC 2047 encoded-words are B/Q-decoded by ``email.header.decode_header``,
  which also joins adjacent encoded-words of one charset *before* converting them
  to text (so a UTF-8 character split across two words survives) and drops the
  white space between adjacent encoded-words (RFC 2047 §6.2). The bytes of each
  chunk are then turned into text by :func:`bytes_to_text` (``codecs``), not by
  ``make_header``/``str(Header)``: ``Header.append`` raises LookupError on an
  unknown charset and ``str(Header)`` turns 8-bit bytes into U+FFFD, while SEARCH
  must keep going and read raw 8-bit header bytes as UTF-8 or Latin-1. The
  RFC 2231 §5 language suffix (``=?utf-8*en?Q?...?=``) is removed from the charset.
- Encoded-words are *found* by the project's own regex, which follows RFC 2047
  §2 strictly (no white space or "?" inside a word) and runs in linear time;
  each run of encoded-words separated only by white space is then handed to
  ``decode_header``. Handing it the whole value would be quadratic: its regex
  (``email.header.ecre``, lazy ``.*?`` up to ``?=``) rescans to the end of the
  line from every ``=?x?q?`` opener without a closing ``?=`` (a 56 KB Subject of
  ``=?a?q?x`` took 1.8 s, against 0.4 ms here), and it works line by line with
  ``str.splitlines``, which also splits a Latin-1 read of raw UTF-8 at byte 0x85
  (the second byte of "Å"). Text outside the runs is read with :func:`bytes_to_text`.
- ``decode_header`` is itself quadratic in the number of words it gets (it
  deletes from a list and concatenates bytes in loops: a 1.3 MB Subject of
  128000 words took 11 s), so a run is at most :data:`MAX_RUN_WORDS` words; the
  white space between two consecutive runs is dropped like any other between
  encoded-words, and only a character split exactly at that cut is lost.
- ``decode_header`` raises HeaderParseError on a B word that does not decode
  (``=?utf-8?B?w?=``); that run falls back to decoding word by word with the
  project's lenient :func:`decode_base64` and Q decoder.
- Transfer decoding is ``binascii.a2b_qp`` (what ``quopri`` and
  ``Message.get_payload(decode=True)`` use) and ``binascii.a2b_base64`` behind a
  lenient clean-up. ``get_payload(decode=True)`` itself is not used for base64:
  for a body whose base64 length is 1 more than a multiple of 4 it returns the
  *undecoded* text (bpo-27397), and SEARCH would then match base64 gibberish;
  :func:`decode_base64` drops the lone 6-bit group and decodes the rest.
- Charset conversion is ``codecs``.
"""

from __future__ import annotations

import binascii
import codecs
import email.header
import re

_ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")
_SPACE_ONLY = re.compile(rb"[ \t\r\n]*")
_WORD = rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?="
MAX_RUN_WORDS = 64
# Encoded-words separated by nothing but white space (RFC 2047 §6.2: that space is dropped).
_WORD_RUN = re.compile(_WORD + rb"(?:[ \t\r\n]*" + _WORD + rb"){0,%d}" % (MAX_RUN_WORDS - 1))


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
    """One encoded-word, decoded by the project's code (fallback for :func:`_decode_run`)."""
    cs = _charset_of(charset.decode("ascii", "replace"))
    if enc in (b"b", b"B"):
        data = decode_base64(text)
    else:
        data = re.sub(
            rb"=([0-9A-Fa-f]{2})",
            lambda m: bytes([int(m.group(1), 16)]),
            text.replace(b"_", b" "),
        )
    return bytes_to_text(data, cs)


def _charset_of(charset: str) -> str:
    return charset.split("*", 1)[0]  # RFC 2231 §5 language suffix


def _decode_run(run: bytes) -> str:
    """Decode encoded-words separated by white space (a :data:`_WORD_RUN` match)."""
    try:
        chunks = email.header.decode_header(run.decode("latin-1"))
    except Exception:  # HeaderParseError on a bad B word, or anything odd: word by word
        return "".join(_decode_word(*m.groups()) for m in _ENCODED_WORD.finditer(run))
    out = []
    for data, charset in chunks:
        raw = data.encode("latin-1") if isinstance(data, str) else data
        out.append(bytes_to_text(raw, None if charset is None else _charset_of(charset)))
    return "".join(out)


def decode_words(value: bytes) -> str:
    """Decode RFC 2047 encoded-words in a header value; white space between words is dropped.

    Adjacent encoded-words in one charset are joined before conversion to text
    (``email.header.decode_header``), so a character split across them survives.
    """
    if b"=?" not in value:
        return bytes_to_text(value)
    out: list[str] = []
    pos = 0
    for m in _WORD_RUN.finditer(value):
        between = value[pos : m.start()]
        if not (pos and _SPACE_ONLY.fullmatch(between)):  # white space between two runs: drop
            out.append(bytes_to_text(between))
        out.append(_decode_run(m.group()))
        pos = m.end()
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
