"""SEARCH arguments (RFC 3501 §6.4.4, ESEARCH RFC 4731, MODSEQ RFC 7162 §3.1.5,
YOUNGER/OLDER RFC 5032, EMAILID/THREADID RFC 8474 §6, SAVED* RFC 8514 §4.3)."""

from __future__ import annotations

from .commands import (
    FetchItem,
    PartialRange,
    Search,
    SearchAnd,
    SearchArg,
    SearchKey,
    SearchNot,
    SearchOr,
    SearchTerm,
)
from .dates import parse_date
from .parser_fetch import fetch_att_list
from .reader import ATOM_CHARS, MAX_NUMBER64, ParseError, Reader

_NO_ARG = frozenset({
    "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
    "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN",
    "SAVEDATESUPPORTED",  # RFC 8514 §4.3
})
_STRING_ARG = frozenset({"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"})
_DATE_ARG = frozenset({"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE",
                       "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE"})  # RFC 8514 §4.3
_WITH_ARG = _STRING_ARG | _DATE_ARG | {
    "LARGER", "SMALLER", "YOUNGER", "OLDER", "KEYWORD", "UNKEYWORD", "UID", "HEADER", "MODSEQ",
    "EMAILID", "THREADID",
}
_OBJECTID_CHARS = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_RETURN_OPTS = frozenset({
    "MIN", "MAX", "ALL", "COUNT", "SAVE",  # RFC 4731 §3.1, RFC 5182 §2
    "CONTEXT", "UPDATE", "PARTIAL",  # RFC 5267 §4, RFC 9394 §3.1
})
_DATE_CHARS = frozenset(b"0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_SEQ_START = frozenset(b"0123456789*$")


def _peek_word(r: Reader) -> str:
    start = r.pos
    word = r.take(ATOM_CHARS).decode("ascii").upper()
    r.pos = start
    return word


def parse_search(r: Reader, uid: bool) -> Search:
    """``search`` = "SEARCH" [search-return-opts] [SP "CHARSET" SP astring]
    1*(SP search-key) (RFC 3501 §9, RFC 4466 §2.6)."""
    returns, partial, update_fetch = return_options(r)
    charset: str | None = None
    if _peek_word(r) == "CHARSET":
        r.pos += 7
        r.sp()
        charset = r.astring_str().upper()
        r.sp()
    try:
        keys = search_keys(r)
    except ParseError as exc:
        # RFC 5182 §2.1: a SEARCH with SAVE that fails with NO empties "$".
        exc.empties_saved = exc.status == "NO" and returns is not None and "SAVE" in returns
        raise
    return Search(charset, keys, uid, returns, partial, update_fetch)


def return_options(r: Reader) -> tuple[tuple[str, ...] | None, PartialRange | None,
                                       tuple[FetchItem, ...]]:
    """``[SP] "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")" SP``
    (RFC 4466 §2.6, RFC 4731 §4, RFC 5182 §3, RFC 5267 §5, RFC 9394 §4): the options
    upper-cased (None without RETURN), PARTIAL's range, and the fetch-atts of
    ``modifier-update = "UPDATE" ["(" fetch-att *(SP fetch-att) ")"]`` (RFC 5465 §7, §8:
    what to FETCH for a new message joining the context).  RFC 5267 §4.4: one PARTIAL
    or one ALL at most, not both."""
    if _peek_word(r) != "RETURN":
        return None, None, ()
    r.pos += 6
    r.sp()
    r.open_paren()
    opts: list[str] = []
    partial: PartialRange | None = None
    update_fetch: tuple[FetchItem, ...] = ()
    while r.peek() != 0x29:
        if opts:
            r.sp()
        name = r.keyword("return option")
        if name not in _RETURN_OPTS:
            raise ParseError(f"Unknown SEARCH RETURN option {name}")
        if name == "PARTIAL":
            if partial is not None:
                raise ParseError("Only one PARTIAL return option is allowed")
            r.sp()
            partial = _partial_range(r)
        elif name == "UPDATE" and r.buf[r.pos : r.pos + 2] == b" (":
            # No other return option starts with "(": the list is UPDATE's.
            update_fetch = fetch_att_list(r)
        opts.append(name)
    if partial is not None and "ALL" in opts:
        raise ParseError("PARTIAL and ALL cannot be used together")
    r.close_paren()
    r.sp()
    return tuple(opts), partial, update_fetch


def _partial_range(r: Reader) -> PartialRange:
    """``partial-range = nz-number ":" nz-number / "-" nz-number ":" "-" nz-number``
    (RFC 9394 §4; RFC 5267 §5 had the first form only); no "*"."""
    negative = r.peek() == 0x2D
    first = _signed(r, negative)
    r.expect(b":", "':' in partial range")
    return PartialRange(first, _signed(r, negative))


def _signed(r: Reader, negative: bool) -> int:
    if negative:
        r.expect(b"-", "'-' in partial range")
    n = r.number(nonzero=True)
    return -n if negative else n


class _Count:
    """Search keys parsed so far, against ``Limits.max_search_criteria``: every key
    counts, each NOT and OR too; a parenthesised list is only its keys' juxtaposition."""

    __slots__ = ("limit", "n")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.n = 0

    def add(self) -> None:
        self.n += 1
        if self.limit is not None and self.n > self.limit:
            # Well-formed so far but over the server's budget: NO, not BAD (RFC 5530 §3),
            # and nothing after this key is parsed (issue 11: a 4,000-key program).
            raise ParseError(f"Too many search criteria (at most {self.limit})", "LIMIT", "NO")


def search_keys(r: Reader) -> SearchAnd:
    """``search-key *(SP search-key)`` to the end of the command."""
    count = _Count(r.limits.max_search_criteria)
    keys = [search_key(r, 0, count)]
    while r.maybe_sp():
        keys.append(search_key(r, 0, count))
    r.end()
    return SearchAnd(tuple(keys))


def search_key(r: Reader, ops: int, count: _Count) -> SearchKey:
    """RFC 3501 §9 ``search-key``. ``ops`` counts enclosing NOT/OR: they recurse
    without parentheses, so they get their own (larger) depth bound."""
    c = r.peek()
    if c == 0x28:
        r.open_paren()
        keys = [search_key(r, ops, count)]
        while r.maybe_sp():
            keys.append(search_key(r, ops, count))
        r.close_paren()
        return SearchAnd(tuple(keys))
    count.add()
    if c in _SEQ_START:
        return SearchTerm("SEQSET", (r.sequence_set(),))
    name = r.keyword("search key")
    if name in _NO_ARG:
        return SearchTerm(name)
    if name in ("NOT", "OR"):
        if ops >= 8 * r.limits.max_nesting:
            raise ParseError("Search program too deeply nested", "LIMIT")
        r.sp()
        first = search_key(r, ops + 1, count)
        if name == "NOT":
            return SearchNot(first)
        r.sp()
        return SearchOr(first, search_key(r, ops + 1, count))
    if name not in _WITH_ARG:
        raise ParseError(f"Unknown search key {name[:40]}")
    r.sp()
    arg: SearchArg
    if name in _STRING_ARG:
        arg = r.astring()
    elif name in _DATE_ARG:
        arg = _date(r)
    elif name in ("LARGER", "SMALLER"):
        arg = r.number(limit=MAX_NUMBER64)  # RFC 9051 §9: number64 (Appendix E item 1)
    elif name in ("YOUNGER", "OLDER"):
        arg = r.number(nonzero=True)
    elif name in ("KEYWORD", "UNKEYWORD"):
        arg = r.atom("keyword")
    elif name == "UID":
        arg = r.sequence_set()
    elif name == "HEADER":
        field = r.astring_str()
        r.sp()
        return SearchTerm(name, (field, r.astring()))
    elif name == "MODSEQ":
        return _modseq(r)
    elif name in ("EMAILID", "THREADID"):
        arg = _objectid(r)
    else:
        raise ParseError(f"Unknown search key {name}")
    return SearchTerm(name, (arg,))


def _date(r: Reader) -> SearchArg:
    """RFC 3501 §9 ``date`` = date-text / DQUOTE date-text DQUOTE."""
    raw = r.quoted() if r.peek() == 0x22 else r.take(_DATE_CHARS)
    try:
        return parse_date(raw.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise ParseError("Invalid date") from None


def _objectid(r: Reader) -> str:
    """RFC 8474 §7 ``objectid = 1*255(ALPHA / DIGIT / "_" / "-")``, case kept (ids are
    case-sensitive). Taken as an astring, so a client that quotes it is understood."""
    raw = r.astring()
    if not 0 < len(raw) <= 255 or not _OBJECTID_CHARS.issuperset(raw):
        raise ParseError("Invalid object id")
    return raw.decode("ascii")


def _modseq(r: Reader) -> SearchTerm:
    """RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer."""
    if r.peek() == 0x22:
        entry = r.quoted().decode("utf-8", "surrogateescape")
        r.sp()
        kind = r.keyword().lower()
        if kind not in ("priv", "shared", "all"):
            raise ParseError("Invalid MODSEQ entry type")
        r.sp()
        return SearchTerm("MODSEQ", (entry, kind, r.number(limit=MAX_NUMBER64)))
    return SearchTerm("MODSEQ", (r.number(limit=MAX_NUMBER64),))
