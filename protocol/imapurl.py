"""IMAP URLs (RFC 5092), sans-I/O: the forms CATENATE (RFC 4469) and URLAUTH (RFC 4467) use.

Parsed here, for the server to resolve:

- absolute URLs, ``imap://[user[;AUTH=x]@]host[:port]/icommand`` (RFC 5092 §11 ``imapurl``);
- network-path references ``//host/...`` and absolute-path references ``/icommand``
  (§7, §7.1: what CATENATE sends, RFC 4469 §3); relative-path references (``;UID=20``)
  are refused, as §7.2 says ("Implementations MUST NOT generate or accept relative-path
  IMAP references");
- ``icommand``: a mailbox (``imailbox-ref``, with ``;UIDVALIDITY=``), a mailbox search
  (``?enc-search``), or a message or part (``/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]``),
  optionally followed by ``[;EXPIRE=date-time];URLAUTH=access[:mech:token]`` (RFC 4467 §3,
  RFC 5092 §6.1.2), which must be at the end.

Percent-encoding (RFC 3986 §2.1, RFC 5092 §8): every component is decoded; the mailbox name
and user name are UTF-8 (§8: not IMAP's modified UTF-7). Keywords (``;UID=``...) are
case-insensitive (RFC 5092 §11: "Strings are not case sensitive"). Dot-segments of the path
are removed as RFC 3986 §5.2.4 says (RFC 5092 §9.1's examples). The URLAUTH "rump" — the URL
up to the access identifier — is kept exactly as sent: RFC 4467 §6 forbids any decoding or
case-folding before the token is computed over it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from .commands import BodySection
from .limits import DEFAULT_LIMITS
from .parser_fetch import _section as _read_section
from .reader import ParseError, Reader
from .sequence import MAX_NUMBER

# RFC 5092 §11: uchar = unreserved / sub-delims-sh / pct-encoded; achar adds "&" "=";
# bchar adds ":" "@" "/". "%" is checked separately (it must start a pct-encoded triplet).
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_UCHAR = frozenset(_UNRESERVED + "!$'()*+,%")
_ACHAR = _UCHAR | frozenset("&=")
_BCHAR = _ACHAR | frozenset(":@/")
_IP_LITERAL = frozenset("[]:.0123456789abcdefABCDEFvV")
_HEX = frozenset("0123456789abcdefABCDEF")
# RFC 4467 §9 ``mechanism`` = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".").
_MECHANISM = re.compile(r"[A-Za-z0-9.-]+\Z")
# RFC 3339 §5.6 ``date-time`` (RFC 4467 §9 ``expire``).
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z")
_PORT = re.compile(r"\d*\Z")
#: RFC 4467 §5: the authorization token is hexadecimal, at least 128 bits.
_TOKEN = re.compile(r"[0-9A-Fa-f]{32,}\Z")
_ACCESS_WORDS = ("anonymous", "authuser")
_ACCESS_PREFIXES = ("submit+", "user+")


class UrlError(ValueError):
    """Not an IMAP URL this parser accepts; the text says why."""


@dataclass(frozen=True)
class ImapUrl:
    """One parsed IMAP URL. ``None`` stands for an absent component.

    ``absolute``: it had the ``imap://`` scheme; ``host`` is set for it and for a
    network-path reference. ``partial`` is (offset, length or None) — RFC 5092 §11
    ``partial-range`` = number ["." nz-number]. ``access`` is as sent, with its prefix
    lower-cased (``user+fred``); ``user_access`` the user name it carries, decoded.
    ``rump`` is the URLAUTH rump URL (RFC 4467 §6), verbatim."""

    text: str
    absolute: bool
    user: str | None = None
    auth_type: str | None = None
    host: str | None = None
    port: int | None = None
    mailbox: str | None = None
    uidvalidity: int | None = None
    search: str | None = None
    uid: int | None = None
    section: str | None = None
    partial: tuple[int, int | None] | None = None
    expire: datetime | None = None
    access: str | None = None
    mechanism: str | None = None
    token: str | None = None
    rump: str | None = None

    @property
    def is_message(self) -> bool:
        """Names a message or a part of one (RFC 5092 §6), not a server/mailbox/search."""
        return self.uid is not None

    @property
    def user_access(self) -> str | None:
        if self.access is None or "+" not in self.access:
            return None
        return self.access.split("+", 1)[1]

    def body_section(self) -> BodySection:
        """The ``BODY.PEEK[section]<partial>`` this URL stands for (RFC 5092 §6: "the
        object returned by a UID FETCH <uid> BODY.PEEK[<section>]"). A partial range
        without a length runs to the end."""
        part: tuple[int, ...] = ()
        text: str | None = None
        fields: tuple[str, ...] = ()
        echo: tuple[str, ...] = ()
        if self.section is not None:
            part, text, fields, echo = parse_section(self.section)
        partial = None
        if self.partial is not None:
            offset, length = self.partial
            partial = (offset, length if length is not None else 2**63 - 1)
        return BodySection(True, part, text, fields, partial, False, echo)


def parse_section(section: str) -> tuple[tuple[int, ...], str | None, tuple[str, ...],
                                         tuple[str, ...]]:
    """A decoded ``enc-section`` read as RFC 3501 §9 ``section-spec``."""
    try:
        raw = section.encode("utf-8")
        r = Reader(b"[" + raw + b"]", DEFAULT_LIMITS)
        found = _read_section(r)
        r.end()
    except ParseError as exc:
        raise UrlError(f"Invalid section: {exc.text}") from None
    return found


def percent_decode(text: str, allowed: frozenset[str], what: str) -> str:
    """RFC 3986 §2.1, with the characters RFC 5092 §11 allows in this component; the
    octets must be UTF-8 (RFC 5092 §8)."""
    if not text:
        raise UrlError(f"Empty {what}")
    out = bytearray()
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch not in allowed:
            raise UrlError(f"Invalid character {ch!r} in {what}")
        if ch == "%":
            pair = text[i + 1:i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise UrlError(f"Invalid percent-encoding in {what}")
            out.append(int(pair, 16))
            i += 3
            continue
        out.append(ord(ch))
        i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise UrlError(f"{what} is not UTF-8") from None


def percent_encode(text: str, safe: frozenset[str] = _BCHAR - {"%"}) -> str:
    """The inverse, for building URLs (a mailbox name into ``enc-mailbox``)."""
    return "".join(ch if ch in safe else "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
                   for ch in text)


def _number(value: str, what: str, nonzero: bool = True) -> int:
    if not value.isascii() or not value.isdigit() or (len(value) > 1 and value[0] == "0"):
        raise UrlError(f"Invalid {what}")
    number = int(value)
    if number > MAX_NUMBER or (nonzero and number == 0):
        raise UrlError(f"Invalid {what}")
    return number


def parse_datetime3339(value: str) -> datetime:
    """RFC 3339 §5.6 ``date-time``, timezone-aware (RFC 4467 ``;EXPIRE=``)."""
    m = _DATETIME.match(value)
    if m is None:
        raise UrlError("Invalid EXPIRE date-time")
    year, month, day, hour, minute, second = (int(m[i]) for i in range(1, 7))
    zone = m[8]
    if zone in ("Z", "z"):
        tz = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise UrlError("Invalid EXPIRE time zone")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    leap = second == 60  # RFC 3339 §5.7: a leap second
    try:
        when = datetime(year, month, day, hour, minute, 59 if leap else second, tzinfo=tz)
    except ValueError:
        raise UrlError("Invalid EXPIRE date-time") from None
    if m[7]:
        when += timedelta(microseconds=int((m[7][1:] + "000000")[:6]))
    return when + timedelta(seconds=1) if leap else when


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4."""
    out: list[str] = []
    while path:
        if path.startswith("../"):
            path = path[3:]
        elif path.startswith("./") or path.startswith("/./"):
            path = path[2:]
        elif path == "/.":
            path = "/"
        elif path.startswith("/../"):
            path = path[3:]
            if out:
                out.pop()
        elif path == "/..":
            path = "/"
            if out:
                out.pop()
        elif path in (".", ".."):
            path = ""
        else:
            start = 1 if path.startswith("/") else 0
            end = path.find("/", start)
            if end < 0:
                end = len(path)
            out.append(path[:end])
            path = path[end:]
    return "".join(out)


def parse_url(text: str) -> ImapUrl:
    """Parse an absolute IMAP URL or an absolute-path/network-path reference."""
    if not text or not text.isascii() or not text.isprintable() or " " in text:
        raise UrlError("Not an IMAP URL")
    lowered = text[:7].lower()
    fields: dict[str, object] = {}
    if lowered == "imap://":
        rest = text[7:]
        absolute = True
    elif text.startswith("//"):
        rest = text[2:]
        absolute = False
    elif text.startswith("/"):
        rest = ""
        absolute = False
        path = text
    elif ":" in text.split("/", 1)[0]:
        raise UrlError("Not an IMAP URL (unknown scheme)")
    else:
        raise UrlError("Relative-path IMAP references are not accepted (RFC 5092 §7.2)")
    if absolute or text.startswith("//"):
        cut = len(rest)
        for stop in "/?":
            found = rest.find(stop)
            if found >= 0:
                cut = min(cut, found)
        fields.update(_server(rest[:cut]))
        path = rest[cut:]
        if path.startswith("?"):
            raise UrlError("A search needs a mailbox")
    if path.startswith("//"):
        raise UrlError("Empty mailbox name")  # §7.1: a leading "/" must be %-encoded
    command = remove_dot_segments(path)[1:]
    if command:
        fields.update(_command(command, text))
    return ImapUrl(text, absolute, **fields)  # type: ignore[arg-type]


def _server(authority: str) -> dict[str, object]:
    """RFC 5092 §3, §11 ``iserver`` = [iuserinfo "@"] host [":" port]."""
    fields: dict[str, object] = {}
    userinfo, at, hostport = authority.rpartition("@")
    if at:
        user, semi, auth = userinfo.partition(";")
        if semi:
            if auth[:5].upper() != "AUTH=":
                raise UrlError("Invalid user information")
            auth_type = auth[5:]
            fields["auth_type"] = "*" if auth_type == "*" else \
                percent_decode(auth_type, _ACHAR, "AUTH type")
        elif not user:
            raise UrlError("Empty user name")
        if user:
            fields["user"] = percent_decode(user, _ACHAR, "user name")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise UrlError("Invalid host")
        host, port = hostport[:end + 1], hostport[end + 1:]
    else:
        host, _, port_text = hostport.partition(":")
        port = ":" + port_text if _ else ""
    if not host:
        raise UrlError("Missing host")
    # RFC 3986 §3.2.2: an IP literal in brackets ("[::1]"), else a reg-name.
    allowed = _IP_LITERAL if host.startswith("[") else _ACHAR
    fields["host"] = percent_decode(host, allowed, "host")
    if port:
        if not _PORT.match(port[1:]) or len(port) > 6:
            raise UrlError("Invalid port")
        if port[1:]:
            fields["port"] = int(port[1:])
    return fields


def _command(command: str, text: str) -> dict[str, object]:
    """RFC 5092 §11 ``icommand`` = imessagelist / imessagepart [iurlauth]."""
    fields: dict[str, object] = {}
    command, question, search = command.partition("?")
    if question:
        fields["search"] = percent_decode(search, _BCHAR, "search")
    mailbox, *params = command.split(";")
    # A ";UID=" is preceded by "/": the mailbox part ends with it (the mailbox name itself
    # cannot end in "/" in a URL; RFC 5092 §9.1: </foo/;UID=20/..> names mailbox "foo").
    slash = mailbox.endswith("/")
    if slash:
        mailbox = mailbox[:-1]
    fields["mailbox"] = percent_decode(mailbox, _BCHAR, "mailbox name")
    order = ("UIDVALIDITY", "UID", "SECTION", "PARTIAL", "EXPIRE", "URLAUTH")
    after_slash = ("UID", "SECTION", "PARTIAL")
    last = -1
    for i, param in enumerate(params):
        name, eq, value = param.partition("=")
        key = name.upper()
        if not eq or key not in order:
            raise UrlError(f"Unknown URL parameter {name[:20]!r}")
        index = order.index(key)
        if index <= last:
            raise UrlError(f"Misplaced ;{key}=")
        last = index
        if (key in after_slash) != slash:
            raise UrlError(f";{key}= must {'' if key in after_slash else 'not '}follow a '/'")
        slash = value.endswith("/") and key != "URLAUTH" and i + 1 < len(params)
        if slash:
            value = value[:-1]
        if question and key != "UIDVALIDITY":
            raise UrlError("A search URL names no message")
        if key == "UIDVALIDITY":
            fields["uidvalidity"] = _number(value, "UIDVALIDITY")
        elif key == "UID":
            fields["uid"] = _number(value, "UID")
        elif key == "SECTION":
            section = percent_decode(value, _BCHAR, "section")
            parse_section(section)
            fields["section"] = section
        elif key == "PARTIAL":
            offset, dot, length = value.partition(".")
            fields["partial"] = (_number(offset, "partial offset", nonzero=False),
                                 _number(length, "partial length") if dot else None)
        elif key == "EXPIRE":
            fields["expire"] = parse_datetime3339(value)
        else:
            fields.update(_urlauth(value, text))
    if "uid" not in fields and any(k in fields for k in ("section", "partial", "expire",
                                                         "access")):
        raise UrlError("Only a message or part may have a section, a range or URLAUTH")
    return fields


def _urlauth(value: str, text: str) -> dict[str, object]:
    """RFC 4467 §9 ``access [":" mechanism ":" enc-urlauth]``; the rump is the URL up to
    the access identifier (§6: "Removal of the ':<mech>:<token>' portion ... MUST be the
    only operation applied")."""
    access, colon, verifier = value.partition(":")
    lowered = access.lower()
    if lowered in _ACCESS_WORDS:
        access = lowered
    else:
        prefix = next((p for p in _ACCESS_PREFIXES if lowered.startswith(p)), None)
        if prefix is None:
            raise UrlError("Invalid URLAUTH access identifier")
        access = prefix + percent_decode(access[len(prefix):], _ACHAR, "access user name")
    fields: dict[str, object] = {"access": access}
    if colon:
        mechanism, colon2, token = verifier.partition(":")
        if not colon2 or not _MECHANISM.match(mechanism) or not _TOKEN.match(token):
            raise UrlError("Invalid URLAUTH mechanism or token")
        fields["mechanism"] = mechanism.upper()
        fields["token"] = token.lower()
        fields["rump"] = text[:len(text) - len(verifier) - 1]
    else:
        fields["rump"] = text
    return fields
