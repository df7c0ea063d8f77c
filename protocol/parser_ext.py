"""RFC 4466 extension values (``tagged-ext-val``) and parameter lists."""

from __future__ import annotations

from .commands import Param, ParamValue
from .reader import ASTRING_CHARS, MAX_NUMBER64, ParseError, Reader
from .sequence import SequenceSet

_SIMPLE_CHARS = frozenset(b"0123456789:,*$")
# "*" for sequence sets, "\\" for flags such as USE (\Archive) (RFC 6154 §3).
_COMP_CHARS = ASTRING_CHARS | {ord("*"), ord("\\")}


def _convert(token: bytes) -> ParamValue:
    """A bare token: a number, a sequence set, or otherwise an atom string."""
    if token.isdigit():
        value = int(token)
        if value > MAX_NUMBER64:
            raise ParseError("Number too large")
        return value
    text = token.decode("ascii")
    if token[0] in _SIMPLE_CHARS and all(c in _SIMPLE_CHARS for c in token):
        try:
            return SequenceSet.parse(text)
        except ValueError:
            raise ParseError("Invalid sequence set") from None
    return text


def ext_value(r: Reader) -> ParamValue:
    """RFC 4466 §2.1 ``tagged-ext-val`` = tagged-ext-simple / "(" [tagged-ext-comp] ")"."""
    c = r.peek()
    if c == 0x28:
        return _comp_list(r)
    if c == 0x22 or r.literal_next():
        return r.astring_str()
    token = r.take(_COMP_CHARS)
    if not token:
        raise ParseError("Expected parameter value")
    return _convert(token)


def _comp_list(r: Reader) -> tuple[ParamValue, ...]:
    r.open_paren()
    items: list[ParamValue] = []
    while r.peek() != 0x29:
        if items:
            r.sp()
        if r.peek() == 0x28:
            items.append(_comp_list(r))
        elif r.peek() == 0x22 or r.literal_next():
            items.append(r.astring_str())
        else:
            token = r.take(_COMP_CHARS)
            if not token:
                raise ParseError("Expected parameter value")
            items.append(_convert(token))
    r.close_paren()
    return tuple(items)


def _value_follows(r: Reader) -> bool:
    """After ``name SP``: a value starts with "(" or a number/sequence set, or is a
    ``partial-range-last`` "-n:-m" (RFC 9394 §4 adds it to ``tagged-ext-simple``); an
    atom would be the next parameter's name (RFC 4466 §2.1)."""
    c = r.peek()
    if c == 0x2D:
        return r.buf[r.pos + 1:r.pos + 2].isdigit()
    return c == 0x28 or c in _SIMPLE_CHARS


def param_list(r: Reader) -> tuple[Param, ...]:
    """``"(" param *(SP param) ")"`` where ``param = name [SP tagged-ext-val]``
    (select-params, create-params, fetch-modifiers, LIST return options)."""
    r.open_paren()
    params: list[Param] = []
    while True:
        name = r.keyword("parameter name")
        value: ParamValue = None
        if r.peek() == 0x20 and r.pos + 1 < len(r.buf):
            r.pos += 1
            if _value_follows(r):
                value = ext_value(r)
            else:
                params.append((name, None))
                continue
        params.append((name, value))
        if r.peek() == 0x29:
            break
        r.sp()
    r.close_paren()
    return tuple(params)
