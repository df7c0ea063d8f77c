"""UNAUTHENTICATE (RFC 8437): the same connection back in the not-authenticated state, every
piece of state but TLS reset (§3, §4.1), never answered NO."""

from __future__ import annotations

import base64
import socket

from tests.server.deflate_client import compressed_session
from tests.server.harness import PASSWORD, RawClient, ServerThread

LOGIN_ALICE = b'LOGIN alice "' + PASSWORD.encode() + b'"'
LOGIN_BOB = b'LOGIN bob "' + PASSWORD.encode() + b'"'


def append(c: RawClient, tag: bytes, subject: bytes) -> None:
    msg = b"Subject: " + subject + b"\r\n\r\nbody\r\n"
    c.send(tag + b" APPEND INBOX {" + str(len(msg)).encode() + b"+}\r\n" + msg + b"\r\n")
    assert c.until_tagged(tag)[-1].startswith(tag + b" OK")


def test_advertised_after_login_only_and_bad_before(server: ServerThread) -> None:
    c = server.raw()
    caps = c.command(b"a", b"CAPABILITY")[0]
    assert b"UNAUTHENTICATE" not in caps.split()
    # §3: BAD when issued in an invalid state
    assert c.command(b"b", b"UNAUTHENTICATE")[-1].startswith(b"b BAD")
    ok = c.command(b"c", LOGIN_ALICE)[-1]
    assert b" UNAUTHENTICATE" in ok  # the CAPABILITY code of the login's OK
    assert b"UNAUTHENTICATE" in c.command(b"d", b"CAPABILITY")[0].split()
    # §6: no arguments
    assert c.command(b"e", b"UNAUTHENTICATE now")[-1].startswith(b"e BAD")
    c.close()


def test_resets_the_session_for_another_user(server: ServerThread) -> None:
    c = server.raw()
    assert c.command(b"a", LOGIN_ALICE)[-1].startswith(b"a OK")
    append(c, b"b", b"alice's")
    append(c, b"c", b"alice's too")
    assert c.command(b"d", b"ENABLE CONDSTORE")[0] == b"* ENABLED CONDSTORE"
    assert c.command(b"e", b"SELECT INBOX")[-1].startswith(b"e OK")
    assert c.command(b"f", b"SEARCH RETURN (SAVE) ALL")[-1].startswith(b"f OK")
    # another session expunges meanwhile: §3, no expunge event on leaving the mailbox
    other = server.raw()
    assert other.command(b"x", LOGIN_ALICE)[-1].startswith(b"x OK")
    other.command(b"y", b"SELECT INBOX")
    assert other.command(b"z", b"STORE 1 +FLAGS.SILENT (\\Deleted)")[-1].startswith(b"z OK")
    assert other.command(b"w", b"EXPUNGE")[-1].startswith(b"w OK")
    other.close()

    lines = c.command(b"g", b"UNAUTHENTICATE")
    assert lines == [b"g OK UNAUTHENTICATE completed, now in not authenticated state"]
    caps = c.command(b"h", b"CAPABILITY")[0].split()
    assert b"UNAUTHENTICATE" not in caps and b"AUTH=PLAIN" in caps
    # not authenticated again: the pre-login command set applies
    assert c.command(b"i", b"SELECT INBOX")[-1].startswith(b"i BAD")
    assert c.command(b"j", b"UNAUTHENTICATE")[-1].startswith(b"j BAD")

    assert c.command(b"k", LOGIN_BOB)[-1].startswith(b"k OK")
    sel = c.command(b"l", b"SELECT INBOX")
    assert b"* 0 EXISTS" in sel  # bob's INBOX, not alice's
    # §4.1: CONDSTORE no longer enabled: FETCH carries no MODSEQ (RFC 7162 §3.1)
    append(c, b"m", b"bob's")
    fetch = c.command(b"n", b"FETCH 1 (FLAGS)")
    assert fetch[0].startswith(b"* 1 FETCH (FLAGS (") and b"MODSEQ" not in fetch[0]
    c.close()


def test_searchres_empty_after_unauthenticate(server: ServerThread) -> None:
    c = server.raw()
    c.command(b"a", LOGIN_ALICE)
    append(c, b"b", b"one")
    c.command(b"c", b"SELECT INBOX")
    assert c.command(b"d", b"SEARCH RETURN (SAVE) ALL")[-1].startswith(b"d OK")
    assert c.command(b"e", b"UNAUTHENTICATE")[-1].startswith(b"e OK")
    c.command(b"f", LOGIN_ALICE)
    c.command(b"g", b"SELECT INBOX")
    lines = c.command(b"h", b"UID SEARCH $")
    assert lines[0] == b"* SEARCH" and lines[-1].startswith(b"h OK")
    c.close()


def test_pipelined_with_authenticate_sasl_ir(server: ServerThread) -> None:
    """§3: a client may pipeline UNAUTHENTICATE with the next AUTHENTICATE (SASL-IR:
    one round trip to act as another user)."""
    c = server.raw()
    c.command(b"a", LOGIN_ALICE)
    c.command(b"b", b"SELECT INBOX")
    ir = base64.b64encode(b"\0bob\0" + PASSWORD.encode())
    c.send(b"c UNAUTHENTICATE\r\nd AUTHENTICATE PLAIN " + ir + b"\r\ne NAMESPACE\r\n")
    assert c.until_tagged(b"c")[-1].startswith(b"c OK")
    assert c.until_tagged(b"d")[-1].startswith(b"d OK")
    assert c.until_tagged(b"e")[-1].startswith(b"e OK")
    c.close()


def test_tls_stays_and_login_works_again(server: ServerThread) -> None:
    sock = server.client_context().wrap_socket(
        socket.create_connection(("127.0.0.1", server.tls_port), timeout=10),
        server_hostname="localhost")
    c = RawClient("127.0.0.1", 0, sock=sock)
    assert c.command(b"a", LOGIN_ALICE)[-1].startswith(b"a OK")
    assert c.command(b"b", b"UNAUTHENTICATE")[-1].startswith(b"b OK")
    caps = c.command(b"c", b"CAPABILITY")[0].split()
    assert b"STARTTLS" not in caps  # still under TLS (§3: its state is kept)
    assert c.command(b"d", LOGIN_BOB)[-1].startswith(b"d OK")
    c.close()


def test_under_compression_the_connection_closes_with_bye(server: ServerThread) -> None:
    """§4.1 ends COMPRESS at the command's CRLFs; the server cannot tell where the client's
    deflate stream ends, and §3 allows an untagged BYE then a close instead of a NO."""
    client = compressed_session(server, tls=False)
    client.send(b"z UNAUTHENTICATE\r\n")
    assert client.line().startswith(b"* BYE")
    server.wait_connections_closed()
    assert client.sock.recv(100) == b""
