"""HEADER.FIELDS and HEADER.FIELDS.NOT of a header block, without splitting every field.

RFC 3501 §6.4.5: ``HEADER.FIELDS (list)`` is the subset of the header whose field-name
matches one of the list (case-insensitively), in the message's order, each field whole
(folded continuation lines included), followed by the blank line; ``.NOT`` is the rest.
A first sync of a 100,000-message folder asks this 100,000 times with one field list
(issue 14), so the list becomes one compiled pattern, prepared once per command, and each
header block costs a C-speed scan: the pattern starts with a literal line feed, which
``re`` finds without trying the names at every byte.

The result is byte for byte what :func:`crispin.protocol.mime.filter_header` gives (it cuts
the block with ``split_fields``; ``tests/protocol/mime/test_field_select.py`` compares the
two on folded, duplicate, missing, nameless, colon-less, 8-bit, LF-only and CR-only
headers): a field ends at a line feed, a line starting with a space or tab continues it,
the block ends at its first empty line, and a last field without a line end gets CRLF.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable


class FieldSelector:
    """Selects the fields named ``fields`` (or, with ``negate``, all others)."""

    def __init__(self, fields: Iterable[str], negate: bool) -> None:
        # filter_header compares ``name.lower()`` with each wanted name lowered and encoded
        # the same way; bytes.lower() and re.IGNORECASE on bytes both fold ASCII only.
        names = sorted({f.lower().encode("ascii", "replace") for f in fields})
        self.negate = negate
        # The list's canonical text: two lists that select the same fields have the same
        # key (order, case and repetition do not matter), e.g. to keep selections by it.
        # JSON, since a field name (an astring) may hold spaces or even line ends.
        self.key = json.dumps([negate, [n.decode("ascii") for n in names]])
        if not names:
            # The grammar wants at least one name; match none rather than every field.
            names = [b"\n"]
        alternatives = b"|".join(re.escape(n) for n in names)
        # A wanted field's first line: the name, then optional blanks and the colon; or,
        # for a line without a colon, the name alone (split_fields names such a field by
        # the whole line, blanks and CRs stripped). Then the rest of the line and every
        # continuation line, up to (not including) the line feed that ends the field.
        wanted = rb"(?i:" + alternatives + rb")(?:[ \t]*:|[ \t]*\r*(?=\n|\Z))"
        tail = rb"[^\n]*(?:\n[ \t][^\n]*)*"
        self._first = re.compile(wanted + tail)
        self._rest = re.compile(rb"\n(" + wanted + tail + rb")")
        # Any other field: not a continuation line (but the block's first line may be
        # one: split_fields makes it a nameless field), not empty (the block holds no
        # empty line before ``header_end``; the last line feed is followed by nothing).
        self._first_not = re.compile(rb"(?!" + wanted + rb")[^\n]+(?:\n[ \t][^\n]*)*")
        self._rest_not = re.compile(rb"\n((?![ \t])(?!" + wanted + rb")[^\n]+"
                                    rb"(?:\n[ \t][^\n]*)*)")

    def spans(self, block: bytes, end: int) -> list[tuple[int, int]]:
        """[start, stop) of every wanted field in ``block[:end]``, line end included."""
        first, rest = self._first, self._rest
        out: list[tuple[int, int]] = []
        m = first.match(block, 0, end)
        if m is not None:
            stop = m.end()
            out.append((0, stop + 1 if stop < end else stop))
        for m in rest.finditer(block, 0, end):
            stop = m.end()
            # [^\n]* stops only at a line feed or at ``end``: take the line feed along.
            out.append((m.start(1), stop + 1 if stop < end else stop))
        return out

    def select(self, block: bytes) -> bytes:
        """The fields (or the other fields) and the blank line that ends them."""
        end = header_end(block)
        if end == len(block) and block and not block.endswith(b"\n"):
            return self._select_spans(block, end)
        # Every field found is followed by a line feed (the pattern stops before it):
        # findall hands out the fields' bytes in one C call, no match objects.
        first, rest = (self._first_not, self._rest_not) if self.negate else \
            (self._first, self._rest)
        found = rest.findall(block, 0, end)
        m = first.match(block, 0, end)
        if m is not None:
            found.insert(0, m.group())
        if not found:
            return b"\r\n"
        return b"\n".join(found) + b"\n\r\n"

    def _select_spans(self, block: bytes, end: int) -> bytes:
        """``select`` of a block whose last field has no line end (it gets CRLF)."""
        spans = self.spans(block, end)
        if self.negate:
            pieces: list[bytes] = []
            pos = 0
            for start, stop in spans:
                if start > pos:
                    pieces.append(block[pos:start])
                pos = stop
            if pos < end:
                pieces.append(block[pos:end])
        else:
            pieces = [block[start:stop] for start, stop in spans]
        data = b"".join(pieces)
        if data and not data.endswith(b"\n"):
            data += b"\r\n"
        return data + b"\r\n"


def header_end(block: bytes) -> int:
    """Where the first empty line ("\\r\\n" or "\\n" alone) of ``block`` starts, or its
    length: split_fields stops there, whatever the block holds after it."""
    if block[:1] == b"\n" or block[:2] == b"\r\n":
        return 0
    end = len(block)
    lf = block.find(b"\n\n")
    if lf >= 0:
        end = lf + 1
    crlf = block.find(b"\n\r\n", 0, end)
    if crlf >= 0:
        end = crlf + 1
    return end
