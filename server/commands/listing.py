"""LIST and LSUB: RFC 3501 §6.3.8-9, CHILDREN (RFC 3348), LIST-EXTENDED (RFC 5258),
LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154)."""

from __future__ import annotations

from dataclasses import dataclass, field

from crispin.protocol import Atom, List, Lsub, Mailbox, UndecodableName, Value
from crispin.server import names
from crispin.server.access import ALL_RIGHTS
from crispin.server.commands.mailboxes import (
    STATUS_ITEMS,
    check_status_items,
    status_values,
    user_id,
)
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session
from crispin.storage import MailboxInfo

NOSELECT = Atom("\\Noselect")
NONEXISTENT = Atom("\\NonExistent")
SUBSCRIBED = Atom("\\Subscribed")
HAS_CHILDREN = Atom("\\HasChildren")
HAS_NO_CHILDREN = Atom("\\HasNoChildren")

SELECTION_OPTIONS = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
RETURN_OPTIONS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS", "MYRIGHTS"})


def undecodable(*values: str) -> bool:
    return any(isinstance(v, UndecodableName) for v in values)


def _order(name: str) -> tuple[int, str]:
    return (0 if name == "INBOX" else 1, name)


def special_use_atoms(info: MailboxInfo | None) -> list[Value]:
    if info is None or not info.special_use:
        return []
    return [Atom(a) for a in info.special_use.split()]


@dataclass
class Entry:
    name: str
    info: MailboxInfo | None
    subscribed: bool
    child_subscribed: bool = False
    attrs: list[Value] = field(default_factory=list)


@dataclass(frozen=True)
class Visible:
    """A name the user can see: a mailbox with the user's rights on it, or (``info``
    None) a \\Noselect level of the namespace tree such as "Other Users/bob"."""

    info: MailboxInfo | None
    rights: str


async def visible_tree(session: Session) -> dict[str, Visible]:
    """Every name this user may see (RFC 4314 "l" right), under its client name: their
    own mailboxes, others' shared with them under "Other Users/<owner>/", shared ones
    under "Shared/", and the \\Noselect levels that lead to them (RFC 2342)."""
    assert session.user is not None
    store = session.server.store
    ns = session.server.namespaces
    tree = {m.name: Visible(m, ALL_RIGHTS)
            for m in await store.list_mailboxes(session.user.id)}
    other_root, shared_root = ns.roots()
    for info, rights, owner in await store.visible_mailboxes(session.user.id,
                                                             session.user.name):
        if owner is None:
            tree[ns.shared_name(info.name)] = Visible(info, rights)
            tree.setdefault(shared_root, Visible(None, ""))
        else:
            tree[ns.other_name(owner, info.name)] = Visible(info, rights)
            tree.setdefault(other_root, Visible(None, ""))
            tree.setdefault(f"{ns.other}{owner}", Visible(None, ""))
    return tree


def _parse_options(session: Session, cmd: List) -> tuple[set[str], dict[str, object]]:
    selection = set(cmd.selection)
    unknown = selection - SELECTION_OPTIONS
    if unknown:
        raise CommandFailed(f"Unknown LIST selection option {sorted(unknown)[0]}",
                            status="BAD")
    # RFC 5258 §3.1: RECURSIVEMATCH only refines another selection option.
    if "RECURSIVEMATCH" in selection and not selection - {"RECURSIVEMATCH", "REMOTE"}:
        raise CommandFailed("RECURSIVEMATCH needs another selection option", status="BAD")
    returns: dict[str, object] = {}
    for name, value in cmd.returns:
        if name not in RETURN_OPTIONS:
            raise CommandFailed(f"Unknown LIST return option {name}", status="BAD")
        if name == "STATUS":
            items = value if isinstance(value, tuple) else ()
            if not items or any(not isinstance(i, str) or i.upper() not in STATUS_ITEMS
                                for i in items):
                raise CommandFailed("Invalid STATUS return option", status="BAD")
            wanted = tuple(str(i).upper() for i in items)
            check_status_items(session, wanted)
            returns[name] = wanted
        else:
            returns[name] = True
    return selection, returns


