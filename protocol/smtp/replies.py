"""SMTP replies (RFC 5321 §4.2) with enhanced status codes (RFC 3463, RFC 2034).

A reply is a three-digit code and one or more lines of text; every line but the last is sent
as ``code-text``, the last as ``code text`` (RFC 5321 §4.2.1). Once ENHANCEDSTATUSCODES was
advertised, every reply but the greeting, the EHLO/LHLO reply and intermediate 3xx replies
starts its text with the enhanced code (RFC 2034 §3).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    code: int
    text: str | tuple[str, ...]
    enhanced: str = ""

    @property
    def lines(self) -> tuple[str, ...]:
        return (self.text,) if isinstance(self.text, str) else self.text

    @property
    def positive(self) -> bool:
        """2yz and 3yz: the command was accepted (RFC 5321 §4.2.1)."""
        return self.code < 400

    def to_bytes(self, enhanced: bool = True) -> bytes:
        lines = list(self.lines) or [""]
        if enhanced and self.enhanced:
            lines = [f"{self.enhanced} {line}" for line in lines]
        out = []
        for i, line in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            # A reply is one line of text per element: CR or LF inside would let a caller
            # inject another reply (RFC 5321 §4.2: text is any printable, no line breaks).
            line = line.replace("\r", " ").replace("\n", " ")
            out.append(f"{self.code}{sep}{line}\r\n")
        return "".join(out).encode("utf-8", "surrogateescape")


# Replies the connection itself produces (RFC 5321 §4.2.2 / §4.2.4, RFC 3463 §3).
SYNTAX_ERROR = Reply(500, "Syntax error, command unrecognized", "5.5.2")
LINE_TOO_LONG = Reply(500, "Line too long", "5.5.2")
BARE_LF = Reply(500, "Bare LF is not allowed; lines end in CRLF (RFC 5321 §2.3.8)", "5.5.2")
BAD_SEQUENCE = Reply(503, "Bad sequence of commands", "5.5.1")
NOT_IMPLEMENTED = Reply(502, "Command not implemented", "5.5.1")
OK = Reply(250, "OK", "2.0.0")
