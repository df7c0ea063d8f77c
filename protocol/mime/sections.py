"""BODY[section] content (RFC 3501 §6.4.5), served from stored offsets.

``fetch_section(raw, tree, part, text, fields)``:

- ``part=()``, ``text=None``: the whole message (``BODY[]``),
- ``text`` "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT": of the message
  (``part=()``) or of the message inside a message/rfc822 part (``1.2.HEADER``),
- ``text="MIME"`` (part required): the part's MIME header, with its empty line,
- ``part`` with ``text=None``: the part's body (for a message/rfc822 part, the
  whole encapsulated message; for a non-multipart message, part 1 is its body).

HEADER.FIELDS returns the matching fields in their original order and bytes
(folding included), names compared case-insensitively, then an empty line
CRLF; a field whose last line has no line break gets a CRLF. Returns None when
the part does not exist or the specifier does not apply (HEADER/TEXT of a part
that is not message/rfc822, MIME without a part); the caller chooses what to
answer then. ``<origin.count>`` is left to the caller.
"""

from __future__ import annotations

from .headers import split_fields
from .parttree import Part, find_part

_MSG_TEXTS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"})


def section_span(tree: Part, part: tuple[int, ...], text: str | None
                 ) -> tuple[int, int, str | None] | None:
    """Where ``BODY[section]`` lies in the raw message: ``(start, end, filter)``, or None
    if there is no such section. ``filter`` is "HEADER.FIELDS" or "HEADER.FIELDS.NOT"
    when the span is a header still to be filtered, else None and the span is the answer.
    A FETCH of a large stored message reads only this span (issue 10.3)."""
    spec = None if text is None else text.upper()
    if part:
        target = find_part(tree, part)
        if target is None:
            return None
        if spec is None:
            return target.body_start, target.body_end, None
        if spec == "MIME":
            return target.header_start, target.body_start, None
        if target.message is None:
            return None
        msg = target.message
    else:
        if spec is None:
            return tree.header_start, tree.body_end, None
        msg = tree
    if spec not in _MSG_TEXTS:
        return None
    if spec == "TEXT":
        return msg.body_start, msg.body_end, None
    return msg.header_start, msg.body_start, None if spec == "HEADER" else spec


def filter_header(header: bytes, fields: tuple[str, ...], negate: bool) -> bytes:
    """RFC 3501 §6.4.5 HEADER.FIELDS (or .NOT with ``negate``) of a header block."""
    wanted = {f.lower().encode("ascii", "replace") for f in fields}
    out = []
    for f in split_fields(header):
        if (f.lname in wanted) != negate:
            out.append(f.raw if f.raw.endswith(b"\n") else f.raw + b"\r\n")
    out.append(b"\r\n")
    return b"".join(out)


def fetch_section(raw: bytes, tree: Part, part: tuple[int, ...], text: str | None,
                  fields: tuple[str, ...] = ()) -> bytes | None:
    """The bytes of ``BODY[section]`` (RFC 3501 §6.4.5), or None if there is no such section."""
    span = section_span(tree, part, text)
    if span is None:
        return None
    start, end, filt = span
    if filt is None:
        return raw[start:end]
    return filter_header(raw[start:end], fields, filt == "HEADER.FIELDS.NOT")
