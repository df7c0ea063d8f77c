"""What SORT and THREAD compare, computed once at APPEND (RFC 5256, RFC 5957, RFC 5051).

- :func:`casemap`: the i;unicode-casemap preparation of RFC 5051 §2 (titlecase each code
  point, then decompose it fully); prepared strings compare as i;octet, and Python's
  code-point order of ``str`` is the byte order of their UTF-8 form.
- :func:`base_subject`: RFC 5256 §2.1 base-subject extraction, and whether it removed a
  reply/forward marker (the "reply or forward" test of the REFERENCES algorithm, §3).
- :func:`address_key` / :func:`display_key`: the addr-mailbox of the first address
  (SORT FROM/TO/CC, RFC 5256 §3) and the DISPLAY sort value (RFC 5957 §3, §4).
- :func:`message_ids`: msg-ids normalised (RFC 5256 §3: quoting removed) for threading.
- :func:`sort_fields`: all of the above for one header block.
"""

from __future__ import annotations

import calendar
import functools
import re
import unicodedata
from dataclasses import dataclass

from .addresses import parse_addresses
from .headers import Headers
from .searchtext import parse_date_fields
from .textdecode import bytes_to_text, decode_words

# -- RFC 5051 i;unicode-casemap ----------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _prepare_char(c: str) -> str:
    # (2a) the titlecase property of UnicodeData.txt is a single code point (the "simple"
    # mapping); str.title() gives the full mapping of SpecialCasing.txt, which differs only
    # where it is several code points (ß -> "Ss"), and those have no simple titlecase.
    t = c.title()
    if len(t) != 1:
        t = c
    # (2b) full decomposition of any type (NFKD of one code point).  Hangul syllables have
    # no decomposition property in UnicodeData.txt (theirs is algorithmic): kept as is.
    if "\uac00" <= t <= "\ud7a3":
        return t
    return unicodedata.normalize("NFKD", t)


def casemap(text: str) -> str:
    """RFC 5051 §2 "titlecased canonicalized" form of ``text``."""
    if text.isascii():
        return text.upper()
    return "".join(_prepare_char(c) for c in text)


def _clean(text: str) -> str:
    """Text storable as UTF-8 (lone surrogates from undecodable bytes become U+FFFD)."""
    return text.encode("utf-8", "replace").decode("utf-8", "replace")


# -- RFC 5256 §2.1 base subject -----------------------------------------------------------

_WSP = " \t"
_SPACES = re.compile(r"[ \t\r\n]+")


def _skip_wsp(s: str, i: int) -> int:
    while i < len(s) and s[i] in _WSP:
        i += 1
    return i


def _blob_end(s: str, i: int) -> int:
    """End of a subj-blob ("[" *BLOBCHAR "]" *WSP) starting at ``i``, or -1."""
    if i >= len(s) or s[i] != "[":
        return -1
    j = i + 1
    while j < len(s) and s[j] not in "[]":
        j += 1
    if j >= len(s) or s[j] != "]":
        return -1
    return _skip_wsp(s, j + 1)


def _refwd_end(s: str, i: int) -> int:
    """End of a subj-refwd (("re" / "fw" ["d"]) *WSP [subj-blob] ":") at ``i``, or -1."""
    low = s[i : i + 3].lower()
    if low.startswith("re"):
        j = i + 2
    elif low == "fwd":
        j = i + 3
    elif low.startswith("fw"):
        j = i + 2
    else:
        return -1
    j = _skip_wsp(s, j)
    if j < len(s) and s[j] == ":":
        return j + 1
    k = _blob_end(s, j)
    if k >= 0 and k < len(s) and s[k] == ":":
        return k + 1
    return -1


def _leader_end(s: str) -> int:
    """End of a subj-leader ((*subj-blob subj-refwd) / WSP) at the start, or -1."""
    if s and s[0] in _WSP:
        return 1
    i = 0
    while True:
        end = _refwd_end(s, i)
        if end >= 0:
            return end
        nxt = _blob_end(s, i)
        if nxt < 0:
            return -1
        i = nxt


def base_subject(subject: str) -> tuple[str, bool]:
    """RFC 5256 §2.1 steps (1)-(7) on a decoded subject: (base subject, reply-or-forward).

    The second value is true when the extraction removed a subj-refwd, a "(fwd)"
    subj-trailer, or a subj-fwd-hdr/subj-fwd-trl pair (RFC 5256 §3, REFERENCES)."""
    # (1) tabs and continuations to space, runs of spaces to one.
    s = _SPACES.sub(" ", subject)
    reply = False
    while True:
        # (2) trailers: "(fwd)" or WSP, repeatedly.
        while True:
            if s.endswith((" ", "\t")):
                s = s[:-1]
            elif s[-5:].lower() == "(fwd)":
                s = s[:-5]
                reply = True
            else:
                break
        # (3)-(5) leaders and blobs, until neither matches.
        while True:
            end = _leader_end(s)
            if end >= 0:
                if s[0] not in _WSP:
                    reply = True
                s = s[end:]
                continue
            end = _blob_end(s, 0)
            if end >= 0 and end < len(s):
                s = s[end:]
                continue
            break
        # (6) "[fwd:" ... "]" around the whole text: remove and repeat from (2).
        if s[:5].lower() == "[fwd:" and s.endswith("]"):
            s = s[5:-1]
            reply = True
            continue
        return s, reply


