"""Flags as the IMAP layer shows them (RFC 3501 §2.3.2)."""

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
SEEN = "\\Seen"
RECENT = "\\Recent"
