"""SMTP and LMTP commands (RFC 5321 §4.1.1, RFC 2033 §4.1, RFC 3207, RFC 4954) and their
parser.

Verbs are case-insensitive (RFC 5321 §2.4). Paths are parsed leniently where real senders
differ from the grammar in harmless ways (a space after ``FROM:``), strictly where it matters
(no path, an unbalanced ``<``). With SMTPUTF8 (RFC 6531 §3.3) addresses may be UTF-8, so
lines are decoded as UTF-8 and anything else is kept with ``surrogateescape``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .replies import Reply


class CommandSyntaxError(Exception):
    """A command that cannot be parsed; ``reply`` says why (501 or 500)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.lines[0])
        self.reply = reply


@dataclass(frozen=True)
class Hello:
    """HELO, EHLO (RFC 5321 §4.1.1.1) or LHLO (RFC 2033 §4.1)."""

    verb: str
    domain: str

    @property
    def extended(self) -> bool:
        return self.verb != "HELO"


@dataclass(frozen=True)
class MailFrom:
    """RFC 5321 §4.1.1.2; ``address`` is "" for the null reverse-path ``<>``."""

    address: str
    params: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RcptTo:
    """RFC 5321 §4.1.1.3; ``<postmaster>`` without a domain is allowed."""

    address: str
    params: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Auth:
    """RFC 4954 §4: ``AUTH mechanism [initial-response]``."""

    mechanism: str
    initial: str | None = None


@dataclass(frozen=True)
class Simple:
    """A command without arguments that matter: DATA, RSET, NOOP, QUIT, STARTTLS, HELP, VRFY,
    EXPN (RFC 5321 §4.1.1.4-10)."""

    verb: str
    argument: str = ""


SmtpCommand = Hello | MailFrom | RcptTo | Auth | Simple

SIMPLE_VERBS = frozenset({"DATA", "RSET", "NOOP", "QUIT", "STARTTLS", "HELP", "VRFY", "EXPN"})
# Verbs that take no argument at all (RFC 5321 §4.1.1.4, §4.1.1.5, §4.1.1.10; RFC 3207 §4).
NO_ARGUMENT = frozenset({"DATA", "RSET", "QUIT", "STARTTLS"})

_PARAM = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)(?:=([\x21-\x3c\x3e-\x7e\x80-\U0010ffff]+))?$")


def _bad(text: str) -> CommandSyntaxError:
    return CommandSyntaxError(Reply(501, text, "5.5.4"))


def _path(rest: str, what: str) -> tuple[str, str]:
    """``<path> params`` → (address, params text). RFC 5321 §4.1.2 Reverse-path / Forward-path;
    a source route ``<@a,@b:user@c>`` is accepted and ignored (§4.1.1.3, Appendix C)."""
    rest = rest.lstrip(" ")
    if not rest.startswith("<"):
        # Not the grammar, but some senders omit the brackets: take the first word.
        address, _, params = rest.partition(" ")
        if not address:
            raise _bad(f"Syntax: {what}:<address>")
        return _check_address(address), params
    end = _closing_bracket(rest)
    if end < 0:
        raise _bad(f"Syntax: {what}:<address> (unbalanced <)")
    inner = rest[1:end]
    if inner.startswith("@") and ":" in inner:
        inner = inner.split(":", 1)[1]
    return (_check_address(inner) if inner else ""), rest[end + 1:]


def _closing_bracket(text: str) -> int:
    """Index of the ``>`` that closes the path, skipping quoted local parts (§4.1.2)."""
    quoted = False
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quoted:
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == ">" and not quoted:
            return i
        i += 1
    return -1


def _check_address(address: str) -> str:
    if any(c in address for c in " <>\t") and not address.startswith('"'):
        raise _bad(f"Invalid address: {address}")
    return address


def _params(text: str) -> dict[str, str | None]:
    """RFC 5321 §4.1.2 Mail-parameters: ``KEY[=VALUE]`` separated by spaces; keys are
    case-insensitive (upper-cased here)."""
    params: dict[str, str | None] = {}
    for word in text.split():
        m = _PARAM.match(word)
        if m is None:
            raise _bad(f"Invalid parameter: {word}")
        params[m[1].upper()] = m[2]
    return params


def parse_command(line: str) -> SmtpCommand:
    """One command line without its CRLF."""
    verb, _, rest = line.partition(" ")
    verb = verb.upper()
    if verb in ("HELO", "EHLO", "LHLO"):
        domain = rest.strip()
        if not domain:
            raise _bad(f"Syntax: {verb} hostname")
        return Hello(verb, domain)
    if verb == "MAIL":
        if not rest[:5].upper() == "FROM:":
            raise _bad("Syntax: MAIL FROM:<address>")
        address, params = _path(rest[5:], "MAIL FROM")
        return MailFrom(address, _params(params))
    if verb == "RCPT":
        if not rest[:3].upper() == "TO:":
            raise _bad("Syntax: RCPT TO:<address>")
        address, params = _path(rest[3:], "RCPT TO")
        if not address:
            raise _bad("Syntax: RCPT TO:<address> (empty address)")
        return RcptTo(address, _params(params))
    if verb == "AUTH":
        words = rest.split()
        if not 1 <= len(words) <= 2:
            raise _bad("Syntax: AUTH mechanism [initial-response]")
        return Auth(words[0].upper(), words[1] if len(words) == 2 else None)
    if verb in SIMPLE_VERBS:
        if verb in NO_ARGUMENT and rest.strip():
            raise _bad(f"Syntax: {verb} takes no argument")
        return Simple(verb, rest.strip())
    if verb in ("BDAT", "TURN", "ETRN", "ATRN", "SEND", "SOML", "SAML"):
        raise CommandSyntaxError(Reply(502, f"{verb} is not implemented", "5.5.1"))
    raise CommandSyntaxError(Reply(500, "Command unrecognized", "5.5.2"))
