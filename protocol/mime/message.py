"""parse_message: everything FETCH and SEARCH need, computed once at APPEND (DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass

from .bodystructure import render
from .parttree import Part
from .searchtext import SearchFields, search_fields
from .sortkeys import SortFields, sort_fields
from .walker import parse_tree


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    size: int  # RFC822.SIZE: len(raw)
    envelope: bytes  # ready ``envelope`` (RFC 3501 §7.4.2)
    bodystructure: bytes  # ready ``body`` with extension data
    body: bytes  # ready ``body`` without extension data (FETCH BODY)
    part_tree: Part  # offsets for BODY[section]; store with part_tree_to_bytes
    search_fields: SearchFields  # decoded header values for SEARCH
    sort_fields: SortFields  # prepared SORT/THREAD keys (RFC 5256)


def structure_rev2(raw: bytes) -> tuple[bytes, bytes]:
    """BODYSTRUCTURE and BODY of *raw* in the IMAP4rev2 form (RFC 9051 §7.5.2, §9), where a
    message/global part is described like message/rfc822. They differ from the stored
    (rev1) ones only for a message with a message/global part (:func:`has_global`), which
    is rare: those are computed when a rev2 session asks, instead of being stored twice."""
    root = parse_tree(raw)
    return render(root, True, rev2=True), render(root, False, rev2=True)


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse a message once (never raises on malformed input)."""
    root = parse_tree(raw)
    return ParsedMessage(
        size=len(raw),
        envelope=root.envelope,
        bodystructure=render(root, True),
        body=render(root, False),
        part_tree=root.to_part(),
        search_fields=search_fields(root.headers),
        sort_fields=sort_fields(root.headers),
    )
