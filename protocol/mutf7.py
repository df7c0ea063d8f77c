"""Modified UTF-7 for mailbox names (RFC 3501 §5.1.3)."""

from __future__ import annotations

import binascii

_B64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")


class UndecodableName(str):
    """A mailbox name as the client sent it, which is not valid modified UTF-7.

    Not a syntax error: the argument is a well-formed astring, so the command is not BAD
    (clients drop the connection on BAD). The server answers NO [CANNOT] where a mailbox
    is named (RFC 5530 §3), and a LIST/LSUB pattern of this kind matches nothing (Dovecot
    does both). The text is the raw bytes, 8-bit ones as surrogate escapes; ``reason``
    says why decoding failed.
    """

    reason: str

    def __new__(cls, raw: bytes, reason: str) -> UndecodableName:
        self = super().__new__(cls, raw.decode("ascii", "surrogateescape"))
        self.reason = reason
        return self

    def __repr__(self) -> str:
        return f"UndecodableName({str.__repr__(self)}, {self.reason!r})"


def encode_mutf7(name: str) -> bytes:
    """Encode a mailbox name: printable ASCII stands for itself, ``&`` becomes
    ``&-``, everything else is a ``&...-`` run of modified base64 of UTF-16BE."""
    if name.isascii() and name.isprintable() and "&" not in name:
        return name.encode("ascii")
    out = bytearray()
    run: list[str] = []
    for ch in name:
        if " " <= ch <= "~":
            if run:
                out += _encode_run("".join(run))
                run.clear()
            out += b"&-" if ch == "&" else ch.encode("ascii")
        else:
            run.append(ch)
    if run:
        out += _encode_run("".join(run))
    return bytes(out)


def _encode_run(text: str) -> bytes:
    # surrogatepass: names decoded with surrogateescape may carry lone surrogates.
    raw = text.encode("utf-16-be", "surrogatepass")
    b64 = binascii.b2a_base64(raw, newline=False).rstrip(b"=").replace(b"/", b",")
    return b"&" + b64 + b"-"


def decode_mutf7(data: bytes | str) -> str:
    """Decode a modified UTF-7 name, raising ValueError unless it is the one
    canonical encoding RFC 3501 §5.1.3 allows: only printable ASCII, ``&``
    escaped, base64 runs terminated, containing whole UTF-16 units with zero
    padding bits, never encoding printable ASCII, and never two runs in a row.
    """
    if isinstance(data, str):
        if not data.isascii():
            raise ValueError("8-bit character in mailbox name")
        data = data.encode("ascii")
    if b"&" not in data:
        for byte in data:
            if byte < 0x20 or byte > 0x7E:
                raise ValueError("Invalid character in mailbox name")
        return data.decode("ascii")
    out: list[str] = []
    i = 0
    n = len(data)
    last_run_end = -1
    while i < n:
        byte = data[i]
        if byte < 0x20 or byte > 0x7E:
            raise ValueError("Invalid character in mailbox name")
        if byte != 0x26:  # "&"
            out.append(chr(byte))
            i += 1
            continue
        end = data.find(b"-", i + 1)
        if end < 0:
            raise ValueError("Unterminated modified UTF-7 run")
        if end == i + 1:
            out.append("&")
            i = end + 1
            continue
        if last_run_end == i:
            raise ValueError("Adjacent modified UTF-7 runs")
        out.append(_decode_run(data[i + 1 : end]))
        i = end + 1
        last_run_end = i
    return "".join(out)


def _decode_run(b64: bytes) -> str:
    if any(c not in _B64_CHARS for c in b64):
        raise ValueError("Invalid modified base64")
    units = len(b64) * 6 // 16
    if units == 0 or (units * 16 + 5) // 6 != len(b64):
        raise ValueError("Invalid modified UTF-7 run length")
    padded = b64.replace(b",", b"/") + b"=" * (-len(b64) % 4)
    try:
        raw = binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error as exc:
        raise ValueError("Invalid modified base64") from exc
    if len(raw) != units * 2:
        # Extra padding bits that were non-zero leave a dangling byte.
        raise ValueError("Invalid modified UTF-7 padding")
    # Re-encoding must give the same text: this rejects non-zero padding bits.
    if binascii.b2a_base64(raw, newline=False).rstrip(b"=").replace(b"/", b",") != b64:
        raise ValueError("Invalid modified UTF-7 padding")
    text = raw.decode("utf-16-be")  # strict: lone surrogates raise (a ValueError)
    if any(" " <= ch <= "~" for ch in text):
        raise ValueError("Printable ASCII must not be base64-encoded")
    return text
