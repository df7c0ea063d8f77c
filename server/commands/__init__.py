"""The command table: which handler runs a command and in which states (RFC 3501 §3, §6).

Like Dovecot's command table, the rules are data: a later column will state how pending
mailbox updates may be flushed after each command (RFC 3501 §7.4.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import protocol as p
from server.commands import (
    acl,
    auth,
    basic,
    copy,
    fetch,
    idle,
    listing,
    mailboxes,
    quota,
    search,
    selected,
    session_info,
    store,
)
from server.session import ANY, AUTH, NOT_AUTH, SELECTED, Handler, State


@dataclass(frozen=True)
class CommandSpec:
    handler: Handler
    states: frozenset[State]


TABLE: dict[type, CommandSpec] = {
    p.Capability: CommandSpec(basic.capability, ANY),
    p.Noop: CommandSpec(basic.noop, ANY),
    p.Logout: CommandSpec(basic.logout, ANY),
    p.StartTLS: CommandSpec(auth.starttls, NOT_AUTH),
    p.Login: CommandSpec(auth.login, NOT_AUTH),
    p.Authenticate: CommandSpec(auth.authenticate, NOT_AUTH),
    p.Create: CommandSpec(mailboxes.create, AUTH),
    p.Delete: CommandSpec(mailboxes.delete, AUTH),
    p.Rename: CommandSpec(mailboxes.rename, AUTH),
    p.Subscribe: CommandSpec(mailboxes.subscribe, AUTH),
    p.Unsubscribe: CommandSpec(mailboxes.unsubscribe, AUTH),
    p.Status: CommandSpec(mailboxes.status, AUTH),
    p.List: CommandSpec(listing.list_, AUTH),
    p.Lsub: CommandSpec(listing.lsub, AUTH),
    p.Select: CommandSpec(selected.select, AUTH),
    p.Examine: CommandSpec(selected.examine, AUTH),
    p.Check: CommandSpec(selected.check, SELECTED),
    p.Close: CommandSpec(selected.close, SELECTED),
    p.Unselect: CommandSpec(selected.unselect, SELECTED),
    p.Expunge: CommandSpec(selected.expunge, SELECTED),
    p.Fetch: CommandSpec(fetch.fetch, SELECTED),
    p.Store: CommandSpec(store.store, SELECTED),
    p.Search: CommandSpec(search.search, SELECTED),
    p.Copy: CommandSpec(copy.copy, SELECTED),
    p.Move: CommandSpec(copy.move, SELECTED),
    p.Idle: CommandSpec(idle.idle, AUTH),
    p.Id: CommandSpec(session_info.id_, ANY),
    p.Namespace: CommandSpec(session_info.namespace, AUTH),
    p.Enable: CommandSpec(session_info.enable, frozenset({State.AUTHENTICATED})),
    p.Compress: CommandSpec(session_info.compress, AUTH),
    p.SetAcl: CommandSpec(acl.setacl, AUTH),
    p.DeleteAcl: CommandSpec(acl.deleteacl, AUTH),
    p.GetAcl: CommandSpec(acl.getacl, AUTH),
    p.ListRights: CommandSpec(acl.listrights, AUTH),
    p.MyRights: CommandSpec(acl.myrights, AUTH),
    p.GetQuotaRoot: CommandSpec(quota.getquotaroot, AUTH),
    p.GetQuota: CommandSpec(quota.getquota, AUTH),
    p.SetQuota: CommandSpec(quota.setquota, AUTH),
}
