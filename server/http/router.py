"""Routes: method and path pattern to handler; the table ``/openapi.json`` is checked against.

A pattern's ``{name}`` matches one path segment, percent-decoded after the path is split, so
a mailbox "Work/2024" travels as ``Work%2F2024`` in one segment.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from crispin.server.http.wire import HttpError, Request, Response

RouteHandler = Callable[[Any, Request, dict[str, str]], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    handler: RouteHandler
    auth: bool  # False: served without the API token (health checks, autoconfig)

    @property
    def segments(self) -> list[str]:
        return self.pattern.strip("/").split("/")

    def match(self, parts: list[str]) -> dict[str, str] | None:
        mine = self.segments
        if len(mine) != len(parts):
            return None
        params: dict[str, str] = {}
        for want, got in zip(mine, parts, strict=True):
            if want.startswith("{"):
                try:
                    value = urllib.parse.unquote(got, errors="strict")
                except UnicodeDecodeError:
                    raise HttpError(400, "path is not UTF-8") from None
                if not value:
                    return None
                params[want[1:-1]] = value
            elif want != got:
                return None
        return params


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: RouteHandler, auth: bool = True) -> None:
        self.routes.append(Route(method, pattern, handler, auth))
        # Literal segments win over parameters ("/messages/wait" before "/messages/{uid}").
        self.routes.sort(key=lambda r: sum(s.startswith("{") for s in r.segments))

    def route(self, method: str, pattern: str, auth: bool = True
              ) -> Callable[[RouteHandler], RouteHandler]:
        def register(handler: RouteHandler) -> RouteHandler:
            self.add(method, pattern, handler, auth)
            return handler

        return register

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route and its parameters; ``404`` or ``405`` (RFC 9110 §15.5.6)."""
        parts = path.strip("/").split("/")
        allowed: list[str] = []
        for route in self.routes:
            params = route.match(parts)
            if params is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, params
            allowed.append(route.method)
        if allowed:
            raise HttpError(405, "method not allowed; use " + ", ".join(sorted(set(allowed))))
        raise HttpError(404, "no such resource")


API = Router()
"""Every route of the HTTP server; the handler modules register on it at import."""
