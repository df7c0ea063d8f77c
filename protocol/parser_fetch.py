"""FETCH and STORE arguments (RFC 3501 §6.4.5, §6.4.6; RFC 3516; RFC 7162 §3.1;
PREVIEW, RFC 8970 §6)."""

from __future__ import annotations

from .commands import BodySection, Fetch, FetchAttr, FetchItem, Param, Store
from .parser_ext import param_list
from .reader import MAX_NUMBER64, ParseError, Reader
from .sequence import SequenceSet

_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
_WORD_CHARS = _NAME_CHARS.difference(b"0123456789")
_SIMPLE = frozenset({
    "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
    "RFC822.TEXT", "UID", "BODYSTRUCTURE", "MODSEQ", "EMAILID", "THREADID", "SAVEDATE",
})
_FAST = (FetchAttr("FLAGS"), FetchAttr("INTERNALDATE"), FetchAttr("RFC822.SIZE"))
#: RFC 3501 §6.4.5 macros.
MACROS: dict[str, tuple[FetchItem, ...]] = {
    "FAST": _FAST,
    "ALL": (*_FAST, FetchAttr("ENVELOPE")),
    "FULL": (*_FAST, FetchAttr("ENVELOPE"), FetchAttr("BODY")),
}
_MSGTEXT = ("HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT")


def parse_fetch(r: Reader, seq: SequenceSet, uid: bool) -> Fetch:
    """``fetch`` = "FETCH" SP sequence-set SP (macro / fetch-att / "(" fetch-att
    *(SP fetch-att) ")") [fetch-modifiers] (RFC 3501 §9, RFC 4466 §2.4)."""
    macro: str | None = None
    if r.peek() == 0x28:
        r.open_paren()
        items = [fetch_att(r)]
        while r.maybe_sp():
            items.append(fetch_att(r))
        r.close_paren()
    else:
        start = r.pos
        word = r.take(_NAME_CHARS).decode("ascii").upper()
        if word in MACROS and r.peek() in (-1, 0x20):
            macro = word
            items = list(MACROS[word])
        else:
            r.pos = start
            items = [fetch_att(r)]
    modifiers: tuple[Param, ...] = ()
    if r.maybe_sp():
        modifiers = param_list(r)
    r.end()
    return Fetch(seq, tuple(items), uid, modifiers, macro)


def fetch_att_list(r: Reader) -> tuple[FetchItem, ...]:
    """A parenthesised list of one or more fetch-att, the reader just before its space:
    ``SP "(" fetch-att *(SP fetch-att) ")"`` (RFC 5267 §4 SEARCH/SORT ``UPDATE``, RFC 5465
    §8 NOTIFY ``MessageNew``)."""
    r.sp()
    r.open_paren()
    items = [fetch_att(r)]
    while r.maybe_sp():
        items.append(fetch_att(r))
    r.close_paren()
    return tuple(items)


def fetch_att(r: Reader) -> FetchItem:
    """RFC 3501 §9 ``fetch-att`` plus BINARY (RFC 3516 §4.1) and MODSEQ (RFC 7162)."""
    name = r.take(_NAME_CHARS).decode("ascii").upper()
    if not name:
        raise ParseError("Expected fetch attribute")
    if name in _SIMPLE:
        return FetchAttr(name)
    if name == "PREVIEW":
        return FetchAttr(name, modifiers=_preview_mods(r))
    if name in ("BODY", "BODY.PEEK"):
        if r.peek() != 0x5B:
            if name == "BODY":
                return FetchAttr("BODY")
            raise ParseError("Expected section after BODY.PEEK")
        part, text, fields, echo = _section(r)
        return BodySection(name == "BODY.PEEK", part, text, fields, _partial(r), False, echo)
    if name in ("BINARY", "BINARY.PEEK", "BINARY.SIZE"):
        part = _section_binary(r)
        if name == "BINARY.SIZE":
            return FetchAttr(name, part)
        return BodySection(name == "BINARY.PEEK", part, None, (), _partial(r), True)
    raise ParseError(f"Unknown fetch attribute {name}")


_PREVIEW_MODS = frozenset({"LAZY"})


