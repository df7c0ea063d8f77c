"""IMAP dates: ``date`` (RFC 3501 §9, SEARCH) and ``date-time`` (APPEND, INTERNALDATE)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUM = {m.upper(): i + 1 for i, m in enumerate(MONTHS)}


def parse_date(text: str) -> date:
    """``date-text`` = ``date-day "-" date-month "-" date-year``, day 1 or 2 digits."""
    parts = text.split("-")
    if len(parts) != 3:
        raise ValueError("Invalid date")
    day, month, year = parts
    if not (1 <= len(day) <= 2 and day.isascii() and day.isdigit()):
        raise ValueError("Invalid date")
    if not (len(year) == 4 and year.isascii() and year.isdigit()):
        raise ValueError("Invalid date")
    mon = _MONTH_NUM.get(month.upper())
    if mon is None:
        raise ValueError("Invalid month")
    return date(int(year), mon, int(day))


def parse_datetime(text: str) -> datetime:
    """RFC 3501 §9 ``date-time`` without its quotes: ``dd-Mon-yyyy hh:mm:ss +zzzz``,
    the day possibly space-padded; returns an aware datetime."""
    if len(text) != 26 or text[11] != " " or text[20] != " ":
        raise ValueError("Invalid date-time")
    day_text = text[0:2]
    if day_text[0] == " ":
        day_text = day_text[1]
    day = parse_date(day_text + text[2:11])
    clock, zone = text[12:20], text[21:]
    if clock[2] != ":" or clock[5] != ":":
        raise ValueError("Invalid time")
    hms = clock[0:2], clock[3:5], clock[6:8]
    if not all(p.isascii() and p.isdigit() for p in hms):
        raise ValueError("Invalid time")
    if zone[0] not in "+-" or not (zone[1:].isascii() and zone[1:].isdigit()):
        raise ValueError("Invalid zone")
    hh, mm = int(zone[1:3]), int(zone[3:5])
    if mm >= 60:
        raise ValueError("Invalid zone")
    offset = timedelta(hours=hh, minutes=mm)
    tz = timezone(-offset if zone[0] == "-" else offset)
    h, m, s = (int(p) for p in hms)
    # Leap seconds (":60") cannot be represented; clamp rather than refuse a message.
    return datetime(day.year, day.month, day.day, h, m, min(s, 59), tzinfo=tz)


def format_datetime(dt: datetime) -> str:
    """INTERNALDATE form (RFC 3501 §9 ``date-time`` without quotes), day space-padded.
    A naive datetime is taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    offset = dt.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return (
        f"{dt.day:2d}-{MONTHS[dt.month - 1]}-{dt.year:04d} "
        f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} {sign}{minutes // 60:02d}{minutes % 60:02d}"
    )
