"""The web inbox (one page, no build step, no external assets), the live-update long-poll it
uses, the sanitised HTML view, and Thunderbird's autoconfig document."""

from __future__ import annotations

import asyncio
import html
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from crispin.server.http import mime_json
from crispin.server.http.messages import message_part
from crispin.server.http.router import API
from crispin.server.http.sanitize import CSP, safe_document
from crispin.server.http.wire import Request, Response

if TYPE_CHECKING:
    from crispin.server.http.api import HttpApi

PAGE_CSP = ("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
            "frame-src 'self' about:; img-src 'self' data: blob:; object-src 'none'; "
            "base-uri 'none'; form-action 'none'")


@cache
def _page() -> bytes:
    return resources.files("crispin.server.http").joinpath("inbox_page.html").read_bytes()


@API.route("GET", "/", auth=False)
async def inbox(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """The page itself holds no mail: what it shows comes from the API, with the token."""
    response = Response(200, _page(), "text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@API.route("GET", "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}/html")
async def message_html(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """The HTML body, sanitised (``sanitize.py``), as a whole document for a sandboxed
    frame; empty when the message has no HTML part."""
    _, _, raw = await message_part(api, params)
    parsed = await asyncio.to_thread(mime_json.message_json, raw)
    document = await asyncio.to_thread(safe_document, parsed["html"] or "")
    response = Response(200, document.encode(), "text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = CSP + "; sandbox"
    return response


@API.route("GET", "/api/changes")
async def changes(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    """``?since=TOKEN&timeout=S``: answers at once when the store's state token differs from
    ``since``, else at the next change (woken like IDLE) or after the timeout."""
    timeout = request.float_arg("timeout", 25.0, float(api.ctx.config.get("http", "max_wait")))
    since = request.arg("since") or ""
    hub, store = api.ctx.hub, api.ctx.store
    woken = hub.watch_all()
    try:
        token = await store.state_token()
        if token == since:
            try:
                async with asyncio.timeout(timeout):
                    await woken.wait()
            except TimeoutError:
                pass
            token = await store.state_token()
    finally:
        hub.unwatch_all(woken)
    return Response.json({"token": token})


AUTOCONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{host}">
    <domain>{host}</domain>
    <displayName>Crispin on {host}</displayName>
    <displayShortName>Crispin</displayShortName>
    <incomingServer type="imap">
      <hostname>{host}</hostname>
      <port>{tls_port}</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>{host}</hostname>
      <port>{port}</port>
      <socketType>STARTTLS</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>{outgoing}
  </emailProvider>
</clientConfig>
"""
OUTGOING = """
    <outgoingServer type="smtp">
      <hostname>{host}</hostname>
      <port>{smtp_port}</port>
      <socketType>{smtp_socket}</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILLOCALPART%</username>
    </outgoingServer>"""


def autoconfig_xml(api: HttpApi, smtp: tuple[int, str] | None) -> str:
    """Thunderbird's autoconfig format (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:
    ConfigFileFormat): the implicit-TLS port first (RFC 8314 prefers it), then STARTTLS; user
    names are the address's local part, as Crispin's users are bare names."""
    host = html.escape(str(api.ctx.config.get("server", "hostname")))
    _, port, tls_port = api.imap_address
    outgoing = "" if smtp is None else OUTGOING.format(host=host, smtp_port=smtp[0],
                                                      smtp_socket=smtp[1])
    return AUTOCONFIG.format(host=host, port=port, tls_port=tls_port, outgoing=outgoing)


async def _autoconfig(api: HttpApi, request: Request, params: dict[str, str]) -> Response:
    return Response(200, autoconfig_xml(api, api.smtp).encode(), "application/xml")


API.add("GET", "/.well-known/autoconfig/mail/config-v1.1.xml", _autoconfig, auth=False)
API.add("GET", "/mail/config-v1.1.xml", _autoconfig, auth=False)
