"""SEARCH evaluation (RFC 3501 §6.4.4, UID SEARCH §6.4.8): the client's search program
becomes a ``crispin.storage.search`` criteria tree, answered by one SQL query.

What the server adds to the neutral storage criteria:

* Message numbers and \\Recent belong to the session's view.  A sequence set becomes the
  UID ranges of the view's consecutive runs it covers (so the ranges hold exactly the
  view's messages; new messages only ever get larger UIDs).  Numbers beyond EXISTS simply
  match nothing, as in Dovecot, whose search code clips a sequence set to the messages
  there are (FETCH and STORE answer BAD for them, SEARCH does not).  ``*`` is the last
  message (the largest UID for the UID key; RFC 3501 §6.4.8: ``n:*`` always contains it).
* Only messages the view knows are searched: UIDs up to the view's last one (messages
  appended meanwhile are announced by EXISTS after the command, RFC 3501 §7.4.1), never a
  ghost (expunged by another session but still numbered here, RFC 2180 §4.1.2).
* CHARSET (RFC 3501 §6.4.4): US-ASCII and UTF-8 (in any case, and the default) are
  accepted; strings are decoded as UTF-8 (a superset of US-ASCII, which is what clients
  that send 8-bit without CHARSET mean); invalid UTF-8 is BAD.  Any other charset is
  ``NO [BADCHARSET (UTF-8 US-ASCII)]`` (RFC 5530 §3, RFC 3501 §7.1).
* Case-insensitive matching: needles and stored text are case-folded (``str.casefold``);
  the stored text is what :func:`search_columns` computes once at APPEND.
* YOUNGER/OLDER (RFC 5032 §2): the internal date against the server's clock now minus
  the interval, to the second (YOUNGER: at or after, OLDER: at or before).
* SEARCHRES ``$`` (RFC 5182): the view's saved UIDs, in a UID and a message-number set
  alike.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from itertools import compress
from typing import TYPE_CHECKING, Literal

from crispin.protocol import (
    Atom,
    Search,
    SearchAnd,
    SearchKey,
    SearchNot,
    SearchOr,
    SearchTerm,
    SequenceSet,
)
from crispin.protocol.mime import ParsedMessage, SearchFields, body_text, header_text
from crispin.server import objectid
from crispin.server.number_text import message_numbers, run_count, runs, uid_text
from crispin.server.outcome import CommandFailed
from crispin.server.search_budget import TIME_LIMIT_TEXT, SearchBudget
from crispin.server.view import View
from crispin.storage import SEEN_FLAG, Store, TimeLimitExceeded, answerable, match_mask
from crispin.storage import search as s

if TYPE_CHECKING:
    from crispin.server.access import Folded

CHARSETS = ("UTF-8", "US-ASCII")

# RFC 3501 §6.4.4: ANSWERED … UNSEEN test a system flag by name (storage's table).
_FLAG_KEYS: dict[str, tuple[str, bool]] = {
    key: ("\\" + key.removeprefix("UN").capitalize(), not key.startswith("UN"))
    for key in ("ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN",
                "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN")
}
_TEXT_KEYS: dict[str, s.TextField] = {
    "BCC": "bcc",
    "BODY": "body",
    "CC": "cc",
    "FROM": "from",
    "SUBJECT": "subject",
    "TEXT": "text",
    "TO": "to",
}
_DATE_KEYS: dict[str, tuple[Literal["internal", "sent", "saved"],
                            Literal["<", "=", ">="]]] = {
    "BEFORE": ("internal", "<"),
    "ON": ("internal", "="),
    "SINCE": ("internal", ">="),
    "SENTBEFORE": ("sent", "<"),
    "SENTON": ("sent", "="),
    "SENTSINCE": ("sent", ">="),
    # RFC 8514 §4.3: the save date, which every mailbox here supports (migration 17).
    "SAVEDBEFORE": ("saved", "<"),
    "SAVEDON": ("saved", "="),
    "SAVEDSINCE": ("saved", ">="),
}


# -- at APPEND ----------------------------------------------------------------------------


def search_columns(raw: bytes, parsed: ParsedMessage) -> dict[str, str | int | bytes | None]:
    """The SEARCH fields of ``crispin.storage.messages.PARSED_COLUMNS`` for one message, computed
    once at APPEND: case-folded decoded header values (``hdr_subject`` … ``hdr_bcc``), the
    identifiers (``hdr_message_id``, ``hdr_in_reply_to``, ``hdr_references``, decoded, case
    kept), the Date header as Unix seconds (``hdr_date``) and as its own calendar day
    (``sent_on``), and the case-folded decoded header block and body text
    (``text_headers``, ``text_body``) for HEADER, BODY and TEXT."""
    f = parsed.search_fields
    headers = header_text(raw, parsed.part_tree)
    body = body_text(raw, parsed.part_tree)
    return {
        "hdr_subject": _fold(f.subject),
        **address_columns(f),
        "hdr_message_id": f.message_id,
        "hdr_in_reply_to": f.in_reply_to,
        "hdr_references": f.references,
        "sent_on": None if f.date_sent is None else f.date_sent.isoformat(),
        "hdr_date": parsed.sort_fields.date,
        "text_headers": headers.casefold(),
        "text_body": body.casefold(),
    }


def address_columns(f: SearchFields) -> dict[str, str | None]:
    """``hdr_from`` … ``hdr_bcc``: the decoded header and its parsed addresses, case-folded
    (``crispin.protocol.mime.searchtext.address_text``)."""
    return {"hdr_from": _fold(f.from_), "hdr_to": _fold(f.to), "hdr_cc": _fold(f.cc),
            "hdr_bcc": _fold(f.bcc)}


def _fold(value: str | None) -> str | None:
    return None if value is None else value.casefold()


# -- the search program -------------------------------------------------------------------


def check_charset(charset: str | None) -> None:
    """RFC 3501 §6.4.4: an unsupported CHARSET is NO [BADCHARSET (supported...)]."""
    if charset is not None and charset.upper() not in CHARSETS:
        raise CommandFailed(
            "Unsupported charset", "BADCHARSET", code_args=([Atom(c) for c in CHARSETS],)
        )


def criteria(cmd: Search, view: View, frozen: Mapping[int, s.UidIn] | None = None
             ) -> s.Criterion:
    """The storage criteria for ``cmd`` against the session's view (CommandFailed BAD/NO
    for what cannot be searched); ``frozen``: message sets already evaluated, by the
    identity of their term (an UPDATE context's, ``crispin.server.contexts``)."""
    check_charset(cmd.charset)
    return _Builder(view, frozen or {}).key(cmd.criteria)


class _Builder:
    def __init__(self, view: View, frozen: Mapping[int, s.UidIn]) -> None:
        self.view = view
        self.frozen = frozen
        self._recent: s.UidIn | None = None

    def key(self, key: SearchKey) -> s.Criterion:
        if isinstance(key, SearchAnd):
            return s.And(tuple(self.key(k) for k in key.keys)) if key.keys else s.All()
        if isinstance(key, SearchOr):
            return s.Or((self.key(key.left), self.key(key.right)))
        if isinstance(key, SearchNot):
            return s.Not(self.key(key.key))
        return self.term(key)

    def term(self, t: SearchTerm) -> s.Criterion:
        name = t.name
        if name == "ALL":
            return s.All()
        flag = _FLAG_KEYS.get(name)
        if flag is not None:
            return s.FlagSet(*flag)
        if name == "RECENT":
            return self.recent()
        if name == "NEW":
            return s.And((self.recent(), s.FlagSet(SEEN_FLAG, False)))
        if name == "OLD":
            return s.Not(self.recent())
        field = _TEXT_KEYS.get(name)
        if field is not None:
            return s.TextContains(field, _text(t.args[0]))
        if name == "HEADER":
            return s.HeaderContains(_text(t.args[0]).strip(), _text(t.args[1]))
        if name in ("KEYWORD", "UNKEYWORD"):
            return s.Keyword(_text(t.args[0]), name == "KEYWORD")
        when = _DATE_KEYS.get(name)
        if when is not None:
            day = t.args[0]
            assert isinstance(day, date)
            kind, op = when
            return s.DateCmp(kind, op, day)
        if name in ("LARGER", "SMALLER"):
            n = t.args[0]
            assert isinstance(n, int)
            return s.SizeCmp(">" if name == "LARGER" else "<", n)
        if name in ("UID", "SEQSET"):
            fixed = self.frozen.get(id(t))
            if fixed is not None:
                return fixed
            seqset = t.args[0]
            assert isinstance(seqset, SequenceSet)
            if seqset.saved:
                return uids_criterion(self.view, self.view.saved)
            if name == "UID":
                return uid_criterion(self.view, seqset)
            return msn_criterion(self.view, seqset)
        if name == "MODSEQ":
            # RFC 7162 §3.1.5: the entry name and type (per-flag modseqs) are accepted and
            # ignored; Crispin keeps one modseq per message.
            modseq = t.args[-1]
            assert isinstance(modseq, int)
            return s.ModseqAtLeast(modseq)
        if name == "SAVEDATESUPPORTED":
            return s.All()  # RFC 8514 §4.3: every mailbox keeps save dates
        if name == "EMAILID":
            # RFC 8474 §6: exactly this id; one this server never gave matches nothing.
            found = objectid.parse_email_id(_text(t.args[0]))
            return s.UidIn(()) if found is None else s.BodyAndDate(*found)
        if name == "THREADID":
            return s.UidIn(())  # RFC 8474 §5.2: no threads computed, nothing matches
        if name in ("YOUNGER", "OLDER"):
            interval = t.args[0]
            assert isinstance(interval, int)
            target = int(time.time()) - interval
            return s.InternalCmp(">=" if name == "YOUNGER" else "<=", target)
        raise CommandFailed(f"Unknown search key {name}", status="BAD")

    def recent(self) -> s.UidIn:
        if self._recent is None:
            self._recent = uids_criterion(self.view, self.view.recent)
        return self._recent


def _text(value: object) -> str:
    """A string argument as text: bytes decoded as UTF-8, str (the parser's
    surrogate-escaped decoding) re-checked.  Invalid UTF-8 is BAD."""
    try:
        if isinstance(value, bytes):
            return value.decode("utf-8")
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        raise CommandFailed("Invalid UTF-8 in search string", status="BAD") from None
    raise CommandFailed("Invalid search argument", status="BAD")


# -- message sets through the view ---------------------------------------------------------


def _runs(view: View, spans: Iterable[tuple[int, int]]) -> s.UidIn:
    """Half-open index spans of ``view.uids`` as UID ranges, one per run of consecutive
    messages: exactly the view's messages in those spans."""
    uids = view.uids
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return s.UidIn(tuple((uids[a], uids[b - 1]) for a, b in merged))


def msn_criterion(view: View, seqset: SequenceSet) -> s.UidIn:
    """A message-number set (``*`` = EXISTS); numbers beyond EXISTS match nothing."""
    count = view.exists
    spans = []
    for lo, hi in seqset.resolve(count):
        lo, hi = max(lo, 1), min(hi, count)
        if lo <= hi:
            spans.append((lo - 1, hi))
    return _runs(view, spans)


def uid_criterion(view: View, seqset: SequenceSet) -> s.UidIn:
    """A UID set (``*`` = the largest UID in the view; RFC 3501 §6.4.8)."""
    if not view.uids:
        return s.UidIn(())
    uids = view.uids
    spans = [
        (bisect_left(uids, lo), bisect_right(uids, hi))
        for lo, hi in seqset.resolve(uids[-1])
    ]
    return _runs(view, spans)


def uids_criterion(view: View, wanted: Iterable[int]) -> s.UidIn:
    """An arbitrary set of UIDs (such as \\Recent), restricted to the view."""
    uids = view.uids
    spans = []
    for uid in sorted(wanted):
        i = bisect_left(uids, uid)
        if i < len(uids) and uids[i] == uid:
            spans.append((i, i + 1))
    return _runs(view, spans)


# -- running it ----------------------------------------------------------------------------


async def run_search(store: Store, view: View, cmd: Search, viewer: int | None = None,
                     budget: SearchBudget | None = None, fold: Folded | None = None
                     ) -> tuple[list[int], list[int] | None]:
    """Message numbers (or UIDs for UID SEARCH) of the matching messages, ascending, and
    for a search that uses MODSEQ each one's modseq (RFC 7162 §3.1.5, RFC 4731 §3.2), in
    the same order.  Flags and modseqs are ``viewer``'s (private flags).  Within
    ``budget`` (``crispin.server.search_budget``). ``fold``: the search of the rows
    carries the access recheck and the sync's changes (issue 14)."""
    if budget is not None:
        budget.check(cmd.criteria)
    crit = criteria(cmd, view)
    if not view.uids:
        return [], ([] if uses_modseq(cmd.criteria) else None)
    time_limit = None if budget is None else budget.time_limit
    try:
        if uses_modseq(cmd.criteria):
            pairs = await store.search_with_modseq(view.mailbox_id, crit,
                                                   max_uid=view.uids[-1], viewer=viewer,
                                                   time_limit=time_limit)
            pairs = [(u, m) for u, m in pairs if u not in view.ghosts]
            found = [u for u, _ in pairs]
            return to_numbers(view, found, cmd.uid), [m for _, m in pairs]
        # Flags and UID sets only (SEARCH UNSEEN): from the shared index (issue 14).
        quick = await store.search_flags(view.mailbox_id, crit, view.uids[-1], viewer=viewer)
        if quick is not None:
            found = quick
        elif fold is None:
            found = await store.search(view.mailbox_id, crit, max_uid=view.uids[-1],
                                       viewer=viewer, time_limit=time_limit)
        else:
            last = view.uids[-1]
            found = await fold.read(lambda also: store.search_with(
                view.mailbox_id, crit, also, last, viewer=viewer, time_limit=time_limit))
    except s.SearchTooComplex:
        raise CommandFailed("Search program too complex", "LIMIT") from None
    except TimeLimitExceeded:
        raise CommandFailed(TIME_LIMIT_TEXT, "LIMIT") from None
    return to_numbers(view, found, cmd.uid), None


async def search_text(store: Store, view: View, cmd: Search, viewer: int | None = None,
                      budget: SearchBudget | None = None, fold: Folded | None = None
                      ) -> bytes:
    """What ``run_search`` finds for a search without MODSEQ, as the numbers of a
    ``* SEARCH`` answer (RFC 3501 §7.2.5): ``b" n n n"``. Criteria of flags and sets only
    (``UID SEARCH UNSEEN``) are answered from the shared index: each run of matching
    messages is one slice of its numbers written out once (``number_text``), no Python
    object per message (issue 14). ``fold``: the read carries the access recheck and the
    sync's changes (the caller settles it before answering)."""
    assert not uses_modseq(cmd.criteria)
    if budget is not None:
        budget.check(cmd.criteria)
    crit = criteria(cmd, view)
    if view.uids and answerable(crit):
        if fold is None:
            index = await store.mailbox_index(view.mailbox_id, viewer=viewer)
        else:
            index = await fold.read(lambda also: store.mailbox_index_with(
                view.mailbox_id, also, viewer=viewer))
        uids = index.uids
        # Only messages the view knows (UIDs up to its last); the index, current, holds
        # no ghost (RFC 2180 §4.1.2: they never match).
        end = bisect_right(uids, view.uids[-1])
        known = len(view.uids)
        mask = match_mask(index, crit)
        # Message numbers are the index's positions + 1 only while the view's UIDs are
        # the index's first ones (no ghost, nothing expunged it was not told of).
        # Slices pay per run, a list per number: slices when runs are long.
        if (cmd.uid or uids is view.uids or (end == known and uids[:known] == view.uids)) \
                and run_count(mask, end) * 4 <= mask.count(1, 0, end):
            text = uid_text(uids) if cmd.uid else message_numbers(end)
            return text.spans(runs(mask, end))
        return numbers_text(to_numbers(view, list(compress(uids[:end], mask)), cmd.uid))
    numbers, _ = await run_search(store, view, cmd, viewer, budget, fold)
    return numbers_text(numbers)


def numbers_text(numbers: list[int]) -> bytes:
    """``b" 1 2 3"``: repr() of a list writes every number in C, about 3x faster than one
    str() per number; "[1, 2, 3]" less its brackets and commas is "1 2 3"."""
    if not numbers:
        return b""
    return b" " + repr(numbers)[1:-1].replace(",", "").encode()


def uses_modseq(key: SearchKey) -> bool:
    return uses_term(key, frozenset({"MODSEQ"}))


#: RFC 9051 §9 ``search-key`` has no NEW, OLD nor RECENT (Appendix E item 12).
NOT_IN_REV2 = frozenset({"NEW", "OLD", "RECENT"})


def uses_term(key: SearchKey, names: frozenset[str]) -> bool:
    """Whether any search key in ``key`` is one of ``names``."""
    if isinstance(key, SearchAnd):
        return any(uses_term(k, names) for k in key.keys)
    if isinstance(key, SearchOr):
        return uses_term(key.left, names) or uses_term(key.right, names)
    if isinstance(key, SearchNot):
        return uses_term(key.key, names)
    return key.name in names


def to_numbers(view: View, found: Sequence[int], uid: bool) -> list[int]:
    """Ascending UIDs from storage to the answer: ghosts dropped, and message numbers
    unless ``uid`` (one merge pass over the view's UID list)."""
    ghosts = view.ghosts
    if uid:
        if not ghosts:
            return list(found)
        return [u for u in found if u not in ghosts]
    uids = view.uids
    out: list[int] = []
    i, n = 0, len(uids)
    for u in found:
        if u in ghosts:
            continue
        i = bisect_left(uids, u, i)
        if i < n and uids[i] == u:
            out.append(i + 1)
    return out
