"""The OpenAPI 3.1 description of the HTTP API, served at ``/openapi.json``.

Written by hand, not generated from the route table, so it says what a caller may rely on;
``tests/server/http/test_openapi.py`` keeps it true: every route is described, every
description has a route, and the answers of real requests match the documented statuses and
schemas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crispin.server.faults import ACTIONS, SMTP_ACTIONS

JSON = "application/json"

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
ADDRESS = {"type": "object", "required": ["name", "address"],
           "properties": {"name": {"type": "string"}, "address": {"type": "string"}}}
ADDRESSES = {"type": "array", "items": ADDRESS}
NULLABLE_STRING = {"type": ["string", "null"]}
SUMMARY = {
    "type": "object",
    "required": ["user", "mailbox", "uid", "flags", "size", "internal_date", "date", "subject",
                 "from", "to", "cc", "message_id", "url"],
    "properties": {
        "user": NULLABLE_STRING, "mailbox": {"type": "string"}, "uid": {"type": "integer"},
        "flags": {"type": "array", "items": {"type": "string"}}, "size": {"type": "integer"},
        "internal_date": {"type": "string"}, "date": NULLABLE_STRING,
        "subject": NULLABLE_STRING, "from": ADDRESSES, "to": ADDRESSES, "cc": ADDRESSES,
        "message_id": NULLABLE_STRING, "url": {"type": "string"},
    },
}
PAGE = {"type": "object", "required": ["total", "offset", "messages"],
        "properties": {"total": {"type": "integer"}, "offset": {"type": "integer"},
                       "messages": {"type": "array", "items": SUMMARY}}}
MIME_NODE: dict[str, Any] = {
    "type": "object", "required": ["part", "content_type"],
    "properties": {"part": {"type": "string"}, "content_type": {"type": "string"},
                   "filename": NULLABLE_STRING, "disposition": NULLABLE_STRING,
                   "size": {"type": "integer"}, "parts": {"type": "array"}},
}
MESSAGE = {
    "type": "object",
    "required": ["user", "mailbox", "uid", "size", "flags", "subject", "from", "to", "cc",
                 "message_id", "headers", "text", "html", "attachments", "mime"],
    "properties": {
        "user": {"type": "string"}, "mailbox": {"type": "string"}, "uid": {"type": "integer"},
        "size": {"type": "integer"}, "flags": {"type": "array", "items": {"type": "string"}},
        "subject": NULLABLE_STRING, "from": ADDRESSES, "to": ADDRESSES, "cc": ADDRESSES,
        "message_id": NULLABLE_STRING,
        "headers": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
        "text": NULLABLE_STRING, "html": NULLABLE_STRING,
        "attachments": {"type": "array", "items": {
            "type": "object", "required": ["index", "filename", "content_type", "size"],
            "properties": {"index": {"type": "integer"}, "filename": NULLABLE_STRING,
                           "content_type": {"type": "string"}, "size": {"type": "integer"}}}},
        "mime": MIME_NODE,
    },
}
MAILBOX = {
    "type": "object",
    "required": ["name", "special_use", "selectable", "uidvalidity", "uidnext", "messages",
                 "unseen"],
    "properties": {"name": {"type": "string"}, "special_use": NULLABLE_STRING,
                   "selectable": {"type": "boolean"}, "uidvalidity": {"type": "integer"},
                   "uidnext": {"type": "integer"}, "messages": {"type": "integer"},
                   "unseen": {"type": "integer"}},
}


FAULT = {"type": "object", "required": ["id", "protocol", "action", "commands", "count"],
         "properties": {"id": {"type": "integer"},
                        "protocol": {"type": "string", "enum": ["imap", "smtp"]},
                        "action": {"type": "string", "enum": [*ACTIONS, *SMTP_ACTIONS]},
                        "commands": {"type": "array", "items": {"type": "string"}},
                        "count": {"type": ["integer", "null"]}}}


def _obj(**props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(props), "properties": props}


def _json(schema: dict[str, Any], text: str) -> dict[str, Any]:
    return {"description": text, "content": {JSON: {"schema": schema}}}


def _bytes(media: str, text: str) -> dict[str, Any]:
    return {"description": text, "content": {media: {"schema": {"type": "string",
                                                                "format": "binary"}}}}


def _error(text: str) -> dict[str, Any]:
    return _json(ERROR, text)


NO_CONTENT = {"description": "done"}
STRING = {"type": "string"}


def _path_param(name: str, text: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": text,
            "schema": {"type": "string"}}


def _query(name: str, text: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": text,
            "schema": {"type": kind}}


USER = _path_param("user", "user name")
MAILBOX_P = _path_param("mailbox", "mailbox name, '/' as %2F")
UID = _path_param("uid", "the message's UID")
FILTERS = [
    _query("from", "substring of From, any case"),
    _query("to", "substring of To, Cc or Bcc, any case"),
    _query("subject", "substring of Subject, any case"),
    _query("since", "internal date at or after (ISO 8601 or Unix seconds)"),
]
PAGING = [_query("limit", "page size (1-1000, default 50)", "integer"),
          _query("offset", "matches to skip", "integer")]
WAIT = [_query("count", "how many matches to wait for (default 1)", "integer"),
        _query("timeout", "seconds to wait (default 30, at most http.max_wait)", "number")]
JSON_BODY = {"required": True, "content": {JSON: {"schema": {"type": "object"}}}}


def _op(summary: str, responses: dict[str, Any], parameters: Sequence[dict[str, Any]] = (),
        body: dict[str, Any] | None = None, secure: bool = True) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if parameters:
        op["parameters"] = list(parameters)
    if body is not None:
        op["requestBody"] = body
    if not secure:
        op["security"] = []
    else:
        responses.setdefault("401", _error("no or wrong bearer token (when one is configured)"))
    return op


def _paths() -> dict[str, dict[str, Any]]:
    msg = [USER, MAILBOX_P, UID]
    return {
        "/healthz": {"get": _op("the process answers", {"200": _json(_obj(status=STRING),
                                                                     "alive")}, secure=False)},
        "/readyz": {"get": _op("the database answers", {
            "200": _json(_obj(status=STRING), "ready"),
            "503": _json(_obj(status=STRING), "not ready")}, secure=False)},
        "/openapi.json": {"get": _op("this document", {"200": _json({"type": "object"},
                                                                    "OpenAPI 3.1")},
                                     secure=False)},
        "/api/users": {
            "get": _op("list users", {"200": _json(_obj(users={"type": "array", "items": _obj(
                name=STRING)}), "users by name")}),
            "post": _op("create a user with its special-use mailboxes: {name, password}", {
                "201": _json(_obj(name=STRING), "created"), "400": _error("bad name or body"),
                "409": _error("exists")}, body=JSON_BODY),
        },
        "/api/users/{user}": {"delete": _op("delete a user and all its mail", {
            "204": NO_CONTENT, "404": _error("no such user")}, [USER])},
        "/api/users/{user}/password": {"put": _op("change a password: {password}", {
            "204": NO_CONTENT, "400": _error("bad body"), "404": _error("no such user")},
            [USER], JSON_BODY)},
        "/api/users/{user}/mailboxes": {
            "get": _op("mailboxes with counts", {
                "200": _json(_obj(mailboxes={"type": "array", "items": MAILBOX}), "by name"),
                "404": _error("no such user")}, [USER]),
            "post": _op("create a mailbox: {name}", {
                "201": _json(MAILBOX, "created"), "400": _error("bad name"),
                "404": _error("no such user"), "409": _error("exists")}, [USER], JSON_BODY),
        },
        "/api/users/{user}/mailboxes/{mailbox}": {"delete": _op("delete a mailbox", {
            "204": NO_CONTENT, "400": _error("INBOX cannot be deleted"),
            "404": _error("no such user or mailbox"), "409": _error("has inferiors")},
            [USER, MAILBOX_P])},
        "/api/users/{user}/messages": {
            "get": _op("messages of the user, newest first", {
                "200": _json(PAGE, "a page"), "400": _error("bad filter"),
                "404": _error("no such user or mailbox")},
                [USER, _query("mailbox", "only this mailbox"), *FILTERS, *PAGING]),
            "post": _op("deliver a raw RFC 5322 message (the request body)", {
                "201": _json(_obj(user=STRING, mailbox=STRING, uid={"type": "integer"},
                                  url=STRING), "stored"),
                "400": _error("empty body or bad flag"), "404": _error("no such user or mailbox"),
                "413": _error("too large")},
                [USER, _query("mailbox", "default INBOX"),
                 _query("flags", "comma-separated flags to set")],
                {"required": True, "content": {"message/rfc822": {"schema": {
                    "type": "string", "format": "binary"}}}}),
        },
        "/api/users/{user}/messages/wait": {"get": _op(
            "wait until a matching message of the user exists (woken like IDLE)", {
                "200": _json(PAGE, "the newest matches"), "400": _error("bad filter"),
                "404": _error("no match within the timeout, or no such user")},
            [USER, _query("mailbox", "only this mailbox"), *FILTERS, *WAIT])},
        "/api/messages/wait": {"get": _op(
            "wait until a matching message of any user exists (woken like IDLE)", {
                "200": _json(PAGE, "the newest matches"), "400": _error("bad filter"),
                "404": _error("no match within the timeout")},
            [_query("user", "only this user"), _query("mailbox", "only this mailbox (with user)"),
             *FILTERS, *WAIT])},
        "/api/messages": {"delete": _op("purge every message of every user", {
            "200": _json(_obj(deleted={"type": "integer"}), "how many")})},
        "/api/users/{user}/mailboxes/{mailbox}/messages": {
            "get": _op("messages of one mailbox, newest first", {
                "200": _json(PAGE, "a page"), "400": _error("bad filter"),
                "404": _error("no such user or mailbox")},
                [USER, MAILBOX_P, *FILTERS, *PAGING]),
            "delete": _op("purge the mailbox", {
                "200": _json(_obj(deleted={"type": "integer"}), "how many"),
                "404": _error("no such user or mailbox")}, [USER, MAILBOX_P]),
        },
        "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}": {
            "get": _op("the message parsed: headers, text, HTML, attachments, MIME tree", {
                "200": _json(MESSAGE, "parsed"), "404": _error("no such message")}, msg),
            "delete": _op("expunge the message", {
                "204": NO_CONTENT, "404": _error("no such message")}, msg),
        },
        "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}/raw": {"get": _op(
            "the message as stored", {"200": _bytes("message/rfc822", "RFC 5322 bytes"),
                                      "404": _error("no such message")}, msg)},
        "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}/attachments/{index}": {"get": _op(
            "an attachment's decoded bytes", {
                "200": _bytes("*/*", "the attachment, its own Content-Type"),
                "404": _error("no such message or attachment")},
            [*msg, _path_param("index", "attachment number from 0")])},
        "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}/flags": {"put": _op(
            "set, add or remove flags: {flags: [...], mode: set|add|remove}", {
                "200": _json(_obj(uid={"type": "integer"}, flags={
                    "type": "array", "items": STRING}), "the flags now"),
                "400": _error("bad body or flag"), "404": _error("no such message")},
            msg, JSON_BODY)},
        "/api/faults": {
            "get": _op("faults armed and faults applied", {"200": _json(_obj(
                faults={"type": "array", "items": FAULT},
                history={"type": "array", "items": {"type": "object"}}), "board")}),
            "post": _op("arm a fault: {protocol, action, commands, user, connection, count, "
                        "seconds, code, text, delay, uids}; IMAP actions: "
                        + ", ".join(ACTIONS) + "; SMTP actions (protocol smtp, code a "
                        "reply code): " + ", ".join(SMTP_ACTIONS), {
                            "201": _json(FAULT, "armed"), "400": _error("bad description")},
                        body=JSON_BODY),
            "delete": _op("disarm every fault", {"204": NO_CONTENT}),
        },
        "/api/faults/{id}": {"delete": _op("disarm one fault", {
            "204": NO_CONTENT, "404": _error("no such fault")},
            [_path_param("id", "the fault's id")])},
        "/api/connections": {"get": _op("open IMAP connections", {"200": _json(_obj(
            connections={"type": "array", "items": _obj(
                connection=STRING, state=STRING, user=NULLABLE_STRING,
                mailbox=NULLABLE_STRING)}), "connections")})},
        "/api/users/{user}/mailboxes/{mailbox}/uidvalidity": {"post": _op(
            "fault: a new UIDVALIDITY; sessions with the mailbox selected get BYE", {
                "200": _json(_obj(uidvalidity={"type": "integer"}), "the new value"),
                "404": _error("no such user or mailbox")}, [USER, MAILBOX_P])},
        "/api/users/{user}/mailboxes/{mailbox}/flood": {"post": _op(
            "fault: {count} messages delivered at once", {
                "201": _json(_obj(uids={"type": "array", "items": {"type": "integer"}}),
                             "their UIDs"),
                "400": _error("bad count"), "404": _error("no such user or mailbox")},
            [USER, MAILBOX_P], JSON_BODY)},
        "/": {"get": _op("the web inbox (a page; the data comes from the API)", {
            "200": _bytes("text/html; charset=utf-8", "HTML")}, secure=False)},
        "/api/changes": {"get": _op("long-poll: a state token, answered at the next change", {
            "200": _json(_obj(token=STRING), "the token now"), "400": _error("bad timeout")},
            [_query("since", "the token last seen"),
             _query("timeout", "seconds to wait (default 25)", "number")])},
        "/api/users/{user}/mailboxes/{mailbox}/messages/{uid}/html": {"get": _op(
            "the HTML body, sanitised, as a document for a sandboxed frame", {
                "200": _bytes("text/html; charset=utf-8", "HTML"),
                "404": _error("no such message")}, msg)},
        "/.well-known/autoconfig/mail/config-v1.1.xml": {"get": _op(
            "Thunderbird autoconfig", {"200": _bytes("application/xml", "clientConfig")},
            secure=False)},
        "/mail/config-v1.1.xml": {"get": _op(
            "Thunderbird autoconfig", {"200": _bytes("application/xml", "clientConfig")},
            secure=False)},
        "/api/reset": {"post": _op("delete every user, mailbox and message", {
            "204": NO_CONTENT})},
        "/api/snapshots": {"get": _op("snapshot names", {"200": _json(_obj(snapshots={
            "type": "array", "items": STRING}), "names")})},
        "/api/snapshots/{name}": {
            "put": _op("snapshot the whole store (SQLite backup API) in memory", {
                "201": _json(_obj(name=STRING), "taken"), "400": _error("bad name")},
                [_path_param("name", "1-64 of A-Z a-z 0-9 . _ -")]),
            "delete": _op("forget a snapshot", {"204": NO_CONTENT,
                                                "400": _error("bad name"),
                                                "404": _error("no such snapshot")},
                          [_path_param("name", "snapshot name")]),
        },
        "/api/snapshots/{name}/restore": {"post": _op(
            "restore a snapshot (IMAP connections are closed)", {
                "204": NO_CONTENT, "400": _error("bad name"), "404": _error("no such snapshot")},
            [_path_param("name", "snapshot name")])},
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Crispin HTTP API", "version": "1",
                 "description": "Users, mailboxes and messages of a Crispin IMAP server, for "
                                "tests and people: README 'Testing your mail code with "
                                "Crispin'."},
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": _paths(),
    }
