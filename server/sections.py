"""BODY[section] items of one FETCH, prepared once per command (RFC 3501 §6.4.5).

A FETCH of 100,000 messages asks the same question 100,000 times: the response name, the
field names to match, whether the part tree is needed at all are worked out once here. Top-
level sections (the whole message, HEADER, HEADER.FIELDS, TEXT) come straight from the
stored header size; only part numbers need the stored part tree.
"""

from __future__ import annotations

import re

from protocol import BodySection, Raw
from protocol.mime import fetch_section, part_tree_from_bytes
from protocol.mime.headers import split_fields
from storage.models import MessageRecord


class SectionPlan:
    def __init__(self, item: BodySection) -> None:
        self.item = item
        self.name = Raw(item.response_name())
        self.top = not item.part
        self.needs_tree = bool(item.part)
        self.fields_re: re.Pattern[bytes] | None = None
        if self.top and item.text == "HEADER.FIELDS":
            names = b"|".join(re.escape(f.encode("utf-8", "surrogateescape"))
                              for f in item.fields)
            # A field whose name is one of ``names`` with its continuation lines, as
            # protocol.mime.headers.split_fields cuts them (tests compare the two).
            self.fields_re = re.compile(
                rb"(?im)^(?:" + names + rb")[ \t]*:[^\n]*(?:\n|\Z)(?:[ \t][^\n]*(?:\n|\Z))*")

    def data(self, raw: bytes, rec: MessageRecord) -> bytes | None:
        item = self.item
        if self.top:
            data = self._top(raw, rec.header_size)
        elif rec.part_tree is None:
            data = None
        else:
            tree = part_tree_from_bytes(rec.part_tree)
            data = fetch_section(raw, tree, item.part, item.text, item.fields)
        if data is not None and item.partial is not None:
            origin, count = item.partial
            data = data[origin:origin + count]
        return data

    def _top(self, raw: bytes, header_size: int) -> bytes | None:
        text = self.item.text
        if text is None:
            return raw
        if text == "HEADER":
            return raw[:header_size]
        if text == "TEXT":
            return raw[header_size:]
        if self.fields_re is not None:
            found = self.fields_re.findall(raw[:header_size])
        elif text == "HEADER.FIELDS.NOT":
            wanted = {f.lower().encode("ascii", "replace") for f in self.item.fields}
            found = [f.raw for f in split_fields(raw[:header_size]) if f.lname not in wanted]
        else:
            return None
        return b"".join(f if f.endswith(b"\n") else f + b"\r\n" for f in found) + b"\r\n"
