"""THREAD algorithms as pure functions (RFC 5256 §3), on cases small enough to work out
by hand, and on shapes that would break a recursive implementation."""

from __future__ import annotations

from crispin.server.threader import ordered_subject, references, refs, render
from crispin.storage.sorting import ThreadRow


def rows(*specs: tuple[str, int, str | None, str]) -> list[tuple[ThreadRow, int]]:
    """(subject, date, message-id, references) per message; numbers from 1."""
    out = []
    for n, (subject, date, mid, refs_) in enumerate(specs, 1):
        reply = subject.startswith("re ")
        base = subject[3:] if reply else subject
        row: ThreadRow = (n, 0, date, base, int(reply), mid, " ".join(refs_.split()))
        out.append((row, n))
    return out


def test_rfc_example_shape() -> None:
    # RFC 5256 §4: (2)(3 6 (4 23)(44 7 96)), with numbers 1..8 standing for them.
    r = rows(("a", 1, "m2", ""), ("b", 2, "m3", ""), ("b", 3, "m6", "m3"),
             ("b", 4, "m4", "m3 m6"), ("b", 5, "m23", "m3 m6 m4"), ("b", 6, "m44", "m6"),
             ("b", 7, "m7", "m44"), ("b", 8, "m96", "m7"))
    assert render(references(r)) == b"(1)(2 3 (4 5)(6 7 8))"


def test_siblings_of_a_missing_parent() -> None:
    # RFC 5256 §4: ((3)(5)), 3 and 5 children of a parent that is not there.
    r = rows(("x", 1, "a", "p"), ("y", 2, "b", "p"))
    assert render(references(r)) == b"((1)(2))"


def test_dummy_with_one_child_is_replaced_at_the_root() -> None:
    r = rows(("x", 1, "a", "gone"))
    assert render(references(r)) == b"(1)"


def test_nested_dummies_give_way() -> None:
    # gone1 -> gone2 -> 1 and gone1 -> gone3 -> 2: the inner dummies are spliced out.
    r = rows(("x", 5, "a", "gone1 gone2"), ("y", 4, "b", "gone1 gone3"))
    assert render(references(r)) == b"((2)(1))"


def test_loops_are_not_linked() -> None:
    r = rows(("a", 1, "a", "b"), ("b", 2, "b", "c"), ("c", 3, "c", "a"))
    # 1 under dummy b, filled by 2; 2 under dummy c, filled by 3; 3 under a = 1 would close
    # the loop: not linked, so 3 is the root.
    assert render(references(r)) == b"(3 2 1)"
    # A message referring to itself.
    assert render(references(rows(("a", 1, "a", "a")))) == b"(1)"


def test_truncated_references_keep_the_first_link() -> None:
    # 2 says a -> c, 3 says b -> c: c already has a parent (a); 3's own parent is b.
    r = rows(("s", 1, "a", ""), ("t", 2, "c", "a"), ("u", 3, "d", "b c"))
    assert render(references(r)) == b"(1 2 3)"


def test_duplicate_message_id_only_first() -> None:
    r = rows(("s", 1, "a", ""), ("t", 2, "a", ""), ("u", 3, "r", "a"))
    assert render(references(r)) == b"(1 3)(2)"


def test_subject_merging_rules() -> None:
    # Two non-replies with one subject: a new dummy holds both.
    assert render(references(rows(("s", 1, "a", ""), ("s", 2, "b", "")))) == b"((1)(2))"
    # A reply goes under the non-reply, whichever is older.
    assert render(references(rows(("re s", 1, "a", ""), ("s", 2, "b", "")))) == b"(2 1)"
    # A dummy thread (two replies to a missing message) takes the third in as a sibling.
    r = rows(("re s", 1, "a", "gone"), ("re s", 2, "b", "gone"), ("s", 3, "c", ""))
    assert render(references(r)) == b"((1)(2)(3))"
    # Two dummy threads of one subject merge their children.
    r = rows(("re s", 1, "a", "g1"), ("re s", 2, "b", "g1"), ("re s", 3, "c", "g2"),
             ("re s", 4, "d", "g2"))
    assert render(references(r)) == b"((1)(2)(3)(4))"
    # An empty subject merges nothing.
    assert render(references(rows(("", 1, "a", ""), ("", 2, "b", "")))) == b"(1)(2)"


def test_siblings_by_date_then_number() -> None:
    r = rows(("s", 5, "p", ""), ("t", 9, "a", "p"), ("u", 3, "b", "p"), ("v", 3, "c", "p"))
    assert render(references(r)) == b"(1 (3)(4)(2))"


def test_ordered_subject() -> None:
    r = rows(("b", 3, None, ""), ("a", 2, None, ""), ("re b", 1, None, ""),
             ("a", 2, None, ""), ("b", 4, None, ""))
    # a: 2, 4 (equal dates: numbers); b: 3 (date 1), 1, 5; threads by first date: b, a.
    assert render(ordered_subject(r)) == b"(3 (1)(5))(2 4)"


def test_refs_newest_thread_last() -> None:
    r = rows(("a", 1, "a", ""), ("b", 2, "b", ""), ("c", 3, "c", "a"))
    assert render(refs(r)) == b"(2)(1 3)"
    assert render(references(r)) == b"(1 3)(2)"


def test_long_chain_and_wide_fan_without_recursion() -> None:
    n = 20000
    chain = rows(*[("s", i, f"m{i}", f"m{i - 1}" if i else "") for i in range(n)])
    text = render(references(chain))
    assert text == b"(" + b" ".join(str(i).encode() for i in range(1, n + 1)) + b")"
    # Each message answered twice, nested: deep branching.
    fan = rows(*[("s", i, f"m{i}", f"m{(i - 1) // 2}" if i else "") for i in range(n)])
    text = render(references(fan))
    assert text.startswith(b"(1 (2 (4 (8 ")
    assert sorted(int(t) for t in text.replace(b"(", b" ").replace(b")", b" ").split()) == \
        list(range(1, n + 1))
    assert render(refs(chain)).startswith(b"(1 2 3")
