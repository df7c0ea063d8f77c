"""The HTTP API's front door: routing, the bearer token, and storage errors as HTTP statuses.

Everything it does goes through the same ``Store`` (and so the same change notification,
which wakes IDLE) as IMAP; the handlers live in ``users``, ``messages`` and ``admin``.
"""

from __future__ import annotations

import hmac
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crispin.server.http.router import API
from crispin.server.http.wire import HttpError, Request, Response, error_response
from crispin.storage import (
    AlreadyExists,
    HasChildren,
    InvalidFlag,
    InvalidName,
    InvalidPassword,
    NoSelect,
    NotFound,
)

if TYPE_CHECKING:
    from crispin.server.context import ServerContext
    from crispin.server.session import Session

log = logging.getLogger("crispin.http")


Disconnector = Callable[[Callable[["Session"], bool] | None, str], Awaitable[None]]


@dataclass
class HttpApi:
    ctx: ServerContext
    disconnect: Disconnector
    """Close the IMAP connections a predicate picks (None: all) with ``* BYE reason``."""
    token: str = ""
    imap_address: tuple[str, int, int] = ("127.0.0.1", 0, 0)
    """Host, plain port and TLS port, for autoconfig."""
    snapshots: dict[str, sqlite3.Connection] = field(default_factory=dict)
    smtp: tuple[int, str] | None = None
    """SMTP port and socket type ("SSL", "STARTTLS") for autoconfig, once SMTP exists."""

    async def handle(self, request: Request) -> Response:
        try:
            route, params = API.resolve(request.method, request.path)
            if route.auth and self.token and not self._authorised(request):
                response = error_response(401, "a valid bearer token is required")
                response.headers["WWW-Authenticate"] = 'Bearer realm="crispin"'
                return response
            return await route.handler(self, request, params)
        except HttpError as exc:
            return error_response(exc.status, exc.message)
        except (NotFound, NoSelect) as exc:
            return error_response(404, str(exc))
        except (AlreadyExists, HasChildren) as exc:
            return error_response(409, str(exc))
        except (InvalidName, InvalidFlag, InvalidPassword) as exc:
            return error_response(400, str(exc))
        except Exception:
            log.exception("HTTP %s %s failed", request.method, request.path)
            return error_response(500, "internal server error, logged")

    def _authorised(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode())


def load_routes() -> None:
    """Import the handler modules, which register their routes on ``API``."""
    from crispin.server.http import admin, faults, inbox, messages, users  # noqa: F401
