"""Sequence sets (RFC 3501 §9 sequence-set, RFC 5182 $)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crispin.protocol import SequenceSet


@pytest.mark.parametrize(
    ("text", "largest", "resolved"),
    [
        ("1", 10, [(1, 1)]),
        ("1:*", 10, [(1, 10)]),
        ("*", 10, [(10, 10)]),
        ("*:4", 10, [(4, 10)]),
        ("5:2", 10, [(2, 5)]),
        ("1:3,2:6,8,9,20:*", 12, [(1, 6), (8, 9), (12, 20)]),
        ("3,1,2", 5, [(1, 3)]),
        ("1:*", 0, [(0, 1)]),
        ("*", 0, [(0, 0)]),
    ],
)
def test_resolve(text: str, largest: int, resolved: list[tuple[int, int]]) -> None:
    seq = SequenceSet.parse(text)
    assert seq.resolve(largest) == resolved
    assert str(seq) == text


def test_contains() -> None:
    seq = SequenceSet.parse("2:4,*")
    assert [n for n in range(12) if seq.contains(n, 10)] == [2, 3, 4, 10]
    assert SequenceSet.parse("4:*").contains(3, 3)


def test_saved() -> None:
    seq = SequenceSet.parse("$")
    assert seq.saved and seq.ranges == () and str(seq) == "$"


# The last one is a FULLWIDTH DIGIT ONE: str.isdigit() accepts it, the grammar does not.
@pytest.mark.parametrize(
    "text", ["", "0", "1:0", "01", "1,", ",1", "a", "4294967296", "1::2", "\uff11"],
)
def test_invalid(text: str) -> None:
    with pytest.raises(ValueError):
        SequenceSet.parse(text)


numbers = st.one_of(st.none(), st.integers(1, 2**32 - 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(numbers, numbers), min_size=1, max_size=6), st.integers(0, 50))
def test_resolve_matches_contains(
    ranges: list[tuple[int | None, int | None]], largest: int,
) -> None:
    seq = SequenceSet(tuple(ranges))
    assert SequenceSet.parse(str(seq)).resolve(largest) == seq.resolve(largest)
    resolved = seq.resolve(largest)
    for (_, hi), (lo, _) in itertools.pairwise(resolved):
        assert lo > hi + 1
    for n in range(0, 60):
        assert seq.contains(n, largest) == any(lo <= n <= hi for lo, hi in resolved)
