"""Decoded text for SEARCH (RFC 3501 §6.4.4): header values, header text, body text.

Header values have RFC 2047 encoded-words decoded so that substring matching
works on what the user sees. ``date_sent`` is the date part of the Date header
in its own time zone (SENTBEFORE/SENTON/SENTSINCE disregard time and zone).

Standard library: dates with ``email.utils.parsedate_tz``; RFC 2047 with
``email.header.decode_header`` and transfer/charset decoding with ``binascii``
and ``codecs`` (see textdecode.py). ``from_``/``to``/... are the whole header
value decoded (``"Éloise" <eloise@example.fr>``), not ``email.utils.getaddresses``
output, because SEARCH FROM "x" is a substring match on the header (RFC 3501
§6.4.4) and getaddresses drops group names and rewrites comments; after it come the
addresses as ENVELOPE shows them (``address_text``), one per line. The header
fields come from headers.py's splitter (not ``BytesHeaderParser``) so that
``header_text`` keeps fields after a line without a colon, as BODY[HEADER] does.
"""

from __future__ import annotations

import datetime
import email.utils
import re
from dataclasses import dataclass

from .addresses import parse_addresses
from .headers import MAX_FIELDS, MAX_TOTAL_FIELDS, Headers, split_fields
from .parttree import Part
from .textdecode import bytes_to_text, decode_transfer, decode_words

_MAX_TEXT_PARTS = 1000
# str.replace("\r\n", "\n") took 30-55 us per 10 KB of text, this 12 (same result).
_CRLF = re.compile("\r\n")


@dataclass(frozen=True, slots=True)
class SearchFields:
    """Header values SEARCH uses, decoded; None when the field is absent."""

    subject: str | None
    from_: str | None
    to: str | None
    cc: str | None
    bcc: str | None
    date_sent: datetime.date | None
    message_id: str | None
    in_reply_to: str | None
    references: str | None


def parse_date_fields(value: bytes | None) -> tuple[int, ...] | None:
    """An RFC 5322 §3.3 date-time (obsolete forms accepted) as ``parsedate_tz``'s
    (year, month, day, hour, minute, second, 0, 1, -1, zone offset in seconds or 0 when
    unknown), or None."""
    if value is None:
        return None
    try:
        parsed = email.utils.parsedate_tz(value.decode("latin-1"))
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    return (*parsed[:9], parsed[9] or 0)


def parse_date_sent(value: bytes | None) -> datetime.date | None:
    """The calendar date of an RFC 5322 §3.3 date-time in its own zone, or None."""
    t = parse_date_fields(value)
    try:
        return None if t is None else datetime.date(t[0], t[1], t[2])
    except (ValueError, OverflowError):
        return None


def address_text(value: bytes) -> str:
    """An address header as SEARCH FROM/TO/CC/BCC matches it: the decoded header value,
    then one line per address as the ENVELOPE presents it (RFC 3501 §7.4.2): the display
    name (decoded) and ``mailbox@host``, with comments and white space gone. So
    ``<user-from (comment)@ (comment) domain.org>`` is found by
    ``SEARCH FROM user-from@domain.org``, as it is by Dovecot."""
    lines = [decode_words(value)]
    for address in parse_addresses(value):
        if address.name is not None:
            lines.append(decode_words(address.name))
        if address.mailbox is not None and address.host is not None:
            lines.append(bytes_to_text(address.mailbox + b"@" + address.host))
        elif address.mailbox is not None:  # a group's name
            lines.append(bytes_to_text(address.mailbox))
    return "\n".join(dict.fromkeys(lines))


def search_fields(headers: Headers) -> SearchFields:
    def dec(name: bytes) -> str | None:
        value = headers.get(name)
        return None if value is None else decode_words(value)

    def addresses(name: bytes) -> str | None:
        value = headers.get(name)
        return None if value is None else address_text(value)

    return SearchFields(
        subject=dec(b"subject"), from_=addresses(b"from"), to=addresses(b"to"),
        cc=addresses(b"cc"), bcc=addresses(b"bcc"),
        date_sent=parse_date_sent(headers.get(b"date")),
        message_id=dec(b"message-id"), in_reply_to=dec(b"in-reply-to"),
        references=dec(b"references"),
    )


def _headers_of(raw: bytes, p: Part, limit: int = MAX_FIELDS) -> str:
    lines = []
    for f in split_fields(raw[p.header_start : p.body_start], limit):
        if f.colon >= 0:
            lines.append(bytes_to_text(f.name) + ": " + decode_words(f.value()))
        else:
            lines.append(bytes_to_text(f.name))
    return "\n".join(lines)


def header_text(raw: bytes, tree: Part) -> str:
    """All header fields of the message, one ``Name: decoded value`` per line."""
    try:
        return _headers_of(raw, tree)
    except Exception:  # best effort by contract: SEARCH must not fail on a message
        return ""


def _collect(raw: bytes, p: Part, out: list[str], depth: int, fields: list[int]) -> None:
    """``fields``: header fields still to decode in this message (one-element list)."""
    if len(out) >= _MAX_TEXT_PARTS or depth > 200:
        return
    if p.children:
        for c in p.children:
            _collect(raw, c, out, depth + 1, fields)
    elif p.message is not None:
        if fields[0] > 0:
            text = _headers_of(raw, p.message, min(MAX_FIELDS, fields[0]))
            fields[0] -= text.count("\n") + 1
            out.append(text)
        _collect(raw, p.message, out, depth + 1, fields)
    elif p.media_type == "text":
        data = decode_transfer(raw[p.body_start : p.body_end], p.encoding)
        out.append(_CRLF.sub("\n", bytes_to_text(data, p.charset)))


def body_text(raw: bytes, tree: Part) -> str:
    """Decoded text of the text/* parts (and of encapsulated messages, headers included).

    Transfer encodings are undone and charsets converted; other parts are skipped.
    """
    out: list[str] = []
    try:
        _collect(raw, tree, out, 0, [MAX_TOTAL_FIELDS])
    except Exception:  # best effort by contract
        pass
    return "\n".join(out)
