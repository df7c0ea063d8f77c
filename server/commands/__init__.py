"""The command table: which handler runs a command, in which states (RFC 3501 §3, §6), and
how pending mailbox updates may be sent after it (RFC 3501 §7.4.1).

Like Dovecot's command table, the rules are data: ``crispin.server.command_spec`` documents the
columns and the whole update flow; ``Session`` applies them to every command alike.
"""

from __future__ import annotations

import crispin.protocol as p
from crispin.server.command_spec import CommandSpec, CommandTable, Expunges
from crispin.server.commands import (
    acl,
    append,
    auth,
    basic,
    copy,
    fetch,
    idle,
    listing,
    mailboxes,
    metadata,
    notify,
    quota,
    search,
    selected,
    session_info,
    sort,
    store,
    unauthenticate,
    urlauth,
)
from crispin.server.outcome import ANY, AUTH, NOT_AUTH, SELECTED, State

# RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH by message number.
BY_NUMBER = Expunges.UID_FORM

TABLE: dict[type, CommandSpec] = {
    p.Capability: CommandSpec(basic.capability, ANY),
    p.Noop: CommandSpec(basic.noop, ANY, sync_only=True),
    # RFC 3501 §6.1.3: nothing may follow the BYE but the tagged OK.
    # LOGOUT needs no right: the recheck before it could only find the user deleted, and
    # LOGOUT ends the session with its BYE anyway (RFC 3501 §6.1.3); one read less.
    p.Logout: CommandSpec(basic.logout, ANY, updates=False, checks_access=True),
    p.StartTLS: CommandSpec(auth.starttls, NOT_AUTH),
    p.Login: CommandSpec(auth.login, NOT_AUTH),
    p.Authenticate: CommandSpec(auth.authenticate, NOT_AUTH),
    # RFC 8437 §6: command-auth and command-select; the selected mailbox goes without an
    # expunge event (§3), so no updates follow.
    p.Unauthenticate: CommandSpec(unauthenticate.unauthenticate, AUTH, updates=False),
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
    p.Check: CommandSpec(selected.check, SELECTED, sync_only=True),
    p.Close: CommandSpec(selected.close, SELECTED, checks_access=True),
    p.Unselect: CommandSpec(selected.unselect, SELECTED),
    p.Expunge: CommandSpec(selected.expunge, SELECTED, checks_access=True),
    # FETCH and STORE answer their own flag changes (\\Seen, STORE) themselves.
    # FETCH rechecks access itself: a FETCH of one message in its own read (issue 14).
    p.Fetch: CommandSpec(fetch.fetch, SELECTED, BY_NUMBER, echo=False, checks_access=True),
    p.Store: CommandSpec(store.store, SELECTED, BY_NUMBER, echo=False, checks_access=True),
    # SEARCH rechecks access itself: a plain SEARCH in the read that finds (issue 14).
    p.Search: CommandSpec(search.search, SELECTED, BY_NUMBER, checks_access=True),
    # RFC 5256 §3: no EXPUNGE during SORT or THREAD either; their UID forms may.
    p.Sort: CommandSpec(sort.sort, SELECTED, BY_NUMBER),
    p.Thread: CommandSpec(sort.thread, SELECTED, BY_NUMBER),
    p.CancelUpdate: CommandSpec(search.cancelupdate, SELECTED),  # RFC 5267 §4.3.5
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
    p.GetMetadata: CommandSpec(metadata.getmetadata, AUTH),  # RFC 5464 §4.2
    p.SetMetadata: CommandSpec(metadata.setmetadata, AUTH),  # RFC 5464 §4.3
    # RFC 5465 §8: command-auth; an implicit NOOP (§3.1), so updates may follow it.
    p.Notify: CommandSpec(notify.notify, AUTH),
    # RFC 4467 §7: command-auth.
    p.ResetKey: CommandSpec(urlauth.resetkey, AUTH),
    p.GenUrlAuth: CommandSpec(urlauth.genurlauth, AUTH),
    p.UrlFetch: CommandSpec(urlauth.urlfetch, AUTH),
}


COMMANDS = CommandTable(TABLE, append.handle_append_event, append.abandon)

__all__ = ["COMMANDS", "TABLE", "CommandSpec", "Expunges"]
