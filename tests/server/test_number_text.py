"""``crispin.server.number_text``: numbers written once and cut by position must give the
same bytes as writing the chosen numbers one by one (issue 14, ``SEARCH UNSEEN``)."""

from __future__ import annotations

import gc
from array import array

from hypothesis import given
from hypothesis import strategies as st

from crispin.server import number_text
from crispin.server.number_text import NumberText, message_numbers, run_count, runs, uid_text


def one_by_one(numbers: list[int], mask: bytes) -> bytes:
    return b"".join(b" %d" % n for n, m in zip(numbers, mask, strict=True) if m)


# Ascending UIDs with gaps, across several widths (9 -> 10, 99 -> 100, ... 2**32 - 1).
uid_lists = st.lists(st.integers(1, 2**32 - 1), max_size=300, unique=True).map(sorted)


@given(uid_lists, st.data())
def test_spans_are_the_numbers_one_by_one(uids: list[int], data: st.DataObject) -> None:
    mask = bytes(data.draw(st.lists(st.integers(0, 1), min_size=len(uids),
                                    max_size=len(uids))))
    end = data.draw(st.integers(0, len(uids)))
    text = NumberText.of(array("I", uids))
    assert text.spans(runs(mask, end)) == one_by_one(uids[:end], mask[:end])
    assert run_count(mask, end) == len(list(runs(mask, end)))


@given(uid_lists, st.integers(0, 300))
def test_extended_text_is_the_whole_text(uids: list[int], cut: int) -> None:
    cut = min(cut, len(uids))
    grown = NumberText.of(uids[:cut]).extended(uids)
    assert grown == NumberText.of(uids)
    assert grown.spans([(0, len(uids))]) == one_by_one(uids, b"\x01" * len(uids))


def test_dense_widths() -> None:
    uids = list(range(1, 1201))
    text = NumberText.of(uids)
    assert [w[2] for w in text.widths] == [2, 3, 4, 5]
    mask = bytes(1 if u % 7 else 0 for u in uids)
    assert text.spans(runs(mask)) == one_by_one(uids, mask)


def test_message_numbers_cut_at_the_count() -> None:
    wide = message_numbers(500)
    assert wide.count >= 500
    assert message_numbers(120).spans([(95, 120)]) == one_by_one(
        list(range(96, 121)), b"\x01" * 25)


def test_uid_text_is_kept_per_array_and_extended_after_new_mail() -> None:
    """The shared index keeps its array across flag changes: one text for it. An array
    that grew at the end (new mail) extends the old text; one that lost a message does
    not (its text is written anew)."""
    uids = array("I", range(5, 200, 3))
    first = uid_text(uids)
    assert uid_text(uids) is first
    grown = array("I", uids)
    grown.extend([1000, 1001])
    longer = uid_text(grown)
    assert longer.text.startswith(first.text) and longer == NumberText.of(grown)
    shorter = array("I", grown[1:])
    assert uid_text(shorter) == NumberText.of(shorter)
    del uids, grown, shorter
    gc.collect()
    # Dead arrays are dropped at the next lookup.
    fresh = array("I", [1, 2, 3])
    uid_text(fresh)
    assert all(ref() is not None for ref, _ in number_text._kept)
