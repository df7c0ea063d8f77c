"""``/api/faults``, ``/api/connections`` and the mailbox-level faults: make IMAP fail on
purpose (see ``server/faults.py`` for what each fault does)."""

from __future__ import annotations

import asyncio
import logging
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from crispin.server.faults import FaultError, make_fault
from crispin.server.http.lookup import mailbox_or_404, user_or_404
from crispin.server.http.messages import deliver
from crispin.server.http.router import API
from crispin.server.http.wire import HttpError, Request, Response

if TYPE_CHECKING:
    from crispin.server.http.api import HttpApi

log = logging.getLogger("crispin.faults")

MAX_FLOOD = 10000


@API.route("GET", "/api/faults")
async def list_faults(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    board = api.ctx.faults
    return Response.json({"faults": [f.public() for f in board.faults],
                          "history": board.history})


@API.route("POST", "/api/faults")
async def add_fault(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    try:
        fault = make_fault(request.json())
    except FaultError as exc:
        raise HttpError(400, str(exc)) from None
    return Response.json(api.ctx.faults.add(fault).public(), 201)


@API.route("DELETE", "/api/faults")
async def clear_faults(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    api.ctx.faults.clear()
    return Response.empty()


@API.route("DELETE", "/api/faults/{id}")
async def remove_fault(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    if not params["id"].isdigit() or not api.ctx.faults.remove(int(params["id"])):
        raise HttpError(404, "no such fault")
    return Response.empty()


@API.route("GET", "/api/connections")
async def connections(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """The IMAP connections open now: the ``connection`` a fault can be scoped to."""
    out = []
    for session in sorted(api.ctx.sessions, key=lambda s: s.peer):
        mailbox = None
        if session.view is not None:
            info = await api.ctx.store.get_mailbox_by_id(session.view.mailbox_id)
            mailbox = None if info is None else info.name
        out.append({"connection": session.peer, "state": session.state.value,
                    "user": None if session.user is None else session.user.name,
                    "mailbox": mailbox})
    return Response.json({"connections": out})


@API.route("POST", "/api/users/{user}/mailboxes/{mailbox}/uidvalidity")
async def bump_uidvalidity(api: HttpApi, request: Request, params: dict[str, str]
                           ) -> Response:
    """A new UIDVALIDITY: every UID a client cached is void (RFC 3501 §2.3.1.1). Sessions
    with the mailbox selected are closed with BYE, as Dovecot does when it happens."""
    store = api.ctx.store
    user = await user_or_404(store, params["user"])
    mailbox = await mailbox_or_404(store, user, params["mailbox"])
    value = await store.bump_uidvalidity(mailbox.id)
    log.warning("fault: UIDVALIDITY of %s/%s is now %d", user.name, mailbox.name, value)
    await api.disconnect(lambda s: s.view is not None and s.view.mailbox_id == mailbox.id,
                         "UIDVALIDITY changed")
    api.ctx.hub.notify(mailbox.id)
    return Response.json({"uidvalidity": value})


@API.route("POST", "/api/users/{user}/mailboxes/{mailbox}/flood")
async def flood(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """``{"count": N}``: N messages delivered at once (concurrently, so they commit together
    in as few transactions as the group commit makes)."""
    store = api.ctx.store
    user = await user_or_404(store, params["user"])
    mailbox = await mailbox_or_404(store, user, params["mailbox"])
    count = request.json().get("count", 10)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_FLOOD:
        raise HttpError(400, f"count must be an integer from 1 to {MAX_FLOOD}")
    date = formatdate()

    def message(i: int) -> bytes:
        return (f"From: flood@crispin.invalid\r\nTo: {user.name}\r\nDate: {date}\r\n"
                f"Subject: Flood message {i}\r\nMessage-ID: {make_msgid('flood')}\r\n\r\n"
                f"Message {i} of {count}.\r\n").encode()

    uids = await asyncio.gather(*(deliver(store, user, mailbox, message(i), [])
                                  for i in range(1, count + 1)))
    log.warning("fault: %d messages delivered at once to %s/%s", count, user.name,
                mailbox.name)
    return Response.json({"uids": sorted(uids)}, 201)
