"""Data-driven framing and parsing cases (data/*.txt): each case is fed whole,
one byte at a time, and followed by another command; all must agree."""

from __future__ import annotations

import pytest

from .cases import Case, load
from .harness import TRAILER, bytewise, feed, whole

CASES = [c for name in ("commands.txt", "framing.txt", "sort.txt") for c in load(name)]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case) -> None:
    # commands.txt checks parsing only: no raw line after AUTHENTICATE/IDLE there.
    raw = () if case.name.startswith(("commands.txt", "sort.txt")) else ("AUTHENTICATE", "IDLE")
    expected = [*case.expected, "CLOSED"]
    got = feed(whole(case.data), case.limits, case.decisions, raw).lines()
    assert got == expected
    assert feed(bytewise(case.data), case.limits, case.decisions, raw).lines() == expected
    if case.trailer:
        trailed = feed(whole(case.data + TRAILER), case.limits, case.decisions, raw).lines()
        assert trailed == [*case.expected, "zz9 Noop()", "CLOSED"]
