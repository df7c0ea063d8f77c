"""The HTTP front end: the API for tests and people, health checks, the OpenAPI document.

Started by ``crispin.server.app`` in the same process and event loop as IMAP when ``[http] enabled``
(see :func:`start_http`); it reaches mail only through the shared ``Store`` and hub.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from crispin.server.config import ConfigError, is_loopback_host
from crispin.server.http.api import Disconnector, HttpApi, load_routes
from crispin.server.http.wire import HttpServer

if TYPE_CHECKING:
    from crispin.server.context import ServerContext

log = logging.getLogger("crispin.http")


async def start_http(ctx: ServerContext, disconnect: Disconnector,
                     imap_address: tuple[str, int, int],
                     smtp: tuple[int, str] | None = None
                     ) -> tuple[HttpServer, HttpApi, tuple[str, int]]:
    config = ctx.config
    host, token = str(config.get("http", "host")), str(config.get("http", "token"))
    if not token and not is_loopback_host(host):
        # Anyone who reaches the API can read every mailbox: never open it to a network
        # without a secret.
        raise ConfigError(f"http.token must be set when http.host ({host}) is not loopback")
    load_routes()
    api = HttpApi(ctx, disconnect, token, imap_address, smtp=smtp)
    server = HttpServer(api.handle,
                        request_timeout=float(config.get("http", "request_timeout")),
                        max_connections=int(config.get("http", "max_connections")),
                        max_body=int(config.get("limits", "max_append_size")))
    address = await server.start(host, int(config.get("http", "port")))
    log.info("HTTP API on http://%s:%d/%s", address[0], address[1],
             " (bearer token required)" if token else "")
    return server, api, address
