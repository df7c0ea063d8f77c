"""Parsed client commands: one frozen dataclass per command of RFC 3501 §6 and
the extensions Crispin supports.

Conventions shared by every command:

* strings (astring / quoted / literal) are decoded as UTF-8 with
  ``errors="surrogateescape"`` so no byte is lost;
* ``mailbox``, ``reference`` and ``pattern`` fields are decoded from modified
  UTF-7 (RFC 3501 §5.1.3); a mailbox equal to ``INBOX`` in any case is given as
  ``"INBOX"`` (RFC 3501 §5.1: INBOX is case-insensitive);
* system flags are normalised to their canonical case (``\\Seen``), keywords
  are kept as sent;
* ``uid`` is true for the ``UID`` form of a command (RFC 3501 §6.4.8).

Extension parameters (RFC 4466 ``tagged-ext-val``: select/create params, LIST
RETURN options, FETCH modifiers) are given as :data:`Param` pairs
``(NAME_UPPER, value)`` where value is ``None`` (no value), ``int`` (a number),
:class:`SequenceSet` (a token that is a sequence set but not a plain number),
``str`` (an atom or string) or a tuple of such values (a parenthesised list),
e.g. ``QRESYNC (1 2 1:5)`` → ``("QRESYNC", (1, 2, SequenceSet(((1, 5),))))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeAlias, TypeVar

from .metadata import GetMetadata, SetMetadata
from .sequence import MAX_NUMBER, SequenceSet

_T = TypeVar("_T")

ParamValue: TypeAlias = "int | str | SequenceSet | tuple[ParamValue, ...] | None"
Param: TypeAlias = tuple[str, ParamValue]


# --- RFC 3501 §6.1, §6.2: any state / not authenticated ----------------------


@dataclass(frozen=True)
class Capability:
    """RFC 3501 §6.1.1."""


@dataclass(frozen=True)
class Noop:
    """RFC 3501 §6.1.2."""


@dataclass(frozen=True)
class Logout:
    """RFC 3501 §6.1.3."""


@dataclass(frozen=True)
class StartTLS:
    """RFC 3501 §6.2.1."""


@dataclass(frozen=True)
class Authenticate:
    """RFC 3501 §6.2.2; ``initial_response`` is the SASL-IR argument (RFC 4959 §3),
    raw base64 text, ``"="`` for an empty response, ``None`` when absent."""

    mechanism: str
    initial_response: str | None = None


@dataclass(frozen=True)
class Login:
    """RFC 3501 §6.2.3."""

    username: str
    password: str


# --- RFC 3501 §6.3: authenticated state ---------------------------------------


@dataclass(frozen=True)
class Select:
    """RFC 3501 §6.3.1; ``params`` are RFC 4466 select-params (e.g. CONDSTORE)."""

    mailbox: str
    params: tuple[Param, ...] = ()


@dataclass(frozen=True)
class Examine:
    """RFC 3501 §6.3.2."""

    mailbox: str
    params: tuple[Param, ...] = ()


@dataclass(frozen=True)
class Create:
    """RFC 3501 §6.3.3; ``params`` are RFC 4466 create-params."""

    mailbox: str
    params: tuple[Param, ...] = ()


@dataclass(frozen=True)
class Delete:
    """RFC 3501 §6.3.4."""

    mailbox: str


@dataclass(frozen=True)
class Rename:
    """RFC 3501 §6.3.5."""

    old: str
    new: str


@dataclass(frozen=True)
class Subscribe:
    """RFC 3501 §6.3.6."""

    mailbox: str


@dataclass(frozen=True)
class Unsubscribe:
    """RFC 3501 §6.3.7."""

    mailbox: str


@dataclass(frozen=True)
class List:
    """RFC 3501 §6.3.8 and LIST-EXTENDED (RFC 5258 §3).

    ``selection`` holds upper-cased selection options, ``returns`` the RETURN
    options as :data:`Param` pairs (e.g. ``("STATUS", ("MESSAGES",))``,
    RFC 5819). A plain LIST has exactly one pattern.
    """

    reference: str
    patterns: tuple[str, ...]
    selection: tuple[str, ...] = ()
    returns: tuple[Param, ...] = ()


@dataclass(frozen=True)
class Lsub:
    """RFC 3501 §6.3.9."""

    reference: str
    pattern: str


@dataclass(frozen=True)
class Status:
    """RFC 3501 §6.3.10; item names upper-cased."""

    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Namespace:
    """RFC 2342 §5."""


@dataclass(frozen=True)
class Enable:
    """RFC 5161 §3.1; capability names upper-cased."""

    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class Id:
    """RFC 2971 §3.1; ``None`` for ``ID NIL``."""

    params: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True)
class Compress:
    """RFC 4978 §3; algorithm upper-cased."""

    algorithm: str


@dataclass(frozen=True)
class Idle:
    """RFC 2177 §3."""


# --- RFC 3501 §6.4: selected state --------------------------------------------


@dataclass(frozen=True)
class CancelUpdate:
    """RFC 5267 §4.3.5: the tags of the searching commands whose updates end."""

    tags: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    """RFC 3501 §6.4.1."""


@dataclass(frozen=True)
class Close:
    """RFC 3501 §6.4.2."""


@dataclass(frozen=True)
class Unselect:
    """RFC 3691 §2."""


@dataclass(frozen=True)
class Unauthenticate:
    """RFC 8437 §3: back to the not-authenticated state on the same connection."""


@dataclass(frozen=True)
class Expunge:
    """RFC 3501 §6.4.3; ``uid_set`` for UID EXPUNGE (RFC 4315 §2.1)."""

    uid_set: SequenceSet | None = None


@dataclass(frozen=True)
class Copy:
    """RFC 3501 §6.4.7 (and UID COPY, §6.4.8)."""

    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True)
class Move:
    """RFC 6851 §3.1."""

    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True)
class FetchAttr:
    """A simple FETCH data item (RFC 3501 §6.4.5), e.g. ``ENVELOPE``, ``UID``,
    ``MODSEQ`` (RFC 7162). ``BINARY.SIZE`` (RFC 3516 §4.2) carries its section
    part in ``part``; ``PREVIEW`` (RFC 8970 §6) its modifiers in ``modifiers``
    (upper-cased, e.g. ``("LAZY",)``)."""

    name: str
    part: tuple[int, ...] = ()
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class BodySection:
    """``BODY[...]``, ``BODY.PEEK[...]``, ``BINARY[...]`` (RFC 3501 §6.4.5, RFC 3516 §4.1).

    ``text`` is None, HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or MIME.
    ``fields`` are upper-cased for comparison; ``fields_echo`` keeps them as
    the client sent them, for the response name. ``partial`` is
    ``(origin, count)``.
    """

    peek: bool
    part: tuple[int, ...]
    text: str | None
    fields: tuple[str, ...] = ()
    partial: tuple[int, int] | None = None
    binary: bool = False
    fields_echo: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def section_spec(self) -> bytes:
        """The text between the brackets, as the response repeats it."""
        spec = ".".join(str(p) for p in self.part)
        if self.text:
            spec = f"{spec}.{self.text}" if spec else self.text
        if self.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            names = self.fields_echo or self.fields
            spec += " (" + " ".join(_astring(n) for n in names) + ")"
        return spec.encode("utf-8", "surrogateescape")

    def response_name(self) -> bytes:
        """Name used in the FETCH response: RFC 3501 §7.4.2 answers ``BODY.PEEK``
        as ``BODY`` and gives only the origin of a partial fetch."""
        name = b"BINARY[" if self.binary else b"BODY["
        out = name + self.section_spec() + b"]"
        if self.partial is not None:
            out += b"<%d>" % self.partial[0]
        return out


FetchItem: TypeAlias = FetchAttr | BodySection


@dataclass(frozen=True)
class Fetch:
    """RFC 3501 §6.4.5; macros (ALL/FAST/FULL) are expanded into ``items`` and
    named in ``macro``. ``modifiers`` are RFC 4466 fetch-modifiers
    (e.g. ``("CHANGEDSINCE", 42)``, RFC 7162 §3.1.4)."""

    sequence_set: SequenceSet
    items: tuple[FetchItem, ...]
    uid: bool = False
    modifiers: tuple[Param, ...] = ()
    macro: str | None = None


@dataclass(frozen=True)
class Store:
    """RFC 3501 §6.4.6; ``mode`` is "" (replace), "+" or "-".
    ``unchangedsince`` is the CONDSTORE modifier (RFC 7162 §3.1.3)."""

    sequence_set: SequenceSet
    mode: str
    silent: bool
    flags: tuple[str, ...]
    uid: bool = False
    unchangedsince: int | None = None


SearchArg: TypeAlias = int | bytes | str | date | SequenceSet


@dataclass(frozen=True)
class SearchTerm:
    """One search key of RFC 3501 §6.4.4, name upper-cased.

    ``SEQSET`` is a bare sequence set. Arguments: strings as bytes (decoded by
    the server per CHARSET), dates as ``datetime.date``, numbers as int, sets
    as SequenceSet, ``HEADER`` as two args ``(field_name: str, value: bytes)``,
    ``KEYWORD``/``UNKEYWORD`` as the keyword str. ``MODSEQ`` (RFC 7162 §3.1.5)
    gives ``(modseq,)`` or ``(entry_name, entry_type, modseq)``;
    ``YOUNGER``/``OLDER`` (RFC 5032) give seconds.
    """

    name: str
    args: tuple[SearchArg, ...] = ()


@dataclass(frozen=True)
class SearchNot:
    """``NOT search-key`` (RFC 3501 §6.4.4)."""

    key: SearchKey


@dataclass(frozen=True)
class SearchOr:
    """``OR search-key1 search-key2`` (RFC 3501 §6.4.4)."""

    left: SearchKey
    right: SearchKey


@dataclass(frozen=True)
class SearchAnd:
    """All keys must match (a parenthesised group, and the top level)."""

    keys: tuple[SearchKey, ...]


SearchKey: TypeAlias = SearchAnd | SearchOr | SearchNot | SearchTerm


@dataclass(frozen=True)
class PartialRange:
    """RFC 5267 §4.4 / RFC 9394 §4 ``partial-range`` as the client wrote it (echoed so in
    the response): result positions, 1 being the first result; negative ones count back
    from the last, -1 being the last (RFC 9394 §3.1).  ``500:400`` is ``400:500``."""

    first: int
    last: int

    def __str__(self) -> str:
        return f"{self.first}:{self.last}"

    @classmethod
    def from_param(cls, value: object) -> PartialRange | None:
        """The value of a PARTIAL FETCH modifier (RFC 9394 §3.3) as ``parser_ext`` reads
        a ``tagged-ext-simple``: a sequence set of one range without "*", or the text
        ``-n:-m``; None for anything else."""
        if isinstance(value, SequenceSet) and not value.saved and len(value.ranges) == 1:
            a, b = value.ranges[0]
            if a is not None and b is not None and a > 0 and b > 0:
                return cls(a, b)
        if isinstance(value, str) and value.startswith("-"):
            first, sep, last = value.partition(":")
            if sep and last.startswith("-") and first[1:].isdigit() and last[1:].isdigit():
                lo, hi = int(first[1:]), int(last[1:])
                if 0 < lo <= MAX_NUMBER and 0 < hi <= MAX_NUMBER:
                    return cls(-lo, -hi)
        return None

    def pick(self, results: Sequence[_T]) -> list[_T]:
        """The results at the range's positions, in result order; positions beyond the
        results are simply not there (RFC 5267 §4.4)."""
        lo, hi = sorted((abs(self.first), abs(self.last)))
        n = len(results)
        if self.first > 0:
            return list(results[lo - 1:hi])
        # -1:-3 of 10 results are positions 8..10 (indexes 7..9).
        start, end = max(n - hi, 0), n - lo + 1
        return list(results[start:end]) if end > 0 else []


@dataclass(frozen=True)
class Search:
    """RFC 3501 §6.4.4; ``charset`` upper-cased; ``returns`` are ESEARCH
    return options (RFC 4731 §3, RFC 5267 §4) upper-cased, ``()`` for ``RETURN ()`` and
    ``None`` for a plain SEARCH; ``partial`` the range of a PARTIAL return option (whose
    name is in ``returns`` too); ``update_fetch`` the fetch-atts after UPDATE (RFC 5465
    §7), empty without them."""

    charset: str | None
    criteria: SearchAnd
    uid: bool = False
    returns: tuple[str, ...] | None = None
    partial: PartialRange | None = None
    update_fetch: tuple[FetchItem, ...] = ()


@dataclass(frozen=True)
class SortCriterion:
    """RFC 5256 §5 ``sort-criterion``: ``key`` upper-cased (ARRIVAL, CC, DATE, FROM,
    SIZE, SUBJECT, TO; DISPLAYFROM, DISPLAYTO of RFC 5957)."""

    key: str
    reverse: bool = False


@dataclass(frozen=True)
class Sort:
    """RFC 5256 §3 SORT / UID SORT: the sort program and the search (whose ``charset``
    is always given, and whose ``uid`` is the UID form)."""

    criteria: tuple[SortCriterion, ...]
    search: Search

    @property
    def uid(self) -> bool:
        return self.search.uid


@dataclass(frozen=True)
class Thread:
    """RFC 5256 §3 THREAD / UID THREAD: ``algorithm`` upper-cased."""

    algorithm: str
    search: Search

    @property
    def uid(self) -> bool:
        return self.search.uid


# --- RFC 4314 ACL and RFC 9208 QUOTA -------------------------------------------


@dataclass(frozen=True)
class SetAcl:
    """RFC 4314 §3.1; ``rights`` may start with "+" or "-" (modify, not replace)."""

    mailbox: str
    identifier: str
    rights: str


@dataclass(frozen=True)
class DeleteAcl:
    """RFC 4314 §3.2."""

    mailbox: str
    identifier: str


@dataclass(frozen=True)
class GetAcl:
    """RFC 4314 §3.3."""

    mailbox: str


@dataclass(frozen=True)
class ListRights:
    """RFC 4314 §3.4."""

    mailbox: str
    identifier: str


@dataclass(frozen=True)
class MyRights:
    """RFC 4314 §3.5."""

    mailbox: str


@dataclass(frozen=True)
class GetQuota:
    """RFC 9208 §4.2; the quota root name is a plain string, not a mailbox name."""

    root: str


@dataclass(frozen=True)
class GetQuotaRoot:
    """RFC 9208 §4.3."""

    mailbox: str


@dataclass(frozen=True)
class SetQuota:
    """RFC 9208 §4.1: resource names upper-cased, limits as numbers."""

    root: str
    resources: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class EventGroup:
    """One ``event-group``: ``kind`` upper-cased (SELECTED, PERSONAL, SUBTREE...),
    ``mailboxes`` for SUBTREE/MAILBOXES, ``events`` empty for NONE."""

    kind: str
    mailboxes: tuple[str, ...]
    events: tuple[str, ...]
    fetch: tuple[FetchItem, ...] = ()
    """MessageNew's fetch-att list (SELECTED/SELECTED-DELAYED only)."""


