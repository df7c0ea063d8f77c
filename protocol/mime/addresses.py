"""RFC 5322 §3.4 address lists, turned into IMAP ``address`` structures (RFC 3501 §7.4.2).

Works on the raw header bytes, so 8-bit names survive and RFC 2047 encoded-words
stay encoded. Each address is ``(name, adl, mailbox, host)``:

- name: the display-name phrase, quoted-strings unquoted, words joined by single
  spaces; without a display name the last comment is used (``a@b (Name)``).
- adl: the source route of an ``obs-route`` as written without CFWS, ``<@a,@b:user@host>``
  giving ``"@a,@b"`` (RFC 3501 §7.4.2 "at-domain-list (source route)", RFC 5322 §4.4);
  NIL without one.
- mailbox: the local part as written (quotes kept), host: the domain.
- A group ``name: a, b;`` is ``(NIL NIL "name" NIL)`` then its members then
  ``(NIL NIL NIL NIL)``; an empty group is just the two markers.
- Like Dovecot, a missing local part or domain becomes ``MISSING_MAILBOX`` /
  ``MISSING_DOMAIN`` so that a NIL host keeps meaning "group marker".

Why this is not ``email.utils.getaddresses``: it drops groups (``A Group:Ed
<c@a.test>,joe@where.test;`` gives only the two members; ``undisclosed-
recipients:;`` gives ``('', '')``), turns comments into the name
(``Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>`` gives
``'Pete (A nice ) chap his account his host)'``, RFC 5322 §A.5 wants "Pete"),
does not split the local part from the domain (``@host`` gives ``'@host'``), and
works on str, so 8-bit names would need a round trip. ENVELOPE needs the group
markers, the (name, adl, mailbox, host) split and the raw bytes. SEARCH
FROM/TO/CC/BCC match a substring of the decoded header and of these parsed
addresses (searchtext.py ``address_text``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from .imapstr import NIL, nstring

MISSING_MAILBOX = b"MISSING_MAILBOX"
MISSING_DOMAIN = b"MISSING_DOMAIN"

_SPECIALS = frozenset(b'()<>[]:;@\\,."')
_WSP = frozenset(b" \t\r\n")


@dataclass(frozen=True, slots=True)
class Address:
    name: bytes | None
    mailbox: bytes | None
    host: bytes | None
    adl: bytes | None = None

    def to_imap(self) -> bytes:
        return b"(%s %s %s %s)" % (nstring(self.name), nstring(self.adl),
                                   nstring(self.mailbox), nstring(self.host))


GROUP_END = Address(None, None, None)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "atom", "qs", "comment", "dlit", "special"
    text: bytes  # atom/dlit: as written; qs: unquoted; comment: inner text; special: the char
    raw: bytes  # as written
    space: bool  # white space or a comment came before it


MAX_ADDRESSES = 1000
"""Addresses of one header field that go into ENVELOPE: a 6 MB To: of 857,000 addresses
once cost 400 MiB of tokens. The field itself stays whole in the message (BODY[HEADER],
SEARCH TO); ENVELOPE lists the first ones, as a client shows them anyway."""


def _bounded_tokens(s: bytes, most: int) -> list[_Tok]:
    """The tokens of ``s`` up to its ``most``-th top-level "," or ";" (one per address or
    group end; those inside "<…>", an obs-route, do not count)."""
    toks: list[_Tok] = []
    separators = 0
    in_angle = False
    for tok in _tokenize(s):
        if tok.kind == "special":
            if tok.text == b"<":
                in_angle = True
            elif tok.text == b">":
                in_angle = False
            elif tok.text in (b",", b";") and not in_angle:
                separators += 1
                if separators >= most:
                    break
        toks.append(tok)
    return toks


def _tokenize(s: bytes) -> Iterator[_Tok]:
    """The tokens of ``s``, lazily (a caller may stop early)."""
    i, n = 0, len(s)
    space = False
    while i < n:
        c = s[i]
        if c in _WSP:
            space = True
            i += 1
        elif c == 0x28:  # comment
            depth, j, out = 0, i, bytearray()
            while j < n:
                d = s[j]
                if d == 0x5C and j + 1 < n:
                    out.append(s[j + 1])
                    j += 2
                    continue
                if d == 0x28:
                    depth += 1
                    if depth > 1:
                        out.append(d)
                elif d == 0x29:
                    depth -= 1
                    if depth == 0:
                        j += 1
                        break
                    out.append(d)
                elif d not in (0x0D, 0x0A):
                    out.append(d)
                j += 1
            yield _Tok("comment", bytes(out).strip(b" \t"), s[i:j], space)
            space = True
            i = j
        elif c == 0x22:  # quoted-string
            j, out = i + 1, bytearray()
            while j < n and s[j] != 0x22:
                if s[j] == 0x5C and j + 1 < n:
                    j += 1
                if s[j] not in (0x0D, 0x0A):
                    out.append(s[j])
                j += 1
            j = min(j + 1, n)
            yield _Tok("qs", bytes(out), s[i:j].replace(b"\r", b"").replace(b"\n", b""), space)
            space = False
            i = j
        elif c == 0x5B:  # domain literal
            j = s.find(b"]", i)
            j = n if j < 0 else j + 1
            lit = s[i:j].replace(b"\r", b"").replace(b"\n", b"")
            yield _Tok("dlit", lit, lit, space)
            space = False
            i = j
        elif c in _SPECIALS:
            yield _Tok("special", s[i : i + 1], s[i : i + 1], space)
            space = False
            i += 1
        else:
            j = i
            while j < n and s[j] not in _SPECIALS and s[j] not in _WSP:
                j += 1
            yield _Tok("atom", s[i:j], s[i:j], space)
            space = False
            i = j


def _is(tok: _Tok, char: bytes) -> bool:
    return tok.kind == "special" and tok.text == char


def _phrase(toks: list[_Tok]) -> bytes | None:
    """Display name: words unquoted, joined by one space where the source had space."""
    out = bytearray()
    for t in toks:
        if t.kind == "comment":
            continue
        if out and t.space and not _is(t, b"."):
            out += b" "
        out += t.text
    return bytes(out) if out else None


def _join(toks: list[_Tok]) -> bytes:
    """Local part or domain as written, without CFWS (obs-local-part ``a . b`` -> ``a.b``)."""
    out = bytearray()
    prev_dot = True
    for t in toks:
        if t.kind == "comment":
            continue
        dot = _is(t, b".")
        if out and t.space and not dot and not prev_dot:
            out += b" "
        out += t.raw
        prev_dot = dot
    return bytes(out)


def _addr_spec(toks: list[_Tok], name: bytes | None, adl: bytes | None = None) -> Address:
    at = max((k for k, t in enumerate(toks) if _is(t, b"@")), default=-1)
    if at < 0:
        local, domain = _join(toks), b""
    else:
        local, domain = _join(toks[:at]), _join(toks[at + 1 :])
    return Address(name, local or MISSING_MAILBOX, domain or MISSING_DOMAIN, adl)


def _angle(toks: list[_Tok], name: bytes | None) -> Address:
    # RFC 5322 §4.4 obs-route "@a,@b:" before the addr-spec: the adl (RFC 3501 §7.4.2)
    adl = None
    if toks and _is(toks[0], b"@"):
        colon = next((k for k, t in enumerate(toks) if _is(t, b":")), -1)
        if colon >= 0:
            adl = b"".join(t.raw for t in toks[:colon] if t.kind != "comment") or None
            toks = toks[colon + 1 :]
    return _addr_spec(toks, name, adl)


def _last_comment(toks: list[_Tok]) -> bytes | None:
    comments = [t.text for t in toks if t.kind == "comment" and t.text]
    return comments[-1] if comments else None


# One message's parse reads its From and To several times (ENVELOPE's from, sender and
# reply-to default to From; SEARCH and SORT keys read them again): eight parses of two
# fields for a typical message, a third of the parse of a 10 KB one (bench/README.md
# "Mail in"). Short fields are remembered; long ones (bounded only by MAX_ADDRESSES, up
# to megabytes) are parsed each time rather than kept alive.
_MEMO_FIELD = 1024


def parse_addresses(value: bytes, most: int = MAX_ADDRESSES) -> list[Address]:
    """Parse an address-list (tolerantly) into IMAP address structures with group markers;
    only its first ``most`` entries (addresses, groups) are read."""
    if len(value) <= _MEMO_FIELD:
        return list(_parse_short(bytes(value), most))
    return _parse(value, most)


@lru_cache(maxsize=64)
def _parse_short(value: bytes, most: int) -> tuple[Address, ...]:
    return tuple(_parse(value, most))


def _parse(value: bytes, most: int) -> list[Address]:
    toks = _bounded_tokens(value, most)
    out: list[Address] = []
    i, n = 0, len(toks)
    in_group = False
    while i < n:
        t = toks[i]
        if _is(t, b","):
            i += 1
            continue
        if _is(t, b";"):
            if in_group:
                out.append(GROUP_END)
                in_group = False
            i += 1
            continue
        j = i
        stops = (b",", b";", b"<") if in_group else (b",", b";", b"<", b":")
        while j < n and not (toks[j].kind == "special" and toks[j].text in stops):
            j += 1
        if j < n and _is(toks[j], b":"):
            out.append(Address(None, _phrase(toks[i:j]) or b"", None))
            in_group = True
            i = j + 1
            continue
        if j < n and _is(toks[j], b"<"):
            k = j + 1
            while k < n and not _is(toks[k], b">"):
                k += 1
            name = _phrase(toks[i:j])
            e = k + 1
            while e < n and not (_is(toks[e], b",") or _is(toks[e], b";")):
                e += 1
            if name is None:
                name = _last_comment(toks[k + 1 : e])
            out.append(_angle(toks[j + 1 : k], name))
            i = e
            continue
        entry = toks[i:j]
        if any(t.kind != "comment" for t in entry):
            out.append(_addr_spec(entry, _last_comment(entry)))
        i = j
    if in_group:
        out.append(GROUP_END)
    return out


def address_list(value: bytes | None) -> bytes:
    """The envelope form of an address header: ``(addr...)`` or NIL when none."""
    if value is None:
        return NIL
    addrs = parse_addresses(value)
    if not addrs:
        return NIL
    return b"(" + b"".join(a.to_imap() for a in addrs) + b")"
