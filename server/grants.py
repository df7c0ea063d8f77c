"""Changing a mailbox's access control list (RFC 4314 §3.1), from SETACL and from
``crispin acl set`` alike.

A grantee who is given the "l" right for the first time is also subscribed to the mailbox,
under the name they see it by ("Other Users/alice/Projects", "Shared/support"): Thunderbird
and many other clients show only subscribed folders, so an unsubscribed share looks broken.
Only a first grant subscribes (a user who unsubscribes later stays unsubscribed), only a
user (not "anyone": that would subscribe every account, nor a negative "-name"), and only
with ``acl.subscribe_on_grant`` on (the default).
"""

from __future__ import annotations

from crispin.server.config import Config
from crispin.server.namespaces import Namespaces
from crispin.storage import MailboxInfo, Store

ANYONE = "anyone"


async def change_rights(store: Store, config: Config, info: MailboxInfo, identifier: str,
                        mode: str, letters: str) -> str:
    """Apply RFC 4314 §3.1's SETACL: ``mode`` "+" adds ``letters`` (expanded rights) to
    the identifier's, "-" removes them, "" replaces them. Returns the new rights."""
    before = {e.identifier: e.rights for e in await store.get_acl(info.id)}.get(identifier, "")
    if mode == "+":
        rights = "".join(dict.fromkeys(before + letters))
    elif mode == "-":
        rights = "".join(r for r in before if r not in letters)
    else:
        rights = letters
    await store.set_acl(info.id, identifier, rights)
    if "l" in rights and "l" not in before and config.get("acl", "subscribe_on_grant"):
        await _subscribe_grantee(store, config, info, identifier)
    return rights


async def _subscribe_grantee(store: Store, config: Config, info: MailboxInfo,
                             identifier: str) -> None:
    if identifier.lower() == ANYONE or identifier.startswith("-"):
        return
    grantee = await store.get_user(identifier)
    if grantee is None or grantee.id == info.owner_id:
        return
    ns = Namespaces(config)
    if info.owner_id is None:
        name = ns.shared_name(info.name)
    else:
        owner = await store.get_user_by_id(info.owner_id)
        if owner is None:
            return
        name = ns.other_name(owner.name, info.name)
    await store.subscribe(grantee.id, name)
