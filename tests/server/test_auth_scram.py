"""AUTHENTICATE SCRAM-SHA-256 and SCRAM-SHA-256-PLUS over real sockets (RFC 5802, RFC 7677,
RFC 3501 §6.2.2), with imaplib and scramp, two clients nobody here wrote."""

from __future__ import annotations

import base64
import hashlib
import hmac
import imaplib
import socket
import ssl
from collections.abc import Callable

import pytest
import scramp

from tests.server.harness import PASSWORD, RawClient, ServerThread


def caps_of(client: imaplib.IMAP4) -> set[str]:
    return set(client.capabilities)


def scram_auth(name: str, password: str, mechanism: str = "SCRAM-SHA-256",
               channel_binding: tuple[str, object] | None = None,
               ) -> tuple[Callable[[bytes], bytes], list[scramp.ScramClient]]:
    """An imaplib authobject driving scramp: client-first, client-final, then the empty
    answer to the server-final-message (whose signature scramp checks)."""
    client = scramp.ScramClient([mechanism], name, password, channel_binding=channel_binding)
    step = [0]

    def respond(challenge: bytes) -> bytes:
        step[0] += 1
        if step[0] == 1:
            return client.get_client_first().encode()
        if step[0] == 2:
            client.set_server_first(challenge.decode())
            return client.get_client_final().encode()
        client.set_server_final(challenge.decode())  # raises if the server is not genuine
        return b""

    return respond, [client]


def test_scram_sha_256_logs_in_and_proves_the_server(server: ServerThread) -> None:
    imap = server.imap()
    assert "AUTH=SCRAM-SHA-256" in caps_of(imap)
    assert "AUTH=SCRAM-SHA-256-PLUS" not in caps_of(imap)  # no TLS, no channel binding
    respond, _ = scram_auth("alice", PASSWORD)
    typ, data = imap.authenticate("SCRAM-SHA-256", respond)
    assert typ == "OK"
    assert imap.select("INBOX")[0] == "OK"
    imap.logout()


def tls12(server: ServerThread) -> imaplib.IMAP4_SSL:
    ctx = server.client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return imaplib.IMAP4_SSL("127.0.0.1", server.tls_port, ssl_context=ctx, timeout=10)


@pytest.mark.parametrize("binding", ["tls-unique", "tls-server-end-point"])
def test_scram_plus_on_tls_1_2(server: ServerThread, binding: str) -> None:
    """TLS 1.2: -PLUS offered, with tls-unique (RFC 5929 §3, RFC 5802 §6.1's default) and
    tls-server-end-point (§4: the hash of the certificate scramp saw)."""
    imap = tls12(server)
    assert {"AUTH=SCRAM-SHA-256", "AUTH=SCRAM-SHA-256-PLUS"} <= caps_of(imap)
    respond, _ = scram_auth("alice", PASSWORD, "SCRAM-SHA-256-PLUS", (binding, imap.sock))
    assert imap.authenticate("SCRAM-SHA-256-PLUS", respond)[0] == "OK"
    imap.logout()


def test_scram_plus_on_tls_1_3(server: ServerThread) -> None:
    """TLS 1.3: -PLUS is not offered (its default binding, RFC 9266's tls-exporter, is not
    in Python's ssl), yet a client that asks for it with tls-server-end-point is served,
    and "y" is no downgrade here."""
    imap = server.imaps()
    assert imap.sock.version() == "TLSv1.3"
    assert "AUTH=SCRAM-SHA-256" in caps_of(imap)
    assert "AUTH=SCRAM-SHA-256-PLUS" not in caps_of(imap)
    respond, _ = scram_auth("alice", PASSWORD, "SCRAM-SHA-256-PLUS",
                            ("tls-server-end-point", imap.sock))
    assert imap.authenticate("SCRAM-SHA-256-PLUS", respond)[0] == "OK"
    imap.logout()
    sock = server.client_context().wrap_socket(
        socket.create_connection(("127.0.0.1", server.tls_port), timeout=10),
        server_hostname="localhost")
    lines = manual_exchange(RawClient("", 0, sock), b"a1", b"y,,")
    assert lines[-1].startswith(b"a1 OK")


