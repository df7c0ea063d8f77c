"""Message parsing for FETCH and SEARCH: parse once at APPEND, serve from bytes and offsets.

Pure functions over the raw message bytes (no I/O). See DESIGN.md "Storage" and
"Speed", RFC 3501 §6.4.5 and §7.4.2.

- :func:`parse_message` -> :class:`ParsedMessage` (size, ENVELOPE, BODYSTRUCTURE,
  BODY bytes, part tree, SEARCH header fields),
- :func:`fetch_section` for ``BODY[section]``,
- :func:`part_tree_to_bytes` / :func:`part_tree_from_bytes` to store the tree,
- :func:`header_text` / :func:`body_text` for SEARCH HEADER/BODY/TEXT.

The byte-offset walker, header splitting, MIME parameters and addresses are the
project's own: the ``email`` package gives no byte offsets, and its compat32
header semantics differ from what RFC 3501 ENVELOPE/BODYSTRUCTURE need (raw
values as sent, groups, parameter case, comments, RFC 2231 left encoded). Each
module docstring says where and why. The standard library does the decoding for
SEARCH: RFC 2047 (``email.header.decode_header``), RFC 2231 ``charset*``
(``email.utils``), dates (``email.utils.parsedate_tz``), base64/QP (``binascii``)
and charsets (``codecs``).
"""

from .message import ParsedMessage, parse_message, structure_rev2
from .parttree import Part, find_part, has_global, part_tree_from_bytes, part_tree_to_bytes
from .searchtext import SearchFields, body_text, header_text, parse_date_sent
from .sections import fetch_section, filter_header, section_span
from .sortkeys import SortFields, sort_fields

__all__ = [
    "ParsedMessage", "Part", "SearchFields", "SortFields", "body_text", "fetch_section",
    "filter_header", "find_part", "has_global", "header_text", "parse_date_sent",
    "parse_message", "part_tree_from_bytes", "part_tree_to_bytes", "section_span",
    "sort_fields", "structure_rev2",
]
