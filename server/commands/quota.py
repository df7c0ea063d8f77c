"""QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA, SETQUOTA.

Quota roots as this user sees them: "" for their own mailboxes, "Other Users/bob" for a
user whose mailboxes are shared with them, "Shared/<top>" for a shared mailbox tree (its own
root). STORAGE is counted in units of 1024 octets, MESSAGE in messages (RFC 9208 §5).
SETQUOTA belongs to the administrators named in ``auth.admins`` (QUOTASET).
"""

from __future__ import annotations

from crispin.protocol import Atom, GetQuota, GetQuotaRoot, Mailbox, SetQuota, Value
from crispin.server import names
from crispin.server.access import mailbox_for
from crispin.server.outcome import CommandFailed, Result
from crispin.server.session import Session
from crispin.storage import Quota

RESOURCES = ("STORAGE", "MESSAGE")


async def root_name(session: Session, kind: str, root_id: int) -> str:
    assert session.user is not None
    store = session.server.store
    ns = session.server.namespaces
    if kind == "user":
        if root_id == session.user.id:
            return ""
        user = await store.get_user_by_id(root_id)
        return f"{ns.other}{user.name if user else root_id}"
    info = await store.get_mailbox_by_id(root_id)
    return ns.shared_name(info.name if info else str(root_id))


async def resolve_root(session: Session, name: str) -> tuple[str, int]:
    """The (kind, id) of a quota root this user may ask about: their own, or one that covers
    a mailbox they may see ("l", RFC 4314 §6); administrators may ask about any. A root the
    user may not see is answered exactly as one that does not exist: neither another
    user's usage nor their existence leaks (RFC 9208 §4.2 leaves the policy to us)."""
    assert session.user is not None
    store = session.server.store
    ns = session.server.namespaces
    admin = session.user.name in session.server.admins
    if name == "":
        return "user", session.user.id
    root: tuple[str, int] | None = None
    top = ""
    if name.startswith(ns.other):
        user = await store.get_user(name[len(ns.other):])
        if user is not None:
            root = "user", user.id
    elif name.startswith(ns.shared):
        top = name[len(ns.shared):].split(names.DELIMITER)[0]
        info = await store.get_shared_mailbox(top)
        if info is not None:
            root = "mailbox", info.id
    elif admin:
        user = await store.get_user(name)  # administrators may name a user directly
        if user is not None:
            root = "user", user.id
    if root is not None and (admin or await _sees_under(session, root, top)):
        return root
    raise CommandFailed("No such quota root", "NONEXISTENT")


async def _sees_under(session: Session, root: tuple[str, int], shared_top: str) -> bool:
    """Whether the user may see ("l") a mailbox the root covers: one of the user's, or one
    of the shared tree ``shared_top``."""
    assert session.user is not None
    visible = await session.server.store.visible_mailboxes(session.user.id, session.user.name)
    if root[0] == "user":
        return any(info.owner_id == root[1] for info, _, _ in visible)
    return any(info.owner_id is None and (info.name == shared_top or info.name.startswith(
        shared_top + names.DELIMITER)) for info, _, _ in visible)


def quota_items(quota: Quota | None) -> list[Value]:
    out: list[Value] = []
    if quota is not None:
        for res in quota.resources:
            out += [Atom(res.name), res.usage, res.limit]
    return out


async def getquotaroot(session: Session, tag: str, cmd: GetQuotaRoot) -> Result:
    """RFC 9208 §4.3: the mailbox's roots, then the quota of each."""
    access = await mailbox_for(session, cmd.mailbox, allow_noselect=True)
    if not set("lr") & set(access.rights):
        raise CommandFailed("Mailbox does not exist", "NONEXISTENT")
    store = session.server.store
    kind, root_id = await store.quota_root_of(access.info.id)
    mailbox = Mailbox(names.normalize(cmd.mailbox))
    items = quota_items(await store.get_quota(kind, root_id))
    if not items:
        # RFC 9208 §4.2.2: a mailbox "has no quota root associated with it" — the grammar
        # of §7 allows no empty QUOTA list (quota-list needs one quota-resource), and
        # Thunderbird logs a parser error for `* QUOTA "" ()`. Dovecot answers the same.
        session.untagged(Atom("QUOTAROOT"), mailbox)
        return Result("GETQUOTAROOT completed")
    name = await root_name(session, kind, root_id)
    # RFC 9208 §4.1.2: a QUOTA response for each listed root.
    session.untagged(Atom("QUOTAROOT"), mailbox, name)
    session.untagged(Atom("QUOTA"), name, items)
    return Result("GETQUOTAROOT completed")


async def getquota(session: Session, tag: str, cmd: GetQuota) -> Result:
    """RFC 9208 §4.2."""
    kind, root_id = await resolve_root(session, cmd.root)
    items = quota_items(await session.server.store.get_quota(kind, root_id))
    if not items:
        # No limit: no such quota root (see getquotaroot), and no QUOTA response can say
        # "unlimited" within RFC 9208 §7's grammar.
        raise CommandFailed("No quota is set on this root", "NONEXISTENT")
    session.untagged(Atom("QUOTA"), cmd.root, items)
    return Result("GETQUOTA completed")


async def setquota(session: Session, tag: str, cmd: SetQuota) -> Result:
    """RFC 9208 §4.1: administrators only; an empty list removes the limits."""
    assert session.user is not None
    if session.user.name not in session.server.admins:
        raise CommandFailed("Only administrators may set quotas", "NOPERM")
    limits = dict(cmd.resources)
    unknown = set(limits) - set(RESOURCES)
    if unknown:
        raise CommandFailed(f"Unsupported resource {sorted(unknown)[0]}", "CANNOT")
    kind, root_id = await resolve_root(session, cmd.root)
    store = session.server.store
    await store.set_quota(kind, root_id, limits.get("STORAGE"), limits.get("MESSAGE"))
    items = quota_items(await store.get_quota(kind, root_id))
    if items:  # RFC 9208 §4.1.3: QUOTA is optional here; "()" would break §7's grammar
        session.untagged(Atom("QUOTA"), cmd.root, items)
    return Result("SETQUOTA completed")
