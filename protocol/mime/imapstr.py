"""IMAP string production for ready-made response bytes (RFC 3501 §4.3, §9 ``string``).

Values taken from a message are written as ``quoted`` when every byte is a
TEXT-CHAR (7-bit, not NUL, CR or LF; ``"`` and ``\\`` escaped) and as a
``literal`` ``{n}\\r\\n<bytes>`` otherwise, so 8-bit header bytes are passed
through untouched instead of being mangled into a quoted string.

A literal cannot carry NUL (``CHAR8 = %x01-ff``), so NUL bytes are replaced by
0x80, as Dovecot does for header data it returns over IMAP.
"""

from __future__ import annotations

import re

NIL = b"NIL"

_QUOTABLE = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\x7f]*")


def string(value: bytes) -> bytes:
    """Return *value* as an IMAP ``string``: quoted when safe, else a literal."""
    if b"\0" in value:
        value = value.replace(b"\0", b"\x80")
    if _QUOTABLE.fullmatch(value):
        return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(value) + value


def nstring(value: bytes | None) -> bytes:
    """Return *value* as an IMAP ``nstring``: ``NIL`` for None, else :func:`string`."""
    return NIL if value is None else string(value)
