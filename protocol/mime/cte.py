"""Content-Transfer-Encoding undone piece by piece, for FETCH BINARY (RFC 3516 §4.2).

A 20 MB base64 attachment is decoded as it is read, a chunk at a time, so memory stays flat
whatever the part's size; the same decoder run twice gives the same bytes, so BINARY.SIZE
and a first pass that sizes the literal agree with what BINARY then sends (§4.3).

Decoding is lenient like :func:`crispin.protocol.mime.textdecode.decode_base64` (what SEARCH
uses): bytes outside the base64 alphabet are skipped and decoding stops at the padding.
Textual parts (``text/*``) come out with CRLF line ends (RFC 3516 §6), whatever the decoded
data used.
"""

from __future__ import annotations

import binascii
import re

from .textdecode import _B64_JUNK, decode_base64

IDENTITY = frozenset({"7bit", "8bit", "binary"})
"""Encodings that leave the data as it is (RFC 2045 §6.2)."""
KNOWN = IDENTITY | {"base64", "quoted-printable"}
"""What the server can decode; anything else is NO [UNKNOWN-CTE] (RFC 3516 §4.3)."""

_BARE_LF = re.compile(rb"(?<!\r)\n")
# A quoted-printable line longer than this is decoded before its end is seen, so one
# endless line cannot make the decoder hold the whole part.
_QP_HOLD = 64 * 1024


def known(encoding: str) -> bool:
    return encoding.lower() in KNOWN


class Decoder:
    """``feed`` encoded bytes in order, get decoded bytes; ``finish`` for the rest."""

    def __init__(self, encoding: str, textual: bool) -> None:
        self.encoding = encoding.lower()
        if self.encoding not in KNOWN:
            raise ValueError(f"unknown Content-Transfer-Encoding {encoding!r}")
        self.textual = textual
        self._carry = b""
        self._done = False
        self._prev_cr = False

    def feed(self, data: bytes) -> bytes:
        if self.encoding == "base64":
            out = self._base64(data)
        elif self.encoding == "quoted-printable":
            out = self._qp(data)
        else:
            out = data
        return self._crlf(out)

    def finish(self) -> bytes:
        if self.encoding == "base64":
            out = b"" if self._done else self._b64_final(self._carry)
        elif self.encoding == "quoted-printable":
            out = _a2b_qp(self._carry)
        else:
            out = b""
        self._carry = b""
        self._done = True
        return self._crlf(out)

    # -- base64 (RFC 2045 §6.8) -------------------------------------------------------------
    def _base64(self, data: bytes) -> bytes:
        if self._done:
            return b""
        end = data.find(b"=")
        if end >= 0:
            data = data[:end]
        data = self._carry + _B64_JUNK.sub(b"", data)
        if end >= 0:
            self._done = True
            return self._b64_final(data)
        whole = len(data) - len(data) % 4
        self._carry = data[whole:]
        return binascii.a2b_base64(data[:whole]) if whole else b""

    @staticmethod
    def _b64_final(data: bytes) -> bytes:
        """The last group(s), unpadded or cut short, decoded as SEARCH decodes them."""
        return decode_base64(data)

    # -- quoted-printable (RFC 2045 §6.7) ---------------------------------------------------
    def _qp(self, data: bytes) -> bytes:
        data = self._carry + data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) > _QP_HOLD:
            # No line end in sight: decode all but an escape that may be cut in two.
            cut = len(data) - 2
            eq = data.rfind(b"=", cut - 1)
            if eq >= 0:
                cut = eq
        self._carry = data[cut:]
        return _a2b_qp(data[:cut])

    # -- RFC 3516 §6: CRLF line ends in textual parts ---------------------------------------
    def _crlf(self, data: bytes) -> bytes:
        if not self.textual or not data:
            return data
        lead = b""
        if self._prev_cr and data[:1] == b"\n":
            lead, data = b"\n", data[1:]
        out = lead + _BARE_LF.sub(b"\r\n", data)
        self._prev_cr = out.endswith(b"\r")
        return out


def _a2b_qp(data: bytes) -> bytes:
    if not data:
        return b""
    try:
        return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return data


def decode(data: bytes, encoding: str, textual: bool) -> bytes:
    """The whole of ``data`` decoded (a part small enough to hold)."""
    decoder = Decoder(encoding, textual)
    return decoder.feed(data) + decoder.finish()
