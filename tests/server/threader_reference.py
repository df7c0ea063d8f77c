"""The THREAD algorithms as they were before issue 15's speed work (one ``_Node`` object per
container, the rows as objects): kept only as the reference that
``test_threader_property.py`` compares ``crispin.server.threader`` with, on random message sets.
Not used by the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True, slots=True)
class ThreadRow:
    """What THREAD needs of one message (RFC 5256 §3), as the old code read it."""

    uid: int
    date: int
    subject: str
    reply: bool
    message_id: str | None
    references: tuple[str, ...]



class _Node:
    __slots__ = ("at_root", "children", "number", "own_key", "parent", "row")

    def __init__(self, row: ThreadRow | None = None, number: int = 0) -> None:
        self.row = row
        self.number = number
        self.own_key = (0, 0) if row is None else (row.date, number)
        self.parent: _Node | None = None
        self.children: list[_Node] = []
        self.at_root = False

    def fill(self, row: ThreadRow, number: int) -> None:
        """A dummy found to be this message after all."""
        self.row, self.number, self.own_key = row, number, (row.date, number)

    @property
    def dummy(self) -> bool:
        return self.row is None

    def key(self) -> tuple[int, int]:
        """(sent date, sequence number), of the first child for a dummy."""
        node = self
        while node.row is None:
            if not node.children:
                return (0, 0)
            node = node.children[0]
        return node.own_key

    def subject(self) -> str:
        """The thread subject (step 5.B.i): its own, or its first child's for a dummy."""
        node = self
        while node.row is None:
            if not node.children:
                return ""
            node = node.children[0]
        return node.row.subject

    def is_reply(self) -> bool:
        return self.row is not None and self.row.reply


def _descends(node: _Node, ancestor: _Node) -> bool:
    """Whether ``node`` is ``ancestor`` or below it (a leaf ``ancestor`` has nothing
    below it: no walk up a long reply chain for the common case)."""
    if not ancestor.children:
        return node is ancestor
    cur: _Node | None = node
    while cur is not None:
        if cur is ancestor:
            return True
        cur = cur.parent
    return False


def _link(parent: _Node, child: _Node) -> None:
    child.parent = parent
    parent.children.append(child)


def _unlink(child: _Node) -> None:
    assert child.parent is not None
    child.parent.children.remove(child)
    child.parent = None


def _build(rows: Iterable[tuple[ThreadRow, int]]) -> list[_Node]:
    """Steps 1 and 2: the parent/child links from Message-IDs and references; returns the
    containers without a parent (messages and dummies), in order of creation."""
    by_id: dict[str, _Node] = {}
    nodes: list[_Node] = []

    def container(mid: str) -> _Node:
        node = by_id.get(mid)
        if node is None:
            node = by_id[mid] = _Node()
            nodes.append(node)
        return node

    for row, number in rows:
        mid = row.message_id
        node: _Node
        if mid is not None and mid in by_id and by_id[mid].row is None:
            node = by_id[mid]  # a dummy created by an earlier reference: it is this one
            node.fill(row, number)
        else:
            # No Message-ID, or one already used by a lower sequence number: a unique id,
            # which no reference can name.
            node = _Node(row, number)
            nodes.append(node)
            if mid is not None and mid not in by_id:
                by_id[mid] = node
        refs = row.references
        # (1.A) each reference the parent of the next, unless already parented or a loop.
        for a, b in pairwise(refs):
            parent, child = container(a), container(b)
            if child.parent is None and not _descends(parent, child):
                _link(parent, child)
        # (1.B) the last reference is the parent of this message (its old link broken).
        if node.parent is not None:
            _unlink(node)
        if refs:
            parent = container(refs[-1])
            if not _descends(parent, node):
                _link(parent, node)
    return [n for n in nodes if n.parent is None]


def _prune(roots: list[_Node]) -> list[_Node]:
    """Step 3: dummies without children go; dummies with children are replaced by them,
    except at the top when that would put several children at the root."""
    # Post-order without recursion: rebuild each node's children after its children.
    stack: list[tuple[_Node, bool]] = [(n, False) for n in roots]
    while stack:
        node, done = stack.pop()
        if not done:
            stack.append((node, True))
            stack.extend((c, False) for c in node.children)
            continue
        node.children = _splice(node.children, node, top=False)
    return _splice(roots, None, top=True)


def _splice(children: list[_Node], parent: _Node | None, top: bool) -> list[_Node]:
    out: list[_Node] = []
    for c in children:
        if c.row is not None:
            out.append(c)
        elif not c.children:
            continue
        elif not top or len(c.children) == 1:
            for g in c.children:
                g.parent = parent
                out.append(g)
        else:
            out.append(c)
    return out


