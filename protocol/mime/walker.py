"""Byte-offset MIME walker (RFC 2045, RFC 2046 §5.1, RFC 2046 §5.2.1).

Walks a message once and records, for every entity, where its header and body
are and what the header says. Never raises on malformed input:

- boundaries are found only at the start of a line, as ``--boundary`` followed
  by optional ``--`` (close) and white space; the line break before a boundary
  belongs to the boundary (RFC 2046 §5.1.1),
- a missing close boundary ends the last part at the end of the enclosing body,
- a multipart whose boundary never appears gets one empty text/plain part (as
  Dovecot does), since the ``body`` grammar needs at least one part,
- a multipart without a boundary parameter, or an unparseable Content-Type, is
  treated as text/plain; charset=us-ascii (RFC 2045 §5.2),
- multipart and message/rfc822 deeper than :data:`MAX_DEPTH` levels, and parts
  beyond :data:`MAX_PARTS` in one multipart (folded into the last one), are
  not split further; an over-deep entity is shown as application/octet-stream,
- a message has at most :data:`MAX_TOTAL_PARTS` entities in all (Dovecot's
  limit too): past it, the last part runs to the end of its multipart and an
  entity that would need splitting is shown as application/octet-stream (parts
  of enclosing multiparts after that are not listed), so a
  3 MB message of 300,000 empty parts costs a bounded tree, not 300,000 nodes,
- a message/rfc822 body is parsed as a message whatever its transfer encoding,
- a message/global body (RFC 6532 §3.7: a message whose header may be UTF-8) is an
  encapsulated message too, as RFC 9051 §6.4.5 and §7.5.2 treat it: with an identity
  encoding it is parsed in place, like message/rfc822 (its parts are sections:
  ``2.HEADER``, ``2.1``); RFC 6532 §3.7 also allows base64 and quoted-printable for it,
  whose inner offsets are not offsets of the stored message, so such a body is decoded and
  parsed on its own (``Node.decoded``) only to describe it in an IMAP4rev2 BODYSTRUCTURE,
  and stays one leaf part in the part tree (BINARY[n] gives the decoded message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .cte import decode
from .envelope import build_envelope
from .headers import MAX_FIELDS, MAX_TOTAL_FIELDS, Headers, header_bounds
from .params import Params, first_token, get_param, parse_content_type, text_charset
from .parttree import Part

MAX_DEPTH = 64
MAX_PARTS = 1000
MAX_TOTAL_PARTS = 10000

# Values Crispin supplies itself are written in upper case, like RFC 3501's examples;
# values taken from the message are written as they were sent.
TEXT, PLAIN, CHARSET, US_ASCII = b"TEXT", b"PLAIN", b"CHARSET", b"US-ASCII"
MESSAGE, RFC822, GLOBAL = b"MESSAGE", b"RFC822", b"GLOBAL"
APPLICATION, OCTET_STREAM = b"APPLICATION", b"OCTET-STREAM"

_BOUNDARY_TAIL = re.compile(rb"(--.*|[ \t]*)\r?\n?", re.DOTALL)


@dataclass(slots=True)
class Node:
    """One entity while walking: offsets, parsed header, and sub-entities."""

    header_start: int
    body_start: int
    body_end: int
    headers: Headers
    mtype: bytes
    msubtype: bytes
    params: Params
    lines: int
    kind: str = "leaf"  # "leaf", "multipart" or "message"
    children: list[Node] = field(default_factory=list)
    message: Node | None = None
    envelope: bytes = b""  # set on message roots only
    # The message of a message/global part was parsed from its decoded body (base64 or
    # quoted-printable): its offsets are not the stored message's (see the module doc).
    decoded: bool = False

    @property
    def is_global(self) -> bool:
        """A message/global part (RFC 6532 §3.7), shown as a message in IMAP4rev2 only."""
        return self.mtype.lower() == b"message" and self.msubtype.lower() == b"global"

    @property
    def encoding(self) -> bytes | None:
        cte = self.headers.get(b"content-transfer-encoding")
        return None if cte is None else (first_token(cte) or None)

    def to_part(self) -> Part:
        lt = self.mtype.lower().decode("ascii", "replace")
        enc = self.encoding
        return Part(
            self.header_start, self.body_start, self.body_end, self.lines,
            lt, self.msubtype.lower().decode("ascii", "replace"),
            text_charset(self.params),
            "7bit" if enc is None else enc.decode("ascii", "replace").lower(),
            tuple(c.to_part() for c in self.children),
            None if self.message is None or self.decoded else self.message.to_part(),
        )


def _content_type(headers: Headers, digest_child: bool) -> tuple[bytes, bytes, Params]:
    value = headers.get(b"content-type")
    if value is not None:
        parsed = parse_content_type(value)
        if parsed is not None:
            return parsed
    elif digest_child:  # RFC 2046 §5.1.5
        return MESSAGE, RFC822, []
    return TEXT, PLAIN, [(CHARSET, US_ASCII)]


def _delimiters(raw: bytes, start: int, end: int, boundary: bytes,
                most: int = MAX_PARTS) -> list[tuple[int, int, bool]]:
    """Boundary lines in ``raw[start:end]`` as (line start, line end, is_close); the scan
    stops once more than ``most`` were found."""
    delim = b"--" + boundary
    found: list[tuple[int, int, bool]] = []
    pos = start
    while pos < end:
        i = raw.find(delim, pos, end)
        if i < 0:
            break
        nl = raw.find(b"\n", i, end)
        line_end = end if nl < 0 else nl + 1
        pos = line_end
        if i != start and raw[i - 1] != 0x0A:
            continue
        tail = raw[i + len(delim) : line_end]
        if _BOUNDARY_TAIL.fullmatch(tail) is None:
            continue
        close = tail.startswith(b"--")
        found.append((i, line_end, close))
        if close or len(found) > most:
            break
    return found


def _line_break_before(raw: bytes, i: int, floor: int) -> int:
    """Offset where the line break preceding offset *i* starts (not below *floor*)."""
    if i > floor and raw[i - 1] == 0x0A:
        i -= 1
        if i > floor and raw[i - 1] == 0x0D:
            i -= 1
    return max(i, floor)


class _Budget:
    """Entities left to create in this message (:data:`MAX_TOTAL_PARTS`), and header fields
    left to keep (``headers.MAX_TOTAL_FIELDS``)."""

    __slots__ = ("fields", "left")

    def __init__(self, left: int) -> None:
        self.left = left
        self.fields = MAX_TOTAL_FIELDS


def walk(raw: bytes, start: int, end: int, depth: int = 0, digest_child: bool = False,
         budget: _Budget | None = None) -> Node:
    """Parse the entity in ``raw[start:end]`` (a message when called from the top)."""
    if budget is None:
        budget = _Budget(MAX_TOTAL_PARTS)
    budget.left -= 1
    header_end, body_start = header_bounds(raw, start, end)
    headers = Headers(raw[start:header_end], min(MAX_FIELDS, budget.fields))
    budget.fields -= len(headers.fields)
    mtype, msubtype, params = _content_type(headers, digest_child)
    lt, ls = mtype.lower(), msubtype.lower()
    node = Node(start, body_start, end, headers, mtype, msubtype, params,
                raw.count(b"\n", body_start, end))
    if lt == b"multipart":
        boundary = get_param(params, b"boundary")
        if not boundary:
            node.mtype, node.msubtype, node.params = TEXT, PLAIN, [(CHARSET, US_ASCII)]
        elif depth >= MAX_DEPTH or budget.left <= 0:
            node.mtype, node.msubtype, node.params = APPLICATION, OCTET_STREAM, []
        else:
            node.kind = "multipart"
            node.children = _split(raw, body_start, end, boundary, depth + 1, ls == b"digest",
                                   budget)
    elif lt == b"message" and ls in (b"rfc822", b"global"):
        if depth >= MAX_DEPTH or budget.left <= 0:
            node.mtype, node.msubtype, node.params = APPLICATION, OCTET_STREAM, []
            return node
        enc = node.encoding
        cte = b"7bit" if enc is None else enc.lower()
        if ls == b"global" and cte in (b"base64", b"quoted-printable"):
            inner = decode(raw[body_start:end], cte.decode("ascii"), False)
            node.message = walk(inner, 0, len(inner), depth + 1, budget=budget)
            node.decoded = True
        else:
            node.message = walk(raw, body_start, end, depth + 1, budget=budget)
        node.kind = "message"
        node.message.envelope = build_envelope(node.message.headers)
    return node


def _split(raw: bytes, start: int, end: int, boundary: bytes, depth: int,
           digest: bool, budget: _Budget) -> list[Node]:
    delims = _delimiters(raw, start, end, boundary, min(MAX_PARTS, max(budget.left, 1)))
    if len(delims) > MAX_PARTS:
        delims = delims[:MAX_PARTS]  # the last part runs to the end of the body
    children: list[Node] = []
    for k, (_, line_end, close) in enumerate(delims):
        if close or (budget.left <= 0 and children):
            break  # out of entities: the rest is left unsplit, like an epilogue
        if k + 1 < len(delims) and len(children) + 1 < MAX_PARTS and budget.left > 1:
            part_end = _line_break_before(raw, delims[k + 1][0], line_end)
        else:
            part_end = end
        children.append(walk(raw, line_end, part_end, depth, digest, budget))
        if part_end == end:
            break
    if not children:
        empty = Headers(b"")
        children.append(Node(end, end, end, empty, TEXT, PLAIN, [(CHARSET, US_ASCII)], 0))
    return children


def parse_tree(raw: bytes) -> Node:
    """Walk a whole message and attach its envelope."""
    root = walk(raw, 0, len(raw))
    root.envelope = build_envelope(root.headers)
    return root
