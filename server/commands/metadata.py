"""METADATA and METADATA-SERVER (RFC 5464): GETMETADATA and SETMETADATA.

Who may do what (RFC 5464 §3.3):
- On a mailbox: the "l" right and any one of "r", "s", "w", "i", "p" (RFC 4314), to read
  or to set, private or shared entries alike. Without "l" the mailbox is answered as not
  existing (RFC 4314 §6); with "l" but none of the others, NO [NOPERM].
- On the server (mailbox ""): everybody may read; private entries are everybody's own to
  set; shared ones, seen by every user, only the administrators of ``auth.admins`` may set
  ("Servers MAY restrict the creation of private or shared server annotations ... the
  server MUST return a NO response"). /shared/admin is read-only (§3.2.1.1), from the
  ``metadata.admin`` setting.

Limits (§4.1, §4.3): ``metadata.max_size`` octets per value (``[METADATA MAXSIZE n]``),
``metadata.max_entries`` per mailbox and ``metadata.max_user_entries`` private entries per
user (``[METADATA TOOMANY]``); ``metadata.private = false`` answers
``[METADATA NOPRIVATE]``.
"""

from __future__ import annotations

from crispin.protocol import (
    Atom,
    GetMetadata,
    Literal8,
    Mailbox,
    MetadataDepth,
    SetMetadata,
    Value,
)
from crispin.server import names
from crispin.server.access import mailbox_for, nonexistent
from crispin.server.metadata_events import ACCESS_RIGHTS, entry_item
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session
from crispin.storage import MetadataLimits, MetadataTooBig, MetadataTooMany

ADMIN_ENTRY = "/shared/admin"


def limits(session: Session) -> MetadataLimits:
    cfg = session.server.config
    return MetadataLimits(
        max_size=int(cfg.get("metadata", "max_size")),
        max_entries=int(cfg.get("metadata", "max_entries")),
        max_user_entries=int(cfg.get("metadata", "max_user_entries")),
    )


async def target(session: Session, mailbox: str) -> int | None:
    """The mailbox id the command is about, None for the server ("", §4.1); NO unless the
    user may use its annotations (§3.3)."""
    if mailbox == "":
        return None
    # §4.1: annotations on \\Noselect mailboxes too.
    access = await mailbox_for(session, mailbox, allow_noselect=True)
    if "l" not in access.rights:
        raise nonexistent()
    if not ACCESS_RIGHTS & set(access.rights):
        raise CommandFailed("Permission denied (needs the 'l' right and one of 'rswip')",
                            "NOPERM")
    return access.info.id


def value_item(value: bytes) -> Value:
    """``value = nstring / literal8``: NUL cannot travel in a string (RFC 3501 §4.3)."""
    return Literal8(value) if b"\0" in value else value


def _selected(found: dict[str, bytes], asked: str, depth: MetadataDepth) -> list[str]:
    """The entries of ``found`` that answer ``asked`` at ``depth`` (§4.2.2), in order."""
    out = [asked] if asked in found else []
    level = asked.count("/") + 1
    for name in sorted(found):
        if name.startswith(asked + "/") and (
                depth is MetadataDepth.INFINITY
                or (depth is MetadataDepth.ONE and name.count("/") == level)):
            out.append(name)
    return out


async def getmetadata(session: Session, tag: str, cmd: GetMetadata) -> Result:
    """RFC 5464 §4.2, with MAXSIZE (§4.2.1) and DEPTH (§4.2.2)."""
    assert session.user is not None
    mailbox_id = await target(session, cmd.mailbox)
    found = await session.server.store.get_metadata(
        mailbox_id, session.user.id, list(cmd.entries),
        infinite=cmd.depth is MetadataDepth.INFINITY)
    admin = str(session.server.config.get("metadata", "admin"))
    if mailbox_id is None and admin:
        found[ADMIN_ENTRY] = admin.encode()
    items: list[Value] = []
    seen: set[str] = set()
    longest = 0
    for asked in cmd.entries:
        hits = [n for n in _selected(found, asked, cmd.depth) if n not in seen]
        seen.update(hits)
        if not hits and asked not in seen:
            # No such entry: NIL, so the required METADATA response (§4.2) says so (as
            # Dovecot answers); entries found below an entry stand without it (§4.2.2).
            seen.add(asked)
            items += [entry_item(asked), None]
        for name in hits:
            value = found[name]
            if cmd.maxsize is not None and len(value) > cmd.maxsize:
                longest = max(longest, len(value))  # §4.2.1: left out, counted
                continue
            items += [entry_item(name), value_item(value)]
    if items:
        shown = "" if mailbox_id is None else names.normalize(cmd.mailbox)
        session.untagged(Atom("METADATA"), Mailbox(shown), items)
    if longest:
        return Result("GETMETADATA completed", "METADATA", (Atom("LONGENTRIES"), longest))
    return Result("GETMETADATA completed")


async def setmetadata(session: Session, tag: str, cmd: SetMetadata) -> Result:
    """RFC 5464 §4.3: all the entries or none."""
    assert session.user is not None
    mailbox_id = await target(session, cmd.mailbox)
    private_ok = bool(session.server.config.get("metadata", "private"))
    for name, _ in cmd.entries:
        private = name.startswith("/private/")
        if private and not private_ok:
            raise CommandFailed("Private annotations are not supported", "METADATA",
                                code_args=(Atom("NOPRIVATE"),))
        if mailbox_id is None and name == ADMIN_ENTRY:
            raise CommandFailed(f"{ADMIN_ENTRY} is read-only", "NOPERM")
        if mailbox_id is None and not private \
                and session.user.name not in session.server.admins:
            raise CommandFailed("Only administrators may set shared server annotations",
                                "NOPERM")
    # Not reported back to this session (RFC 5464 §4.4): its commit report names it.
    try:
        await session.server.store.set_metadata(mailbox_id, session.user.id,
                                                list(cmd.entries), limits(session))
    except MetadataTooBig as exc:
        raise CommandFailed("Annotation value too large", "METADATA",
                            code_args=(Atom("MAXSIZE"), exc.limit)) from None
    except MetadataTooMany:
        raise CommandFailed("Too many annotations", "METADATA",
                            code_args=(Atom("TOOMANY"),)) from None
    return Result("SETMETADATA completed")
