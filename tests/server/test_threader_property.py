"""The THREAD algorithms (``crispin.server.threader``, containers as indexes into lists) give
exactly what the object-per-message version before issue 15's speed work gave
(``threader_reference.py``), on random message sets: Message-IDs repeated or missing,
references to messages that are not there, in any order, to later messages, to the message
itself, and in loops; equal dates; subjects shared by replies and non-replies."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crispin.server import threader
from crispin.storage.sorting import ThreadRow
from tests.server import threader_reference as reference

# A small pool of ids, so that references hit existing, later, missing and repeated ids.
IDS = [f"m{i}" for i in range(12)]

message = st.tuples(
    st.sampled_from(["", "a", "b", "c"]),  # base subject ("" merges nothing)
    st.booleans(),  # reply
    st.integers(min_value=-2, max_value=4),  # sent date: ties and dates before 1970
    st.one_of(st.none(), st.sampled_from(IDS)),  # Message-ID, None: none
    st.lists(st.sampled_from(IDS), max_size=5),  # references, oldest first
)


def both(specs: list[tuple[str, bool, int, str | None, list[str]]], uid: bool
         ) -> tuple[list[tuple[ThreadRow, int]], list[tuple[reference.ThreadRow, int]]]:
    new: list[tuple[ThreadRow, int]] = []
    old: list[tuple[reference.ThreadRow, int]] = []
    for n, (subject, reply, date, mid, refs) in enumerate(specs, 1):
        number = n * 7 if uid else n  # UID THREAD: numbers with gaps
        new.append(((number, 0, date, subject, int(reply), mid, " ".join(refs)), number))
        old.append((reference.ThreadRow(number, date, subject, reply, mid, tuple(refs)),
                    number))
    return new, old


@settings(max_examples=400, deadline=None)
@given(st.lists(message, max_size=25), st.booleans())
def test_same_threads_as_the_reference(
    specs: list[tuple[str, bool, int, str | None, list[str]]], uid: bool
) -> None:
    new, old = both(specs, uid)
    assert threader.render(threader.references(new)) == \
        reference.render(reference.references(old))
    assert threader.render(threader.refs(new)) == reference.render(reference.refs(old))
    assert threader.render(threader.ordered_subject(new)) == \
        reference.render(reference.ordered_subject(old))


def test_a_dummy_between_references_is_linked() -> None:
    # "x" is referenced but never sent: 2 -> x -> 3 as in the reference (a case the
    # random sets reach rarely with a small id pool: every id may exist).
    specs = [("a", False, 1, "m1", []), ("a", True, 2, "m3", ["m1", "x"])]
    new, old = both(specs, False)
    assert threader.render(threader.references(new)) == \
        reference.render(reference.references(old)) == b"(1 2)"
