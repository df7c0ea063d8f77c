"""IMAP date and date-time (RFC 3501 §9)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from crispin.protocol import format_datetime, parse_date, parse_datetime


def test_parse_date() -> None:
    assert parse_date("1-Feb-1994") == date(1994, 2, 1)
    assert parse_date("01-feb-1994") == date(1994, 2, 1)


@pytest.mark.parametrize(
    "bad", ["", "1-Feb", "1-Fev-1994", "123-Feb-1994", "1-Feb-94", "30-Feb-2000"],
)
def test_parse_date_invalid(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_date(bad)


def test_parse_datetime() -> None:
    dt = parse_datetime(" 7-Feb-1994 21:52:25 -0800")
    assert dt == datetime(1994, 2, 7, 21, 52, 25, tzinfo=timezone(-timedelta(hours=8)))
    offset = parse_datetime("17-Jul-1996 02:44:25 +0530").utcoffset()
    assert offset == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    "bad",
    ["7-Feb-1994 21:52:25 -0800", "07-Feb-1994 21:52:25 0800", "07-Feb-1994 21:52 -0800xx",
     "07-Feb-1994 25:52:25 -0800", "07-Feb-1994 21:52:25 -0860", "07-Fxb-1994 21:52:25 -0800"],
)
def test_parse_datetime_invalid(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(bad)


def test_format_datetime() -> None:
    tz = timezone(-timedelta(hours=8))
    dt = datetime(1994, 2, 7, 21, 52, 25, tzinfo=tz)
    assert format_datetime(dt) == " 7-Feb-1994 21:52:25 -0800"
    assert format_datetime(datetime(2024, 12, 31, 0, 0, 1)) == "31-Dec-2024 00:00:01 +0000"
    dt = datetime(2001, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_datetime(format_datetime(dt)) == dt
