"""The PREVIEW of a message (RFC 8970 §3.3): a short plain-text extract of its first text
part, as a client shows it under the subject in a message list.

- The part: the first ``text/plain`` or ``text/html`` leaf in the order the parts come,
  encapsulated messages included; of a ``multipart/alternative``, its plain text
  alternative when it has one (it says the same as the HTML one, without markup); a part
  marked ``Content-Disposition: attachment`` is not the message's text.
- Its transfer encoding is undone (base64, quoted-printable) and its charset converted,
  as SEARCH decodes text (``textdecode``); at most ``SCAN_MAX`` encoded octets are read.
- HTML: tags dropped (``script``, ``style`` and ``head`` with their content), character
  references decoded, block elements separated by a space.
- Plain text: quoted lines (``>``) left out, unless that leaves nothing; only as much of
  the text is looked at as the cut needs (``plain_text``).
- White space collapsed to single spaces, control characters dropped, and the result cut
  to ``PREVIEW_CHARS`` characters (§3.3: "SHOULD limit ... to 200 preview characters",
  counted in characters, not octets).
No text part, or nothing left: the empty string (§3.2: "no meaningful preview").
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .parttree import Part
from .textdecode import bytes_to_text, decode_transfer

PREVIEW_CHARS = 200
SCAN_MAX = 256 * 1024
"""Encoded octets of the chosen part looked at (HTML can carry a long <head> first)."""
PLAIN_WINDOW = 2048
"""Characters of plain text looked at first (then 8 times more, and so on): collapsing the
white space of a whole 10 KB body took 0.4 ms, two thirds of the message's parse at
delivery (bench/README.md "Mail in"), for 200 characters kept."""
_ATTACHMENT = re.compile(rb"(?im)^content-disposition[ \t]*:[ \t]*attachment")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section",
    "table", "td", "th", "tr", "ul",
})
_HIDDEN = frozenset({"script", "style", "head", "title", "template"})
_MAX_DEPTH = 50


def message_preview(raw: bytes, tree: Part) -> str:
    """The preview of the message ``raw`` (whole, or a prefix: parts beyond it count as
    empty) whose part tree is ``tree``."""
    part = _text_part(raw, tree, 0)
    if part is None:
        return ""
    end = min(part.body_end, part.body_start + SCAN_MAX)
    data = decode_transfer(raw[part.body_start : end], part.encoding)
    text = bytes_to_text(data, part.charset)
    if part.media_subtype == "html":
        return shorten(html_text(text))
    return plain_text(text)


def shorten(text: str) -> str:
    """White space collapsed, control characters out, at most ``PREVIEW_CHARS``."""
    return _collapse(text)[:PREVIEW_CHARS].rstrip()


def _collapse(text: str) -> str:
    # str.split() and the regular expression \s both split at Py_UNICODE_ISSPACE
    # characters; split-and-join is one C pass, the substitution was ~20 us per KB.
    return " ".join(_CONTROL.sub(" ", text).split())


def plain_text(text: str) -> str:
    """``shorten`` of the unquoted lines of ``text`` (or all of them when only quotes
    carry text), looking at a prefix of the text while that gives more than
    ``PREVIEW_CHARS`` characters: the kept lines of a prefix, collapsed, are a prefix of
    the whole's (the last line, cut, at worst adds white space or a shorter last word),
    and with text among the kept lines the whole keeps its unquoted lines too."""
    size = PLAIN_WINDOW
    while size < len(text):
        lines = text[:size].splitlines()
        head = _collapse("\n".join(line for line in lines if not _quoted(line)))
        if len(head) > PREVIEW_CHARS:
            return head[:PREVIEW_CHARS].rstrip()
        size *= 8
    return shorten(_unquoted(text))


def _is_text(p: Part) -> bool:
    return not p.children and p.message is None and p.media_type == "text" \
        and p.media_subtype in ("plain", "html")


def _text_part(raw: bytes, p: Part, depth: int) -> Part | None:
    if depth > _MAX_DEPTH:
        return None
    if _is_text(p):
        if _ATTACHMENT.search(raw[p.header_start : p.body_start]):
            return None
        return p
    if p.message is not None:
        return _text_part(raw, p.message, depth + 1)
    found = [c for c in (_text_part(raw, c, depth + 1) for c in p.children) if c]
    if not found:
        return None
    if p.media_type == "multipart" and p.media_subtype == "alternative":
        # RFC 2046 §5.1.4: the alternatives say the same thing; plain text needs no
        # stripping.
        return next((c for c in found if c.media_subtype == "plain"), found[0])
    return found[0]


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _unquoted(text: str) -> str:
    lines = text.splitlines()
    kept = [line for line in lines if not _quoted(line)]
    return "\n".join(kept if any(line.strip() for line in kept) else lines)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.hidden = 0
        self.size = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "body":
            self.hidden = 0  # a <head> left open ends here
        elif tag in _BLOCK:
            self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK:
            self.out.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.out.append(data)
            self.size += len(data.strip())


def html_text(html: str) -> str:
    """The text of an HTML document or fragment, markup dropped and entities decoded."""
    parser = _Text()
    try:
        # Fed in pieces, so a long document stops once there is text enough.
        for i in range(0, len(html), 8192):
            parser.feed(html[i : i + 8192])
            if parser.size > 4 * PREVIEW_CHARS:
                break
        else:
            parser.close()
    except Exception:  # best effort: a broken document gives what was read so far
        pass
    return "".join(parser.out)
