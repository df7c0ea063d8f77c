"""The stored part tree: byte offsets of every MIME part, for BODY[section] without reparsing.

A :class:`Part` is one MIME entity. For the message itself (and for a message
encapsulated in a message/rfc822 part) the root Part's header is the message
header. Offsets index the raw message bytes:

- ``raw[header_start:body_start]`` is the header *including* its empty line
  (RFC 3501 §6.4.5 HEADER / MIME include the blank line),
- ``raw[body_start:body_end]`` is the body; for a part of a multipart the CRLF
  before the next boundary belongs to the boundary (RFC 2046 §5.1.1), not to it.

``children`` are the parts of a multipart; ``message`` is the root of the
message inside a message/rfc822 part. ``media_type``/``media_subtype``/
``charset``/``encoding`` are lowercased effective values for decoding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Part:
    header_start: int
    body_start: int
    body_end: int
    lines: int  # LF count of the body: body-fld-lines
    media_type: str = "text"
    media_subtype: str = "plain"
    charset: str = ""
    encoding: str = "7bit"
    children: tuple[Part, ...] = ()
    message: Part | None = None

    @property
    def size(self) -> int:
        """body-fld-octets: size of the body as sent."""
        return self.body_end - self.body_start

    @property
    def is_multipart(self) -> bool:
        return bool(self.children)


def _to_json(p: Part) -> list[Any]:
    return [
        p.header_start, p.body_start, p.body_end, p.lines,
        p.media_type, p.media_subtype, p.charset, p.encoding,
        [_to_json(c) for c in p.children],
        None if p.message is None else _to_json(p.message),
    ]


def _from_json(v: list[Any]) -> Part:
    hs, bs, be, lines, mt, ms, cs, enc, children, message = v
    return Part(
        int(hs), int(bs), int(be), int(lines), str(mt), str(ms), str(cs), str(enc),
        tuple(_from_json(c) for c in children),
        None if message is None else _from_json(message),
    )


def part_tree_to_bytes(tree: Part) -> bytes:
    """Serialise a part tree (compact JSON, versioned) for storage."""
    return json.dumps([_FORMAT, _to_json(tree)], separators=(",", ":")).encode("ascii")


def part_tree_from_bytes(data: bytes) -> Part:
    """Inverse of :func:`part_tree_to_bytes`; raises ValueError on foreign data."""
    try:
        version, root = json.loads(data)
        if version != _FORMAT:
            raise ValueError(f"unknown part tree format {version!r}")
        return _from_json(root)
    except (TypeError, KeyError) as exc:
        raise ValueError("malformed part tree") from exc


def has_global(data: bytes) -> bool:
    """Whether a stored part tree (:func:`part_tree_to_bytes`) holds a message/global part
    (RFC 6532 §3.7), whose IMAP4rev2 BODYSTRUCTURE differs from the rev1 one (RFC 9051
    §9): a byte search, since media types are stored lower case, next to each other."""
    return b'"message","global"' in data


def find_part(tree: Part, part: tuple[int, ...]) -> Part | None:
    """Resolve a section-part (RFC 3501 §6.4.5) to a Part, or None if it does not exist.

    Part numbers index the body parts of a message: a multipart message's part
    n is its n-th child, a non-multipart message has only part 1 (its body,
    i.e. the root itself). Under a multipart part, n is its n-th child; under a
    message/rfc822 part, n indexes the body parts of the encapsulated message.
    A non-multipart, non-message part has no sub-parts.
    """
    container: Part | None = tree
    as_message = True
    found: Part | None = None
    for n in part:
        if container is None or n < 1:
            return None
        if container.is_multipart:
            if n > len(container.children):
                return None
            found = container.children[n - 1]
        elif as_message and n == 1:
            found = container
        else:
            return None
        if found.message is not None:
            container, as_message = found.message, True
        elif found.is_multipart:
            container, as_message = found, False
        else:
            container = None
    return found