def _preview_mods(r: Reader) -> tuple[str, ...]:
    """RFC 8970 §6: ``"PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]``,
    ``preview-mod = "LAZY"``.  A list that does not start with a preview-mod is not
    this item's: in ``FETCH 1 PREVIEW (CHANGEDSINCE 5)`` it is the fetch-modifiers."""
    start = r.pos
    if r.buf[r.pos : r.pos + 2] != b" (":
        return ()
    r.pos += 2
    word = r.take(_NAME_CHARS).decode("ascii").upper()
    if word not in _PREVIEW_MODS:
        r.pos = start
        return ()
    mods = [word]
    while r.maybe_sp():
        word = r.take(_NAME_CHARS).decode("ascii").upper()
        if word not in _PREVIEW_MODS:
            raise ParseError(f"Unknown PREVIEW modifier {word[:40]}")
        mods.append(word)
    r.close_paren()
    return tuple(dict.fromkeys(mods))


def _section(r: Reader) -> tuple[tuple[int, ...], str | None, tuple[str, ...], tuple[str, ...]]:
    """RFC 3501 §9 ``section`` = "[" [section-spec] "]"."""
    r.expect(b"[", "[")
    part: list[int] = []
    text: str | None = None
    fields: tuple[str, ...] = ()
    echo: tuple[str, ...] = ()
    if r.peek() != 0x5D:
        while 0x30 <= r.peek() <= 0x39:
            part.append(r.number(nonzero=True))
            if r.peek() != 0x2E:
                break
            r.pos += 1
        else:
            word = r.take(_WORD_CHARS).decode("ascii").upper()
            if word not in _MSGTEXT and not (word == "MIME" and part):
                raise ParseError("Invalid section")
            text = word
            if word.startswith("HEADER.FIELDS"):
                r.sp()
                echo = _header_list(r)
                fields = tuple(f.upper() for f in echo)
    r.expect(b"]", "]")
    return tuple(part), text, fields, echo


def _header_list(r: Reader) -> tuple[str, ...]:
    """RFC 3501 §9 ``header-list`` = "(" header-fld-name *(SP header-fld-name) ")"."""
    r.open_paren()
    names = [r.astring_str()]
    while r.maybe_sp():
        names.append(r.astring_str())
    r.close_paren()
    return tuple(names)


def _section_binary(r: Reader) -> tuple[int, ...]:
    """RFC 3516 §4.1 ``section-binary`` = "[" [section-part] "]"."""
    r.expect(b"[", "[")
    part: list[int] = []
    if r.peek() != 0x5D:
        part.append(r.number(nonzero=True))
        while r.peek() == 0x2E:
            r.pos += 1
            part.append(r.number(nonzero=True))
    r.expect(b"]", "]")
    return tuple(part)


def _partial(r: Reader) -> tuple[int, int] | None:
    """``"<" number "." nz-number ">"``."""
    if r.peek() != 0x3C:
        return None
    r.pos += 1
    origin = r.number()
    r.expect(b".", ".")
    count = r.number(nonzero=True)
    r.expect(b">", ">")
    return origin, count


def parse_store(r: Reader, seq: SequenceSet, uid: bool) -> Store:
    """``store`` = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
    (RFC 3501 §9, RFC 4466 §2.5, UNCHANGEDSINCE from RFC 7162 §3.1.3)."""
    unchangedsince: int | None = None
    if r.peek() == 0x28:
        for name, value in param_list(r):
            if name != "UNCHANGEDSINCE" or type(value) is not int or value > MAX_NUMBER64:
                raise ParseError(f"Invalid STORE modifier {name}")
            unchangedsince = value
        r.sp()
    mode = ""
    if r.peek() in (0x2B, 0x2D):
        mode = chr(r.buf[r.pos])
        r.pos += 1
    word = r.take(_NAME_CHARS).decode("ascii").upper()
    if word not in ("FLAGS", "FLAGS.SILENT"):
        raise ParseError("Expected FLAGS, +FLAGS or -FLAGS")
    r.sp()
    if r.peek() == 0x28:
        flags = r.flag_list()
    else:
        items = [r.flag()]
        while r.maybe_sp():
            items.append(r.flag())
        flags = tuple(items)
    r.end()
    return Store(seq, mode, word == "FLAGS.SILENT", flags, uid, unchangedsince)
