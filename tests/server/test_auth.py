"""Greeting, CAPABILITY, LOGIN, AUTHENTICATE (RFC 3501 §6.1, §6.2; RFC 4959; RFC 4616)."""

from __future__ import annotations

import base64
import imaplib
import time

import pytest

from tests.server.harness import PASSWORD, ServerThread


def caps_of(line: bytes) -> set[bytes]:
    start = line.index(b"[CAPABILITY ") + len(b"[CAPABILITY ")
    return set(line[start:line.index(b"]", start)].split())


def test_greeting_carries_capabilities(server: ServerThread) -> None:
    raw = server.raw()
    assert raw.greeting.startswith(b"* OK [CAPABILITY ")
    caps = caps_of(raw.greeting)
    assert {b"IMAP4rev1", b"STARTTLS", b"AUTH=PLAIN", b"AUTH=LOGIN", b"SASL-IR"} <= caps
    assert b"LOGINDISABLED" not in caps  # loopback may log in in clear, like Dovecot


def test_capability_differs_after_login(server: ServerThread) -> None:
    client = server.imap()
    before = set(client.capabilities)
    typ, data = client.login("alice", PASSWORD)
    assert typ == "OK"
    typ, data = client.capability()
    after = set(data[0].decode().split())
    assert "STARTTLS" in before and "STARTTLS" not in after
    assert "AUTH=PLAIN" not in after and "CHILDREN" in after
    client.logout()


def test_logout_sends_bye_then_ok_then_closes(server: ServerThread) -> None:
    raw = server.raw()
    lines = raw.command(b"a1", b"LOGOUT")
    assert lines[0].startswith(b"* BYE")
    assert lines[1].startswith(b"a1 OK")
    assert raw.closed()


def test_noop_in_every_state(server: ServerThread) -> None:
    raw = server.raw()
    assert raw.command(b"a", b"NOOP")[-1].startswith(b"a OK")
    assert raw.command(b"b", b"LOGIN alice \"" + PASSWORD.encode() + b"\"")[-1].startswith(
        b"b OK [CAPABILITY ")
    assert raw.command(b"c", b"NOOP")[-1].startswith(b"c OK")


def test_login_wrong_password_is_delayed(server: ServerThread) -> None:
    raw = server.raw()
    start = time.monotonic()
    lines = raw.command(b"a1", b"LOGIN alice wrong")
    assert lines[-1].startswith(b"a1 NO [AUTHENTICATIONFAILED]")
    assert time.monotonic() - start >= 0.2  # configured failure_delay
    # the connection is still usable
    assert raw.command(b"a2", b'LOGIN alice "' + PASSWORD.encode() + b'"')[-1].startswith(
        b"a2 OK")


def test_unknown_user_fails_like_wrong_password(server: ServerThread) -> None:
    client = server.imap()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("nobody", PASSWORD)


