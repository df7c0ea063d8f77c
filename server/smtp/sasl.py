"""SASL PLAIN (RFC 4616) and LOGIN for SMTP AUTH (RFC 4954 §4): the exchange as replies,
the credentials at the end. The checks themselves are the IMAP ones (:mod:`crispin.server.auth`)."""

from __future__ import annotations

import base64

from crispin.protocol.smtp import Reply
from crispin.server.auth import SaslError, decode_base64, parse_plain

CANCELLED = Reply(501, "Authentication cancelled", "5.0.0")


def _challenge(text: bytes) -> Reply:
    return Reply(334, base64.b64encode(text).decode("ascii"))


class SaslExchange:
    def __init__(self, mechanism: str) -> None:
        self.mechanism = mechanism
        self.username: str | None = None

    def start(self, initial: str | None) -> Reply | tuple[str, str]:
        if initial is None:
            return _challenge(b"" if self.mechanism == "PLAIN" else b"Username:")
        return self.step(initial)

    def step(self, line: str) -> Reply | tuple[str, str]:
        """A challenge to send, an error reply, or (user, password) to verify."""
        if line.strip() == "*":
            return CANCELLED  # RFC 4954 §4
        try:
            data = decode_base64(line)
            if self.mechanism == "PLAIN":
                creds = parse_plain(data)
                if creds.authzid and creds.authzid != creds.authcid:
                    return Reply(535, "Authentication credentials invalid", "5.7.8")
                return creds.authcid, creds.password
            text = data.decode("utf-8", "surrogateescape")
        except SaslError as exc:
            return Reply(501, str(exc), "5.5.2")
        if self.username is None:
            self.username = text
            return _challenge(b"Password:")
        return self.username, text
