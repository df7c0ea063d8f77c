"""URLAUTH commands (RFC 4467 §9).

    resetkey   = "RESETKEY" [SP mailbox *(SP mechanism)]
    genurlauth = "GENURLAUTH" 1*(SP url-rump SP mechanism)
    urlfetch   = "URLFETCH" 1*(SP url-full)
    mechanism  = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".")   ; case-insensitive

The URLs are astrings, kept as sent: the token is computed over the exact text (§6).
"""

from __future__ import annotations

from collections.abc import Callable

from . import commands as c
from .reader import ParseError, Reader

_MECHANISM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


def _mechanism(r: Reader) -> str:
    name = r.take(_MECHANISM)
    if not name or r.peek() not in (-1, 0x20):
        raise ParseError("Invalid URLAUTH mechanism")
    return name.decode("ascii").upper()


def _url(r: Reader) -> str:
    return r.astring().decode("utf-8", "surrogateescape")


def _resetkey(r: Reader) -> c.Command:
    if r.at_end():
        return c.ResetKey(None)
    r.sp()
    mailbox = r.mailbox()
    mechanisms = []
    while r.maybe_sp():
        mechanisms.append(_mechanism(r))
    r.end()
    return c.ResetKey(mailbox, tuple(mechanisms))


def _genurlauth(r: Reader) -> c.Command:
    pairs = []
    while True:
        url = _url(r)
        r.sp()
        pairs.append((url, _mechanism(r)))
        if not r.maybe_sp():
            break
    r.end()
    return c.GenUrlAuth(tuple(pairs))


def _urlfetch(r: Reader) -> c.Command:
    urls = [_url(r)]
    while r.maybe_sp():
        urls.append(_url(r))
    r.end()
    return c.UrlFetch(tuple(urls))


#: GENURLAUTH and URLFETCH take SP then arguments (parse_command reads the SP);
#: RESETKEY may have none, so it is in NO_SP.
HANDLERS: dict[str, Callable[[Reader], c.Command]] = {
    "GENURLAUTH": _genurlauth,
    "URLFETCH": _urlfetch,
}
NO_SP: dict[str, Callable[[Reader], c.Command]] = {"RESETKEY": _resetkey}
