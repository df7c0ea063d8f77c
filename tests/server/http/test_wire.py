"""The HTTP framing against clients that misbehave, and IMAP unaffected meanwhile."""

from __future__ import annotations

import http.client
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import ServerThread
from tests.server.http.conftest import Api, http_server_thread


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[ServerThread]:
    srv = http_server_thread(tmp_path / "data", request_timeout=1.0, max_connections=3)
    srv.add_user("alice")
    try:
        yield srv
    finally:
        srv.stop()


def raw_exchange(api: Api, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def test_keep_alive_and_head(api: Api) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    for _ in range(3):
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b'{"status": "ok"}\n'
        assert resp.getheader("Connection") == "keep-alive"
    conn.request("HEAD", "/api/users")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == b""
    assert int(resp.getheader("Content-Length") or 0) > 0
    conn.close()


def test_errors_answered_and_closed(api: Api) -> None:
    assert raw_exchange(api, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_exchange(api, b"GET / HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505 ")
    chunked = b"POST /api/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert raw_exchange(api, chunked).startswith(b"HTTP/1.1 501 ")
    two_lengths = b"POST /api/users HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
    assert raw_exchange(api, two_lengths).startswith(b"HTTP/1.1 400 ")
    huge_head = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"
    assert raw_exchange(api, huge_head).startswith(b"HTTP/1.1 431 ")
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"
    assert raw_exchange(api, many).startswith(b"HTTP/1.1 431 ")
    assert api.get("/nowhere").status == 404
    wrong = api.request("PATCH", "/api/users")
    assert wrong.status == 405 and "GET, POST" in wrong.json()["error"]
    assert api.get("/api/users/%ff/mailboxes").status == 400


def test_body_too_large_refused_before_it_is_sent(http_server: ServerThread, api: Api) -> None:
    limit = int(http_server.config.get("limits", "max_append_size"))
    head = (b"POST /api/users/alice/messages HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: %d\r\n\r\n" % (limit + 1))
    assert raw_exchange(api, head).startswith(b"HTTP/1.1 413 ")


def test_slow_client_is_cut_off_and_imap_keeps_serving(strict: ServerThread) -> None:
    api = Api(strict)
    with socket.create_connection(("127.0.0.1", api.port), timeout=30) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes its head
        client = strict.login()  # the event loop is not blocked by the slow client
        assert client.noop()[0] == "OK"
        client.logout()
        answer = b""
        while chunk := slow.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_connection_limit(strict: ServerThread) -> None:
    api = Api(strict)
    held = []
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
        conn.request("GET", "/healthz")
        assert conn.getresponse().read()
        held.append(conn)
    refused = raw_exchange(api, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert refused.startswith(b"HTTP/1.1 503 ")
    for conn in held:
        conn.close()


def test_curl_expect_100_continue(api: Api, tmp_path: Path) -> None:
    """curl asks ``Expect: 100-continue`` before a large body (RFC 9110 §10.1.1)."""
    body = tmp_path / "big.eml"
    body.write_bytes(b"Subject: big\r\n\r\n" + b"x" * 2_000_000 + b"\r\n")
    out = subprocess.run(
        ["curl", "-sS", "-f", "-H", "Expect: 100-continue", "--expect100-timeout", "60",
         "--data-binary", f"@{body}", f"{api.base}/api/users/alice/messages"],
        capture_output=True, check=True, timeout=120)
    assert b'"uid": 1' in out.stdout
    assert api.get("/api/users/alice/messages").json()["messages"][0]["size"] == \
        body.stat().st_size
