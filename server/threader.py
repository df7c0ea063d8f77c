"""THREAD algorithms (RFC 5256 §3): ORDEREDSUBJECT, REFERENCES, and Dovecot's REFS.

Input: the matching messages' keys (``crispin.storage.sorting.ThreadRow``, the row tuples
as the query returns them) in sequence order, each with its number as the client will see
it.  Output: the ``thread-list`` bytes of the THREAD response (RFC 5256 §4,
``thread-data``).  Pure functions, no I/O.

Speed (issue 15: THREAD REFERENCES of 100,000 messages within 1 s): no Python object per
message.  A container is an index into parallel lists (:class:`_Forest`): its number (0
for a dummy), its sort key, subject, reply marker, parent and children; the row tuples
are read as they come from SQLite.  The sort key is one integer, ``date << 32 | number``
(message numbers and UIDs are below 2**32, RFC 3501 §2.3.1.1), so sibling sets sort with
``list.sort(key=keys.__getitem__)`` in C.

Every walk over a tree is iterative: a reply chain of 100,000 messages must not meet
Python's recursion limit.  Sibling order (RFC 5256 §2.2, §3 steps 4 and 6): sent date,
then sequence number; a dummy sorts as its first child.

REFS (Dovecot's ``THREAD=REFS``, doc/thread-refs.txt): REFERENCES without the subject
merging of step 5, and the threads ordered by their newest message's sent date, so that
the thread with the latest activity comes last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from crispin.storage import (
    ROW_DATE,
    ROW_MESSAGE_ID,
    ROW_REFERENCES,
    ROW_REPLY,
    ROW_SUBJECT,
    ThreadRow,
)

NONE = -1
"""No container (a root's parent)."""

Check = Callable[[], None]
"""Called every ``CHECK_EVERY`` messages while linking: raises to stop (the SEARCH time
limit, ``crispin.server.search_budget.deadline_check``)."""

CHECK_EVERY = 4096


def _no_check() -> None:
    pass


class _Forest:
    """Containers as indexes into parallel lists.  ``number`` 0 marks a dummy (a message
    only referenced, RFC 5256 §3 step 1.A); a dummy's ``key`` is set once its children are
    in order (its first child's, step 4)."""

    __slots__ = ("key", "kids", "number", "parent", "reply", "subject")

    def __init__(self) -> None:
        self.number: list[int] = []
        self.key: list[int] = []
        self.subject: list[str] = []
        self.reply: list[int] = []
        self.parent: list[int] = []
        self.kids: list[list[int] | None] = []

    def add(self, number: int, key: int, subject: str, reply: int) -> int:
        self.number.append(number)
        self.key.append(key)
        self.subject.append(subject)
        self.reply.append(reply)
        self.parent.append(NONE)
        self.kids.append(None)
        return len(self.number) - 1

    def link(self, parent: int, child: int) -> None:
        self.parent[child] = parent
        kids = self.kids[parent]
        if kids is None:
            self.kids[parent] = [child]
        else:
            kids.append(child)

    def descends(self, node: int, ancestor: int) -> bool:
        """Whether ``node`` is ``ancestor`` or below it (a leaf ``ancestor`` has nothing
        below it: no walk up a long reply chain for the common case)."""
        if not self.kids[ancestor]:
            return node == ancestor
        parent = self.parent
        while node != NONE:
            if node == ancestor:
                return True
            node = parent[node]
        return False

    def first_message(self, node: int) -> int:
        """``node``, or for a dummy its first child's first message (NONE if it has no
        message below its first children)."""
        number, kids = self.number, self.kids
        while number[node] == 0:
            k = kids[node]
            if not k:
                return NONE
            node = k[0]
        return node

    def thread_subject(self, node: int) -> str:
        """The thread subject (step 5.B.i): its own, or its first child's for a dummy."""
        first = self.first_message(node)
        return "" if first == NONE else self.subject[first]

    def is_reply(self, node: int) -> bool:
        return self.number[node] != 0 and bool(self.reply[node])


def _build(
    rows: Iterable[tuple[ThreadRow, int]], check: Check
) -> tuple[_Forest, list[int]]:
    """Steps 1 and 2: the parent/child links from Message-IDs and references; returns the
    containers without a parent (messages and dummies).

    Message ``i`` (in sequence order) is container ``i``, made for all of them at once;
    dummies come after.  A reference to a Message-ID names the first message that has it,
    whenever that message comes: the same container as a dummy made earlier and filled
    by that message later (step 1.A), so the links are those of the message-by-message
    algorithm.  A later message with the same Message-ID gets a container no reference
    can name (step 1.A: a unique id)."""
    rows = rows if isinstance(rows, list) else list(rows)
    f = _Forest()
    f.number = [number for _, number in rows]
    f.key = [(row[ROW_DATE] << 32) | number for row, number in rows]
    f.subject = [row[ROW_SUBJECT] for row, _ in rows]
    f.reply = [row[ROW_REPLY] for row, _ in rows]
    f.parent = parent_of = [NONE] * len(rows)
    kids_of: list[list[int] | None] = [None] * len(rows)
    f.kids = kids_of
    ids = [row[ROW_MESSAGE_ID] for row, _ in rows]
    # The first message of each Message-ID wins: later ones are written first.
    by_id = {mid: i for i, mid in zip(range(len(ids) - 1, -1, -1), reversed(ids),
                                      strict=True)
             if mid is not None}
    add, link, descends = f.add, f.link, f.descends
    for node, refs in enumerate([row[ROW_REFERENCES] for row, _ in rows]):
        if not node % CHECK_EVERY:
            check()
        prev = NONE
        if refs:
            for ref in refs.split():
                c = by_id.get(ref, NONE)
                if c == NONE:  # a dummy: no message has this Message-ID
                    c = by_id[ref] = add(0, 0, "", 0)
                # (1.A) each reference the parent of the next, unless already parented
                # or a loop.
                if prev != NONE and parent_of[c] == NONE and not descends(prev, c):
                    link(prev, c)
                prev = c
        # (1.B) the old link of this message (made by an earlier message's references)
        # is broken: only its own last reference names its parent, unless that is a loop.
        old = parent_of[node]
        if old != NONE:
            siblings = kids_of[old]
            assert siblings is not None
            siblings.remove(node)
            parent_of[node] = NONE
        if prev != NONE and not descends(prev, node):
            link(prev, node)
    return f, [i for i, p in enumerate(parent_of) if p == NONE]


def _parents_deepest_first(kids: list[list[int] | None], roots: list[int]) -> list[int]:
    """The nodes that have children, each after all of its descendants (post-order without
    recursion: threads can be thousands deep)."""
    order: list[int] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        k = kids[node]
        if k:
            order.append(node)
            stack.extend(k)
    order.reverse()
    return order


def _prune(f: _Forest, roots: list[int]) -> list[int]:
    """Step 3: dummies without children go; dummies with children are replaced by them,
    except at the top when that would put several children at the root."""
    kids, number, parent = f.kids, f.number, f.parent
    for node in _parents_deepest_first(kids, roots):
        k = kids[node]
        assert k is not None
        if any(number[c] == 0 for c in k):
            kids[node] = _splice(f, k, node, top=False)
    out = _splice(f, roots, NONE, top=True) if any(number[r] == 0 for r in roots) else roots
    for r in out:
        parent[r] = NONE
    return out


def _splice(f: _Forest, children: list[int], parent: int, top: bool) -> list[int]:
    kids, number, parents = f.kids, f.number, f.parent
    out: list[int] = []
    for c in children:
        if number[c]:
            out.append(c)
            continue
        k = kids[c]
        if not k:
            continue
        if not top or len(k) == 1:
            for g in k:
                parents[g] = parent
            out.extend(k)
        else:
            out.append(c)
    return out


def _sort_all(f: _Forest, roots: list[int]) -> None:
    """Step 6: every sibling set by sent date, deepest first (a dummy sorts as its first
    child, which must be in place first); the top level last."""
    kids, number, key = f.kids, f.number, f.key
    by_key = key.__getitem__
    for node in _parents_deepest_first(kids, roots):
        k = kids[node]
        assert k is not None
        if len(k) > 1:
            k.sort(key=by_key)
        if number[node] == 0:
            key[node] = key[k[0]]
    roots.sort(key=by_key)


def _merge_subjects(f: _Forest, roots: list[int]) -> list[int]:
    """Step 5: threads at the top with the same base subject gathered."""
    number, kids = f.number, f.kids
    at_root = set(roots)
    subjects = [f.thread_subject(r) for r in roots]
    table: dict[str, int] = {}
    for node, subject in zip(roots, subjects, strict=True):
        if not subject:
            continue
        old = table.get(subject)
        if old is None:
            table[subject] = node
            continue
        # (iv) a better one: a dummy, or a non-reply over a reply.
        better = number[node] == 0 or (f.is_reply(old) and not f.is_reply(node))
        if number[old] != 0 and better:
            table[subject] = node
    out: list[int] = []
    where: dict[int, int] = {}  # node -> its index in out
    for node, subject in zip(roots, subjects, strict=True):
        if node not in at_root:
            continue
        old = table.get(subject, NONE) if subject else NONE
        if old in (NONE, node):
            where[node] = len(out)
            out.append(node)
            continue
        at_root.discard(node)
        if number[old] == 0 and number[node] == 0:
            for c in kids[node] or ():
                f.link(old, c)
            kids[node] = None
        elif number[old] == 0 or (f.is_reply(node) and not f.is_reply(old)):
            f.link(old, node)
        else:
            dummy = f.add(0, 0, "", 0)
            at_root.add(dummy)
            at_root.discard(old)
            i = where.pop(old, None)  # where old is in the top level being built
            if i is None:  # (it may come later there, and is then skipped)
                i = len(out)
                out.append(dummy)
            else:
                out[i] = dummy
            where[dummy] = i
            f.link(dummy, old)
            f.link(dummy, node)
            table[subject] = dummy
    return [n for n in out if n in at_root]


def _sort_root_dummies(f: _Forest, roots: list[int]) -> None:
    """Step 4 needs a dummy's first child: the top-level dummies' children by date."""
    kids, number, key = f.kids, f.number, f.key
    for node in roots:
        if number[node] == 0:
            k = kids[node]
            assert k
            k.sort(key=key.__getitem__)
            key[node] = key[f.first_message(node)]
    roots.sort(key=key.__getitem__)


Threads = tuple[_Forest, list[int]]
"""The containers and the top-level ones in order, for :func:`render`."""


def references(
    rows: Iterable[tuple[ThreadRow, int]], check: Check = _no_check
) -> Threads:
    """RFC 5256 §3 REFERENCES, steps 1-6."""
    f, roots = _build(rows, check)
    roots = _prune(f, roots)
    _sort_root_dummies(f, roots)
    roots = _merge_subjects(f, roots)
    _sort_all(f, roots)
    return f, roots


def refs(
    rows: Iterable[tuple[ThreadRow, int]], check: Check = _no_check
) -> Threads:
    """Dovecot's REFS: steps 1-3 and 6 of REFERENCES, threads by their newest message."""
    f, roots = _build(rows, check)
    roots = _prune(f, roots)
    _sort_all(f, roots)
    kids, number, key = f.kids, f.number, f.key
    newest: dict[int, int] = {}
    for root in roots:
        best = 0
        stack = [root]
        while stack:
            node = stack.pop()
            if number[node] and key[node] > best:
                best = key[node]
            stack.extend(kids[node] or ())
        newest[root] = best
    roots.sort(key=newest.__getitem__)
    return f, roots


def ordered_subject(
    rows: Iterable[tuple[ThreadRow, int]], check: Check = _no_check
) -> Threads:
    """RFC 5256 §3 ORDEREDSUBJECT: by base subject then sent date, split by subject, the
    threads by their first message's sent date; later messages children of the first."""
    check()
    f = _Forest()
    for row, number in rows:
        f.add(number, (row[ROW_DATE] << 32) | number, row[ROW_SUBJECT], 0)
    subject, key = f.subject, f.key
    ordered = sorted(range(len(key)), key=lambda i: (subject[i], key[i]))
    roots: list[int] = []
    current: str | None = None
    root = NONE
    for node in ordered:
        if subject[node] == current:
            f.link(root, node)
        else:
            root = node
            roots.append(node)
            current = subject[node]
    roots.sort(key=key.__getitem__)
    return f, roots


ALGORITHMS = {"ORDEREDSUBJECT": ordered_subject, "REFERENCES": references, "REFS": refs}


def render(threads: Threads) -> bytes:
    """RFC 5256 §5 ``1*thread-list``: a chain of single children as ``a b c``, a split
    as nested lists; a dummy contributes only its children."""
    f, roots = threads
    number, kids = f.number, f.kids
    out: list[bytes] = []
    # Work items: a node to open as a list (>= 0), or a closing parenthesis (NONE).
    stack: list[int] = roots[::-1]
    while stack:
        node = stack.pop()
        if node == NONE:
            out.append(b")")
            continue
        out.append(b"(")
        first = True
        while True:
            if number[node]:
                if not first:
                    out.append(b" ")
                out.append(b"%d" % number[node])
                first = False
            k = kids[node]
            if k and len(k) == 1:
                node = k[0]
                continue
            break
        if k:
            if not first:
                out.append(b" ")
            stack.append(NONE)
            stack.extend(reversed(k))
        else:
            out.append(b")")
    return b"".join(out)