async def list_(session: Session, tag: str, cmd: List) -> Result:
    selection, returns = _parse_options(session, cmd)
    if len(cmd.patterns) == 1 and cmd.patterns[0] == "" and not selection:
        # RFC 3501 §6.3.8: an empty pattern asks for the delimiter and the root name.
        session.untagged(Atom("LIST"), [NOSELECT], names.DELIMITER, "")
        return Result("LIST completed")
    store = session.server.store
    uid = user_id(session)
    tree = await visible_tree(session)
    mailboxes = {name: v.info for name, v in tree.items() if v.info is not None}
    virtual = {name for name, v in tree.items() if v.info is None}
    want_subscriptions = "SUBSCRIBED" in selection or "SUBSCRIBED" in returns
    subscribed = set(await store.list_subscriptions(uid)) if want_subscriptions else set()
    parents = {p for n in tree for p in names.parent_names(n)}
    # A pattern or reference that is not modified UTF-7 matches nothing (server/names.py).
    matchers = [names.pattern_matcher(names.join_reference(cmd.reference, p))
                for p in cmd.patterns if p != "" and not undecodable(cmd.reference, p)]

    def matches(name: str) -> bool:
        return any(m.fullmatch(name) is not None for m in matchers)

    def selected(name: str, info: MailboxInfo | None) -> bool:
        if "SUBSCRIBED" in selection and name not in subscribed:
            return False
        return not ("SPECIAL-USE" in selection and not special_use_atoms(info))

    entries: dict[str, Entry] = {}
    candidates = set(mailboxes) | (subscribed if "SUBSCRIBED" in selection else set())
    if not selection - {"REMOTE"}:
        candidates |= virtual
    for name in candidates:
        info = mailboxes.get(name)
        if matches(name) and selected(name, info):
            entries[name] = Entry(name, info, name in subscribed)
    if "RECURSIVEMATCH" in selection:
        # RFC 5258 §3.5: a matching name whose descendants meet the selection criteria is
        # returned with CHILDINFO, even if it does not meet them itself.
        # Only for children not listed themselves: a child matched by another pattern of
        # the same command makes the CHILDINFO redundant, which §3.5 says to suppress.
        listed = set(entries)
        for name in candidates:
            if not selected(name, mailboxes.get(name)) or name in listed:
                continue
            for parent in names.parent_names(name):
                if not matches(parent):
                    continue
                entry = entries.get(parent)
                if entry is None:
                    entry = entries[parent] = Entry(parent, mailboxes.get(parent),
                                                    parent in subscribed)
                entry.child_subscribed = True
    status_items = returns.get("STATUS")
    for name in sorted(entries, key=_order):
        entry = entries[name]
        info = entry.info
        attrs: list[Value] = []
        if name in virtual:
            attrs += [NOSELECT, HAS_CHILDREN]
        elif info is None:
            attrs.append(NONEXISTENT)
        else:
            if info.noselect:
                attrs.append(NOSELECT)
            attrs.append(HAS_CHILDREN if name in parents else HAS_NO_CHILDREN)
            attrs += special_use_atoms(info)
        if entry.subscribed and ("SUBSCRIBED" in selection or "SUBSCRIBED" in returns):
            attrs.append(SUBSCRIBED)
        extra: list[Value] = []
        if entry.child_subscribed and "SUBSCRIBED" in selection:
            extra = [["CHILDINFO", ["SUBSCRIBED"]]]
        session.untagged(Atom("LIST"), attrs, names.DELIMITER, Mailbox(name), *extra)
        rights = tree[name].rights if name in tree else ""
        if "MYRIGHTS" in returns and info is not None and name not in virtual:
            # RFC 8440 §3: MYRIGHTS follows the LIST response it belongs to.
            session.untagged(Atom("MYRIGHTS"), Mailbox(name), Atom(rights) if rights else "")
        if isinstance(status_items, tuple) and info is not None and not info.noselect \
                and "r" in rights:
            # RFC 5819 §2: the STATUS response follows the LIST response it belongs to.
            values = await status_values(session, info, status_items)
            session.untagged(Atom("STATUS"), Mailbox(name), values)
    return Result("LIST completed")


async def list_selected(session: Session, name: str, info: MailboxInfo) -> None:
    """The untagged LIST an IMAP4rev2 SELECT/EXAMINE returns (RFC 9051 §6.3.2), with the
    attributes LIST itself gives the mailbox."""
    name = names.normalize(name)
    prefix = name + names.DELIMITER
    children = any(other.startswith(prefix) for other in await visible_tree(session))
    attrs: list[Value] = [NOSELECT] if info.noselect else []
    attrs.append(HAS_CHILDREN if children else HAS_NO_CHILDREN)
    attrs += special_use_atoms(info)
    session.untagged(Atom("LIST"), attrs, names.DELIMITER, Mailbox(name))


async def lsub(session: Session, tag: str, cmd: Lsub) -> Result:
    """RFC 3501 §6.3.9, including its special case: with "%", a subscribed "foo/bar" whose
    parent "foo" is not subscribed makes LSUB return "foo" flagged \\Noselect."""
    if cmd.pattern == "":
        session.untagged(Atom("LSUB"), [NOSELECT], names.DELIMITER, "")
        return Result("LSUB completed")
    if undecodable(cmd.reference, cmd.pattern):
        return Result("LSUB completed")
    matcher = names.pattern_matcher(names.join_reference(cmd.reference, cmd.pattern))
    subscribed = set(await session.server.store.list_subscriptions(user_id(session)))
    existing = {name: v.info for name, v in (await visible_tree(session)).items()
                if v.info is not None}
    found: dict[str, bool] = {}
    for name in subscribed:
        if matcher.fullmatch(name) is not None:
            info = existing.get(name)
            found[name] = info is None or info.noselect
            continue
        for parent in names.parent_names(name):
            if parent not in subscribed and matcher.fullmatch(parent) is not None:
                found.setdefault(parent, True)
    for name in sorted(found, key=_order):
        attrs: list[Value] = [NOSELECT] if found[name] else []
        # RFC 6154 §2: special-use attributes in LSUB too (Outlook reads them there).
        attrs += special_use_atoms(existing.get(name))
        session.untagged(Atom("LSUB"), attrs, names.DELIMITER, Mailbox(name))
    return Result("LSUB completed")
