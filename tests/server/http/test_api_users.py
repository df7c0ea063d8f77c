"""/api/users and mailboxes, checked against what an IMAP client then sees."""

from __future__ import annotations

import imaplib

import pytest

from tests.server.harness import PASSWORD, ServerThread
from tests.server.http.conftest import Api


def test_create_list_delete_user(http_server: ServerThread, api: Api) -> None:
    reply = api.request("POST", "/api/users", {"name": "carol", "password": "s3cret pw"})
    assert reply.status == 201 and reply.json() == {"name": "carol"}
    assert api.get("/api/users").json() == {"users": [{"name": "alice"}, {"name": "carol"}]}
    client = http_server.login("carol", "s3cret pw")
    typ, data = client.list()
    listed = b"\n".join(d for d in data if isinstance(d, bytes))
    assert typ == "OK" and b"\\Sent" in listed and b"INBOX" in listed
    client.logout()
    assert api.request("DELETE", "/api/users/carol").status == 204
    assert api.get("/api/users").json() == {"users": [{"name": "alice"}]}
    with pytest.raises(imaplib.IMAP4.error):
        http_server.login("carol", "s3cret pw")


def test_user_errors(api: Api) -> None:
    assert api.request("POST", "/api/users", {"name": "alice", "password": "x"}).status == 409
    bad = api.request("POST", "/api/users", {"name": "", "password": "x"})
    assert bad.status == 400 and "name" in bad.json()["error"]
    assert api.request("POST", "/api/users", raw=b"{not json",
                       headers={"Content-Type": "application/json"}).status == 400
    assert api.request("POST", "/api/users", {"name": "a/b", "password": "x"}).status == 400
    assert api.request("DELETE", "/api/users/nobody").status == 404
    assert api.request("PUT", "/api/users/nobody/password", {"password": "x"}).status == 404


def test_change_password(http_server: ServerThread, api: Api) -> None:
    assert api.request("PUT", "/api/users/alice/password",
                       {"password": "new one"}).status == 204
    http_server.login("alice", "new one").logout()
    with pytest.raises(imaplib.IMAP4.error):
        http_server.login("alice", PASSWORD)


def test_mailboxes_with_counts(http_server: ServerThread, api: Api) -> None:
    client = http_server.login()
    client.append("INBOX", None, None, b"Subject: one\r\n\r\nbody\r\n")
    client.append("INBOX", "(\\Seen)", None, b"Subject: two\r\n\r\nbody\r\n")
    reply = api.request("POST", "/api/users/alice/mailboxes", {"name": "Work/2024"})
    assert reply.status == 201 and reply.json()["name"] == "Work/2024"
    boxes = {m["name"]: m for m in api.get("/api/users/alice/mailboxes").json()["mailboxes"]}
    assert boxes["INBOX"]["messages"] == 2 and boxes["INBOX"]["unseen"] == 1
    assert boxes["INBOX"]["uidnext"] == 3
    assert boxes["Work/2024"]["messages"] == 0 and "Work" in boxes
    typ, data = client.list("\"\"", "Work/*")
    assert typ == "OK" and any(b"Work/2024" in d for d in data if isinstance(d, bytes))
    assert api.request("POST", "/api/users/alice/mailboxes",
                       {"name": "Work/2024"}).status == 409
    assert api.request("DELETE", "/api/users/alice/mailboxes/Work%2F2024").status == 204
    typ, data = client.list("\"\"", "Work/*")
    assert typ == "OK" and not any(b"2024" in d for d in data if isinstance(d, bytes))
    assert api.request("DELETE", "/api/users/alice/mailboxes/INBOX").status == 400
    assert api.request("DELETE", "/api/users/alice/mailboxes/Nope").status == 404
    assert api.get("/api/users/nobody/mailboxes").status == 404
    client.logout()


def test_empty_password_refused(http_server: ServerThread, api: Api) -> None:
    """Issue 9 point 11: no account anyone can log in to, by any path."""
    reply = api.request("POST", "/api/users", {"name": "eve", "password": ""})
    assert reply.status == 400 and "password" in reply.json()["error"]
    assert api.request("PUT", "/api/users/alice/password", {"password": ""}).status == 400
    assert [u["name"] for u in api.get("/api/users").json()["users"]] == ["alice"]
    http_server.login("alice", PASSWORD).logout()
