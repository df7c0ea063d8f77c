"""A loose RFC 3501 §9 grammar check for response lines (:func:`check_grammar`: balanced
parentheses and brackets, single spaces between tokens, well-formed quoted strings and
literals, status responses with a text), the parser behind it, and small readers of its
results, shared by the tests that replay real clients' command sequences.
"""

from __future__ import annotations

import re
from typing import Any

Parsed = list[Any]

# -- grammar ---------------------------------------------------------------------------------

_QUOTED = re.compile(rb'"((?:[^"\\\r\n]|\\["\\])*)"')
_LITERAL = re.compile(rb"~?\{(\d+)\}\r\n")
_STATUS = re.compile(rb"(OK|NO|BAD|BYE|PREAUTH)(?: (.*))?\Z", re.S)


def _atom_end(data: bytes, pos: int) -> int:
    """End of an atom starting at ``pos``; a ``[section]`` inside it may hold spaces,
    parentheses and quoted strings (``BODY[HEADER.FIELDS (From To)]<0>``)."""
    while pos < len(data):
        c = data[pos:pos + 1]
        if c in b' ()"{' or c < b" " or c == b"\x7f":
            return pos
        if c == b"[":
            depth = 0
            while True:
                assert pos < len(data), ("unclosed [", data)
                c = data[pos:pos + 1]
                if c == b'"':
                    m = _QUOTED.match(data, pos)
                    assert m, ("bad quoted string in section", data)
                    pos = m.end()
                    continue
                depth += {b"[": 1, b"]": -1}.get(c, 0)
                pos += 1
                if depth == 0:
                    break
            continue
        assert c != b"]", ("stray ]", data)
        pos += 1
    return pos


def parse_data(data: bytes) -> Parsed:
    """IMAP data (RFC 3501 §4) into nested lists of str / bytes (literals) / None (NIL),
    asserting the layout: one space between tokens, none after "(" or before ")"."""
    stack: list[Parsed] = [[]]
    pos, need_space = 0, False
    while pos < len(data):
        c = data[pos:pos + 1]
        if c == b" ":
            assert need_space, ("unexpected space", pos, data)
            assert data[pos + 1:pos + 2] not in (b"", b" ", b")"), ("stray space", pos, data)
            pos, need_space = pos + 1, False
            continue
        if c == b"(":
            # ")(" is legal inside NAMESPACE (RFC 2342 §5); elsewhere a space separates.
            assert not need_space or data[pos - 1:pos] == b")", ("missing space", pos, data)
            stack.append([])
            pos, need_space = pos + 1, False
            continue
        if c == b")":
            assert len(stack) > 1, ("unbalanced )", data)
            done = stack.pop()
            stack[-1].append(done)
            pos, need_space = pos + 1, True
            continue
        assert not need_space, ("missing space", pos, data)
        if c == b'"':
            m = _QUOTED.match(data, pos)
            assert m, ("bad quoted string", pos, data)
            stack[-1].append(re.sub(rb"\\(.)", rb"\1", m[1]).decode())
            pos = m.end()
        elif c in b"{~":
            m = _LITERAL.match(data, pos)
            assert m, ("bad literal", pos, data)
            n = int(m[1])
            assert len(data) >= m.end() + n, ("short literal", data)
            stack[-1].append(data[m.end():m.end() + n])
            pos = m.end() + n
        else:
            end = _atom_end(data, pos)
            assert end > pos, ("bad character", pos, data)
            atom = data[pos:end].decode()
            stack[-1].append(None if atom.upper() == "NIL" else atom)
            pos = end
        need_space = True
    assert len(stack) == 1, ("unbalanced (", data)
    return stack[0]


def check_grammar(response: bytes, tag: bytes | None = None) -> None:
    """One whole response (literals inline) as RFC 3501 §7 allows it, loosely."""
    outside, pos = b"", 0  # CR, LF and NUL may only appear inside literals
    while m := re.compile(rb"~?\{(\d+)\}\r\n").search(response, pos):
        outside += response[pos:m.start()] + b"{}"
        pos = m.end() + int(m[1])
    outside += response[pos:]
    assert b"\r" not in outside and b"\n" not in outside and b"\0" not in outside, response
    if response.startswith(b"+"):
        assert response == b"+" or response.startswith(b"+ "), response
        return
    head, sep, rest = response.partition(b" ")
    assert sep and rest, ("empty response", response)
    if head != b"*":
        assert tag is not None and head == tag, ("unexpected tag", tag, response)
        assert _STATUS.match(rest) and not rest.startswith((b"BYE", b"PREAUTH")), response
    m = _STATUS.match(rest)
    if m:
        text = m[2] or b""
        if text.startswith(b"["):
            end = text.find(b"]")
            assert end > 0, ("unclosed response code", response)
            code = text[1:end]
            assert code and code == code.strip(), ("response code spacing", response)
            parse_data(code)  # balanced, single spaces
            text = text[end + 1:]
            assert text.startswith(b" ") and text[1:].strip(), ("resp-text needs text", response)
        else:
            assert text.strip(), ("status response without text", response)
        return
    assert not rest.endswith(b" "), ("trailing space", response)
    parse_data(rest)


def fetch_items(response: bytes) -> tuple[int, dict[str, Any]]:
    """``* n FETCH (k v ...)`` → (n, {K: v})."""
    parsed = parse_data(response[2:])
    assert len(parsed) == 3 and parsed[1].upper() == "FETCH", response
    items = parsed[2]
    assert len(items) % 2 == 0, response
    return int(parsed[0]), {k.upper(): v for k, v in zip(items[::2], items[1::2], strict=True)}


def uid_set(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        a, b = int(lo), int(hi or lo)
        out.update(range(min(a, b), max(a, b) + 1))
    return out
