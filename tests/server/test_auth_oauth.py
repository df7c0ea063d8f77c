"""AUTHENTICATE OAUTHBEARER (RFC 7628) over real sockets: the RFC's IMAP transcripts (§4.1,
§4.3) with static tokens, and tokens checked by a token introspection endpoint (RFC 7662)
served on 127.0.0.1 by the standard library's HTTP server."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.protocol.rfc7628_examples import RFC_41, RFC_43_CLIENT, RFC_43_SERVER
from tests.server.harness import ServerThread

RFC_TOKEN = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="


def bearer(token: str, authzid: str = "") -> bytes:
    message = f"n,{'a=' + authzid if authzid else ''},\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(message.encode())


@pytest.fixture
def rfc_server(make_server) -> ServerThread:  # type: ignore[no-untyped-def]
    srv: ServerThread = make_server(auth={
        "oauth_tokens": json.dumps({RFC_TOKEN: "user@example.com", "tok-alice": "alice"}),
        "oauth_scope": "example_scope",
        "oauth_openid_configuration": "https://example.com/.well-known/openid-configuration"})
    srv.add_user("user@example.com")
    return srv


def test_rfc7628_successful_exchange(rfc_server: ServerThread) -> None:
    """§4.1, the client's bytes as the RFC prints them."""
    raw = rfc_server.raw()
    caps = raw.command(b"t0", b"CAPABILITY")[0].split()
    assert b"AUTH=OAUTHBEARER" in caps and b"SASL-IR" in caps
    lines = raw.command(b"t1", b"AUTHENTICATE OAUTHBEARER " + RFC_41.encode())
    assert lines[-1].startswith(b"t1 OK")
    assert raw.command(b"t2", b"SELECT INBOX")[-1].startswith(b"t2 OK")


def test_rfc7628_failed_exchange(rfc_server: ServerThread) -> None:
    """§4.3: the JSON error as a challenge, the dummy response, then NO."""
    raw = rfc_server.raw()
    raw.send(b"t1 AUTHENTICATE OAUTHBEARER " + RFC_43_CLIENT.encode() + b"\r\n")
    assert raw.line() == b"+ " + RFC_43_SERVER.encode()
    raw.send(b"AQ==\r\n")
    assert raw.until_tagged(b"t1")[-1].startswith(b"t1 NO [AUTHENTICATIONFAILED]")
    # Without SASL-IR, and an abort ("*") instead of the dummy response: BAD (§3.2.3).
    raw.send(b"t2 AUTHENTICATE OAUTHBEARER\r\n")
    assert raw.line() == b"+ "
    raw.send(bearer("wrong") + b"\r\n")
    assert raw.line().startswith(b"+ ey")
    raw.send(b"*\r\n")
    assert raw.until_tagged(b"t2")[-1].startswith(b"t2 BAD")
    lines = raw.command(b"t3", b"AUTHENTICATE OAUTHBEARER " + bearer("tok-alice"))
    assert lines[-1].startswith(b"t3 OK")


def test_authzid_must_be_the_tokens_user(rfc_server: ServerThread) -> None:
    raw = rfc_server.raw()
    raw.send(b"a1 AUTHENTICATE OAUTHBEARER " + bearer("tok-alice", "user@example.com") + b"\r\n")
    assert raw.line().startswith(b"+ ")
    raw.send(b"AQ==\r\n")
    assert raw.until_tagged(b"a1")[-1].startswith(b"a1 NO [AUTHENTICATIONFAILED]")
    lines = raw.command(b"a2", b"AUTHENTICATE OAUTHBEARER " + bearer("tok-alice", "alice"))
    assert lines[-1].startswith(b"a2 OK")


