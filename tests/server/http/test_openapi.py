"""``/openapi.json`` says what the server does: every route is described, every description
has a route, and real answers match the documented statuses and schemas."""

from __future__ import annotations

import json
import re
from typing import Any

from crispin.server.http.api import load_routes
from crispin.server.http.router import API
from tests.server.harness import ServerThread
from tests.server.http.conftest import Api, Reply
from tests.server.http.helpers import MULTIPART


def check(schema: dict[str, Any], value: Any, where: str = "$") -> None:
    """The subset of JSON Schema the document uses: type, enum, required, properties,
    items."""
    kinds = schema.get("type")
    if kinds is not None:
        names = kinds if isinstance(kinds, list) else [kinds]
        python = {"object": dict, "array": list, "string": str, "integer": int,
                  "number": (int, float), "boolean": bool, "null": type(None)}
        assert any(isinstance(value, python[n]) and not (n == "integer" and isinstance(
            value, bool)) for n in names), f"{where}: {value!r} is not {names}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} is not one of {schema['enum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: missing {key}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check(sub, value[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check(schema["items"], item, f"{where}[{i}]")


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def test_every_route_is_documented_and_back(api: Api) -> None:
    doc = api.get("/openapi.json").json()
    load_routes()
    routes = {(r.method, r.pattern) for r in API.routes}
    assert routes == documented(doc)
    for route in API.routes:
        op = doc["paths"][route.pattern][route.method.lower()]
        params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert params == set(re.findall(r"{(\w+)}", route.pattern)), route.pattern
        assert (op.get("security") == []) == (not route.auth), route.pattern


def test_answers_match_the_document(http_server: ServerThread, api: Api) -> None:
    doc = api.get("/openapi.json").json()
    seen: set[tuple[str, str]] = set()

    def call(method: str, pattern: str, path: str, body: Any = None,
             raw: bytes | None = None) -> Reply:
        reply = api.request(method, path, body, raw=raw)
        op = doc["paths"][pattern][method.lower()]
        assert str(reply.status) in op["responses"], (method, path, reply.status, reply.body)
        content = op["responses"][str(reply.status)].get("content", {})
        if "application/json" in content:
            check(content["application/json"]["schema"], json.loads(reply.body), path)
        else:
            media = reply.headers.get("Content-Type")
            assert not content or media in content or "*/*" in content, (path, media)
        seen.add((method, pattern))
        return reply

    u, m, msg = "/api/users/{user}", "/api/users/{user}/mailboxes/{mailbox}", \
        "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}"
    call("GET", "/healthz", "/healthz")
    call("GET", "/readyz", "/readyz")
    call("GET", "/openapi.json", "/openapi.json")
    call("POST", "/api/users", "/api/users", {"name": "bob", "password": "pw"})
    call("POST", "/api/users", "/api/users", {"name": "bob", "password": "pw"})
    call("GET", "/api/users", "/api/users")
    call("PUT", u + "/password", "/api/users/bob/password", {"password": "x"})
    call("POST", u + "/mailboxes", "/api/users/bob/mailboxes", {"name": "Box"})
    call("GET", u + "/mailboxes", "/api/users/bob/mailboxes")
    call("POST", u + "/messages", "/api/users/bob/messages", raw=MULTIPART)
    call("POST", u + "/messages", "/api/users/bob/messages?mailbox=Nope", raw=MULTIPART)
    call("GET", u + "/messages", "/api/users/bob/messages?subject=receipt")
    call("GET", u + "/messages/wait", "/api/users/bob/messages/wait?timeout=0")
    call("GET", "/api/messages/wait", "/api/messages/wait?subject=nothing&timeout=0")
    call("GET", m + "/messages", "/api/users/bob/mailboxes/INBOX/messages")
    call("GET", msg, "/api/users/bob/mailboxes/INBOX/messages/1")
    call("GET", msg, "/api/users/bob/mailboxes/INBOX/messages/7")
    call("GET", msg + "/raw", "/api/users/bob/mailboxes/INBOX/messages/1/raw")
    call("GET", msg + "/attachments/{index}",
         "/api/users/bob/mailboxes/INBOX/messages/1/attachments/0")
    call("PUT", msg + "/flags", "/api/users/bob/mailboxes/INBOX/messages/1/flags",
         {"flags": ["\\Seen"]})
    call("GET", msg + "/html", "/api/users/bob/mailboxes/INBOX/messages/1/html")
    call("GET", "/", "/")
    call("GET", "/api/changes", "/api/changes?timeout=0")
    call("GET", "/mail/config-v1.1.xml", "/mail/config-v1.1.xml")
    call("GET", "/.well-known/autoconfig/mail/config-v1.1.xml",
         "/.well-known/autoconfig/mail/config-v1.1.xml")
    call("GET", "/api/connections", "/api/connections")
    fault = call("POST", "/api/faults", "/api/faults", {"action": "no", "commands": ["X"]})
    call("POST", "/api/faults", "/api/faults", {"action": "nothing"})
    call("POST", "/api/faults", "/api/faults",
         {"protocol": "smtp", "action": "tempfail", "commands": ["MAIL"], "code": 421})
    call("POST", "/api/faults", "/api/faults", {"protocol": "smtp", "action": "no"})
    call("GET", "/api/faults", "/api/faults")
    call("DELETE", "/api/faults/{id}", f"/api/faults/{fault.json()['id']}")
    call("DELETE", "/api/faults/{id}", "/api/faults/77")
    call("DELETE", "/api/faults", "/api/faults")
    call("POST", m + "/uidvalidity", "/api/users/bob/mailboxes/INBOX/uidvalidity")
    call("POST", m + "/flood", "/api/users/bob/mailboxes/Box/flood", {"count": 3})
    call("POST", m + "/flood", "/api/users/bob/mailboxes/Box/flood", {"count": 0})
    call("PUT", "/api/snapshots/{name}", "/api/snapshots/one")
    call("GET", "/api/snapshots", "/api/snapshots")
    call("DELETE", msg, "/api/users/bob/mailboxes/INBOX/messages/1")
    call("DELETE", m + "/messages", "/api/users/bob/mailboxes/INBOX/messages")
    call("DELETE", "/api/messages", "/api/messages")
    call("DELETE", m, "/api/users/bob/mailboxes/Box")
    call("POST", "/api/snapshots/{name}/restore", "/api/snapshots/one/restore")
    call("DELETE", "/api/snapshots/{name}", "/api/snapshots/one")
    call("DELETE", u, "/api/users/bob")
    call("POST", "/api/reset", "/api/reset")
    assert seen == documented(doc)
