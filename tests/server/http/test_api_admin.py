"""Health, bearer token, reset, snapshot and restore."""

from __future__ import annotations

import asyncio
import imaplib
from pathlib import Path

import pytest

from crispin.server.config import ConfigError
from tests.server.harness import ServerThread
from tests.server.http.conftest import Api, http_server_thread
from tests.server.http.helpers import deliver, simple


def test_health(api: Api) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready"}


def test_token_required_when_configured(tmp_path: Path) -> None:
    srv = http_server_thread(tmp_path / "data", token="t0ken")
    try:
        anonymous = Api(srv)
        refused = anonymous.get("/api/users")
        assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert Api(srv, token="wrong").get("/api/users").status == 401
        assert Api(srv, token="t0ken").get("/api/users").json() == {"users": []}
        assert anonymous.get("/healthz").status == 200  # probes need no secret
    finally:
        srv.stop()


def test_no_token_beyond_loopback_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"http\.token"):
        ServerThread(tmp_path / "data", http={"enabled": True, "port": 0, "host": "0.0.0.0"})


def test_off_unless_enabled(tmp_path: Path) -> None:
    srv = ServerThread(tmp_path / "data")
    try:
        assert srv.running.http_address is None
    finally:
        srv.stop()


def test_reset_closes_imap_and_removes_everything(http_server: ServerThread, api: Api) -> None:
    deliver(api, simple("x"))
    client = http_server.login()
    client.select("INBOX")
    assert api.request("POST", "/api/reset").status == 204
    with pytest.raises(imaplib.IMAP4.abort):
        client.noop()
    assert api.get("/api/users").json() == {"users": []}
    with pytest.raises(imaplib.IMAP4.error):
        http_server.login()


def test_snapshot_restore(http_server: ServerThread, api: Api) -> None:
    deliver(api, simple("kept"))
    assert api.request("PUT", "/api/snapshots/clean").json() == {"name": "clean"}
    assert api.get("/api/snapshots").json() == {"snapshots": ["clean"]}
    deliver(api, simple("later"))
    api.request("POST", "/api/users", {"name": "zoe", "password": "pw"})
    api.request("PUT", "/api/users/alice/password", {"password": "changed"})
    client = http_server.login("zoe", "pw")
    client.select("INBOX")

    assert api.request("POST", "/api/snapshots/clean/restore").status == 204
    with pytest.raises(imaplib.IMAP4.abort):  # its view of the store is gone
        client.noop()
    assert api.get("/api/users").json() == {"users": [{"name": "alice"}]}
    subjects = [m["subject"] for m in api.get("/api/users/alice/messages").json()["messages"]]
    assert subjects == ["kept"]
    alice = http_server.login()  # the old password again
    alice.select("INBOX")
    typ, data = alice.uid("SEARCH", "ALL")
    assert data == [b"1"]
    # The store keeps working after a restore: new mail gets the next UID.
    assert deliver(api, simple("after"))["uid"] == 2
    # A restore can be repeated.
    assert api.request("POST", "/api/snapshots/clean/restore").status == 204
    assert api.get("/api/users/alice/messages").json()["total"] == 1
    assert api.request("DELETE", "/api/snapshots/clean").status == 204
    assert api.request("POST", "/api/snapshots/clean/restore").status == 404
    assert api.request("PUT", "/api/snapshots/bad%20name").status == 400


def test_restore_while_writing(http_server: ServerThread, api: Api) -> None:
    """A restore racing APPENDs leaves a consistent store (SQLite's write lock)."""
    api.request("PUT", "/api/snapshots/s")
    store = http_server.running.ctx.store

    async def race() -> None:
        inbox = await store.get_mailbox((await store.get_user("alice")).id, "INBOX")  # type: ignore[union-attr]
        from crispin.server.ingest import deliver as ingest

        appends = [ingest(store, inbox.id, simple(f"m{i}")) for i in range(20)]  # type: ignore[union-attr]
        snapshot = http_server.running.http_api.snapshots["s"]  # type: ignore[union-attr]
        await asyncio.gather(*appends, store.restore(snapshot))

    http_server.call(race())
    listing = api.get("/api/users/alice/messages?limit=100").json()
    mailboxes = {m["name"]: m for m in api.get("/api/users/alice/mailboxes").json()["mailboxes"]}
    assert listing["total"] == mailboxes["INBOX"]["messages"] <= 20
