"""Clients that take too long before login (issue 11 point 8): the login timeout bounds the
whole time to authenticate, not only silence (slowloris), and connections that never finish
their TLS handshake are counted against the connection limits and timed out."""

from __future__ import annotations

import asyncio
import socket
import time

from tests.server.harness import ServerThread


def test_trickling_client_is_cut_off_at_the_login_deadline(make_server) -> None:  # type: ignore[no-untyped-def]
    srv: ServerThread = make_server(limits={"login_timeout": 1.0})
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    assert sock.recv(1000).startswith(b"* OK")
    sock.settimeout(0.1)
    received = b""
    sent = 0
    command = b"a LOGIN alice " + b"x" * 200  # never finished: 200 s at this pace
    # The attack itself: one byte at a time, each well within the (silence) timeout.
    for byte in command:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            break
        sent += 1
        try:
            chunk = sock.recv(1000)
        except TimeoutError:
            time.sleep(0.1)  # pacing the attack, not synchronising with the server
            continue
        received += chunk
        if not chunk:
            break
    assert b"* BYE Login took too long" in received
    assert sent < len(command)  # cut off while still sending
    sock.close()


def test_stalled_tls_handshakes_count_against_the_limit_and_time_out(make_server) -> None:  # type: ignore[no-untyped-def]
    srv: ServerThread = make_server(limits={"max_connections_per_ip": 3,
                                            "tls_handshake_timeout": 1.0})
    stalled = [socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10)
               for _ in range(3)]
    # While those three sit in their handshake, a fourth connection is refused...
    extra = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    assert extra.recv(1000).startswith(b"* BYE Too many connections")
    extra.close()
    # ...and each stalled one is closed when its handshake times out.
    for sock in stalled:
        assert sock.recv(1000) == b""
        sock.close()
    listener = srv.running.listener

    async def connections_ended() -> None:
        if listener.tasks:
            await asyncio.wait(set(listener.tasks))

    srv.call(connections_ended())
    # Their places are free again: a real client gets in.
    with srv.imaps() as client:
        assert client.noop()[0] == "OK"


def test_tls_handshake_counts_toward_the_login_deadline(make_server) -> None:  # type: ignore[no-untyped-def]
    srv: ServerThread = make_server(limits={"login_timeout": 1.0,
                                            "tls_handshake_timeout": 30.0})
    sock = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10)
    assert sock.recv(1000) == b""  # closed at the login deadline, long before 30 s
    sock.close()
