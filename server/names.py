"""Mailbox names as the IMAP layer sees them: INBOX, the hierarchy delimiter, LIST patterns.

Names reach this module already decoded from modified UTF-7 (RFC 3501 §5.1.3) by ``protocol``;
storage keeps them as plain text with "/" as the delimiter.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from typing import Any

from crispin.protocol import List, Lsub, UndecodableName

DELIMITER = "/"


def normalize(name: str) -> str:
    """RFC 3501 §5.1: "INBOX" is case-insensitive. Like Dovecot, its inferiors
    ("inbox/Sub") are folded the same way so a name resolves to one mailbox."""
    if name.upper() == "INBOX":
        return "INBOX"
    if name[:6].upper() == "INBOX" + DELIMITER:
        return "INBOX" + name[5:]
    return name


def is_valid(name: str) -> bool:
    """A name storage can hold: no empty levels, no control characters."""
    if not name or name.startswith(DELIMITER) or name.endswith(DELIMITER):
        return False
    if DELIMITER * 2 in name:
        return False
    return not any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)


def parent_names(name: str) -> list[str]:
    """``"a/b/c"`` -> ``["a", "a/b"]``."""
    parts = name.split(DELIMITER)
    return [DELIMITER.join(parts[:i]) for i in range(1, len(parts))]


def join_reference(reference: str, pattern: str) -> str:
    """RFC 3501 §6.3.8: the reference names a context in which the pattern is interpreted.

    As Dovecot does, the two are concatenated; a pattern that starts with the delimiter is
    absolute and ignores the reference.
    """
    if not reference or pattern.startswith(DELIMITER):
        return pattern
    return reference + pattern


@lru_cache(maxsize=256)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def pattern_matcher(pattern: str) -> re.Pattern[str]:
    """RFC 3501 §6.3.8: "*" matches zero or more characters, "%" the same except the
    delimiter. Matching is case-sensitive except for INBOX, which is normalised first."""
    return _pattern_regex(normalize_pattern(pattern))


def normalize_pattern(pattern: str) -> str:
    """Fold an INBOX prefix of a pattern so "inbox", "Inbox/%" select INBOX."""
    head = pattern[:5]
    if head.upper() == "INBOX" and (len(pattern) == 5 or pattern[5] in (DELIMITER, "*", "%")):
        return "INBOX" + pattern[5:]
    return pattern


def matches(pattern: str, name: str) -> bool:
    return pattern_matcher(pattern).fullmatch(name) is not None



def undecodable(command: Any) -> UndecodableName | None:
    """The first mailbox argument of ``command`` that is not valid modified UTF-7
    (RFC 3501 §5.1.3), if any. Such a name can never exist, so every command naming a
    mailbox answers NO [CANNOT] (as Dovecot does), not BAD: the syntax was right.
    LIST and LSUB are not refused: their undecodable patterns just match nothing."""
    if isinstance(command, List | Lsub) or not dataclasses.is_dataclass(command):
        return None
    for field in dataclasses.fields(command):
        value = getattr(command, field.name)
        if isinstance(value, UndecodableName):
            return value
    return None
