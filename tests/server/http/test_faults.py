"""Faults on demand: one test per fault, each showing what a real client (imaplib,
imapclient, or a raw socket where the bytes matter) sees."""

from __future__ import annotations

import imaplib
import socket

import imapclient
import pytest

from tests.server.harness import PASSWORD, RawClient, ServerThread
from tests.server.http.conftest import Api
from tests.server.http.helpers import arm, deliver, history, simple


def logged_in_raw(srv: ServerThread, user: str = "alice") -> RawClient:
    raw = srv.raw()
    assert raw.command(b"a1", f'LOGIN {user} "{PASSWORD}"'.encode())[-1].startswith(b"a1 OK")
    return raw


def test_no_unavailable(http_server: ServerThread, api: Api) -> None:
    arm(api, action="no", commands=["SELECT"], code="UNAVAILABLE", text="Try later")
    client = http_server.login()
    assert client.select("INBOX") == ("NO", [b"[UNAVAILABLE] Try later"])
    assert client.select("INBOX")[0] == "OK"  # only the next one
    client.logout()
    assert [(h["action"], h["command"], h["user"]) for h in history(api)] == \
        [("no", "SELECT", "alice")]


def test_no_overquota_on_append(http_server: ServerThread, api: Api) -> None:
    arm(api, action="no", commands=["APPEND"], code="OVERQUOTA", text="Mailbox full")
    client = http_server.login()
    typ, data = client.append("INBOX", None, None, simple("x"))
    assert typ == "NO" and data == [b"[OVERQUOTA] Mailbox full"]
    assert client.append("INBOX", None, None, simple("y"))[0] == "OK"
    client.logout()


def test_bad(http_server: ServerThread, api: Api) -> None:
    arm(api, action="bad", commands=["NOOP"], text="Confused")
    client = http_server.login()
    with pytest.raises(imaplib.IMAP4.error, match=r"BAD.*Confused"):
        client.noop()
    assert client.noop()[0] == "OK"
    client.logout()


def test_bye(http_server: ServerThread, api: Api) -> None:
    client = http_server.login()
    client.select("INBOX")
    arm(api, action="bye", commands=["SEARCH"], text="Going down")
    with pytest.raises(imaplib.IMAP4.abort, match="Going down"):
        client.search(None, "ALL")


def test_close_before_tagged_reply_keeps_the_effect(http_server: ServerThread, api: Api
                                                     ) -> None:
    deliver(api, simple("one"))
    client = http_server.login()
    client.select("INBOX")
    arm(api, action="close", commands=["STORE"])
    with pytest.raises(imaplib.IMAP4.abort):
        client.store("1", "+FLAGS", "\\Flagged")
    again = http_server.login()
    again.select("INBOX")
    typ, data = again.fetch("1", "(FLAGS)")
    assert b"\\Flagged" in data[0]  # done, though never confirmed
    again.logout()


