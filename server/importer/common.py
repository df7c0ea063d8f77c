"""Shared by the import readers: the message record, the error, flags and line endings."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

SkipCallback = Callable[[str, str], None]
"""``on_skip(source, reason)``: told about entries that were not imported."""


class ImportError_(Exception):
    """The import source cannot be read: unknown format, missing file, not an mbox..."""


@dataclass(frozen=True)
class ImportedMessage:
    data: bytes
    """The message bytes as stored in the source, with bare LF converted to CRLF."""
    flags: tuple[str, ...]
    """IMAP system flags (never \\Recent) then keywords, without duplicates."""
    internal_date: datetime | None
    """Aware datetime, or None when the source does not carry one."""
    source: str
    """Where the message came from, for error messages: ``path:line`` or a file path."""


SEEN, ANSWERED, FLAGGED = "\\Seen", "\\Answered", "\\Flagged"
DELETED, DRAFT = "\\Deleted", "\\Draft"
FORWARDED = "$Forwarded"
_SYSTEM_ORDER = (SEEN, ANSWERED, FLAGGED, DELETED, DRAFT)
_KEYWORD = re.compile(r'[^\x00-\x20\x7f-\U0010ffff(){%*"\\\]]+')


def make_flags(system: set[str], keywords: Iterable[str]) -> tuple[str, ...]:
    out = [f for f in _SYSTEM_ORDER if f in system]
    seen: set[str] = set()
    for kw in keywords:
        if _KEYWORD.fullmatch(kw) and kw.lower() not in seen:
            seen.add(kw.lower())
            out.append(kw)
    return tuple(out)


_BARE_LF = re.compile(rb"(?<!\r)\n")


def to_crlf(data: bytes) -> bytes:
    """Turn every bare LF into CRLF; existing CRLF pairs are kept as they are."""
    return _BARE_LF.sub(b"\r\n", data)


def mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, UTC)


