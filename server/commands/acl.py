"""Access control lists (RFC 4314 §3): SETACL, DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS.

Rights are kept as the letters of RFC 4314 §2.1. The obsolete "c" and "d" (RFC 2086) are
accepted and reported as §2.1.1 asks, taking "c" as "k" and "d" as "xte" (the second reading
of §2.1.1, as Dovecot does: RIGHTS=texk).
"""

from __future__ import annotations

from crispin.protocol import Atom, DeleteAcl, GetAcl, ListRights, Mailbox, MyRights, SetAcl, Value
from crispin.server import names
from crispin.server.access import ALL_RIGHTS, Access, mailbox_for
from crispin.server.grants import change_rights
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session

CREATE_MEMBERS = "k"
DELETE_MEMBERS = "xte"


def expand(rights: str) -> str:
    """Client rights to stored rights: obsolete letters expanded, order canonical."""
    letters: set[str] = set()
    for ch in rights:
        if ch == "c":
            letters.update(CREATE_MEMBERS)
        elif ch == "d":
            letters.update(DELETE_MEMBERS)
        elif ch in ALL_RIGHTS:
            letters.add(ch)
        else:
            raise CommandFailed(f"Unknown right {ch!r}", status="BAD")
    return "".join(r for r in ALL_RIGHTS if r in letters)


def shown(rights: str) -> str:
    """RFC 4314 §2.1.1: "c" and "d" go along with their member rights in responses."""
    extra = ("c" if set(CREATE_MEMBERS) & set(rights) else "") + \
        ("d" if set(DELETE_MEMBERS) & set(rights) else "")
    return rights + extra


def _as_astring(identifier: str) -> Value:
    """Identifiers go out as atoms when they can (RFC 3501 astring), as Dovecot sends them:
    some clients (imapclient) do not unquote them."""
    if identifier and identifier.isascii() and all(
            c.isprintable() and c not in '(){ %*"\\]' for c in identifier):
        return Atom(identifier)
    return identifier


def _identifier(text: str) -> str:
    if not text or text in ("-",) or any(ord(c) < 0x20 for c in text):
        raise CommandFailed("Invalid identifier", status="BAD")
    return text


async def _admin_access(session: Session, name: str) -> Access:
    return await mailbox_for(session, name, "a", allow_noselect=True)


async def setacl(session: Session, tag: str, cmd: SetAcl) -> Result:
    """RFC 4314 §3.1: "+" adds to, "-" removes from, otherwise replaces the rights."""
    access = await _admin_access(session, cmd.mailbox)
    identifier = _identifier(cmd.identifier)
    mode, letters = (cmd.rights[0], cmd.rights[1:]) if cmd.rights[:1] in ("+", "-") \
        else ("", cmd.rights)
    await change_rights(session.server.store, session.server.config, access.info, identifier,
                        mode, expand(letters))
    return Result("SETACL completed")


async def deleteacl(session: Session, tag: str, cmd: DeleteAcl) -> Result:
    """RFC 4314 §3.2."""
    access = await _admin_access(session, cmd.mailbox)
    await session.server.store.delete_acl(access.info.id, _identifier(cmd.identifier))
    return Result("DELETEACL completed")


async def getacl(session: Session, tag: str, cmd: GetAcl) -> Result:
    """RFC 4314 §3.3: the owner (with the rights owning implies) first, then the list."""
    access = await _admin_access(session, cmd.mailbox)
    store = session.server.store
    items: list[Value] = [Atom("ACL"), Mailbox(names.normalize(cmd.mailbox))]
    owner = None
    if access.info.owner_id is not None:
        user = await store.get_user_by_id(access.info.owner_id)
        if user is not None:
            owner = user.name
            items += [_as_astring(owner), Atom(shown(ALL_RIGHTS))]
    for entry in await store.get_acl(access.info.id):
        if entry.identifier != owner:
            items += [_as_astring(entry.identifier), Atom(shown(entry.rights))]
    session.untagged(*items)
    return Result("GETACL completed")


async def listrights(session: Session, tag: str, cmd: ListRights) -> Result:
    """RFC 4314 §3.4: rights always granted, then each right that may be granted."""
    access = await _admin_access(session, cmd.mailbox)
    identifier = _identifier(cmd.identifier)
    store = session.server.store
    owner = None
    if access.info.owner_id is not None:
        user = await store.get_user_by_id(access.info.owner_id)
        owner = None if user is None else user.name
    if identifier == owner:
        required: Value = Atom(ALL_RIGHTS)
        optional: list[Value] = []
    else:
        required, optional = "", [Atom(r) for r in (*ALL_RIGHTS, "c", "d")]
    session.untagged(Atom("LISTRIGHTS"), Mailbox(names.normalize(cmd.mailbox)),
                     _as_astring(identifier), required, *optional)
    return Result("LISTRIGHTS completed")


async def myrights(session: Session, tag: str, cmd: MyRights) -> Result:
    """RFC 4314 §3.5: any of "l r i k x a" lets a user ask."""
    access = await mailbox_for(session, cmd.mailbox, allow_noselect=True)
    if not set("lrikxa") & set(access.rights):
        raise CommandFailed("Mailbox does not exist", "NONEXISTENT")
    session.untagged(Atom("MYRIGHTS"), Mailbox(names.normalize(cmd.mailbox)),
                     Atom(shown(access.rights)))
    return Result("MYRIGHTS completed")
