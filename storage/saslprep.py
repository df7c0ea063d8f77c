"""SASLprep (RFC 4013), the stringprep profile (RFC 3454) SCRAM applies to user names and
passwords before hashing (RFC 5802 §2.2 "Normalize", §5.1 "n").

Only the standard library's ``stringprep`` tables and Unicode 3.2 normalisation (RFC 3454
is written against Unicode 3.2, hence ``unicodedata.ucd_3_2_0``), no I/O: the storage layer
derives a password's SCRAM keys with it, the server prepares the user name a client sends.
"""

from __future__ import annotations

import stringprep
import unicodedata


class SASLprepError(ValueError):
    """The string holds a character SASLprep prohibits, or breaks the bidi rule."""


_PROHIBITED = (
    stringprep.in_table_c12,  # non-ASCII space (RFC 4013 §2.3)
    stringprep.in_table_c21_c22,  # control characters
    stringprep.in_table_c3,  # private use
    stringprep.in_table_c4,  # non-character code points
    stringprep.in_table_c5,  # surrogate codes
    stringprep.in_table_c6,  # inappropriate for plain text
    stringprep.in_table_c7,  # inappropriate for canonical representation
    stringprep.in_table_c8,  # change display properties or deprecated
    stringprep.in_table_c9,  # tagging characters
)


def saslprep(text: str, *, stored: bool = True) -> str:
    """``text`` prepared by RFC 4013. ``stored``: a "stored string" (RFC 3454 §7), where
    unassigned code points are prohibited, as RFC 5802 §2.2 asks for passwords; False for a
    "query" (the user name of RFC 5802 §5.1), where they are allowed.
    Raises :class:`SASLprepError`."""
    # §2.1 Mapping: non-ASCII spaces to SPACE, "commonly mapped to nothing" (B.1) removed.
    mapped = "".join(" " if stringprep.in_table_c12(ch) else ch for ch in text
                     if not stringprep.in_table_b1(ch))
    # §2.2 Normalization: form KC.
    prepared = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    if not prepared:
        return prepared
    for ch in prepared:
        # §2.3 Prohibited output, §2.5 unassigned code points.
        if any(table(ch) for table in _PROHIBITED):
            raise SASLprepError(f"prohibited character U+{ord(ch):04X}")
        if stored and stringprep.in_table_a1(ch):
            raise SASLprepError(f"unassigned code point U+{ord(ch):04X}")
    # §2.4 Bidirectional characters (RFC 3454 §6).
    if any(stringprep.in_table_d1(ch) for ch in prepared):
        if any(stringprep.in_table_d2(ch) for ch in prepared):
            raise SASLprepError("mixes right-to-left and left-to-right characters")
        if not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])):
            raise SASLprepError("right-to-left text must begin and end right-to-left")
    return prepared
