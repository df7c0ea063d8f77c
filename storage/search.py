"""Message search: a neutral criteria tree compiled to ONE SQL query per search.

The server translates a client's search program (RFC 3501 §6.4.4) into the frozen
dataclasses below; this module knows nothing of IMAP syntax.  ``compile_search`` turns a
tree into a ``WHERE`` clause with parameters, and ``search`` runs it over one mailbox and
returns the matching UIDs in ascending order.  DESIGN.md "Speed": one query, no
per-message Python loop for the common criteria.

Text matching
    Case-insensitive substring (RFC 3501 §6.4.4), done as ``instr()`` over text that was
    case-folded (``str.casefold``) and decoded (RFC 2047 words, transfer encodings,
    charsets) once at APPEND; needles are case-folded here.  Header values SEARCH uses
    directly live in ``messages.hdr_*`` (case-folded); the whole decoded header block and
    body text live in ``message_text`` (migration 2), written at APPEND from the
    ``text_headers`` / ``text_body`` keys of ``parsed`` (see ``store_text``).  A message
    without a ``message_text`` row (appended before migration 2 through the bare storage
    API; no server ever accepted APPEND before it) has empty header and body text: BODY,
    TEXT and HEADER never match it and their NOT always does.

    BODY/TEXT needles of three characters or more first look up their trigrams in
    ``message_text_fts`` (FTS5, trigram tokenizer, migration 9), so only the messages
    holding all of them are tested with LIKE: same answers as the scan, at index speed.
    Shorter needles have no trigram and scan.  Messages not yet indexed (stored before
    the index existed, or new mail the background indexing has not reached:
    ``text_index.py``) are always candidates.

``HeaderContains``
    The stored header text has one ``name: value`` line per field (names and values
    case-folded, values unfolded and decoded).  SQL cannot say "a line that starts with
    ``name:`` contains the needle" cheaply, so two ``instr()`` prefilters narrow the rows
    and a small Python function registered on the connection checks just those.  An empty
    needle matches every message that has the field (RFC 3501 §6.4.4 HEADER).

Dates
    ``DateCmp("internal", ...)`` compares the calendar day of the internal date in its
    stored zone (``internaldate + internaldate_tz * 60``; RFC 3501 "disregarding time and
    timezone"), as integer arithmetic on seconds.  ``DateCmp("sent", ...)`` compares
    ``messages.sent_on`` ("YYYY-MM-DD", the Date header's day in its own zone); a message
    without a usable Date header never matches a sent-date criterion (so the ``Not`` of
    one matches it).  ``DateCmp("saved", ...)`` compares the UTC day of
    ``mailbox_messages.savedate`` (RFC 8514 §4.3, migration 17), the zone FETCH SAVEDATE
    shows it in.

Private flags (migrations.py, version 4)
    A search runs for a viewer.  For the mailbox's owner (and ``viewer`` None) it is the
    query above; for another user of a mailbox with private flags, ``FlagSet`` of a
    private bit reads the viewer's ``private_flags`` row (LEFT JOIN ``pf``, no row: clear)
    and ``ModseqAtLeast`` compares ``max(shared_modseq, pf.modseq)``, the modseq that user
    sees.  The join is added only when the criteria (or SEARCH MODSEQ's result) need it.

Every leaf compiles to an expression that is 0 or 1, never NULL, so ``Not`` is the exact
complement of its operand.
"""

from __future__ import annotations

import sqlite3
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, TypeAlias

from .errors import NoSelect, NotFound, StorageError
from .flags import bit_of
from .private import PF_JOIN, PF_MODSEQ
from .text_index import unindexed_sql

TEXT_KEYS: Mapping[str, str] = {"text_headers": "headers", "text_body": "body"}
"""Keys of ``parsed`` at APPEND that go to ``message_text`` columns, not to ``messages``."""

TextField = Literal["subject", "from", "to", "cc", "bcc", "headers", "body", "text"]
"""``headers``: the whole header block; ``body``: the decoded text parts; ``text``: either."""

