"""Property tests: arbitrary input never raises, only yields events, and the
events do not depend on how the bytes were split."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crispin.protocol import (
    AppendBegin,
    AppendData,
    AppendEnd,
    CatenateBegin,
    CatenateEnd,
    CatenateText,
    CatenateUrl,
    CommandError,
    CommandReceived,
    ConnectionClosed,
    ContinuationLine,
    Limits,
    LiteralAnnounced,
)

from .cases import load
from .harness import feed, merge_data

EVENT_TYPES = (
    CommandReceived, LiteralAnnounced, AppendBegin, AppendData, AppendEnd, ContinuationLine,
    CommandError, ConnectionClosed, CatenateBegin, CatenateUrl, CatenateText, CatenateEnd,
)
SEEDS = [c.data for name in ("commands.txt", "framing.txt") for c in load(name)]
LIMITS = Limits(max_line_length=300, max_literal_size=64, max_literals_per_command=3, max_nesting=4)
SPECIALS = b' (){}[]<>"\\*%+~:,.\r\n0123456789'


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.one_of(st.sampled_from(list(SPECIALS)), st.integers(0, 255)))
        if op == "insert":
            data.insert(pos, byte)
        elif pos < len(data):
            if op == "delete":
                del data[pos]
            else:
                data[pos] = byte
    return bytes(data)


inputs = st.one_of(
    st.binary(max_size=300),
    mutated(),
    st.lists(mutated(), min_size=2, max_size=4).map(b"".join),
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return [p for p in pieces if p]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs, st.lists(st.integers(0, 10_000), max_size=12),
       st.lists(st.sampled_from(["accept", "reject"]), max_size=6))
def test_any_input_yields_only_events(data: bytes, cuts: list[int], decisions: list[str]) -> None:
    whole_run = feed([data], LIMITS, decisions)
    chunked = feed(split(data, cuts), LIMITS, decisions)
    assert all(isinstance(e, EVENT_TYPES) for e in chunked.events)
    assert merge_data(whole_run.events) == merge_data(chunked.events)
    assert whole_run.sent == chunked.sent
    assert isinstance(whole_run.events[-1], ConnectionClosed)
