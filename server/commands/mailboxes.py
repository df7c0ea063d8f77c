"""Mailbox management in the authenticated state: CREATE, DELETE, RENAME, SUBSCRIBE,
UNSUBSCRIBE, STATUS (RFC 3501 §6.3)."""

from __future__ import annotations

import unicodedata

from crispin.protocol import (
    Atom,
    Create,
    Delete,
    Mailbox,
    Rename,
    Status,
    Subscribe,
    Unsubscribe,
    Value,
)
from crispin.server import names, objectid
from crispin.server.access import mailbox_for, rights_on
from crispin.server.namespaces import Place
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session
from crispin.server.storage_errors import failure
from crispin.storage import AlreadyExists, HasChildren, InvalidName, MailboxInfo, NotFound

STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ",
                "DELETED", "DELETED-STORAGE", "SIZE", "APPENDLIMIT", "MAILBOXID")


def user_id(session: Session) -> int:
    assert session.user is not None
    return session.user.id


def checked_name(name: str) -> str:
    """Normalise INBOX and refuse names storage cannot hold (RFC 5530 [CANNOT])."""
    name = names.normalize(name)
    if not names.is_valid(name):
        raise CommandFailed("Invalid mailbox name", "CANNOT")
    return name


async def existing_mailbox(session: Session, name: str, need: str = "r") -> MailboxInfo:
    """The mailbox, selectable, with the rights in ``need``; else NO [NONEXISTENT] or
    NO [NOPERM] (RFC 4314 §4)."""
    return (await mailbox_for(session, name, need)).info


async def _writable_place(session: Session, raw: str) -> Place:
    """Where a new name would go, if the user may create there: anywhere in their own
    namespace; elsewhere, with the "k" right on the nearest existing superior
    (RFC 4314 §4 CREATE). A UTF-8 name must be Net-Unicode, hence in NFC: RFC 9051 §5.1
    "Server implementations MUST prohibit the creation of 8-bit mailbox names that do not
    comply with Net-Unicode", RFC 6855 §3 likewise (a modified UTF-7 name of a rev1
    client is taken as it decodes)."""
    if session.utf8 and not unicodedata.is_normalized("NFC", raw):
        raise CommandFailed("Mailbox name not in Unicode NFC", "CANNOT")
    place = await session.server.namespaces.resolve(session, raw)
    if place.kind == "personal":
        return place
    if place.kind in ("virtual", "missing"):
        raise CommandFailed("Cannot create a mailbox here", "NOPERM")
    if not names.is_valid(place.name):
        raise CommandFailed("Invalid mailbox name", "CANNOT")
    for parent in reversed(names.parent_names(place.name)):
        info = await session.server.store.get_mailbox_in(place.owner_id, parent)
        if info is not None:
            rights = await rights_on(session, place, info)
            if "k" in rights:
                return place
            if "l" in rights:
                raise CommandFailed("Permission denied (needs the 'k' right)", "NOPERM")
            # RFC 4314 §6: a superior the user may not see answers exactly as a missing one.
    raise CommandFailed("Cannot create a mailbox here", "NOPERM")


SPECIAL_USE_ATTRS = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent",
                     "\\Trash")


def _special_use(cmd: Create) -> str | None:
    """CREATE-SPECIAL-USE (RFC 6154 §3): ``CREATE name (USE (\\Drafts))``."""
    use: str | None = None
    for name, value in cmd.params:
        if name != "USE":
            raise CommandFailed(f"Unknown CREATE parameter {name}", status="BAD")
        attrs = value if isinstance(value, tuple) else (value,)
        canon = {a.lower(): a for a in SPECIAL_USE_ATTRS}
        chosen = []
        for attr in attrs:
            if not isinstance(attr, str) or attr.lower() not in canon:
                raise CommandFailed(f"Unsupported special-use attribute {attr}", "USEATTR")
            chosen.append(canon[attr.lower()])
        use = " ".join(dict.fromkeys(chosen)) or None
    return use


async def create(session: Session, tag: str, cmd: Create) -> Result:
    """RFC 3501 §6.3.3: a trailing delimiter declares the intent to create inferiors and is
    dropped; missing superior levels are created; INBOX always exists."""
    special_use = _special_use(cmd)
    raw = cmd.mailbox
    if raw.endswith(names.DELIMITER):
        raw = raw[:-1]
    name = checked_name(raw)
    if name == "INBOX":
        raise CommandFailed("INBOX already exists", "ALREADYEXISTS")
    place = await _writable_place(session, name)
    # AlreadyExists, InvalidName: answered from ``crispin.server.storage_errors``.
    info = await session.server.store.create_mailbox_in(place.owner_id, place.name, special_use)
    # RFC 8474 §4.1: the new mailbox's MAILBOXID in the tagged OK.
    return Result("CREATE completed", "MAILBOXID", ([Atom(objectid.mailbox_id(info))],))


