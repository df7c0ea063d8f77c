"""``/api/users``: accounts and their mailboxes, as ``crispin user`` and IMAP CREATE/DELETE
would make them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crispin.server import names
from crispin.server.accounts import create_account
from crispin.server.http.lookup import mailbox_or_404, user_or_404
from crispin.server.http.router import API
from crispin.server.http.wire import HttpError, Request, Response
from crispin.storage import MailboxInfo, Store

if TYPE_CHECKING:
    from crispin.server.http.api import HttpApi


def _string(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise HttpError(400, f"{key!r} must be a non-empty string")
    return value


async def mailbox_json(store: Store, mailbox: MailboxInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"name": mailbox.name, "special_use": mailbox.special_use,
                           "selectable": not mailbox.noselect, "uidvalidity": mailbox.uidvalidity,
                           "uidnext": mailbox.uidnext, "messages": 0, "unseen": 0}
    if not mailbox.noselect:
        status = await store.mailbox_status(mailbox.id)
        out.update(messages=status.messages, unseen=status.unseen, uidnext=status.uidnext)
    return out


@API.route("GET", "/api/users")
async def list_users(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    users = await api.ctx.store.list_users()
    return Response.json({"users": [{"name": u.name} for u in users]})


@API.route("POST", "/api/users")
async def create_user(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """Like ``crispin user add``: INBOX and the special-use mailboxes, subscribed."""
    data = request.json()
    name, password = _string(data, "name"), _string(data, "password")
    await create_account(api.ctx.store, api.ctx.config, name, password)
    return Response.json({"name": name}, 201)


@API.route("DELETE", "/api/users/{user}")
async def delete_user(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    await api.ctx.store.delete_user(params["user"])
    api.ctx.authenticator.forget(params["user"])
    return Response.empty()


@API.route("PUT", "/api/users/{user}/password")
async def set_password(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    password = _string(request.json(), "password")
    await api.ctx.store.set_password(params["user"], password)
    api.ctx.authenticator.forget(params["user"])
    return Response.empty()


@API.route("GET", "/api/users/{user}/mailboxes")
async def list_mailboxes(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    store = api.ctx.store
    user = await user_or_404(store, params["user"])
    boxes = [await mailbox_json(store, m) for m in await store.list_mailboxes(user.id)]
    return Response.json({"mailboxes": boxes})


@API.route("POST", "/api/users/{user}/mailboxes")
async def create_mailbox(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    store = api.ctx.store
    user = await user_or_404(store, params["user"])
    name = names.normalize(_string(request.json(), "name"))
    if not names.is_valid(name):
        raise HttpError(400, f"invalid mailbox name {name!r}")
    mailbox = await store.create_mailbox(user.id, name)
    return Response.json(await mailbox_json(store, mailbox), 201)


@API.route("DELETE", "/api/users/{user}/mailboxes/{mailbox}")
async def delete_mailbox(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    store = api.ctx.store
    user = await user_or_404(store, params["user"])
    mailbox = await mailbox_or_404(store, user, params["mailbox"])
    await store.delete_mailbox_in(user.id, mailbox.name)
    return Response.empty()