def test_malformed_is_bad_and_lone_kvsep_fails(rfc_server: ServerThread) -> None:
    raw = rfc_server.raw()
    bad = base64.b64encode(b"n,,\x01auth=Basic x\x01\x01")
    assert raw.command(b"a1", b"AUTHENTICATE OAUTHBEARER " + bad)[-1].startswith(b"a1 BAD")
    lines = raw.command(b"a2", b"AUTHENTICATE OAUTHBEARER AQ==")
    assert lines[-1].startswith(b"a2 NO [AUTHENTICATIONFAILED]")


def test_not_offered_without_a_token_source(server: ServerThread) -> None:
    raw = server.raw()
    assert b"AUTH=OAUTHBEARER" not in raw.command(b"a0", b"CAPABILITY")[0]
    lines = raw.command(b"a1", b"AUTHENTICATE OAUTHBEARER " + bearer("x"))
    assert lines[-1].startswith(b"a1 NO [CANNOT]")


def test_bearer_token_needs_privacy(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(auth={"plaintext": "never", "oauth_tokens": '{"t": "alice"}'})
    raw = srv.raw()
    assert b"AUTH=OAUTHBEARER" not in raw.command(b"a0", b"CAPABILITY")[0]
    lines = raw.command(b"a1", b"AUTHENTICATE OAUTHBEARER " + bearer("t"))
    assert lines[-1].startswith(b"a1 NO [PRIVACYREQUIRED]")
    imap = srv.imaps()
    assert "AUTH=OAUTHBEARER" in imap.capabilities
    typ, _ = imap._simple_command("AUTHENTICATE", "OAUTHBEARER", bearer("t").decode())
    assert typ == "OK"
    imap.logout()


class Introspection(BaseHTTPRequestHandler):
    """RFC 7662 §2: POST token=...; answers from ``tokens``; records what it was asked."""

    tokens: dict[str, dict[str, object]] = {}
    seen: list[tuple[str, dict[str, list[str]]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        self.seen.append((self.headers.get("Authorization", ""), form))
        body = json.dumps(self.tokens.get(form["token"][0], {"active": False})).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def introspection() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Introspection)
    Introspection.tokens = {
        "good": {"active": True, "username": "alice", "scope": "imap other"},
        "no-scope": {"active": True, "username": "alice", "scope": "other"},
        "expired": {"active": True, "username": "alice", "scope": "imap", "exp": 1},
    }
    Introspection.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/introspect"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_token_introspection(make_server, introspection: str) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(auth={"oauth_introspection_url": introspection,
                            "oauth_client_id": "crispin", "oauth_client_secret": "s3cret:x",
                            "oauth_scope": "imap"})
    raw = srv.raw()
    for tag, token in ((b"a1", "unknown"), (b"a2", "no-scope"), (b"a3", "expired")):
        raw.send(tag + b" AUTHENTICATE OAUTHBEARER " + bearer(token) + b"\r\n")
        challenge = raw.line()
        assert json.loads(base64.b64decode(challenge[2:])) == {
            "status": "invalid_token", "scope": "imap"}
        raw.send(b"AQ==\r\n")
        assert raw.until_tagged(tag)[-1].startswith(tag + b" NO [AUTHENTICATIONFAILED]")
    assert raw.command(b"a4", b"AUTHENTICATE OAUTHBEARER " + bearer("good"))[-1].startswith(
        b"a4 OK")
    auth, form = Introspection.seen[-1]
    assert form == {"token": ["good"], "token_type_hint": ["access_token"]}
    # RFC 6749 §2.3.1: id and secret form-encoded, then HTTP Basic.
    assert auth == "Basic " + base64.b64encode(b"crispin:s3cret%3Ax").decode()


def test_introspection_unreachable_fails_cleanly(make_server) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        srv = make_server(auth={"oauth_introspection_url": url})
        raw = srv.raw()
        raw.send(b"a1 AUTHENTICATE OAUTHBEARER " + bearer("good") + b"\r\n")
        assert raw.line().startswith(b"+ ")
        raw.send(b"AQ==\r\n")
        assert raw.until_tagged(b"a1")[-1].startswith(b"a1 NO [AUTHENTICATIONFAILED]")
