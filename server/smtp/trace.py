"""The ``Received:`` trace header a receiving server prepends (RFC 5321 §4.4, RFC 5322 §3.6.7),
with the protocol names of RFC 3848 (ESMTP, ESMTPS, ESMTPA, ESMTPSA, LMTP...)."""

from __future__ import annotations

import email.utils
import time
from datetime import datetime

# The date of the last second a header was stamped in, formatted: every message of a burst
# formatted it anew (time zone lookup and all, ~50 us of the ~1 ms the event loop spends
# on a 10 KB message: bench/README.md "Mail in").
_stamped: tuple[int, str] = (0, "")


def _now() -> str:
    """RFC 5322 §3.3 date-time of the current second, local time with its offset."""
    global _stamped
    second = int(time.time())
    if _stamped[0] != second:
        _stamped = (second, email.utils.format_datetime(datetime.fromtimestamp(second)
                                                        .astimezone()))
    return _stamped[1]


def with_protocol(base: str, extended: bool, tls: bool, authenticated: bool) -> str:
    """RFC 3848 §1: "SMTP"/"ESMTP"/"LMTP" plus S for TLS and A for AUTH."""
    name = "LMTP" if base == "LMTP" else "ESMTP" if extended else "SMTP"
    if tls:
        name += "S"
    if authenticated and name != "SMTP":
        name += "A"
    return name


def received_header(helo: str, peer_ip: str, hostname: str, protocol: str,
                    recipients: list[str], when: datetime | None = None) -> bytes:
    """``Received: from HELO ([ip]) by host (Crispin) with PROTO [for <rcpt>]; date`` folded
    over lines shorter than 78 characters (RFC 5322 §2.1.1)."""
    helo = "".join(c for c in helo if c.isprintable() and c not in "()\\")[:200] or "unknown"
    lines = [f"Received: from {helo} ([{peer_ip}])",
             f"\tby {hostname} (Crispin) with {protocol}"]
    if len(recipients) == 1:
        # RFC 5321 §4.4: a "for" clause with more than one recipient leaks the others.
        rcpt = "".join(c for c in recipients[0] if c.isprintable() and c not in "<>")
        lines.append(f"\tfor <{rcpt}>")
    lines[-1] += ";"
    lines.append("\t" + (_now() if when is None else email.utils.format_datetime(when)))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "surrogateescape")
