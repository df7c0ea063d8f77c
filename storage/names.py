"""Mailbox name rules that storage enforces.

Names are plain Python ``str`` here: the server has already decoded modified UTF-7 and any
quoting, mapped a case-insensitive "inbox" to "INBOX" (RFC 3501 §5.1), and stripped one
trailing delimiter (RFC 3501 §6.3.3).  Levels are separated by ``DELIMITER``.
"""

from __future__ import annotations

from .errors import InvalidName

DELIMITER = "/"
INBOX = "INBOX"
MAX_NAME_LENGTH = 1024
"""Longest full name accepted, in characters (Dovecot's default limit is similar)."""


def validate_name(name: str) -> None:
    """Raise ``InvalidName`` unless ``name`` is a well-formed hierarchical name.

    Refused: the empty name, a leading or trailing delimiter, an empty level ("a//b"),
    control characters (they cannot be listed back safely), and over-long names.
    """
    if not name:
        raise InvalidName("empty mailbox name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName("mailbox name too long")
    if name.startswith(DELIMITER) or name.endswith(DELIMITER):
        raise InvalidName("mailbox name starts or ends with the hierarchy delimiter")
    if DELIMITER * 2 in name:
        raise InvalidName("empty level in mailbox name")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InvalidName("control character in mailbox name")


def ancestors(name: str) -> list[str]:
    """Proper superiors of ``name``, outermost first: "a/b/c" -> ["a", "a/b"]."""
    parts = name.split(DELIMITER)
    return [DELIMITER.join(parts[:i]) for i in range(1, len(parts))]


def parent(name: str) -> str | None:
    """The immediate superior of ``name``, or None at the top level."""
    head, sep, _ = name.rpartition(DELIMITER)
    return head if sep else None


def inferior_range(name: str) -> tuple[str, str]:
    """Bounds ``(lo, hi)`` such that the inferiors of ``name`` are exactly the names ``n``
    with ``lo <= n < hi`` in binary collation.

    Inferiors start with ``name + "/"``; the next character after "/" is "0", so every
    inferior sorts below ``name + "0"``.  Used instead of LIKE, which is case-insensitive
    and treats "%" and "_" in names as wildcards; a range also uses the (owner_id, name)
    index.
    """
    return name + DELIMITER, name + chr(ord(DELIMITER) + 1)


def is_inferior(name: str, of: str) -> bool:
    """True when ``name`` lies strictly below ``of`` in the hierarchy."""
    return name.startswith(of + DELIMITER)
