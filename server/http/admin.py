"""Health, the OpenAPI document, and resetting the store between tests: purge, reset,
snapshot and restore."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from crispin.server.http.openapi import document
from crispin.server.http.router import API
from crispin.server.http.wire import HttpError, Request, Response
from crispin.server.removal import remove_messages
from crispin.storage import Store

if TYPE_CHECKING:
    from crispin.server.http.api import HttpApi

log = logging.getLogger("crispin.http")

SNAPSHOT_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


@API.route("GET", "/healthz", auth=False)
async def healthz(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """Alive: the event loop answers."""
    return Response.json({"status": "ok"})


@API.route("GET", "/readyz", auth=False)
async def readyz(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """Ready: the database answers a read."""
    try:
        await api.ctx.store.user_count()
    except Exception as exc:
        return Response.json({"status": "unavailable", "reason": str(exc)}, 503)
    return Response.json({"status": "ready"})


@API.route("GET", "/openapi.json", auth=False)
async def openapi(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    return Response.json(document())


async def purge_all(store: Store) -> int:
    deleted = 0
    owners = [u.id for u in await store.list_users()] + [None]
    for owner in owners:
        for mailbox in await store.list_mailboxes_in(owner):
            if not mailbox.noselect:
                deleted += await remove_messages(store, mailbox.id, None)
    return deleted


@API.route("DELETE", "/api/messages")
async def purge(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """Every message of every mailbox; users and mailboxes stay."""
    deleted = await purge_all(api.ctx.store)
    log.info("HTTP API: purged %d messages", deleted)
    return Response.json({"deleted": deleted})


@API.route("POST", "/api/reset")
async def reset(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """Everything: users (with their mailboxes and messages) and shared mailboxes. IMAP
    connections are closed first: their sessions belong to users that are gone."""
    store = api.ctx.store
    await api.disconnect(None, "Server state reset")
    users = await store.list_users()
    for user in users:
        await store.delete_user(user.name)
    for mailbox in reversed(await store.list_shared_mailboxes()):
        if not mailbox.noselect:
            await store.delete_shared_mailbox(mailbox.name)
    api.ctx.authenticator.forget_all()
    api.ctx.hub.notify_all()
    log.info("HTTP API: reset (%d users deleted)", len(users))
    return Response.empty()


def _snapshot_name(params: dict[str, str]) -> str:
    name = params["name"]
    if not SNAPSHOT_NAME.fullmatch(name):
        raise HttpError(400, "snapshot names are 1-64 of A-Z a-z 0-9 . _ -")
    return name


@API.route("GET", "/api/snapshots")
async def list_snapshots(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    return Response.json({"snapshots": sorted(api.snapshots)})


@API.route("PUT", "/api/snapshots/{name}")
async def take_snapshot(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """Copy the whole store (SQLite backup API) into memory under ``name``; replaces an
    older snapshot of that name."""
    name = _snapshot_name(params)
    await snapshot_as(api, name)
    return Response.json({"name": name}, 201)


async def snapshot_as(api: HttpApi, name: str) -> None:
    old = api.snapshots.pop(name, None)
    if old is not None:
        old.close()
    api.snapshots[name] = await api.ctx.store.snapshot()
    log.info("HTTP API: snapshot %r taken", name)


@API.route("POST", "/api/snapshots/{name}/restore")
async def restore_snapshot(api: HttpApi, request: Request, params: dict[str, str]
                           ) -> Response:
    """Make the store what it was at the snapshot. IMAP connections are closed first (their
    views of the mailboxes would be wrong), the password cache forgotten, watchers woken."""
    await restore_to(api, _snapshot_name(params))
    return Response.empty()


async def restore_to(api: HttpApi, name: str) -> None:
    snapshot = api.snapshots.get(name)
    if snapshot is None:
        raise HttpError(404, f"no snapshot {name!r}")
    await api.disconnect(None, "Server state restored from a snapshot")
    api.ctx.faults.clear()
    await api.ctx.store.restore(snapshot)
    api.ctx.authenticator.forget_all()
    api.ctx.hub.notify_all()
    log.info("HTTP API: snapshot %r restored", name)


@API.route("DELETE", "/api/snapshots/{name}")
async def delete_snapshot(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    snapshot = api.snapshots.pop(_snapshot_name(params), None)
    if snapshot is None:
        raise HttpError(404, "no such snapshot")
    snapshot.close()
    return Response.empty()