def test_downgrade_to_non_plus_over_tls_fails(server: ServerThread) -> None:
    """RFC 5802 §6: "y" on a connection where the server offers -PLUS is a downgrade."""
    imap = tls12(server)
    first = base64.b64encode(b"y,,n=alice,r=abcdef").decode()
    typ, data = imap._simple_command("AUTHENTICATE", "SCRAM-SHA-256", first)
    assert typ == "NO"
    assert data[0].startswith(b"[AUTHENTICATIONFAILED]")
    assert b"server-does-support-channel-binding" in data[0]
    imap.logout()


def test_wrong_password_fails_and_connection_goes_on(server: ServerThread) -> None:
    imap = server.imap()
    respond, _ = scram_auth("alice", "not the password")
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap.authenticate("SCRAM-SHA-256", respond)
    respond, _ = scram_auth("alice", PASSWORD)
    assert imap.authenticate("SCRAM-SHA-256", respond)[0] == "OK"
    imap.logout()


def server_first(raw: RawClient, tag: bytes, name: bytes) -> bytes:
    raw.send(tag + b" AUTHENTICATE SCRAM-SHA-256 "
             + base64.b64encode(b"n,,n=" + name + b",r=fixednonce") + b"\r\n")
    line = raw.line()
    assert line.startswith(b"+ ")
    return base64.b64decode(line[2:])


def test_unknown_user_looks_like_a_known_one(server: ServerThread) -> None:
    """RFC 5802 §9: an unknown user gets a salt (stable for the name) and the same iteration
    count, and fails only at the proof, with the same answer as a wrong password."""
    raw = server.raw()
    firsts = []
    for tag in (b"a1", b"a2"):
        first = server_first(raw, tag, b"nobody")
        firsts.append(first.split(b",")[1:])
        raw.send(b"*\r\n")
        assert raw.until_tagged(tag)[-1].startswith(tag + b" BAD")
    assert firsts[0] == firsts[1]
    known = server_first(raw, b"a3", b"alice").split(b",")
    raw.send(b"*\r\n")
    raw.until_tagged(b"a3")
    assert known[2] == firsts[0][1] == b"i=4096"
    assert len(base64.b64decode(known[1][2:])) == len(base64.b64decode(firsts[0][0][2:]))
    imap = server.imap()
    respond, _ = scram_auth("nobody", PASSWORD)
    with pytest.raises(imaplib.IMAP4.error, match=r"AUTHENTICATIONFAILED\] Authentication failed"):
        imap.authenticate("SCRAM-SHA-256", respond)


def test_password_set_before_scram_needs_one_login(server: ServerThread) -> None:
    """A user whose password came as a bare hash (users file) has no SCRAM keys: SCRAM fails
    with a NO that says what to do; one LOGIN derives them."""
    from crispin.storage.passwords import hash_password

    server.call(server.running.ctx.store.update_password(
        "bob", password_hash=hash_password("bobs secret", 2**4)))
    imap = server.imap()
    respond, _ = scram_auth("bob", "bobs secret")
    with pytest.raises(imaplib.IMAP4.error, match="one login with LOGIN or PLAIN"):
        imap.authenticate("SCRAM-SHA-256", respond)
    imap.login("bob", "bobs secret")
    imap.logout()
    imap = server.imap()
    respond, _ = scram_auth("bob", "bobs secret")
    assert imap.authenticate("SCRAM-SHA-256", respond)[0] == "OK"
    imap.logout()