# -- addresses (RFC 5256 §3 FROM/TO/CC, RFC 5957 DISPLAYFROM/DISPLAYTO) -------------------


def address_key(value: bytes | None) -> str:
    """addr-mailbox of the first address of an address header ("" when absent)."""
    if value is None:
        return ""
    addrs = parse_addresses(value)
    if not addrs or addrs[0].mailbox is None:
        return ""
    return casemap(_clean(bytes_to_text(addrs[0].mailbox)))


def display_key(value: bytes | None) -> str:
    """RFC 5957 §3 DISPLAY sort value of the first address: the decoded display name if
    not empty, else mailbox@host, else mailbox, else ""."""
    if value is None:
        return ""
    addrs = parse_addresses(value)
    if not addrs:
        return ""
    a = addrs[0]
    if a.name is not None:
        name = decode_words(a.name)
        if name:
            return casemap(_clean(name))
    if a.mailbox is not None and a.host is not None:
        return casemap(_clean(bytes_to_text(a.mailbox + b"@" + a.host)))
    if a.mailbox is not None:
        return casemap(_clean(bytes_to_text(a.mailbox)))
    return ""


# -- msg-ids (RFC 5322 §3.6.4; RFC 5256 §3 REFERENCES) -------------------------------------

_MSG_ID = re.compile(rb"<([^<>]*)>")
_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"')
_QUOTED_PAIR = re.compile(rb"\\(.)")
_CFWS = re.compile(rb"[ \t\r\n]+")


def _normalise_id(inner: bytes) -> str | None:
    """``id-left@id-right`` with quoting undone and white space removed, or None when it
    is not a valid Message ID (RFC 5256 §3: normalise "to avoid false non-matches")."""
    text = _QUOTED.sub(lambda m: _QUOTED_PAIR.sub(rb"\1", m.group(1)), inner)
    text = _CFWS.sub(b"", text)
    left, at, right = text.rpartition(b"@")
    if not at or not left or not right or b" " in text:
        return None
    return _clean(text.decode("utf-8", "replace"))


def message_ids(value: bytes | None) -> list[str]:
    """The valid msg-ids of a header value, in order, normalised."""
    if not value:
        return []
    out = []
    for m in _MSG_ID.finditer(value):
        mid = _normalise_id(m.group(1))
        if mid is not None:
            out.append(mid)
    return out


# -- RFC 5256 §2.2 sent date -------------------------------------------------------------


def sent_seconds(value: bytes | None) -> int | None:
    """The Date header as Unix seconds normalised to UTC (RFC 5256 §2.2: an invalid zone
    counts as UTC), or None when there is no valid date (SORT then uses INTERNALDATE)."""
    t = parse_date_fields(value)
    if t is None:
        return None
    try:
        return calendar.timegm((t[0], t[1], t[2], t[3], t[4], t[5], 0, 0, 0)) - t[9]
    except (ValueError, OverflowError):
        return None


# -- one message --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SortFields:
    """Prepared SORT/THREAD keys of one message (strings already i;unicode-casemap)."""

    date: int | None
    """Sent date (RFC 5256 §2.2) as Unix seconds; None: use INTERNALDATE."""
    subject: str
    """Base subject (RFC 5256 §2.1), casemapped; "" when there is no Subject."""
    reply: bool
    """The subject marks a reply or forward (REFERENCES step 5)."""
    from_: str
    to: str
    cc: str
    display_from: str
    display_to: str
    message_id: str | None
    """First valid Message-ID, normalised; None when there is none."""
    references: tuple[str, ...]
    """References msg-ids, or the first valid In-Reply-To msg-id (RFC 5256 §3)."""


def sort_fields(headers: Headers) -> SortFields:
    raw_subject = headers.get(b"subject")
    if raw_subject is None:
        subject, reply = "", False
    else:
        base, reply = base_subject(decode_words(raw_subject))
        subject = casemap(_clean(base))
    ids = message_ids(headers.get(b"message-id"))
    refs = message_ids(headers.get(b"references"))
    if not refs:
        refs = message_ids(headers.get(b"in-reply-to"))[:1]
    return SortFields(
        date=sent_seconds(headers.get(b"date")),
        subject=subject,
        reply=reply,
        from_=address_key(headers.get(b"from")),
        to=address_key(headers.get(b"to")),
        cc=address_key(headers.get(b"cc")),
        display_from=display_key(headers.get(b"from")),
        display_to=display_key(headers.get(b"to")),
        message_id=ids[0] if ids else None,
        references=tuple(refs),
    )
