"""STARTTLS and implicit TLS (RFC 3501 §6.2.1, RFC 8314) and the generated certificate."""

from __future__ import annotations

import os
import socket
import ssl
import stat
from typing import Any

import pytest
from cryptography import x509

from tests.server.harness import PASSWORD, RawClient, ServerThread


def test_implicit_tls_login(server: ServerThread) -> None:
    client = server.imaps()
    assert "STARTTLS" not in client.capabilities
    assert client.login("alice", PASSWORD)[0] == "OK"
    typ, _data = client.list()
    assert typ == "OK"
    client.logout()


def test_starttls_then_login(server: ServerThread) -> None:
    client = server.imap()
    assert "STARTTLS" in client.capabilities
    client.starttls(server.client_context())
    _typ, data = client.capability()
    assert b"STARTTLS" not in data[0].split()
    assert client.login("alice", PASSWORD)[0] == "OK"
    client.logout()


def test_tls_version_is_at_least_1_2(server: ServerThread) -> None:
    ctx = server.client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with socket.create_connection(("127.0.0.1", server.tls_port), timeout=5) as sock:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
                tls.recv(100)


def test_starttls_discards_pipelined_commands(server: ServerThread) -> None:
    """CVE-2011-0411: a command injected after STARTTLS in the same packet must not be run
    as if it came over TLS."""
    raw = server.raw()
    raw.send(b"a1 STARTTLS\r\na2 LOGIN alice \"" + PASSWORD.encode() + b"\"\r\n")
    assert raw.line().startswith(b"a1 OK")
    assert raw.buf == b""
    tls = server.client_context().wrap_socket(raw.sock, server_hostname="localhost")
    client = RawClient.__new__(RawClient)
    client.sock, client.buf = tls, b""
    lines = client.command(b"a3", b"CAPABILITY")
    assert not any(line.startswith(b"a2") for line in lines), lines
    assert lines[-1].startswith(b"a3 OK")
    caps = lines[0].split()
    assert b"STARTTLS" not in caps
    # Still not logged in: the injected LOGIN was dropped.
    assert client.command(b"a4", b"LIST \"\" *")[-1].startswith(b"a4 BAD")


def test_generated_certificate_is_a_leaf_for_localhost(server: ServerThread) -> None:
    cert = x509.load_pem_x509_certificate(server.cert_path.read_bytes())
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca is False
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    assert {"127.0.0.1", "::1"} <= ips
    key_path = server.cert_path.parent / "key.pem"
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    # hostname verification against both names succeeds
    for host in ("localhost", "127.0.0.1"):
        with socket.create_connection(("127.0.0.1", server.tls_port), timeout=5) as sock:
            with server.client_context().wrap_socket(sock, server_hostname=host) as tls:
                assert tls.recv(100).startswith(b"* OK")


def test_certificate_reused_across_restarts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = ServerThread(tmp_path / "d")
    fp = first.running.fingerprint
    first.stop()
    second = ServerThread(tmp_path / "d")
    try:
        assert second.running.fingerprint == fp
    finally:
        second.stop()


def test_tls_uses_no_private_asyncio_api(server: ServerThread) -> None:
    """Issue 10.9: TLS runs on the ssl module's memory BIOs (server/tls_layer.py); the
    server no longer patches asyncio.sslproto.SSLProtocol.max_size process-wide."""
    from asyncio import sslproto

    assert sslproto.SSLProtocol.max_size == 256 * 1024
    client = server.imaps()
    assert client.login("alice", PASSWORD)[0] == "OK"
    # A large answer and a large command both cross several TLS records.
    client.create("Big")
    body = b"Subject: big\r\n\r\n" + b"z" * 200_000 + b"\r\n"
    assert client.append("Big", None, None, body)[0] == "OK"
    client.select("Big")
    typ, data = client.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == body  # type: ignore[index]
    client.logout()


def test_implicit_tls_handshake_times_out(make_server: Any) -> None:
    """A client that connects to the TLS port and never starts the handshake is dropped
    after the handshake timeout (``limits.tls_handshake_timeout``), without a greeting in
    the clear."""
    server = make_server(limits={"tls_handshake_timeout": 0.5})
    sock = socket.create_connection(("127.0.0.1", server.tls_port), timeout=30)
    try:
        assert sock.recv(100) == b""  # closed, nothing sent
    finally:
        sock.close()


def test_implicit_tls_garbage_is_refused(server: ServerThread) -> None:
    sock = socket.create_connection(("127.0.0.1", server.tls_port), timeout=30)
    try:
        sock.sendall(b"a1 LOGIN alice secret\r\n")
        data = sock.recv(100)
        assert not data.startswith(b"* OK") and not data.startswith(b"a1")
    finally:
        sock.close()
    assert server.imaps().login("alice", PASSWORD)[0] == "OK"