_HDR_COLUMNS: Mapping[str, str] = {
    "subject": "m.hdr_subject",
    "from": "m.hdr_from",
    "to": "m.hdr_to",
    "cc": "m.hdr_cc",
    "bcc": "m.hdr_bcc",
}

FTS_MIN = 3
"""Needles this long or longer are looked up in the trigram index first."""
FTS_MAX_TERMS = 24
"""Trigrams of one needle put in the index query (any subset narrows correctly)."""

__all__ = [
    "All",
    "And",
    "BodyAndDate",
    "Criterion",
    "DateCmp",
    "FlagSet",
    "HeaderContains",
    "Keyword",
    "ModseqAtLeast",
    "Not",
    "Or",
    "SearchTooComplex",
    "SizeCmp",
    "TextContains",
    "TextField",
    "UidIn",
]
"""The criteria the server builds a search from (``Store.search``); the rest is storage's."""

MAX_SQL_RANGES = 16
"""UID sets with more ranges are tested by a bisecting function, not by an OR chain."""


MAX_LIKE_NEEDLE = 40000
"""Needles whose escaped LIKE pattern is longer than this (UTF-8 bytes) are matched with
``instr()`` instead (SQLite's own limit on LIKE patterns is 50,000 bytes)."""


class SearchTooComplex(StorageError):
    """The criteria exceed an SQLite limit (expression depth, number of parameters)."""


@dataclass(frozen=True)
class All:
    """Every message."""


@dataclass(frozen=True)
class FlagSet:
    """System flag ``flag`` (a name such as ``"\\Seen"``, any case; ``InvalidFlag`` at
    search time for anything else) is set (``present``) or clear."""

    flag: str
    present: bool = True


@dataclass(frozen=True)
class Keyword:
    """The keyword is set (``present``) or not; compared case-insensitively (ASCII)."""

    name: str
    present: bool = True


@dataclass(frozen=True)
class UidIn:
    """UID within one of the inclusive ``(lo, hi)`` ranges (any order, may overlap)."""

    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class TextContains:
    """Case-insensitive substring of a decoded text field.  An empty needle matches every
    message for ``headers``/``body``/``text``, and those having the header otherwise."""

    field: TextField
    needle: str


@dataclass(frozen=True)
class HeaderContains:
    """Some header field called ``name`` (case-insensitive) has ``needle`` in its value."""

    name: str
    needle: str


@dataclass(frozen=True)
class DateCmp:
    """Day of the internal date (``internal``), of the Date header (``sent``) or of the
    save date (``saved``) is before (``<``), on (``=``) or on-or-after (``>=``) ``day``."""

    kind: Literal["internal", "sent", "saved"]
    op: Literal["<", "=", ">="]
    day: date


@dataclass(frozen=True)
class InternalCmp:
    """The internal date (Unix seconds) at or before (``<=``) or at or after (``>=``)
    ``seconds``: to the second, unlike ``DateCmp`` (RFC 5032 OLDER/YOUNGER)."""

    op: Literal["<=", ">="]
    seconds: int


@dataclass(frozen=True)
class BodyAndDate:
    """The message holds the stored body ``message_id`` and has this INTERNALDATE (Unix
    seconds, zone offset in minutes): what the server's EMAILID names (RFC 8474 §6)."""

    message_id: int
    internaldate: int
    zone: int


@dataclass(frozen=True)
class SizeCmp:
    """Message size in octets (RFC822.SIZE) smaller (``<``) or larger (``>``) than ``n``."""

    op: Literal["<", ">"]
    n: int


@dataclass(frozen=True)
class ModseqAtLeast:
    """The message's modseq is at least ``n`` (RFC 7162 §3.1.5 SEARCH MODSEQ)."""

    n: int


@dataclass(frozen=True)
class And:
    terms: tuple[Criterion, ...]


