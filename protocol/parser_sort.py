"""SORT and THREAD arguments (RFC 5256 §5, RFC 5957 §5)."""

from __future__ import annotations

from .commands import CancelUpdate, Search, Sort, SortCriterion, Thread
from .parser_search import return_options, search_keys
from .reader import ParseError, Reader

SORT_KEYS = frozenset({
    "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO",
})


def _charset(r: Reader) -> str:
    """RFC 5256 §5 ``charset = atom / quoted``: mandatory, unlike SEARCH's."""
    quoted = r.peek() == 0x22
    name = r.quoted().decode("utf-8", "surrogateescape") if quoted else r.atom("charset")
    r.sp()
    return name.upper()


def parse_sort(r: Reader, uid: bool) -> Sort:
    """``sort = ["UID" SP] "SORT" [SP "RETURN" SP "(" return options ")"] SP sort-criteria
    SP search-criteria`` (RFC 5256 §5, ESORT RFC 5267 §3)."""
    returns, partial, update_fetch = return_options(r)
    r.open_paren()
    criteria: list[SortCriterion] = []
    while True:
        name = r.keyword("sort key")
        reverse = False
        if name == "REVERSE":
            reverse = True
            r.sp()
            name = r.keyword("sort key")
        if name not in SORT_KEYS:
            raise ParseError(f"Unknown sort key {name[:40]}")
        criteria.append(SortCriterion(name, reverse))
        if not r.maybe_sp():
            break
    r.close_paren()
    r.sp()
    charset = _charset(r)
    return Sort(tuple(criteria), Search(charset, search_keys(r), uid, returns, partial,
                                                update_fetch))


def parse_thread(r: Reader, uid: bool) -> Thread:
    """``thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria``; any atom is
    accepted as the algorithm (``thread-alg-ext``), the server refuses unknown ones."""
    algorithm = r.keyword("threading algorithm")
    r.sp()
    charset = _charset(r)
    return Thread(algorithm, Search(charset, search_keys(r), uid))


def parse_cancelupdate(r: Reader) -> CancelUpdate:
    """``"CANCELUPDATE" 1*(SP quoted)`` (RFC 5267 §5)."""
    tags = [_quoted_tag(r)]
    while r.maybe_sp():
        tags.append(_quoted_tag(r))
    r.end()
    return CancelUpdate(tuple(tags))


def _quoted_tag(r: Reader) -> str:
    if r.peek() != 0x22:
        raise ParseError("Expected the quoted tag of a searching command")
    return r.quoted().decode("utf-8", "surrogateescape")