@dataclass(frozen=True)
class Notify:
    """RFC 5465 §3.1 (grammar in ``notify.py``): ``groups`` empty for NOTIFY NONE."""

    groups: tuple[EventGroup, ...]
    status: bool = False


@dataclass(frozen=True)
class ResetKey:
    """RFC 4467 §7 RESETKEY: every key of the user (no mailbox), or one mailbox's."""

    mailbox: str | None
    mechanisms: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenUrlAuth:
    """RFC 4467 §7 GENURLAUTH: (url-rump, mechanism) pairs, mechanisms upper-cased."""

    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class UrlFetch:
    """RFC 4467 §7 URLFETCH: the URLs as sent."""

    urls: tuple[str, ...]


Command: TypeAlias = (
    Capability | Noop | Logout | StartTLS | Authenticate | Login
    | Select | Examine | Create | Delete | Rename | Subscribe | Unsubscribe
    | List | Lsub | Status | Namespace | Enable | Id | Compress | Idle
    | Unauthenticate
    | Check | Close | Unselect | Expunge | Copy | Move | Fetch | Store | Search | Sort | Thread
    | CancelUpdate
    | SetAcl | DeleteAcl | GetAcl | ListRights | MyRights
    | GetQuota | GetQuotaRoot | SetQuota
    | GetMetadata | SetMetadata | Notify
    | ResetKey | GenUrlAuth | UrlFetch
)


def _astring(text: str) -> str:
    """Header field names echo as atoms when they can, else as quoted strings."""
    if text and all(c.isascii() and c.isprintable() and c not in '(){ %*"\\]' for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