@dataclass(frozen=True)
class Or:
    terms: tuple[Criterion, ...]


@dataclass(frozen=True)
class Not:
    term: Criterion


Criterion: TypeAlias = (
    All | FlagSet | Keyword | UidIn | TextContains | HeaderContains | DateCmp | InternalCmp
    | SizeCmp | ModseqAtLeast | BodyAndDate | And | Or | Not
)

_EPOCH = date(1970, 1, 1)
_DAY = 86400


@dataclass
class Compiled:
    """A WHERE expression with its parameters, the joins it needs and the Python
    functions it calls (to register on the connection before running it)."""

    where: str
    params: list[object]
    needs_message: bool = False
    needs_text: bool = False
    uid_sets: list[tuple[list[int], list[int]]] = field(default_factory=list)
    uses_header_fn: bool = False
    needs_private: bool = False


class _Compiler:
    def __init__(self, private_mask: int = 0) -> None:
        self.private_mask = private_mask
        self.needs_private = False
        self.params: list[object] = []
        self.needs_message = False
        self.needs_text = False
        self.uses_header_fn = False
        self.uid_sets: list[tuple[list[int], list[int]]] = []

    def p(self, value: object) -> str:
        self.params.append(value)
        return "?"

    def expr(self, c: Criterion) -> str:
        if isinstance(c, All):
            return "1"
        if isinstance(c, And):
            parts = [self.expr(t) for t in _flatten(c)]
            parts = [x for x in parts if x != "1"]
            if "0" in parts:
                return "0"
            return _join(parts, " AND ") if parts else "1"
        if isinstance(c, Or):
            parts = [self.expr(t) for t in _flatten(c)]
            parts = [x for x in parts if x != "0"]
            if "1" in parts:
                return "1"
            return _join(parts, " OR ") if parts else "0"
        if isinstance(c, Not):
            inner = self.expr(c.term)
            if inner in ("0", "1"):
                return "1" if inner == "0" else "0"
            return f"NOT {inner}"
        if isinstance(c, FlagSet):
            op = "!=" if c.present else "="
            bit = bit_of(c.flag)
            if bit & self.private_mask:
                self.needs_private = True
                return f"(coalesce(pf.flags, 0) & {bit}) {op} 0"
            return f"(mm.flags & {bit}) {op} 0"
        if isinstance(c, Keyword):
            test = f"instr(' ' || lower(mm.keywords) || ' ', {self.p(' ' + c.name.lower() + ' ')})"
            return f"{test} > 0" if c.present else f"{test} = 0"
        if isinstance(c, UidIn):
            return self.uids(c)
        if isinstance(c, TextContains):
            return self.text(c.field, c.needle.casefold())
        if isinstance(c, HeaderContains):
            return self.header(c.name.casefold(), c.needle.casefold())
        if isinstance(c, DateCmp):
            return self.date(c)
        if isinstance(c, InternalCmp):
            op = "<=" if c.op == "<=" else ">="
            return f"mm.internaldate {op} {self.p(int(c.seconds))}"
        if isinstance(c, ModseqAtLeast):
            if self.private_mask:
                self.needs_private = True
                return f"{PF_MODSEQ} >= {self.p(int(c.n))}"
            return f"mm.modseq >= {self.p(int(c.n))}"
        if isinstance(c, BodyAndDate):
            return (f"(mm.message_id = {self.p(int(c.message_id))}"
                    f" AND mm.internaldate = {self.p(int(c.internaldate))}"
                    f" AND mm.internaldate_tz = {self.p(int(c.zone))})")
        if isinstance(c, SizeCmp):
            self.needs_message = True
            op = "<" if c.op == "<" else ">"
            return f"m.size {op} {self.p(int(c.n))}"
        raise TypeError(f"not a search criterion: {c!r}")

    def uids(self, c: UidIn) -> str:
        spans = _merge(c.ranges)
        if not spans:
            return "0"
        if len(spans) <= MAX_SQL_RANGES:
            tests = []
            for lo, hi in spans:
                if lo == hi:
                    tests.append(f"mm.uid = {self.p(lo)}")
                else:
                    tests.append(f"mm.uid BETWEEN {self.p(lo)} AND {self.p(hi)}")
            return _join(tests, " OR ")
        self.uid_sets.append(([lo for lo, _ in spans], [hi for _, hi in spans]))
        return f"crispin_uid_in({self.p(len(self.uid_sets) - 1)}, mm.uid)"

    def contains(self, column: str, needle: str) -> str:
        """Substring test as ``LIKE '%needle%'``: SQLite runs it about three times faster
        than ``instr()`` on long text (bench/README.md), and since both sides are
        case-folded, LIKE's own ASCII case folding changes nothing."""
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        if len(escaped.encode("utf-8", "surrogatepass")) > MAX_LIKE_NEEDLE:
            # SQLite refuses LIKE patterns over SQLITE_MAX_LIKE_PATTERN_LENGTH (50,000
            # bytes); instr() has no such limit, and at that length speed is moot.
            return f"(coalesce(instr({column}, {self.p(needle)}), 0) > 0)"
        return f"coalesce({column} LIKE {self.p('%' + escaped + '%')} ESCAPE '\\', 0)"

    def text(self, field: TextField, needle: str) -> str:
        column = _HDR_COLUMNS.get(field)
        if column is not None:
            self.needs_message = True
            if not needle:
                return f"{column} IS NOT NULL"
            return self.contains(column, needle)
        if not needle:
            return "1"
        self.needs_text = True
        # The index condition first: placeholders are numbered in the order of the text.
        if field == "headers":
            return self.indexed("headers", needle, lambda: self.contains("t.headers", needle))
        if field == "body":
            return self.indexed("body", needle, lambda: self.contains("t.body", needle))
        if field == "text":
            return self.indexed("headers body", needle, lambda: (
                f"({self.contains('t.headers', needle)} OR {self.contains('t.body', needle)})"))
        raise ValueError(f"unknown text field {field!r}")

    def indexed(self, columns: str, needle: str, exact: Callable[[], str]) -> str:
        """``exact()`` (the substring test) over only the messages whose indexed text
        (``message_text_fts``, migration 9) holds every trigram of ``needle``: a superset
        of the matches, which ``exact`` then confirms.  A needle shorter than three
        characters has no trigram: the scan alone answers it."""
        if len(needle) < FTS_MIN:
            return exact()
        grams = sorted({needle[i : i + 3] for i in range(len(needle) - 2)})[:FTS_MAX_TERMS]
        terms = " AND ".join('"' + g.replace('"', '""') + '"' for g in grams)
        query = self.p("{" + columns + "} : (" + terms + ")")
        # Messages not yet in the index (stored before it, or new mail it has not reached:
        # text_index.py) are candidates too, so the answer is the scan's at every moment.
        return (f"((mm.message_id IN (SELECT rowid FROM message_text_fts"
                f" WHERE message_text_fts MATCH {query})"
                f" OR {unindexed_sql('mm.message_id')}) AND {exact()})")

    def header(self, name: str, needle: str) -> str:
        self.needs_text = True
        self.uses_header_fn = True
        tests = [f"coalesce(instr(t.headers, {self.p(name + ':')}), 0) > 0"]
        if needle:
            tests.append(f"instr(t.headers, {self.p(needle)}) > 0")
        tests.append(f"crispin_header_has(t.headers, {self.p(name)}, {self.p(needle)})")
        return "(" + " AND ".join(tests) + ")"

    def date(self, c: DateCmp) -> str:
        if c.kind in ("internal", "saved"):
            # Every row has a save date (migration 17), so the comparison is never NULL.
            local = "(mm.internaldate + mm.internaldate_tz * 60)" if c.kind == "internal" \
                else "coalesce(mm.savedate, 0)"
            start = (c.day - _EPOCH).days * _DAY
            if c.op == "<":
                return f"{local} < {self.p(start)}"
            if c.op == ">=":
                return f"{local} >= {self.p(start)}"
            return f"{local} BETWEEN {self.p(start)} AND {self.p(start + _DAY - 1)}"
        if c.kind != "sent":
            raise ValueError(f"unknown date kind {c.kind!r}")
        self.needs_message = True
        op = {"<": "<", "=": "=", ">=": ">="}[c.op]
        return f"(m.sent_on IS NOT NULL AND m.sent_on {op} {self.p(c.day.isoformat())})"


