"""Sequence sets: RFC 3501 §9 ``sequence-set`` plus SEARCHRES ``$`` (RFC 5182 §2)."""

from __future__ import annotations

from dataclasses import dataclass

#: RFC 3501 §9: nz-number is a 32-bit unsigned value.
MAX_NUMBER = 0xFFFFFFFF


@dataclass(frozen=True)
class SequenceSet:
    """A sequence set as sent by the client, unresolved.

    ``ranges`` keeps the client's order; ``None`` stands for ``*`` (the largest
    number in use). ``saved`` is the SEARCHRES ``$`` marker (RFC 5182): the set
    is the result saved by an earlier ``SEARCH RETURN (SAVE)``, and ``ranges``
    is empty.
    """

    ranges: tuple[tuple[int | None, int | None], ...]
    saved: bool = False

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged ``(lo, hi)`` ranges with ``*`` replaced by ``largest``.

        RFC 3501 §9: ``n:m`` means the same as ``m:n``. With an empty mailbox
        (``largest == 0``) ``*`` becomes 0, so ``1:*`` resolves to ``(0, 1)``;
        the caller decides whether that is an error (MSN) or just empty (UID).
        """
        spans = []
        for a, b in self.ranges:
            lo = largest if a is None else a
            hi = largest if b is None else b
            if lo > hi:
                lo, hi = hi, lo
            spans.append((lo, hi))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        return merged

    def contains(self, n: int, largest: int) -> bool:
        """Whether ``n`` is in the set once ``*`` means ``largest``."""
        for a, b in self.ranges:
            lo = largest if a is None else a
            hi = largest if b is None else b
            if lo > hi:
                lo, hi = hi, lo
            if lo <= n <= hi:
                return True
        return False

    def __str__(self) -> str:
        if self.saved:
            return "$"
        parts = []
        for a, b in self.ranges:
            first = "*" if a is None else str(a)
            if a == b:
                parts.append(first)
            else:
                parts.append(first + ":" + ("*" if b is None else str(b)))
        return ",".join(parts)

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        """Parse IMAP syntax; raise ValueError if it is not a valid sequence set."""
        if text == "$":
            return cls((), saved=True)
        if not text:
            raise ValueError("Invalid sequence set")
        ranges: list[tuple[int | None, int | None]] = []
        for item in text.split(","):
            first, sep, second = item.partition(":")
            a = _seq_number(first)
            b = _seq_number(second) if sep else a
            ranges.append((a, b))
        return cls(tuple(ranges))


def _seq_number(text: str) -> int | None:
    if text == "*":
        return None
    # isdigit() also accepts non-ASCII digits; the grammar wants DIGIT only.
    if not text or not text.isascii() or not text.isdigit() or text[0] == "0":
        raise ValueError("Invalid sequence set")
    n = int(text)
    if n > MAX_NUMBER:
        raise ValueError("Invalid sequence set")
    return n
