"""LIST and LSUB (RFC 3501 §6.3.8, §6.3.9) with the CHILDREN attributes (RFC 3348)."""

from __future__ import annotations

from protocol import Atom, List, Lsub, Mailbox, Value
from server import names
from server.commands.mailboxes import user_id
from server.session import CommandFailed, Result, Session

NOSELECT = Atom("\\Noselect")
HAS_CHILDREN = Atom("\\HasChildren")
HAS_NO_CHILDREN = Atom("\\HasNoChildren")


def _order(name: str) -> tuple[int, str]:
    return (0 if name == "INBOX" else 1, name)


async def list_(session: Session, tag: str, cmd: List) -> Result:
    if cmd.selection or cmd.returns or len(cmd.patterns) != 1:
        # LIST-EXTENDED (RFC 5258) syntax parses, but it is not advertised yet.
        raise CommandFailed("LIST-EXTENDED is not supported", status="BAD")
    pattern = cmd.patterns[0]
    if pattern == "":
        # RFC 3501 §6.3.8: an empty pattern asks for the delimiter and the root name.
        session.untagged(Atom("LIST"), [NOSELECT], names.DELIMITER, "")
        return Result("LIST completed")
    matcher = names.pattern_matcher(names.join_reference(cmd.reference, pattern))
    mailboxes = await session.server.store.list_mailboxes(user_id(session))
    all_names = {m.name for m in mailboxes}
    parents = {p for n in all_names for p in names.parent_names(n)}
    for info in sorted(mailboxes, key=lambda m: _order(m.name)):
        if matcher.fullmatch(info.name) is None:
            continue
        attrs: list[Value] = [NOSELECT] if info.noselect else []
        attrs.append(HAS_CHILDREN if info.name in parents else HAS_NO_CHILDREN)
        session.untagged(Atom("LIST"), attrs, names.DELIMITER, Mailbox(info.name))
    return Result("LIST completed")


async def lsub(session: Session, tag: str, cmd: Lsub) -> Result:
    """RFC 3501 §6.3.9, including its special case: with "%", a subscribed "foo/bar" whose
    parent "foo" is not subscribed makes LSUB return "foo" flagged \\Noselect."""
    if cmd.pattern == "":
        session.untagged(Atom("LSUB"), [NOSELECT], names.DELIMITER, "")
        return Result("LSUB completed")
    matcher = names.pattern_matcher(names.join_reference(cmd.reference, cmd.pattern))
    subscribed = set(await session.server.store.list_subscriptions(user_id(session)))
    existing = {m.name: m for m in await session.server.store.list_mailboxes(user_id(session))}
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
        session.untagged(Atom("LSUB"), attrs, names.DELIMITER, Mailbox(name))
    return Result("LSUB completed")
