"""BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, ABNF ``body``).

Written once at APPEND from the walker's nodes. Rules (see walker.py and
params.py for how values are found):

- type, subtype, parameter names and values, disposition, encoding are written
  as they were sent (Dovecot does the same); values Crispin supplies (the
  RFC 2045 §5.2 default ``"TEXT" "PLAIN" ("CHARSET" "US-ASCII")``, a missing
  charset on a text part, ``"7BIT"``) are upper case, like RFC 3501's examples,
- body-fld-id / body-fld-desc / body-fld-md5 / body-fld-loc are the unfolded raw
  header values (RFC 2047 encoded-words left encoded), NIL when absent,
- body-fld-octets is the size of the body as sent; body-fld-lines (text/* and
  message/rfc822 only, and message/global for IMAP4rev2) counts its LF characters,
- message/global (RFC 6532 §3.7) depends on the protocol: IMAP4rev1's grammar (RFC 3501
  §9) has only ``"MESSAGE" "RFC822"`` for ``media-message``, so a rev1 BODYSTRUCTURE
  shows message/global as a basic part (``body-type-basic``), as Dovecot 2.3 does for
  every client; RFC 9051 §9 says ``body-type-basic``'s MESSAGE subtype "MUST NOT be
  "RFC822" or "GLOBAL"" and has ``media-message`` take both, so a rev2 one shows it like
  message/rfc822, with the envelope, body and lines of the message inside (``rev2``),
- body-fld-dsp is ``("type" params)`` from Content-Disposition, NIL when absent
  or unparseable; body-fld-lang is a list ``("en" "fr")`` or NIL,
- extension data (BODYSTRUCTURE only): single part ``md5 dsp lang loc``,
  multipart ``params dsp lang loc``.
"""

from __future__ import annotations

from .headers import Headers
from .imapstr import NIL, nstring, string
from .params import Params, get_param, parse_disposition, parse_language
from .walker import CHARSET, US_ASCII, Node


def _params(params: Params) -> bytes:
    if not params:
        return NIL
    return b"(" + b" ".join(string(n) + b" " + string(v) for n, v in params) + b")"


def _disposition(headers: Headers) -> bytes:
    value = headers.get(b"content-disposition")
    parsed = None if value is None else parse_disposition(value)
    if parsed is None:
        return NIL
    return b"(" + string(parsed[0]) + b" " + _params(parsed[1]) + b")"


def _language(headers: Headers) -> bytes:
    value = headers.get(b"content-language")
    tags = [] if value is None else parse_language(value)
    if not tags:
        return NIL
    return b"(" + b" ".join(string(t) for t in tags) + b")"


def _ext_tail(headers: Headers) -> bytes:
    """``SP dsp SP lang SP loc`` shared by both extension forms."""
    return b" ".join((
        b"", _disposition(headers), _language(headers),
        nstring(headers.get(b"content-location")),
    ))


def render(node: Node, extended: bool, rev2: bool = False) -> bytes:
    """The ``body`` production for *node*; BODYSTRUCTURE when *extended*, else BODY; in
    the IMAP4rev2 form (RFC 9051 §9) when *rev2*, else in the IMAP4rev1 one (RFC 3501 §9)."""
    h = node.headers
    if node.kind == "multipart":
        out = b"".join(render(c, extended, rev2) for c in node.children)
        out += b" " + string(node.msubtype)
        if extended:
            out += b" " + _params(node.params) + _ext_tail(h)
        return b"(" + out + b")"
    params = node.params
    is_text = node.mtype.lower() == b"text"
    if is_text and get_param(params, b"charset") is None:
        params = [*params, (CHARSET, US_ASCII)]
    enc = node.encoding
    fields = [
        string(node.mtype), string(node.msubtype), _params(params),
        nstring(h.get(b"content-id")), nstring(h.get(b"content-description")),
        b'"7BIT"' if enc is None else string(enc),
        b"%d" % (node.body_end - node.body_start),
    ]
    if node.kind == "message" and node.message is not None and (rev2 or not node.is_global):
        fields += [node.message.envelope, render(node.message, extended, rev2),
                   b"%d" % node.lines]
    elif is_text:
        fields.append(b"%d" % node.lines)
    out = b" ".join(fields)
    if extended:
        out += b" " + nstring(h.get(b"content-md5")) + _ext_tail(h)
    return b"(" + out + b")"
