"""Making a message's HTML safe to show in the web inbox.

Defence in depth: the page shows it in an ``<iframe sandbox>`` (no scripts, no same origin)
under a Content-Security-Policy that allows no remote fetch at all; before that, this module
keeps only an allow-list of tags and attributes (``html.parser`` from the standard library),
drops ``<script>``, ``<style>``-less active content, event handlers and every URL that is not
``data:``, ``cid:`` or a plain link, so a tracking pixel is never even asked for.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser

ALLOWED_TAGS = frozenset((
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup", "dd",
    "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong",
    "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
))
# Contents dropped along with the tag.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "title", "head", "iframe", "object",
                                  "embed", "noscript", "template", "svg", "math", "textarea",
                                  "select", "button", "frameset", "applet"})
ALLOWED_ATTRS = frozenset((
    "align", "alt", "bgcolor", "border", "cellpadding", "cellspacing", "color", "colspan",
    "dir", "face", "height", "href", "lang", "rowspan", "size", "src", "style", "title",
    "valign", "width",
))
VOID = frozenset({"br", "hr", "img", "col"})
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:; "
       "form-action 'none'; base-uri 'none'")


def _safe_url(name: str, value: str) -> str | None:
    lowered = value.strip().lower()
    if name == "src":
        return value if lowered.startswith(("data:image/", "cid:")) else None
    if lowered.startswith(("http://", "https://", "mailto:", "#")):
        return value
    return None


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag in DROPPED_WITH_CONTENT and tag not in VOID:
                self.skipping.append(tag)
            return
        if tag in DROPPED_WITH_CONTENT:
            self.skipping.append(tag)
            return
        if tag not in ALLOWED_TAGS:
            return
        kept = []
        for name, value in attrs:
            if name not in ALLOWED_ATTRS or value is None:
                continue
            if name in ("href", "src"):
                value = _safe_url(name, value)
                if value is None:
                    continue
            if name == "style" and ("url(" in value.lower() or "expression" in value.lower()):
                continue
            kept.append(f' {name}="{html.escape(value, quote=True)}"')
        if tag == "a":
            kept.append(' rel="noopener noreferrer" target="_blank"')
        self.out.append(f"<{tag}{''.join(kept)}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if tag in ALLOWED_TAGS and tag not in VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(html.escape(data, quote=False))


def sanitize_html(source: str) -> str:
    parser = _Sanitizer()
    parser.feed(source)
    parser.close()
    return "".join(parser.out)


def safe_document(source: str) -> str:
    """A whole document for the iframe, its own CSP repeated inside (for ``srcdoc``)."""
    return (f'<!doctype html><html><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}"></head>'
            f"<body>{sanitize_html(source)}</body></html>")
