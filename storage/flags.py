"""Message flags as stored: a bitmask of the system flags plus a keyword string.

RFC 3501 §2.3.2.  The five settable system flags are bits; ``\\Recent`` is a session
property (``mailboxes.first_recent_uid``), never stored, and silently ignored on input
since clients cannot set it.  Keywords are kept as a space-separated string in the
mailbox_messages row, matched case-insensitively (as Dovecot does) and spelt as first
given.  Storage deals in plain ``str`` flag names; the server parses and quotes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import InvalidFlag

SEEN = 1
ANSWERED = 2
FLAGGED = 4
DELETED = 8
DRAFT = 16

SYSTEM_FLAGS: tuple[tuple[int, str], ...] = (
    (SEEN, "\\Seen"),
    (ANSWERED, "\\Answered"),
    (FLAGGED, "\\Flagged"),
    (DELETED, "\\Deleted"),
    (DRAFT, "\\Draft"),
)
"""The one table of system flags (RFC 3501 §2.3.2): bit in ``mailbox_messages.flags`` and
name, in the order FETCH FLAGS, FLAGS and PERMANENTFLAGS list them.  The server's flag lists
and storage's masks all derive from it."""

SYSTEM_FLAG_NAMES: tuple[str, ...] = tuple(name for _, name in SYSTEM_FLAGS)
NAME_OF: dict[int, str] = dict(SYSTEM_FLAGS)
SEEN_FLAG = NAME_OF[SEEN]
FLAGGED_FLAG = NAME_OF[FLAGGED]
_BY_LOWER = {name.lower(): bit for bit, name in SYSTEM_FLAGS}
RECENT = "\\Recent"

PRIVATE_FLAG_CHOICES: dict[str, tuple[str, ...]] = {
    "none": (),
    "seen": (SEEN_FLAG,),
    "seen+flagged": (SEEN_FLAG, FLAGGED_FLAG),
}
"""Which system flags each user may keep for themselves in a shared mailbox (the settings
``Store.set_private_flags`` accepts; migrations.py version 4)."""


def bit_of(name: str) -> int:
    """The bit of a system flag name (any case); ``InvalidFlag`` for anything else."""
    bit = _BY_LOWER.get(name.lower())
    if bit is None:
        raise InvalidFlag(f"not a settable system flag: {name!r}")
    return bit


def mask_of(names: Iterable[str]) -> int:
    bits = 0
    for name in names:
        bits |= bit_of(name)
    return bits


def names_of(mask: int) -> tuple[str, ...]:
    return tuple(name for bit, name in SYSTEM_FLAGS if mask & bit)
MAX_KEYWORD_LENGTH = 250


def encode(flags: Iterable[str]) -> tuple[int, list[str]]:
    """Split flag names into (system bitmask, keywords without case-insensitive dupes)."""
    bits = 0
    keywords: list[str] = []
    seen: set[str] = set()
    for flag in flags:
        lower = flag.lower()
        if lower.startswith("\\"):
            if lower == RECENT.lower():
                continue
            bit = _BY_LOWER.get(lower)
            if bit is None:
                raise InvalidFlag(f"unknown system flag {flag!r}")
            bits |= bit
            continue
        _validate_keyword(flag)
        if lower not in seen:
            seen.add(lower)
            keywords.append(flag)
    return bits, keywords


def decode(bits: int, keywords: str) -> tuple[str, ...]:
    """Flag names in a stable order: system flags, then keywords as stored."""
    names = [name for bit, name in SYSTEM_FLAGS if bits & bit]
    if keywords:
        names.extend(keywords.split(" "))
    return tuple(names)


def split_keywords(stored: str) -> list[str]:
    return stored.split(" ") if stored else []


def join_keywords(keywords: Iterable[str]) -> str:
    return " ".join(keywords)


def add_keywords(current: list[str], extra: list[str]) -> list[str]:
    lower = {k.lower() for k in current}
    return current + [k for k in extra if k.lower() not in lower]


def remove_keywords(current: list[str], gone: list[str]) -> list[str]:
    lower = {k.lower() for k in gone}
    return [k for k in current if k.lower() not in lower]


def _validate_keyword(keyword: str) -> None:
    if not keyword or len(keyword) > MAX_KEYWORD_LENGTH:
        raise InvalidFlag(f"bad keyword length: {keyword!r}")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in keyword):
        raise InvalidFlag(f"bad character in keyword {keyword!r}")
