"""Writing sets of numbers the way responses carry them (RFC 3501 §9 ``sequence-set``)."""

from __future__ import annotations

from collections.abc import Iterable

from crispin.protocol import Atom, SequenceSet


def compact_set(numbers: Iterable[int]) -> Atom:
    """Consecutive runs as ranges, in the given order: COPYUID (RFC 4315 §3) pairs its two
    sets by position, so they must not be sorted here. Callers sort when order is free."""
    ranges: list[tuple[int | None, int | None]] = []
    for n in numbers:
        if ranges and ranges[-1][1] == n - 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return Atom(str(SequenceSet(tuple(ranges))))
