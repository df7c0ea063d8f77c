"""Ascending numbers written out once and cut by position (issue 14).

A ``* SEARCH`` answer (RFC 3501 §7.2.5: ``"SEARCH" *(SP nz-number)``) of 70,000 messages
(``UID SEARCH UNSEEN`` in a 100,000-message mailbox) is mostly runs of consecutive messages.
:class:`NumberText` holds ``b" n1 n2 n3 ..."`` for a whole ascending sequence (a mailbox's
UID array, or the message numbers 1..n) with the position where each number starts found by
arithmetic: the numbers are ascending, so their widths only grow, and within a width the
offsets step evenly. A run of matching messages is then one slice of that text, and the
answer a ``bytes.join`` of slices, with no Python object per number.

The text of a mailbox's UID array is made once per array (``uid_text``) and kept while the
array is alive: the shared index (``crispin.storage.flag_index``) keeps its array across
flag changes, and an array that only grew at the end (new mail) extends the text of the
array it grew from instead of writing it all again.
"""

from __future__ import annotations

import re
import weakref
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

# Arrays whose text is kept (the shared indexes hold at most 32, storage ``SUMMARIES_KEPT``).
KEPT = 32
_RUN = re.compile(rb"\x01+")


@dataclass(frozen=True)
class NumberText:
    """``b" n1 n2 ..."`` for ascending positive numbers, and where each one starts."""

    text: bytes
    count: int
    # (first position, its offset in ``text``, bytes per number) for each width in use,
    # ascending: the numbers of one width are evenly spaced in ``text``.
    widths: tuple[tuple[int, int, int], ...]

    @classmethod
    def of(cls, numbers: Sequence[int]) -> NumberText:
        return cls(_write(numbers), len(numbers), _widths(numbers, 0, 0))

    def offset(self, position: int) -> int:
        """Where the number at ``position`` starts (its leading space); ``count``: the end."""
        if position >= self.count:
            return len(self.text)
        k = bisect_right(self.widths, (position, len(self.text) + 1)) - 1
        first, start, step = self.widths[k]
        return start + (position - first) * step

    def slice(self, start: int, end: int) -> bytes:
        """The numbers at positions ``start`` to ``end`` (excluded), each with its
        leading space."""
        return self.text[self.offset(start):self.offset(end)]

    def spans(self, runs: Iterable[tuple[int, int]]) -> bytes:
        """The numbers at the half-open position ranges ``runs`` (ascending), each with
        its leading space."""
        text, offset = self.text, self.offset
        return b"".join([text[offset(a):offset(b)] for a, b in runs])

    def extended(self, numbers: Sequence[int]) -> NumberText:
        """The text of ``numbers``, whose first ``count`` are this text's numbers."""
        tail = numbers[self.count:]
        if not len(tail):
            return self
        widths = _widths(numbers, self.count, len(self.text))
        kept = tuple(w for w in self.widths if w[0] < self.count)
        if widths and kept and kept[-1][2] == widths[0][2]:
            widths = widths[1:]  # the tail goes on with the last width
        return NumberText(self.text + _write(tail), len(numbers), kept + widths)


def _write(numbers: Sequence[int]) -> bytes:
    if not len(numbers):
        return b""
    # repr() of a list writes every int in C ("[1, 2, 3]"): 3x faster than str() each.
    as_list = numbers.tolist() if isinstance(numbers, array) else list(numbers)
    return b" " + repr(as_list)[1:-1].replace(",", "").encode()


def _widths(numbers: Sequence[int], first: int, offset: int
            ) -> tuple[tuple[int, int, int], ...]:
    """The width table of ``numbers[first:]``, whose text starts at ``offset``."""
    out: list[tuple[int, int, int]] = []
    pos, n = first, len(numbers)
    while pos < n:
        digits = len(str(numbers[pos]))
        end = bisect_left(numbers, 10 ** digits, pos, n)
        out.append((pos, offset, digits + 1))
        offset += (end - pos) * (digits + 1)
        pos = end
    return tuple(out)


def runs(mask: bytes, end: int | None = None) -> Iterator[tuple[int, int]]:
    """The half-open position ranges where ``mask`` (one byte per message, 1 = match)
    holds, up to ``end``."""
    for m in _RUN.finditer(mask, 0, len(mask) if end is None else end):
        yield m.span()


def run_count(mask: bytes, end: int) -> int:
    """How many runs ``runs`` would find (C-level counting, no iteration)."""
    if end <= 0:
        return 0
    head = mask[:end]
    return head.count(b"\x00\x01") + (head[0] == 1)


_kept: list[tuple[weakref.ref[array[int]], NumberText]] = []
_numbers = NumberText(b"", 0, ())


def uid_text(uids: array[int]) -> NumberText:
    """The text of a UID array, made once while the array lives (see the module doc).
    The array must not change in place (the shared index's never do)."""
    global _kept
    _kept = [(ref, t) for ref, t in _kept if ref() is not None]
    base: NumberText | None = None
    for ref, t in _kept:
        old = ref()
        if old is uids and t.count == len(uids):
            return t
        if old is None or not 0 < len(old) <= len(uids) or t.count != len(old) or \
                (base is not None and base.count >= t.count):
            continue
        if uids[len(old) - 1] == old[-1] and uids[:len(old)] == old:
            base = t  # ``uids`` is ``old`` and new mail after it
    text = base.extended(uids) if base is not None else NumberText.of(uids)
    _kept.append((weakref.ref(uids), text))
    del _kept[:-KEPT]
    return text


def message_numbers(count: int) -> NumberText:
    """The text of the message numbers 1..``count`` (or more: cut it at ``count``)."""
    global _numbers
    if _numbers.count < count:
        _numbers = NumberText.of(range(1, max(count, 2 * _numbers.count) + 1))
    return _numbers
