"""/api/…/messages: deliver, list, read, flag, delete, wait; IMAP clients see the same mail."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.server.harness import ServerThread
from tests.server.http.conftest import Api
from tests.server.http.helpers import MULTIPART, deliver, simple


def test_delivered_message_is_what_imap_fetches(http_server: ServerThread, api: Api) -> None:
    client = http_server.login()
    client.select("INBOX")
    client.send(b"i1 IDLE\r\n")
    assert client.readline().startswith(b"+")
    stored = deliver(api, MULTIPART)
    assert stored["uid"] == 1 and stored["mailbox"] == "INBOX"
    assert client.readline() == b"* 1 EXISTS\r\n"  # IDLE woken by the HTTP delivery
    client.send(b"DONE\r\n")
    while not (line := client.readline()).startswith(b"i1 "):
        assert line.startswith(b"* ")
    assert line.startswith(b"i1 OK")
    typ, data = client.uid("FETCH", "1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == MULTIPART
    assert api.get("/api/users/alice/mailboxes/INBOX/messages/1/raw").body == MULTIPART
    client.logout()


def test_parsed_message(api: Api) -> None:
    deliver(api, MULTIPART)
    msg = api.get("/api/users/alice/mailboxes/INBOX/messages/1").json()
    assert msg["subject"] == "Café receipt"
    assert msg["from"] == [{"name": "Ann Example", "address": "ann@example.com"}]
    assert msg["to"] == [{"name": "Bob", "address": "bob@example.org"}]
    assert msg["cc"] == [{"name": "", "address": "carol@example.net"}]
    assert msg["message_id"] == "<r1@example.com>"
    assert msg["text"].strip() == "Total: 3 EUR"
    assert msg["html"].strip() == "<p>Total: <b>3 EUR</b></p>"
    assert msg["attachments"] == [{"index": 0, "filename": "receipt.pdf",
                                   "content_type": "application/pdf", "size": 12}]
    assert ["Subject", "Café receipt"] in msg["headers"]
    mime = msg["mime"]
    assert mime["content_type"] == "multipart/mixed"
    assert [p["part"] for p in mime["parts"]] == ["1", "2"]
    assert [p["part"] for p in mime["parts"][0]["parts"]] == ["1.1", "1.2"]
    part = api.get("/api/users/alice/mailboxes/INBOX/messages/1/attachments/0")
    assert part.status == 200 and part.body == b"%PDF-1.4\n%\xc7\xec"
    assert part.headers["Content-Type"] == "application/pdf"
    assert "receipt.pdf" in part.headers["Content-Disposition"]
    assert api.get("/api/users/alice/mailboxes/INBOX/messages/1/attachments/1").status == 404
    assert api.get("/api/users/alice/mailboxes/INBOX/messages/9").status == 404
    assert api.get("/api/users/alice/mailboxes/INBOX/messages/x").status == 404


def test_list_filters_and_paging(http_server: ServerThread, api: Api) -> None:
    api.request("POST", "/api/users/alice/mailboxes", {"name": "Archive"})
    for i in range(5):
        deliver(api, simple(f"Report {i}", to="team@example.com"))
    deliver(api, simple("Invoice", sender="billing@shop.example"))
    deliver(api, simple("Old report", to="team@example.com"), query="?mailbox=Archive")
    page = api.get("/api/users/alice/messages?subject=report&limit=2").json()
    assert page["total"] == 6 and len(page["messages"]) == 2
    assert page["messages"][0]["subject"] == "Old report"  # newest first
    rest = api.get("/api/users/alice/messages?subject=REPORT&limit=10&offset=2").json()
    assert [m["subject"] for m in rest["messages"]] == ["Report 3", "Report 2", "Report 1",
                                                        "Report 0"]
    inbox = api.get("/api/users/alice/messages?mailbox=INBOX&to=team@").json()
    assert inbox["total"] == 5
    assert {m["mailbox"] for m in inbox["messages"]} == {"INBOX"}
    by_sender = api.get("/api/users/alice/messages?from=billing").json()
    assert [(m["subject"], m["uid"]) for m in by_sender["messages"]] == [("Invoice", 6)]
    archive = api.get("/api/users/alice/mailboxes/Archive/messages").json()
    assert [m["subject"] for m in archive["messages"]] == ["Old report"]
    assert api.get("/api/users/alice/messages?since=2000-01-01").json()["total"] == 7
    assert api.get("/api/users/alice/messages?since=2999-01-01").json()["total"] == 0
    assert api.get("/api/users/alice/messages?since=yesterday").status == 400
    assert api.get("/api/users/alice/messages?limit=0").status == 400
    first = page["messages"][0]
    assert first["flags"] == [] and first["size"] > 0 and first["internal_date"]
    assert first["url"] == "/api/users/alice/mailboxes/Archive/messages/1"


def test_flags_and_delete_reach_imap(http_server: ServerThread, api: Api) -> None:
    deliver(api, simple("one"))
    deliver(api, simple("two"), query="?flags=%5CFlagged,urgent")
    client = http_server.login()
    client.select("INBOX")
    typ, data = client.uid("FETCH", "2", "(FLAGS)")
    assert b"\\Flagged" in data[0] and b"urgent" in data[0]
    reply = api.request("PUT", "/api/users/alice/mailboxes/INBOX/messages/1/flags",
                        {"flags": ["\\Seen", "$Label1"], "mode": "add"})
    assert reply.json() == {"uid": 1, "flags": ["\\Seen", "$Label1"]}
    typ, data = client.uid("FETCH", "1", "(FLAGS)")
    assert b"\\Seen" in data[0] and b"$Label1" in data[0]
    assert api.request("PUT", "/api/users/alice/mailboxes/INBOX/messages/1/flags",
                       {"flags": ["\\Bogus"]}).status == 400
    assert api.request("DELETE", "/api/users/alice/mailboxes/INBOX/messages/1").status == 204
    client.noop()
    assert client.response("EXPUNGE") == ("EXPUNGE", [b"1"])
    typ, data = client.uid("SEARCH", "ALL")
    assert data == [b"2"]
    assert api.request("DELETE", "/api/users/alice/mailboxes/INBOX/messages").json() == \
        {"deleted": 1}
    typ, data = client.uid("SEARCH", "ALL")
    assert data == [b""]
    client.logout()


def test_purge_all(api: Api) -> None:
    api.request("POST", "/api/users", {"name": "bob", "password": "pw"})
    deliver(api, simple("a"))
    deliver(api, simple("b"), user="bob", query="?mailbox=Sent")
    assert api.request("DELETE", "/api/messages").json() == {"deleted": 2}
    assert api.get("/api/users/bob/messages").json()["total"] == 0
    assert [u["name"] for u in api.get("/api/users").json()["users"]] == ["alice", "bob"]


def test_wait_is_woken_by_an_imap_append(http_server: ServerThread, api: Api) -> None:
    """The long-poll returns when the message arrives, through the change notification
    that wakes IDLE; the APPEND happens only once the wait is registered."""
    results: list[Any] = []
    waiting = threading.Thread(target=lambda: results.append(api.get(
        "/api/messages/wait?to=dave@example.com&subject=welcome&timeout=120")))
    waiting.start()
    client = http_server.login()
    # Something that does not match must not end the wait.
    client.append("INBOX", None, None, simple("Welcome", to="eve@example.com"))
    client.append("INBOX", None, None, simple("Your WELCOME pack", to="dave@example.com"))
    waiting.join(60)
    assert not waiting.is_alive()
    reply = results[0]
    assert reply.status == 200
    assert [m["subject"] for m in reply.json()["messages"]] == ["Your WELCOME pack"]
    # Already there: answered at once, also per user.
    again = api.get("/api/users/alice/messages/wait?to=dave@&timeout=0")
    assert again.status == 200 and again.json()["total"] == 1
    client.logout()


def test_wait_count_and_timeout(api: Api) -> None:
    deliver(api, simple("one"))
    missing = api.get("/api/messages/wait?subject=one&count=2&timeout=0.2")
    assert missing.status == 404 and "no matching message" in missing.json()["error"]
    assert api.get("/api/messages/wait?timeout=100000").status == 400
    assert api.get("/api/messages/wait?user=nobody&timeout=0").status == 404


def test_curl_delivers_a_file_and_reads_it_back(api: Api, tmp_path: Path) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(MULTIPART)
    out = subprocess.run(
        ["curl", "-sS", "-f", "--data-binary", f"@{eml}", "-H", "Content-Type: message/rfc822",
         f"{api.base}/api/users/alice/messages?mailbox=INBOX"],
        capture_output=True, check=True, timeout=60)
    assert b'"uid": 1' in out.stdout
    raw = subprocess.run(["curl", "-sS", "-f",
                          f"{api.base}/api/users/alice/mailboxes/INBOX/messages/1/raw"],
                         capture_output=True, check=True, timeout=60)
    assert raw.stdout == MULTIPART