def test_failed_login_does_not_block_others(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(auth={"failure_delay": 3.0})
    slow = srv.raw()
    slow.send(b"a1 LOGIN alice wrong\r\n")
    start = time.monotonic()
    other = srv.login()
    other.logout()
    assert time.monotonic() - start < 2.5
    assert slow.until_tagged(b"a1")[-1].startswith(b"a1 NO [AUTHENTICATIONFAILED]")


def test_login_literal_password(server: ServerThread) -> None:
    raw = server.raw()
    raw.send(b"a1 LOGIN alice {%d}\r\n" % len(PASSWORD))
    assert raw.line().startswith(b"+ ")
    raw.send(PASSWORD.encode() + b"\r\n")
    assert raw.until_tagged(b"a1")[-1].startswith(b"a1 OK")


def test_login_literal_plus(server: ServerThread) -> None:
    raw = server.raw()
    raw.send(b"a1 LOGIN alice {%d+}\r\n%s\r\n" % (len(PASSWORD), PASSWORD.encode()))
    assert raw.until_tagged(b"a1")[-1].startswith(b"a1 OK")


def test_authenticate_plain_with_initial_response(server: ServerThread) -> None:
    raw = server.raw()
    ir = base64.b64encode(b"\0alice\0" + PASSWORD.encode())
    assert raw.command(b"a1", b"AUTHENTICATE PLAIN " + ir)[-1].startswith(b"a1 OK")


def test_authenticate_plain_with_continuation(server: ServerThread) -> None:
    raw = server.raw()
    raw.send(b"a1 AUTHENTICATE PLAIN\r\n")
    assert raw.line() == b"+ "
    raw.send(base64.b64encode(b"alice\0alice\0" + PASSWORD.encode()) + b"\r\n")
    assert raw.until_tagged(b"a1")[-1].startswith(b"a1 OK")


def test_authenticate_plain_imaplib(server: ServerThread) -> None:
    client = server.imap()
    typ, _ = client.authenticate("PLAIN", lambda _: b"\0alice\0" + PASSWORD.encode())
    assert typ == "OK"
    client.logout()


def test_authenticate_login_mechanism(server: ServerThread) -> None:
    raw = server.raw()
    raw.send(b"a1 AUTHENTICATE LOGIN\r\n")
    assert base64.b64decode(raw.line()[2:]) == b"Username:"
    raw.send(base64.b64encode(b"alice") + b"\r\n")
    assert base64.b64decode(raw.line()[2:]) == b"Password:"
    raw.send(base64.b64encode(PASSWORD.encode()) + b"\r\n")
    assert raw.until_tagged(b"a1")[-1].startswith(b"a1 OK")


def test_authenticate_login_with_initial_response(server: ServerThread) -> None:
    raw = server.raw()
    raw.send(b"a1 AUTHENTICATE LOGIN " + base64.b64encode(b"alice") + b"\r\n")
    assert base64.b64decode(raw.line()[2:]) == b"Password:"
    raw.send(base64.b64encode(PASSWORD.encode()) + b"\r\n")
    assert raw.until_tagged(b"a1")[-1].startswith(b"a1 OK")


def test_authenticate_cancel(server: ServerThread) -> None:
    raw = server.raw()
    raw.send(b"a1 AUTHENTICATE PLAIN\r\n")
    assert raw.line().startswith(b"+")
    raw.send(b"*\r\n")
    assert raw.until_tagged(b"a1")[-1].startswith(b"a1 BAD")
    assert raw.command(b"a2", b"NOOP")[-1].startswith(b"a2 OK")


def test_authenticate_bad_base64_and_wrong_password(server: ServerThread) -> None:
    raw = server.raw()
    assert raw.command(b"a1", b"AUTHENTICATE PLAIN !!!notbase64")[-1].startswith(b"a1 BAD")
    ir = base64.b64encode(b"\0alice\0nope")
    assert raw.command(b"a2", b"AUTHENTICATE PLAIN " + ir)[-1].startswith(
        b"a2 NO [AUTHENTICATIONFAILED]")


def test_authenticate_unknown_mechanism(server: ServerThread) -> None:
    raw = server.raw()
    assert raw.command(b"a1", b"AUTHENTICATE CRAM-MD5")[-1].startswith(b"a1 NO")


def test_authzid_other_than_self_is_refused(server: ServerThread) -> None:
    raw = server.raw()
    ir = base64.b64encode(b"bob\0alice\0" + PASSWORD.encode())
    assert raw.command(b"a1", b"AUTHENTICATE PLAIN " + ir)[-1].startswith(
        b"a1 NO [AUTHENTICATIONFAILED]")


def test_commands_in_wrong_state(server: ServerThread) -> None:
    raw = server.raw()
    assert raw.command(b"a1", b"LIST \"\" *")[-1].startswith(b"a1 BAD")
    raw.command(b"a2", b'LOGIN alice "' + PASSWORD.encode() + b'"')
    assert raw.command(b"a3", b"LOGIN alice x")[-1].startswith(b"a3 BAD")
    assert raw.command(b"a4", b"STARTTLS")[-1].startswith(b"a4 BAD")


def test_plaintext_refused_when_configured(make_server) -> None:  # type: ignore[no-untyped-def]
    """Dovecot's disable_plaintext_auth: here forced with auth.plaintext = "never", since
    tests may only use loopback, which is trusted by default."""
    srv = make_server(auth={"plaintext": "never"})
    raw = srv.raw()
    caps = caps_of(raw.greeting)
    assert b"LOGINDISABLED" in caps and b"AUTH=PLAIN" not in caps
    assert raw.command(b"a1", b'LOGIN alice "' + PASSWORD.encode() + b'"')[-1].startswith(
        b"a1 NO [PRIVACYREQUIRED]")
    ir = base64.b64encode(b"\0alice\0" + PASSWORD.encode())
    assert raw.command(b"a2", b"AUTHENTICATE PLAIN " + ir)[-1].startswith(
        b"a2 NO [PRIVACYREQUIRED]")
    # After TLS the same login works.
    client = srv.imap()
    client.starttls(srv.client_context())
    assert "LOGINDISABLED" not in client.capabilities
    assert client.login("alice", PASSWORD)[0] == "OK"
    client.logout()


def test_auth_cache_keeps_password_checks_correct(server: ServerThread) -> None:
    for _ in range(3):
        c = server.login()
        c.logout()
    with pytest.raises(imaplib.IMAP4.error):
        server.login("alice", "not the password")