async def delete(session: Session, tag: str, cmd: Delete) -> Result:
    """RFC 3501 §6.3.4: INBOX cannot be deleted; a mailbox with inferiors loses its messages
    and becomes \\Noselect; deleting a \\Noselect mailbox that has inferiors fails."""
    name = names.normalize(cmd.mailbox)
    if name == "INBOX":
        raise CommandFailed("INBOX cannot be deleted", "CANNOT")
    access = await mailbox_for(session, name, "x", allow_noselect=True)
    if access.place.kind == "other" and access.place.name == "INBOX":
        raise CommandFailed("INBOX cannot be deleted", "CANNOT")
    # NotFound, HasChildren: answered from ``crispin.server.storage_errors``.
    try:
        await session.server.store.delete_mailbox_in(access.place.owner_id, access.place.name)
    except InvalidName as exc:
        raise failure(exc, "Mailbox cannot be deleted") from None
    except HasChildren:
        if not session.rev2:
            raise
        # RFC 9051 §6.3.4: "The NO response SHOULD include the HASCHILDREN response code"
        # (§7.1); rev1 sessions keep [CANNOT] (storage_errors).
        raise CommandFailed("Mailbox has inferior hierarchical names; delete them first",
                            "HASCHILDREN") from None
    return Result("DELETE completed")


async def rename(session: Session, tag: str, cmd: Rename) -> Result:
    """RFC 3501 §6.3.5: inferiors move along; renaming INBOX moves its messages into a new
    mailbox and leaves INBOX empty."""
    old = names.normalize(cmd.old)
    new = checked_name(cmd.new[:-1] if cmd.new.endswith(names.DELIMITER) else cmd.new)
    if new == "INBOX":
        raise CommandFailed("INBOX already exists", "ALREADYEXISTS")
    # RFC 4314 §4: "x" on the mailbox, "k" where it goes; and it stays with its owner.
    source = await mailbox_for(session, old, "x", allow_noselect=True)
    target = await _writable_place(session, new)
    if (target.kind, target.owner_id) != (source.place.kind, source.place.owner_id):
        raise CommandFailed("Cannot move a mailbox to another owner", "CANNOT")
    try:
        await session.server.store.rename_mailbox_in(source.place.owner_id, source.place.name,
                                                     target.name)
    except AlreadyExists as exc:
        raise failure(exc, "Target mailbox already exists") from None
    except InvalidName as exc:
        raise failure(exc, "Cannot rename a mailbox to that name") from None
    return Result("RENAME completed")


async def subscribe(session: Session, tag: str, cmd: Subscribe) -> Result:
    """RFC 3501 §6.3.6: like Dovecot, a name may be subscribed whether or not it exists."""
    name = checked_name(cmd.mailbox)
    await session.server.store.subscribe(user_id(session), name)
    return Result("SUBSCRIBE completed")


async def unsubscribe(session: Session, tag: str, cmd: Unsubscribe) -> Result:
    """RFC 3501 §6.3.7."""
    try:
        await session.server.store.unsubscribe(user_id(session), names.normalize(cmd.mailbox))
    except NotFound as exc:
        raise failure(exc, "Mailbox is not subscribed") from None
    return Result("UNSUBSCRIBE completed")


async def status_values(session: Session, info: MailboxInfo,
                        items: tuple[str, ...]) -> list[Value]:
    """The STATUS attribute list, in the order asked (RFC 3501 §6.3.10; DELETED and
    DELETED-STORAGE, in KiB like the STORAGE resource, from RFC 9208 §4.1.4; SIZE in
    octets, RFC 8438 §3; APPENDLIMIT, RFC 7889 §3.1; MAILBOXID, RFC 8474 §4.3)."""
    st = await session.server.store.mailbox_status(
        info.id, viewer=session.viewer, deleted_storage="DELETED-STORAGE" in items,
        size="SIZE" in items)
    values: dict[str, Value] = {"MESSAGES": st.messages, "RECENT": st.recent, "UIDNEXT": st.uidnext,
                                "UIDVALIDITY": st.uidvalidity, "UNSEEN": st.unseen,
                                "HIGHESTMODSEQ": st.highest_modseq, "DELETED": st.deleted,
                                "DELETED-STORAGE": st.deleted_storage, "SIZE": st.size,
                                "APPENDLIMIT": session.server.append_limit(),
                                "MAILBOXID": [Atom(objectid.mailbox_id(info))]}
    pairs: list[Value] = []
    for item in dict.fromkeys(items):
        pairs += [Atom(item), values[item]]
    return pairs


def check_status_items(session: Session, items: tuple[str, ...]) -> None:
    """BAD for an item the server does not know, and for RECENT from an IMAP4rev2 session
    (RFC 9051 §9 ``status-att`` has no RECENT, Appendix E item 12)."""
    for item in items:
        if item not in STATUS_ITEMS or (item == "RECENT" and session.rev2):
            raise CommandFailed(f"Unknown STATUS item {item}", status="BAD")


async def status(session: Session, tag: str, cmd: Status) -> Result:
    """RFC 3501 §6.3.10."""
    check_status_items(session, cmd.items)
    info = await existing_mailbox(session, cmd.mailbox, "r")
    if "HIGHESTMODSEQ" in cmd.items:
        session.enable_condstore()  # RFC 7162 §3.1.6
    values = await status_values(session, info, cmd.items)
    session.untagged(Atom("STATUS"), Mailbox(names.normalize(cmd.mailbox)), values)
    return Result("STATUS completed")
