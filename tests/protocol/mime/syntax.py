"""A tiny reader for the IMAP data the mime module produces, and grammar checks.

``read`` turns bytes into nested lists of ``bytes`` (string), ``None`` (NIL) and ``int``
(number), raising ValueError on anything unbalanced, an unknown atom, a bad escape, a
literal whose count is wrong, or trailing data. ``check_envelope`` / ``check_body`` then
check the shape against RFC 3501 §9 (``envelope``, ``body``, ``body-ext-*``).
"""

from __future__ import annotations

from typing import Any


def _read(data: bytes, i: int) -> tuple[Any, int]:
    if i >= len(data):
        raise ValueError("unexpected end")
    c = data[i : i + 1]
    if c == b"(":
        items: list[Any] = []
        i += 1
        while True:
            if i >= len(data):
                raise ValueError("unbalanced (")
            if data[i : i + 1] == b")":
                return items, i + 1
            if items:
                if data[i : i + 1] == b" ":
                    i += 1
                elif data[i - 1 : i] != b")" or data[i : i + 1] != b"(":
                    raise ValueError(f"missing space at {i}")
            item, i = _read(data, i)
            items.append(item)
    if c == b'"':
        out = bytearray()
        i += 1
        while True:
            if i >= len(data):
                raise ValueError("unterminated quoted string")
            b = data[i]
            if b == 0x22:
                return bytes(out), i + 1
            if b == 0x5C:
                i += 1
                if i >= len(data) or data[i] not in b'"\\':
                    raise ValueError("bad escape")
                b = data[i]
            elif b in (0x00, 0x0A, 0x0D) or b > 0x7F:
                raise ValueError(f"byte {b:#x} not allowed in a quoted string")
            out.append(b)
            i += 1
    if c == b"{":
        end = data.index(b"}\r\n", i)
        n = int(data[i + 1 : end])
        start = end + 3
        if start + n > len(data):
            raise ValueError("literal too short")
        value = data[start : start + n]
        if b"\0" in value:
            raise ValueError("NUL in literal")
        return value, start + n
    j = i
    while j < len(data) and data[j : j + 1] not in (b" ", b"(", b")"):
        j += 1
    atom = data[i:j]
    if atom == b"NIL":
        return None, j
    if atom.isdigit():
        return int(atom), j
    raise ValueError(f"unexpected atom {atom!r}")


def read(data: bytes) -> Any:
    value, end = _read(data, 0)
    if end != len(data):
        raise ValueError(f"trailing data at {end}")
    return value


def _nstring(v: Any) -> None:
    assert v is None or isinstance(v, bytes), v


def _string(v: Any) -> None:
    assert isinstance(v, bytes), v


def _addresses(v: Any) -> None:
    if v is None:
        return
    assert isinstance(v, list) and v
    depth = 0
    for a in v:
        assert isinstance(a, list) and len(a) == 4, a
        for f in a:
            _nstring(f)
        assert a[1] is None  # adl
        if a[3] is None:  # group marker
            depth += 1 if a[2] is not None else -1
            assert depth in (0, 1), v
            assert a[0] is None
    assert depth == 0, v


def check_envelope(v: Any) -> None:
    assert isinstance(v, list) and len(v) == 10, v
    _nstring(v[0])
    _nstring(v[1])
    for k in range(2, 8):
        _addresses(v[k])
    _nstring(v[8])
    _nstring(v[9])


def _params(v: Any) -> None:
    if v is None:
        return
    assert isinstance(v, list) and v and len(v) % 2 == 0, v
    for s in v:
        _string(s)


def _ext_tail(rest: list[Any]) -> None:
    dsp, lang, loc = rest
    if dsp is not None:
        assert isinstance(dsp, list) and len(dsp) == 2, dsp
        _string(dsp[0])
        _params(dsp[1])
    if isinstance(lang, list):
        assert lang
        for s in lang:
            _string(s)
    else:
        _nstring(lang)
    _nstring(loc)


def check_body(v: Any, extended: bool) -> None:
    assert isinstance(v, list) and v, v
    if isinstance(v[0], list):
        i = 0
        while i < len(v) and isinstance(v[i], list):
            check_body(v[i], extended)
            i += 1
        _string(v[i])
        rest = v[i + 1 :]
        if extended:
            assert len(rest) == 4, rest
            _params(rest[0])
            _ext_tail(rest[1:])
        else:
            assert rest == [], rest
        return
    assert len(v) >= 7, v
    mtype, subtype, params, cid, desc, enc, octets = v[:7]
    _string(mtype)
    _string(subtype)
    _params(params)
    _nstring(cid)
    _nstring(desc)
    _string(enc)
    assert isinstance(octets, int)
    rest = v[7:]
    if mtype.upper() == b"MESSAGE" and subtype.upper() == b"RFC822":
        check_envelope(rest[0])
        check_body(rest[1], extended)
        assert isinstance(rest[2], int)
        rest = rest[3:]
    elif mtype.upper() == b"TEXT":
        assert isinstance(rest[0], int)
        rest = rest[1:]
    if extended:
        assert len(rest) == 4, rest
        _nstring(rest[0])
        _ext_tail(rest[1:])
    else:
        assert rest == [], rest
