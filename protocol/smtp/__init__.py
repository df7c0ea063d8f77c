"""SMTP (RFC 5321), submission (RFC 6409) and LMTP (RFC 2033), sans-I/O: framing, DATA
transparency, command order and replies. See :mod:`crispin.protocol.smtp.connection`."""

from .commands import (
    Auth,
    CommandSyntaxError,
    Hello,
    MailFrom,
    RcptTo,
    Simple,
    SmtpCommand,
    parse_command,
)
from .connection import (
    AuthResponse,
    BadCommand,
    CommandReceived,
    ConnectionClosed,
    MessageData,
    MessageEnd,
    Phase,
    SmtpConnection,
    SmtpEvent,
)
from .replies import Reply

__all__ = [
    "Auth", "AuthResponse", "BadCommand", "CommandReceived", "CommandSyntaxError",
    "ConnectionClosed", "Hello", "MailFrom", "MessageData", "MessageEnd", "Phase", "RcptTo",
    "Reply", "Simple", "SmtpCommand", "SmtpConnection", "SmtpEvent", "parse_command",
]