def test_new_password_replaces_the_keys(server: ServerThread) -> None:
    server.call(server.running.ctx.store.set_password("alice", "a new password"))
    imap = server.imap()
    respond, _ = scram_auth("alice", PASSWORD)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap.authenticate("SCRAM-SHA-256", respond)
    respond, _ = scram_auth("alice", "a new password")
    assert imap.authenticate("SCRAM-SHA-256", respond)[0] == "OK"
    imap.logout()


def test_scram_offered_where_passwords_may_not_go(make_server) -> None:  # type: ignore[no-untyped-def]
    """SCRAM sends no password, so it stays usable in clear when PLAIN is not."""
    srv = make_server(auth={"plaintext": "never"})
    imap = srv.imap()
    caps = caps_of(imap)
    assert "LOGINDISABLED" in caps and "AUTH=PLAIN" not in caps
    assert "AUTH=SCRAM-SHA-256" in caps and "SASL-IR" in caps
    respond, _ = scram_auth("alice", PASSWORD)
    assert imap.authenticate("SCRAM-SHA-256", respond)[0] == "OK"
    imap.logout()


def test_malformed_messages_are_bad(server: ServerThread) -> None:
    raw = server.raw()
    raw.send(b"a1 AUTHENTICATE SCRAM-SHA-256 " + base64.b64encode(b"q,,n=alice,r=x") + b"\r\n")
    assert raw.until_tagged(b"a1")[-1].startswith(b"a1 BAD")
    raw.send(b"a2 AUTHENTICATE SCRAM-SHA-256-PLUS\r\n")  # not offered without TLS
    assert raw.until_tagged(b"a2")[-1].startswith(b"a2 NO [CANNOT]")
    first = server_first(raw, b"a3", b"alice")
    nonce = first.split(b",")[0][2:]
    raw.send(base64.b64encode(b"c=biws,r=" + nonce + b",p=!!!") + b"\r\n")
    assert raw.until_tagged(b"a3")[-1].startswith(b"a3 BAD")
    assert raw.command(b"a4", b"NOOP")[-1].startswith(b"a4 OK")


def manual_exchange(raw: RawClient, tag: bytes, gs2: bytes,
                    password: str = PASSWORD) -> list[bytes]:
    """A SCRAM-SHA-256 client written out from RFC 5802 §3, for what scramp will not send
    (an authzid, the "y" flag); returns the lines from the server-final on."""
    bare = b"n=alice,r=clientnonce"
    raw.send(tag + b" AUTHENTICATE SCRAM-SHA-256 " + base64.b64encode(gs2 + bare) + b"\r\n")
    first = base64.b64decode(raw.line()[2:])
    attrs = dict(a.split(b"=", 1) for a in first.split(b","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs[b"s"]),
                                 int(attrs[b"i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    without_proof = b"c=" + base64.b64encode(gs2) + b",r=" + attrs[b"r"]
    auth_message = bare + b"," + first + b"," + without_proof
    signature = hmac.new(hashlib.sha256(client_key).digest(), auth_message,
                         hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    raw.send(base64.b64encode(without_proof + b",p=" + base64.b64encode(proof)) + b"\r\n")
    line = raw.line()
    if line.startswith(b"+ "):
        assert base64.b64decode(line[2:]).startswith(b"v=")
        raw.send(b"\r\n")
        return [line, *raw.until_tagged(tag)]
    return [line]


def test_proxy_authorisation_is_refused(server: ServerThread) -> None:
    """RFC 5802 §5.1 "a": alice may not act as bob; her own name as authzid is fine."""
    lines = manual_exchange(server.raw(), b"a1", b"n,a=bob,")
    assert lines[-1].startswith(b"a1 NO [AUTHENTICATIONFAILED]")
    assert manual_exchange(server.raw(), b"a2", b"n,a=alice,")[-1].startswith(b"a2 OK")


def test_not_offered_in_test_mode(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(test={"auth": "any"})
    caps = caps_of(srv.imap())
    assert "AUTH=PLAIN" in caps and "AUTH=SCRAM-SHA-256" not in caps
