"""BODY[section] items of one FETCH, prepared once per command (RFC 3501 §6.4.5).

A FETCH of 100,000 messages asks the same question 100,000 times: the response name, the
field names to match, whether the part tree is needed at all are worked out once here. Top-
level sections (the whole message, HEADER, HEADER.FIELDS, TEXT) come straight from the
stored header size; only part numbers need the stored part tree.

A section is first located as a byte span of the stored message (:meth:`SectionPlan.span`),
then clipped to ``<origin.count>`` (:meth:`SectionPlan.clip`): a body kept in a file is read
only over that span, so Thunderbird's chunked download (``BODY.PEEK[]<n.65536>``) of a 50 MB
message reads 64 KiB per command, not 50 MB (issue 10.3).
"""

from __future__ import annotations

from crispin.protocol import BodySection, Raw
from crispin.protocol.mime import filter_header, part_tree_from_bytes, section_span
from crispin.protocol.mime.field_select import FieldSelector
from crispin.storage import MessageRecord

Span = tuple[int, int, str | None]
"""(start, end, filter): bytes [start, end) of the raw message; ``filter`` names a
HEADER.FIELDS(.NOT) still to apply to them (then ``<partial>`` applies after it)."""


class SectionPlan:
    def __init__(self, item: BodySection) -> None:
        self.item = item
        self.name = Raw(item.response_name())
        self.top = not item.part
        self.needs_tree = bool(item.part)
        # HEADER.FIELDS(.NOT): the field list compiled once for the command.
        self.selector = FieldSelector(item.fields, item.text == "HEADER.FIELDS.NOT") \
            if self.top and item.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT") else None

    def span(self, rec: MessageRecord) -> Span | None:
        """Where the section lies in the stored message, or None if it does not exist."""
        item = self.item
        if self.top:
            text = item.text
            if text is None:
                return 0, rec.size, None
            if text == "HEADER":
                return 0, rec.header_size, None
            if text == "TEXT":
                return rec.header_size, rec.size, None
            if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
                return 0, rec.header_size, text
            return None
        if rec.part_tree is None:
            return None
        return section_span(part_tree_from_bytes(rec.part_tree), item.part, item.text)

    def clip(self, start: int, end: int) -> tuple[int, int]:
        """RFC 3501 §6.4.5 ``<origin.octets>`` applied to a span of raw bytes."""
        if self.item.partial is None:
            return start, end
        origin, count = self.item.partial
        first = min(end, start + origin)
        return first, min(end, first + count)

    def finish(self, header: bytes, filt: str) -> bytes:
        """HEADER.FIELDS(.NOT) of ``header`` (the span's bytes), then ``<partial>``."""
        if self.selector is not None:
            data = self.selector.select(header)
        else:
            data = filter_header(header, self.item.fields, filt == "HEADER.FIELDS.NOT")
        first, end = self.clip(0, len(data))
        return data[first:end]

    def data(self, raw: bytes, rec: MessageRecord) -> bytes | None:
        """The section's bytes from the whole raw message."""
        span = self.span(rec)
        if span is None:
            return None
        start, end, filt = span
        if filt is not None:
            return self.finish(raw[start:end], filt)
        start, end = self.clip(start, end)
        return raw[start:end]
