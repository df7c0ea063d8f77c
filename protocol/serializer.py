"""Turning response objects into bytes (RFC 3501 §7, §9 ``response``).

Kept tight: FETCH of many messages calls :func:`serialize_value` per item, so
dispatch is by exact type through a dict, with subclass fallbacks only for
types the server did not construct itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .mutf7 import encode_mutf7
from .responses import (
    Atom,
    ContinuationResponse,
    DataResponse,
    Literal,
    Literal8,
    Mailbox,
    Raw,
    Response,
    StatusResponse,
    Value,
)

#: Longer strings go out as literals: clients parse those without scanning for escapes.
MAX_QUOTED = 1024

# RFC 3501 §9 ATOM-CHAR, plus the characters response items such as
# BODY[HEADER]<0> need; a leading backslash (\Seen) is handled separately.
_ATOM_EXTRA = "[].<>"
_ATOM_FORBIDDEN = set('(){ %*"\\]') - set(_ATOM_EXTRA)
_ATOM_OK = frozenset(
    chr(c) for c in range(0x21, 0x7F) if chr(c) not in _ATOM_FORBIDDEN
)
# translate(None, delete) leaves only the characters a quoted string cannot hold.
_PRINTABLE = bytes(range(0x20, 0x7F))
_QUOTED_BAD_TEXT = {c: None for c in range(0x20, 0x7F)}


def _atom(value: str) -> bytes:
    body = value[1:] if value[:1] == "\\" else value
    # "\\*" is the one atom with a "*" (PERMANENTFLAGS, RFC 3501 §7.1).
    if not body or not (_ATOM_OK.issuperset(body) or value == "\\*"):
        raise ValueError(f"Not a valid atom: {value!r}")
    return value.encode("ascii")


def _int(value: int) -> bytes:
    return b"%d" % value


def _raw(value: bytes) -> bytes:
    return bytes(value)


def _literal(value: bytes) -> bytes:
    return b"{%d}\r\n" % len(value) + value


def _literal8(value: bytes) -> bytes:
    return b"~{%d}\r\n" % len(value) + value


def _bytes(value: bytes) -> bytes:
    if len(value) <= MAX_QUOTED and not value.translate(None, _PRINTABLE):
        if b"\\" in value or b'"' in value:
            value = value.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        return b'"' + value + b'"'
    return b"{%d}\r\n" % len(value) + value


def _str(value: str) -> bytes:
    if len(value) <= MAX_QUOTED and value.isascii() and not value.translate(_QUOTED_BAD_TEXT):
        if "\\" in value or '"' in value:
            value = value.replace("\\", "\\\\").replace('"', '\\"')
        return b'"' + value.encode("ascii") + b'"'
    data = value.encode("utf-8", "surrogateescape")
    return b"{%d}\r\n" % len(data) + data


def _mailbox(value: str) -> bytes:
    return _bytes(encode_mutf7(value))


def _mailbox_utf8(value: str) -> bytes:
    """RFC 6855 §3 / RFC 9051 §5.1: to a client that enabled UTF-8, names go as UTF-8, in a
    quoted string where one can hold them (``uQUOTED-CHAR``), else as a literal."""
    data = value.encode("utf-8", "surrogateescape")
    if len(data) <= MAX_QUOTED and not any(c < 0x20 or c == 0x7F for c in data):
        if b"\\" in data or b'"' in data:
            data = data.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        return b'"' + data + b'"'
    return b"{%d}\r\n" % len(data) + data


def _none(value: None) -> bytes:
    return b"NIL"


def _seq(value: list[Value] | tuple[Value, ...]) -> bytes:
    return b"(" + b" ".join([serialize_value(v) for v in value]) + b")"


_WRITERS: dict[type, Callable[[Any], bytes]] = {
    Atom: _atom,
    int: _int,
    Raw: _raw,
    Literal: _literal,
    Literal8: _literal8,
    bytes: _bytes,
    str: _str,
    Mailbox: _mailbox,
    type(None): _none,
    list: _seq,
    tuple: _seq,
}

_FALLBACK: tuple[tuple[type, Callable[[Any], bytes]], ...] = (
    (Atom, _atom), (Mailbox, _mailbox), (str, _str),
    (Raw, _raw), (Literal, _literal), (Literal8, _literal8), (bytes, _bytes),
    (bool, lambda v: b"1" if v else b"0"), (int, _int),
    (list, _seq), (tuple, _seq),
)


def _seq_utf8(value: list[Value] | tuple[Value, ...]) -> bytes:
    return b"(" + b" ".join([serialize_value_utf8(v) for v in value]) + b")"


def serialize_value_utf8(value: Value) -> bytes:
    """As :func:`serialize_value`, for a client that enabled UTF-8 (RFC 6855 §3): mailbox
    names in UTF-8, not modified UTF-7; everything else the same."""
    if isinstance(value, Mailbox):
        return _mailbox_utf8(value)
    if type(value) is list or type(value) is tuple:
        return _seq_utf8(value)
    return serialize_value(value)


def serialize_value(value: Value) -> bytes:
    """One response value, per the rules on :data:`crispin.protocol.responses.Value`."""
    writer = _WRITERS.get(type(value))
    if writer is not None:
        return writer(value)
    for cls, fallback in _FALLBACK:
        if isinstance(value, cls):
            return fallback(value)
    raise TypeError(f"Cannot serialise {type(value).__name__}")


def _clean_text(text: str) -> bytes:
    # RFC 3501 §9 ``text`` excludes CR and LF: a stray one would split the response.
    if "\r" in text or "\n" in text:
        text = text.replace("\r", " ").replace("\n", " ")
    return text.encode("utf-8", "surrogateescape")


def serialize(response: Response, utf8: bool = False) -> bytes:
    """A complete response line, CRLF included (RFC 3501 §7); ``utf8``: for a client that
    enabled UTF-8 (:func:`serialize_value_utf8`)."""
    value_writer = serialize_value_utf8 if utf8 else serialize_value
    if type(response) is DataResponse:
        return b"* " + b" ".join([value_writer(v) for v in response.items]) + b"\r\n"
    if type(response) is StatusResponse:
        out = (b"* " if response.tag is None else response.tag.encode("ascii") + b" ")
        out += response.status.encode("ascii")
        if response.code:
            out += b" [" + response.code.encode("ascii")
            for arg in response.code_args:
                out += b" " + value_writer(arg)
            out += b"]"
        text = _clean_text(response.text)
        if text:
            out += b" " + text
        return out + b"\r\n"
    if type(response) is ContinuationResponse:
        return b"+ " + _clean_text(response.text) + b"\r\n"
    raise TypeError(f"Not a response: {type(response).__name__}")
