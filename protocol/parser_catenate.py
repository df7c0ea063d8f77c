"""CATENATE (RFC 4469 §5): the APPEND data made of parts.

    append-data  =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")"
    cat-part     = text-literal / url
    text-literal = "TEXT" SP literal
    url          = "URL" SP astring
    cat-part     =/ utf8-literal                     ; RFC 6855 §4
    utf8-literal = "UTF8" SP "(" literal8 ")"

A TEXT literal is streamed like an APPEND message literal, so the command arrives in
fragments: the framer parses up to each TEXT literal (or message literal, or the end of the
command) and the parser reports what it went through as :class:`CatenateItems` — messages
started, URLs, messages ended — and what stopped it. After a TEXT literal's octets the next
fragment continues inside the list (:func:`parse_catenate_more`). A URL may itself be a
literal (``astring``): that one is collected into the fragment like any command literal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn, TypeAlias

from .limits import Limits
from .reader import ParseError, Reader
from .sequence import MAX_NUMBER

if TYPE_CHECKING:
    from .parser import AppendAnnounce


@dataclass(frozen=True)
class MessageStart:
    flags: tuple[str, ...]
    internal_date: datetime | None
    replace: tuple[int, bool] | None


@dataclass(frozen=True)
class UrlPart:
    url: str


@dataclass(frozen=True)
class MessageEnd:
    pass


@dataclass(frozen=True)
class TextAnnounce:
    """A ``TEXT`` literal at the end of the fragment: its octets are streamed."""

    size: int
    synchronizing: bool
    #: ``UTF8 (~{n})`` (RFC 6855 §4): the ``)`` follows the octets.
    utf8: bool = False


Item: TypeAlias = MessageStart | UrlPart | MessageEnd
#: How the rest of an APPEND is parsed after a message (``SP append-message``): the
#: function of ``parser.py``, passed in (it calls this module for CATENATE).
NextMessage: TypeAlias = Callable[[Reader, str, "tuple[int, bool] | None", "list[Item]"], None]


@dataclass
class CatenateItems(Exception):
    """What the parser went through, and where it stopped: a TEXT literal, a message
    literal (MULTIAPPEND), or None for the end of the command."""

    mailbox: str
    items: tuple[Item, ...]
    final: AppendAnnounce | TextAnnounce | None


def catenate(r: Reader, mailbox: str, flags: tuple[str, ...], internal_date: datetime | None,
             replace: tuple[int, bool] | None, items: list[Item],
             next_message: NextMessage) -> NoReturn:
    """``"CATENATE" SP "(" cat-part ...``, from the keyword on. Always raises."""
    if r.keyword("CATENATE") != "CATENATE":
        raise ParseError("Expected message literal")
    r.sp()
    r.expect(b"(", "(")
    items.append(MessageStart(flags, internal_date, replace))
    _parts(r, mailbox, replace, items, next_message, first=True)


def parse_catenate_more(buf: bytes, mailbox: str, replace: tuple[int, bool] | None,
                        limits: Limits, partial: bool, next_message: NextMessage,
                        utf8: bool = False) -> NoReturn:
    """The fragment after a TEXT literal's octets: ``*(SP cat-part) ")"`` and the rest."""
    r = Reader(buf, limits, partial, utf8)
    _parts(r, mailbox, replace, [], next_message, first=False)


def _parts(r: Reader, mailbox: str, replace: tuple[int, bool] | None, items: list[Item],
           next_message: NextMessage, first: bool) -> NoReturn:
    while True:
        if not first:
            if r.peek() == 0x29:
                r.pos += 1
                items.append(MessageEnd())
                _after_message(r, mailbox, replace, items, next_message)
            r.sp()
        first = False
        kind = r.keyword("TEXT, URL or UTF8")
        r.sp()
        if kind == "URL":
            items.append(UrlPart(r.astring().decode("utf-8", "surrogateescape")))
        elif kind == "TEXT":
            if r.peek() != 0x7B:
                # RFC 4469 §5: a literal (no literal8: BINARY's ~{n} is for messages only).
                raise ParseError("Expected literal after TEXT")
            size, sync = r.streamed_literal(MAX_NUMBER, "TEXT")
            raise CatenateItems(mailbox, tuple(items), TextAnnounce(size, sync))
        elif kind == "UTF8":
            # RFC 6855 §4: "If the server also advertises the "CATENATE" capability
            # [RFC4469], the client can use the same data extension to include such a
            # message in a catenated message part."
            r.expect(b"(", "(")
            if r.buf[r.pos : r.pos + 2] != b"~{":
                raise ParseError("Expected literal8 in UTF8 (...)")
            r.pos += 1
            size, sync = r.streamed_literal(MAX_NUMBER, "UTF8")
            raise CatenateItems(mailbox, tuple(items), TextAnnounce(size, sync, utf8=True))
        else:
            raise ParseError("Expected TEXT, URL or UTF8")


def _after_message(r: Reader, mailbox: str, replace: tuple[int, bool] | None,
                   items: list[Item], next_message: NextMessage) -> NoReturn:
    """After the ``)``: the end of the command, or (MULTIAPPEND, RFC 3502) SP and the next
    message; REPLACE takes one message only (RFC 8508 §3.2)."""
    if r.at_end():
        raise CatenateItems(mailbox, tuple(items), None)
    if replace is not None:
        raise ParseError("Expected end of REPLACE command")
    r.sp()
    next_message(r, mailbox, None, items)
    raise AssertionError("unreachable")
