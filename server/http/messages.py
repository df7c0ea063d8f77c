"""``…/messages``: list, read, deliver, flag and delete messages, and wait for one to arrive.

The wait is GreenMail's ``waitForIncomingEmail`` over HTTP: it registers with the hub that
wakes IDLE (DESIGN.md "Storage reports, the server reacts") *before* it looks, so a message
committed between the look and the wait still wakes it; it never polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from crispin.server import delivery
from crispin.server.delivery import Recipient
from crispin.server.http import mime_json
from crispin.server.http.lookup import mailbox_or_404, user_or_404
from crispin.server.http.router import API
from crispin.server.http.wire import HttpError, Request, Response
from crispin.server.removal import remove_messages
from crispin.storage import Filters, Found, MailboxInfo, Store, User

if TYPE_CHECKING:
    from crispin.server.http.api import HttpApi

MAX_PAGE = 1000


async def deliver(store: Store, user: User, mailbox: MailboxInfo, raw: bytes,
                  flags: Iterable[str]) -> int:
    """Take a message in as SMTP does: through :func:`crispin.server.delivery.deliver`, the one road
    of SMTP, LMTP and this API (parsed once, stored in one transaction, IDLE woken). Returns
    the UID."""
    recipient = Recipient(user.name, user, mailbox.name, mailbox.id, tuple(flags))
    [done] = await delivery.deliver(store, raw, [recipient])
    return done.uid


def message_url(owner: str | None, mailbox: str, uid: int) -> str:
    return (f"/api/users/{quote(owner or '', safe='')}/mailboxes/{quote(mailbox, safe='')}"
            f"/messages/{uid}")


def found_json(found: Found) -> dict[str, Any]:
    out: dict[str, Any] = {
        "user": found.owner, "mailbox": found.mailbox, "uid": found.uid,
        "flags": list(found.flags), "size": found.size,
        "internal_date": mime_json.iso(found.internaldate), "date": mime_json.iso(found.sent),
    }
    out.update(mime_json.envelope(found.header_inline or b""))
    out["url"] = message_url(found.owner, found.mailbox, found.uid)
    return out


def _since(value: str | None) -> int | None:
    """An ISO 8601 date or date-time (UTC when no zone is given), or Unix seconds."""
    if not value:
        return None
    if value.isdigit():
        return int(value)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise HttpError(400, "since must be an ISO 8601 date or Unix seconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


async def filters_from(api: HttpApi, request: Request, user_name: str | None,
                       mailbox_name: str | None = None) -> Filters:
    store = api.ctx.store
    owner_id = mailbox_id = None
    user_name = user_name or request.arg("user")
    if user_name:
        user = await user_or_404(store, user_name)
        owner_id = user.id
        mailbox_name = mailbox_name or request.arg("mailbox")
        if mailbox_name:
            mailbox_id = (await mailbox_or_404(store, user, mailbox_name)).id
    elif request.arg("mailbox"):
        raise HttpError(400, "mailbox needs user")
    return Filters(owner_id=owner_id, mailbox_id=mailbox_id, from_=request.arg("from"),
                   to=request.arg("to"), subject=request.arg("subject"),
                   since=_since(request.arg("since")))


async def _listing(api: HttpApi, request: Request, filters: Filters) -> Response:
    limit = request.int_arg("limit", 50, 1, MAX_PAGE)
    offset = request.int_arg("offset", 0)
    total, found = await api.ctx.store.find_messages(filters, limit, offset)
    # A thousand header blocks take a while to parse: not on the event loop.
    listed = await asyncio.to_thread(lambda: [found_json(f) for f in found])
    return Response.json({"total": total, "offset": offset, "messages": listed})


@API.route("GET", "/api/users/{user}/messages")
async def list_user_messages(api: HttpApi, request: Request, params: dict[str, str]
                             ) -> Response:
    return await _listing(api, request, await filters_from(api, request, params["user"]))


@API.route("GET", "/api/users/{user}/mailboxes/{mailbox}/messages")
async def list_mailbox_messages(api: HttpApi, request: Request, params: dict[str, str]
                                ) -> Response:
    filters = await filters_from(api, request, params["user"], params["mailbox"])
    return await _listing(api, request, filters)


@API.route("POST", "/api/users/{user}/messages")
async def deliver_message(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """The body is the raw RFC 5322 message; ``?mailbox=`` (INBOX) and ``?flags=\\Seen,…``."""
    store = api.ctx.store
    user = await user_or_404(store, params["user"])
    mailbox = await mailbox_or_404(store, user, request.arg("mailbox") or "INBOX")
    if not request.body:
        raise HttpError(400, "the body must be the message")
    flags = [f for f in (request.arg("flags") or "").replace(",", " ").split() if f]
    uid = await deliver(store, user, mailbox, request.body, flags)
    return Response.json({"user": user.name, "mailbox": mailbox.name, "uid": uid,
                          "url": message_url(user.name, mailbox.name, uid)}, 201)


async def wait_for(api: HttpApi, filters: Filters, count: int, timeout: float
                   ) -> list[Found] | None:
    """The newest ``count`` matches once at least that many exist, or None after
    ``timeout`` seconds."""
    hub, store = api.ctx.hub, api.ctx.store
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        woken = hub.watch_all()  # before looking: a commit in between still wakes us
        try:
            total, found = await store.find_messages(filters, count, 0)
            if total >= count:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):
                    await woken.wait()
            except TimeoutError:
                pass
        finally:
            hub.unwatch_all(woken)


async def _wait(api: HttpApi, request: Request, user: str | None) -> Response:
    filters = await filters_from(api, request, user)
    count = request.int_arg("count", 1, 1, MAX_PAGE)
    max_wait = float(api.ctx.config.get("http", "max_wait"))
    timeout = request.float_arg("timeout", min(30.0, max_wait), max_wait)
    found = await wait_for(api, filters, count, timeout)
    if found is None:
        raise HttpError(404, f"no matching message within {timeout:g} seconds")
    return Response.json({"total": len(found), "offset": 0,
                          "messages": [found_json(f) for f in found]})


@API.route("GET", "/api/messages/wait")
async def wait_any(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    return await _wait(api, request, None)


@API.route("GET", "/api/users/{user}/messages/wait")
async def wait_user(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    return await _wait(api, request, params["user"])


async def message_part(api: HttpApi, params: dict[str, str]) -> tuple[MailboxInfo, int, bytes]:
    store = api.ctx.store
    user = await user_or_404(store, params["user"])
    mailbox = await mailbox_or_404(store, user, params["mailbox"])
    try:
        uid = int(params["uid"])
    except ValueError:
        raise HttpError(404, "a message is named by its UID") from None
    raw = await store.message_body(mailbox.id, uid)
    if raw is None:
        raise HttpError(404, f"no message with UID {uid} in {mailbox.name!r}")
    return mailbox, uid, raw


@API.route("GET", "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}")
async def get_message(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    mailbox, uid, raw = await message_part(api, params)
    states = await api.ctx.store.flag_records(mailbox.id, [uid])
    out: dict[str, Any] = {"user": params["user"], "mailbox": mailbox.name, "uid": uid,
                           "size": len(raw), "flags": list(states[0].flags) if states else []}
    end = raw.find(b"\r\n\r\n")
    out.update(mime_json.envelope(raw if end < 0 else raw[:end + 4]))
    out.update(await asyncio.to_thread(mime_json.message_json, raw))
    return Response.json(out)


@API.route("GET", "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}/raw")
async def get_raw(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    _, _, raw = await message_part(api, params)
    return Response(200, raw, "message/rfc822")


@API.route("GET", "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}/attachments/{index}")
async def get_attachment(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    _, _, raw = await message_part(api, params)
    try:
        index = int(params["index"])
    except ValueError:
        raise HttpError(404, "attachments are numbered from 0") from None
    found = await asyncio.to_thread(mime_json.attachment, raw, index)
    if found is None:
        raise HttpError(404, f"no attachment {index}")
    content_type, filename, data = found
    response = Response(200, data, content_type)
    # RFC 6266: always a download, never rendered in the API's origin.
    response.headers["Content-Disposition"] = "attachment" + (
        f"; filename*=UTF-8''{quote(filename)}" if filename else "")
    return response


@API.route("PUT", "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}/flags")
async def set_flags(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """``{"flags": ["\\\\Seen"], "mode": "set" | "add" | "remove"}`` (STORE FLAGS, +FLAGS,
    -FLAGS: RFC 3501 §6.4.6)."""
    mailbox, uid, _ = await message_part(api, params)
    data = request.json()
    flags, mode = data.get("flags"), data.get("mode", "set")
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise HttpError(400, "'flags' must be a list of strings")
    if mode not in ("set", "add", "remove"):
        raise HttpError(400, "'mode' must be set, add or remove")
    result = await api.ctx.store.store_flags(mailbox.id, [uid], mode, flags)
    return Response.json({"uid": uid, "flags": list(result.messages[0].flags)
                          if result.messages else []})


@API.route("DELETE", "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}")
async def delete_message(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    mailbox, uid, _ = await message_part(api, params)
    await remove_messages(api.ctx.store, mailbox.id, [uid])
    return Response.empty()


@API.route("DELETE", "/api/users/{user}/mailboxes/{mailbox}/messages")
async def purge_mailbox(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    store = api.ctx.store
    user = await user_or_404(store, params["user"])
    mailbox = await mailbox_or_404(store, user, params["mailbox"])
    return Response.json({"deleted": await remove_messages(store, mailbox.id, None)})