def _sort_all(roots: list[_Node]) -> None:
    """Step 6: every sibling set by sent date, deepest first (a dummy sorts as its first
    child, which must be in place first); the top level last."""
    order: list[_Node] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    for node in reversed(order):
        if len(node.children) > 1:
            node.children.sort(key=_Node.key)
    roots.sort(key=_Node.key)


def _merge_subjects(roots: list[_Node]) -> list[_Node]:
    """Step 5: threads at the top with the same base subject gathered."""
    table: dict[str, _Node] = {}
    for node in roots:
        node.at_root = True
        subject = node.subject()
        if not subject:
            continue
        old = table.get(subject)
        # (iv) the first of a subject, or a better one: a dummy, or a non-reply over a reply.
        better = node.dummy or (old is not None and old.is_reply() and not node.is_reply())
        if old is None or (not old.dummy and better):
            table[subject] = node
    out: list[_Node] = []
    where: dict[int, int] = {}  # id(node) -> its index in out
    for node in roots:
        if not node.at_root:
            continue
        subject = node.subject()
        old = table.get(subject) if subject else None
        if old is None or old is node:
            where[id(node)] = len(out)
            out.append(node)
            continue
        node.at_root = False
        if old.dummy and node.dummy:
            for c in node.children:
                _link(old, c)
            node.children = []
        elif old.dummy or (node.is_reply() and not old.is_reply()):
            _link(old, node)
        else:
            dummy = _Node()
            dummy.at_root = True
            old.at_root = False
            _replace(out, where, old, dummy)
            _link(dummy, old)
            _link(dummy, node)
            table[subject] = dummy
    return [n for n in out if n.at_root]


def _replace(out: list[_Node], where: dict[int, int], old: _Node, new: _Node) -> None:
    """Put ``new`` where ``old`` is in the top level being built (or append it: ``old``
    may come later in the top level, and is then skipped there)."""
    i = where.pop(id(old), None)
    if i is None:
        i = len(out)
        out.append(new)
    else:
        out[i] = new
    where[id(new)] = i


def references(rows: Iterable[tuple[ThreadRow, int]]) -> list[_Node]:
    """RFC 5256 §3 REFERENCES, steps 1-6."""
    roots = _prune(_build(rows))
    for node in roots:  # step 4 needs a dummy's first child: sort dummies' children
        if node.dummy:
            node.children.sort(key=_Node.key)
    roots.sort(key=_Node.key)
    roots = _merge_subjects(roots)
    _sort_all(roots)
    return roots


def refs(rows: Iterable[tuple[ThreadRow, int]]) -> list[_Node]:
    """Dovecot's REFS: steps 1-3 and 6 of REFERENCES, threads by their newest message."""
    roots = _prune(_build(rows))
    _sort_all(roots)
    newest: dict[int, tuple[int, int]] = {}
    for root in roots:
        best = (0, 0)
        stack = [root]
        while stack:
            node = stack.pop()
            if node.row is not None:
                best = max(best, (node.row.date, node.number))
            stack.extend(node.children)
        newest[id(root)] = best
    roots.sort(key=lambda n: newest[id(n)])
    return roots


def ordered_subject(rows: Iterable[tuple[ThreadRow, int]]) -> list[_Node]:
    """RFC 5256 §3 ORDEREDSUBJECT: by base subject then sent date, split by subject, the
    threads by their first message's sent date; later messages children of the first."""
    ordered = sorted(rows, key=lambda rn: (rn[0].subject, rn[0].date, rn[1]))
    roots: list[_Node] = []
    subject: str | None = None
    root = _Node()
    for row, number in ordered:
        node = _Node(row, number)
        if row.subject == subject:
            root.children.append(node)
        else:
            root = node
            roots.append(node)
            subject = row.subject
    roots.sort(key=_Node.key)
    return roots


ALGORITHMS = {"ORDEREDSUBJECT": ordered_subject, "REFERENCES": references, "REFS": refs}


def render(roots: list[_Node]) -> bytes:
    """RFC 5256 §5 ``1*thread-list``: a chain of single children as ``a b c``, a split
    as nested lists; a dummy contributes only its children."""
    out: list[bytes] = []
    # Work items: a node to open as a list, or a literal byte string to emit.
    stack: list[_Node | bytes] = [n for n in reversed(roots)]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes):
            out.append(item)
            continue
        out.append(b"(")
        node = item
        first = True
        while True:
            if node.row is not None:
                if not first:
                    out.append(b" ")
                out.append(str(node.number).encode())
                first = False
            if len(node.children) == 1:
                node = node.children[0]
                continue
            break
        if node.children:
            if not first:
                out.append(b" ")
            stack.append(b")")
            stack.extend(reversed(node.children))
        else:
            out.append(b")")
    return b"".join(out)
