"""Byte-exact header block handling (RFC 5322 §2.2, §3.2.2; RFC 2045 §3).

The header of a message or body part ends at the first empty line (CRLF or a
bare LF). Like Dovecot, a line without a colon does *not* end the header: it is
kept as a field whose name is the whole line and whose value is empty, so a
stray line cannot push real header fields into the body. Without any empty line
the whole entity is header and the body is empty.

Why this is not ``email.parser.BytesHeaderParser(policy=compat32)``: the stdlib
parser ends the header at the first line that is neither ``name:`` (no white
space before the colon) nor a continuation, and takes the rest as body, so
``Subject: a / broken line / Content-Type: text/html`` loses Content-Type and
``B :3`` loses everything from there on (corpus header-no-colon wants those
fields); it keeps no byte offsets for HEADER.FIELDS; and a value holding 8-bit
bytes comes back as an ``email.header.Header`` whose ``str()`` has U+FFFD where
the bytes were, while ENVELOPE/BODYSTRUCTURE pass those bytes on unchanged.
Since none of the stdlib's interpretations of the fields are used either (see
params.py and addresses.py), parsing each part a second time with it (about
8 µs per part) would only cost time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One header field: its name as sent and its original bytes (folding and line end)."""

    name: bytes
    raw: bytes
    colon: int  # index of ':' in raw, or -1 for a line without a colon

    @property
    def lname(self) -> bytes:
        return self.name.lower()

    def value(self) -> bytes:
        """The unfolded value (RFC 5322 §2.2.3), surrounding white space removed."""
        if self.colon < 0:
            return b""
        return unfold(self.raw[self.colon + 1 :])


def unfold(value: bytes) -> bytes:
    """Remove the line breaks of folding (CRLF or LF) and strip outer white space."""
    return value.replace(b"\r\n", b"").replace(b"\n", b"").strip(b" \t\r")


def header_bounds(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """Find the header of the entity in ``raw[start:end]``.

    Returns ``(header_end, body_start)``: the header fields are
    ``raw[start:header_end]``; ``raw[header_end:body_start]`` is the empty line
    (empty if there is none) and the body runs from ``body_start`` to ``end``.
    """
    if raw.startswith(b"\r\n", start, end):
        return start, start + 2
    if raw.startswith(b"\n", start, end):
        return start, start + 1
    best = -1
    blank_len = 0
    i = raw.find(b"\n\r\n", start, end)
    if i >= 0:
        best, blank_len = i + 1, 2
    j = raw.find(b"\n\n", start, end if best < 0 else best + 1)
    if j >= 0 and (best < 0 or j + 1 < best):
        best, blank_len = j + 1, 1
    if best < 0:
        return end, end
    return best, best + blank_len


MAX_FIELDS = 1000
"""Header fields of one entity that APPEND's parse keeps (``Headers``, SEARCH's header
text): 30 MB of fields once cost 800 MiB of field objects. The rest stay in the message
itself, exact for BODY[HEADER] (offsets), unseen by ENVELOPE, BODYSTRUCTURE and SEARCH."""

MAX_TOTAL_FIELDS = 10000
"""The same for all entities of one message together."""


def split_fields(block: bytes, limit: int | None = None) -> list[HeaderField]:
    """Split a header block into fields; stops at an empty line if the block holds one, and
    after ``limit`` fields when given. A field is one slice of ``block`` (however many
    folded lines it has), so memory stays a small multiple of the block."""
    fields: list[HeaderField] = []
    start = -1  # offset of the current field's first line; -1: none yet
    first_end = 0  # end of that first line
    pos = 0
    n = len(block)

    def flush(end: int) -> None:
        if start < 0:
            return
        raw = block[start:end]
        first_line = block[start:first_end]
        colon = raw.find(b":")
        if first_line[:1] in (b" ", b"\t"):
            name = b""  # continuation line with no field before it
            colon = -1
        elif colon >= 0 and colon < len(first_line):
            name = raw[:colon].rstrip(b" \t")
        else:
            colon = -1
            name = first_line.rstrip(b"\r\n").strip(b" \t")
        fields.append(HeaderField(name, raw, colon))

    while pos < n:
        nl = block.find(b"\n", pos)
        line_end = n if nl < 0 else nl + 1
        if line_end - pos <= 2 and block[pos:line_end] in (b"\r\n", b"\n"):
            break
        if not (block[pos:pos + 1] in (b" ", b"\t") and start >= 0):
            flush(pos)
            if limit is not None and len(fields) >= limit:
                return fields
            start, first_end = pos, line_end
        pos = line_end
    flush(pos)
    return fields


class Headers:
    """The fields of one header block, with first-occurrence lookup by name."""

    __slots__ = ("_first", "fields")

    def __init__(self, block: bytes, limit: int = MAX_FIELDS) -> None:
        self.fields = split_fields(block, limit)
        self._first: dict[bytes, HeaderField] = {}
        for f in self.fields:
            if f.colon >= 0:
                self._first.setdefault(f.lname, f)

    def get(self, lname: bytes) -> bytes | None:
        """Unfolded value of the first field named *lname* (lowercase), or None."""
        f = self._first.get(lname)
        return None if f is None else f.value()