def _join(parts: list[str], op: str) -> str:
    """``parts`` joined by ``op`` as a balanced tree: SQLite nests a chain ``a OR b OR c``
    one level per operator and refuses expressions deeper than 1000."""
    if len(parts) == 1:
        return parts[0]
    if len(parts) <= 8:
        return "(" + op.join(parts) + ")"
    mid = len(parts) // 2
    return "(" + _join(parts[:mid], op) + op + _join(parts[mid:], op) + ")"


def _flatten(c: And | Or) -> list[Criterion]:
    """Nested And-in-And / Or-in-Or as one level (keeps the SQL expression shallow)."""
    out: list[Criterion] = []
    stack = list(reversed(c.terms))
    while stack:
        t = stack.pop()
        if type(t) is type(c):
            stack.extend(reversed(t.terms))
        else:
            out.append(t)
    return out


def _merge(ranges: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    spans = sorted((min(a, b), max(a, b)) for a, b in ranges)
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 1:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def compile_search(criteria: Criterion, private_mask: int = 0) -> Compiled:
    """The WHERE expression for ``criteria`` over ``mailbox_messages mm`` (joined with
    ``messages m`` and ``message_text t`` when ``needs_message`` / ``needs_text``, and
    with the viewer's ``private_flags pf`` when ``needs_private``).  ``private_mask``:
    the viewer's private bits, 0 for the owner (see the module docstring)."""
    comp = _Compiler(private_mask)
    where = comp.expr(criteria)
    return Compiled(
        where, comp.params, comp.needs_message, comp.needs_text, comp.uid_sets,
        comp.uses_header_fn, comp.needs_private,
    )


def header_has(headers: str | None, name: str, needle: str) -> int:
    """1 if a ``name: value`` line of the stored (case-folded) header text has ``needle``
    in its value."""
    if headers is None:
        return 0
    prefix = name + ":"
    n = len(prefix)
    for line in headers.split("\n"):
        if line.startswith(prefix):
            value = line[n:]
            if value.startswith(" "):
                value = value[1:]
            if needle in value:
                return 1
    return 0


def search(
    conn: sqlite3.Connection,
    mailbox_id: int,
    criteria: Criterion,
    max_uid: int | None = None,
    viewer: int | None = None,
) -> list[int]:
    """UIDs of the mailbox's messages matching ``criteria`` for ``viewer``, ascending; only
    UIDs up to ``max_uid`` when given (the messages a session's view knows)."""
    return [uid for uid, _ in _run(conn, mailbox_id, criteria, max_uid, viewer, False)]


def search_with_modseq(
    conn: sqlite3.Connection,
    mailbox_id: int,
    criteria: Criterion,
    max_uid: int | None = None,
    viewer: int | None = None,
) -> list[tuple[int, int]]:
    """Like :func:`search`, with each match's modseq as ``viewer`` sees it (RFC 7162
    §3.1.5 reports the highest)."""
    return _run(conn, mailbox_id, criteria, max_uid, viewer, True)


def _private_mask(conn: sqlite3.Connection, mailbox_id: int, viewer: int | None) -> int:
    """The viewer's private flag bits; ``NotFound`` (``NoSelect``) if the mailbox is gone,
    so that a search of a mailbox deleted meanwhile is not answered "nothing matches"."""
    row = conn.execute(
        "SELECT owner_id, private_flags, noselect FROM mailboxes WHERE id = ?", (mailbox_id,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no mailbox with id {mailbox_id}")
    if row[2]:
        raise NoSelect(f"mailbox {mailbox_id} is \\Noselect")
    if viewer is None or row[0] == viewer:
        return 0
    return int(row[1])


def _run(
    conn: sqlite3.Connection,
    mailbox_id: int,
    criteria: Criterion,
    max_uid: int | None,
    viewer: int | None,
    with_modseq: bool,
) -> list[tuple[int, int]]:
    rows = select_matching(conn, mailbox_id, criteria, max_uid, viewer,
                           modseq=with_modseq)
    return [(int(r[0]), int(r[1])) for r in rows]


def select_matching(
    conn: sqlite3.Connection,
    mailbox_id: int,
    criteria: Criterion,
    max_uid: int | None,
    viewer: int | None,
    *,
    modseq: bool = False,
    columns: str = "",
    order: str = "mm.uid",
    needs_message: bool = False,
    joins: str = "",
) -> list[tuple[Any, ...]]:
    """Rows ``(uid, modseq or 0, *columns)`` of the messages matching ``criteria``, in
    ``order``.  ``columns`` / ``order`` are SQL over ``mm``, ``m`` (``messages``, joined
    with ``needs_message``) and what ``joins`` adds: SORT and THREAD (``sorting.py``)
    read their keys in the same query, so they go through the same search path as
    SEARCH."""
    pmask = _private_mask(conn, mailbox_id, viewer)
    c = compile_search(criteria, pmask)
    if c.where == "0":
        return []
    extra = joins
    joins = ""
    params: list[object] = []
    if c.needs_message or needs_message:
        joins += " JOIN messages m ON m.id = mm.message_id"
    if c.needs_text:
        joins += " LEFT JOIN message_text t ON t.message_id = mm.message_id"
    modseq_sql = "0"
    if modseq:
        modseq_sql = PF_MODSEQ if pmask else "mm.modseq"
    if c.needs_private or (modseq and pmask):
        joins += PF_JOIN
        params.append(viewer)
    joins += extra
    sql = (f"SELECT mm.uid, {modseq_sql}{', ' + columns if columns else ''}"
           f" FROM mailbox_messages mm{joins} WHERE mm.mailbox_id = ?")
    params.append(mailbox_id)
    if max_uid is not None:
        sql += " AND mm.uid <= ?"
        params.append(max_uid)
    if c.where != "1":
        sql += f" AND {c.where}"
    params.extend(c.params)
    sql += f" ORDER BY {order}"
    if c.uses_header_fn:
        conn.create_function("crispin_header_has", 3, header_has, deterministic=True)
    if c.uid_sets:
        sets = c.uid_sets

        def uid_in(index: int, uid: int) -> int:
            los, his = sets[index]
            i = bisect_right(los, uid) - 1
            return 1 if i >= 0 and uid <= his[i] else 0

        conn.create_function("crispin_uid_in", 2, uid_in, deterministic=True)
    try:
        rows: list[tuple[Any, ...]] = conn.execute(sql, params).fetchall()
        return rows
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "too large" in text or "too many" in text or "too deep" in text:
            raise SearchTooComplex(text) from exc
        raise


def store_text(
    conn: sqlite3.Connection, message_id: int, parsed: Mapping[str, bytes | int | str | None]
) -> None:
    """APPEND: keep the case-folded decoded header and body text of a message for
    HEADER/BODY/TEXT, if the caller computed them (``TEXT_KEYS`` of ``parsed``)."""
    headers = parsed.get("text_headers")
    body = parsed.get("text_body")
    if headers is None and body is None:
        return
    conn.execute(
        "INSERT OR IGNORE INTO message_text (message_id, headers, body) VALUES (?, ?, ?)",
        (message_id, _as_text(headers), _as_text(body)),
    )


def _as_text(value: bytes | int | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