def test_close_mid_literal(http_server: ServerThread, api: Api) -> None:
    body = simple("long") + b"x" * 1000 + b"\r\n"
    deliver(api, body)
    raw = logged_in_raw(http_server)
    raw.command(b"a2", b"SELECT INBOX")
    arm(api, action="close_mid_literal", commands=["FETCH"])
    raw.send(b"a3 FETCH 1 BODY.PEEK[]\r\n")
    received = raw.buf
    while chunk := raw.sock.recv(65536):
        received += chunk
    head = b"* 1 FETCH (BODY[] {%d}\r\n" % len(body)
    assert received == head + body[:len(body) // 2]  # half the literal, then EOF
    raw.close()
    client = http_server.login()
    client.select("INBOX")
    with pytest.raises(imaplib.IMAP4.abort):
        arm(api, action="close_mid_literal", commands=["FETCH"])
        client.fetch("1", "(BODY.PEEK[])")


def test_close_during_idle(http_server: ServerThread, api: Api) -> None:
    raw = logged_in_raw(http_server)
    raw.command(b"a2", b"SELECT INBOX")
    arm(api, action="close", commands=["IDLE"])
    raw.send(b"a3 IDLE\r\n")
    assert raw.line() == b"+ idling"
    assert raw.closed()
    raw.close()


def test_delay_makes_a_client_time_out(http_server: ServerThread, api: Api) -> None:
    arm(api, action="delay", commands=["NOOP"], delay=60)
    client = imapclient.IMAPClient("127.0.0.1", http_server.port, ssl=False, timeout=1)
    client.login("alice", PASSWORD)
    with pytest.raises(socket.timeout):
        client.noop()
    client.shutdown()


def test_trickle(http_server: ServerThread, api: Api) -> None:
    body = simple("trickled") + b"y" * 200 + b"\r\n"
    deliver(api, body)
    raw = logged_in_raw(http_server)
    raw.command(b"a2", b"SELECT INBOX")
    arm(api, action="trickle", commands=["FETCH"], delay=0.002)
    raw.send(b"a3 FETCH 1 BODY.PEEK[]\r\n")
    reads = []
    data = raw.buf
    while b"a3 OK" not in data:
        chunk = raw.sock.recv(65536)
        assert chunk
        reads.append(chunk)
        data += chunk
    assert data.startswith(b"* 1 FETCH (BODY[] {%d}\r\n" % len(body) + body)
    assert len(reads) > 10  # one byte at a time, not one write
    raw.close()


def test_expunge_behind_the_clients_back(http_server: ServerThread, api: Api) -> None:
    for i in range(3):
        deliver(api, simple(f"m{i}"))
    client = imapclient.IMAPClient("127.0.0.1", http_server.port, ssl=False, timeout=10)
    client.login("alice", PASSWORD)
    client.select_folder("INBOX")
    uids = client.search("ALL")
    assert uids == [1, 2, 3]
    arm(api, action="expunge", commands=["FETCH"], uids=[2])
    fetched = client.fetch(uids, ["FLAGS"])
    assert sorted(fetched) == [1, 3]  # UID FETCH: the message is simply gone
    assert client.noop()[1] == []  # already reported with the UID FETCH
    assert client.search("ALL") == [1, 3]
    client.logout()


def test_bump_uidvalidity(http_server: ServerThread, api: Api) -> None:
    client = http_server.login()
    client.select("INBOX")
    before = int(client.response("UIDVALIDITY")[1][0])
    reply = api.request("POST", "/api/users/alice/mailboxes/INBOX/uidvalidity")
    after = reply.json()["uidvalidity"]
    assert after > before
    with pytest.raises(imaplib.IMAP4.abort, match="UIDVALIDITY changed"):
        client.noop()
    again = http_server.login()
    again.select("INBOX")
    assert int(again.response("UIDVALIDITY")[1][0]) == after
    again.logout()


def test_flood(http_server: ServerThread, api: Api) -> None:
    raw = logged_in_raw(http_server)
    raw.command(b"a2", b"SELECT INBOX")
    raw.send(b"a3 IDLE\r\n")
    assert raw.line() == b"+ idling"
    reply = api.request("POST", "/api/users/alice/mailboxes/INBOX/flood", {"count": 50})
    assert reply.json()["uids"] == list(range(1, 51))
    while (line := raw.line()) != b"* 50 EXISTS":
        assert line.endswith((b"EXISTS", b"RECENT"))
    raw.send(b"DONE\r\n")
    assert raw.until_tagged(b"a3")[-1].startswith(b"a3 OK")
    raw.close()


def test_scope_user_connection_and_window(http_server: ServerThread, api: Api) -> None:
    http_server.add_user("bob")
    alice, bob = http_server.login(), http_server.login("bob")
    arm(api, action="no", commands=["NOOP"], user="bob", count=2, code="UNAVAILABLE")
    assert alice.noop()[0] == "OK"
    for _ in range(2):
        assert bob.noop() == ("NO", [b"[UNAVAILABLE] Fault injected by the test"])
    assert bob.noop()[0] == "OK"
    # One connection, by the address the client sees as its own.
    host, port = alice.sock.getsockname()[:2]
    mine = f"{host}:{port}"
    conns = api.get("/api/connections").json()["connections"]
    assert {c["connection"]: c["user"] for c in conns}[mine] == "alice"
    other = http_server.login()
    arm(api, action="bad", connection=mine, seconds=600, count=None)
    for _ in range(3):  # every command within the window
        with pytest.raises(imaplib.IMAP4.error):
            alice.noop()
    assert other.noop()[0] == "OK"
    assert len(api.get("/api/faults").json()["faults"]) == 1
    assert api.request("DELETE", "/api/faults").status == 204
    assert alice.noop()[0] == "OK"
    for client in (alice, bob, other):
        client.logout()


def test_bad_fault_descriptions(api: Api) -> None:
    assert api.request("POST", "/api/faults", {"action": "explode"}).status == 400
    assert api.request("POST", "/api/faults", {"action": "no", "code": "bad code"}).status == 400
    assert api.request("POST", "/api/faults", {"action": "no", "count": 0}).status == 400
    assert api.request("POST", "/api/faults", {"action": "no", "text": "a\r\nb"}).status == 400
    assert api.request("DELETE", "/api/faults/99").status == 404
