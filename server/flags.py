"""Flags as the IMAP layer shows them (RFC 3501 §2.3.2): names from storage's one table of
system flags (``storage/flags.py``), never a second list."""

from crispin.storage import RECENT, SEEN_FLAG, SYSTEM_FLAG_NAMES

SYSTEM_FLAGS = SYSTEM_FLAG_NAMES
SEEN = SEEN_FLAG

__all__ = ["RECENT", "SEEN", "SYSTEM_FLAGS"]
