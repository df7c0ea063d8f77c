"""Bad input, limits and timeouts: a clear answer and a connection that keeps working."""

from __future__ import annotations

import socket

import pytest

from tests.server.harness import PASSWORD, ServerThread


def test_syntax_errors_answer_bad_and_keep_the_connection(server: ServerThread) -> None:
    raw = server.raw()
    assert raw.command(b"a1", b"FROBNICATE")[-1].startswith(b"a1 BAD")
    assert raw.command(b"a2", b"LOGIN")[-1].startswith(b"a2 BAD")
    assert raw.command(b"a2b", b"SELECT")[-1].startswith(b"a2b BAD")
    assert raw.command(b"a3", b"NOOP")[-1].startswith(b"a3 OK")


def test_overlong_line_is_refused_then_resynchronised(server: ServerThread) -> None:
    raw = server.raw()
    raw.send(b"a1 NOOP " + b"x" * 70000 + b"\r\n")
    line = raw.until_tagged(b"a1")[-1]
    assert line.startswith(b"a1 BAD")
    assert raw.command(b"a2", b"NOOP")[-1].startswith(b"a2 OK")


def test_oversized_synchronising_literal_refused_before_payload(server: ServerThread) -> None:
    raw = server.raw()
    raw.send(b"a1 LOGIN alice {100000000}\r\n")
    line = raw.until_tagged(b"a1")[-1]
    assert line.startswith(b"a1 BAD") or line.startswith(b"a1 NO")
    assert b"TOOBIG" in line
    assert raw.command(b"a2", b"NOOP")[-1].startswith(b"a2 OK")


def test_too_many_bad_commands_closes(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(limits={"max_bad_commands": 3})
    raw = srv.raw()
    for i in range(3):
        assert raw.command(b"t%d" % i, b"BOGUS")[-1].startswith(b"t%d BAD" % i)
    raw.send(b"t9 BOGUS\r\n")
    lines = [raw.line(), raw.line()]
    assert lines[1].startswith(b"* BYE")
    assert raw.closed()


def test_unauthenticated_timeout(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(limits={"login_timeout": 0.5})
    raw = srv.raw()
    raw.sock.settimeout(5)
    assert raw.line().startswith(b"* BYE")
    assert raw.closed()


def test_authenticated_idle_timeout(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(limits={"login_timeout": 0.3, "idle_timeout": 1.2})
    raw = srv.raw()
    raw.command(b"a", b'LOGIN alice "' + PASSWORD.encode() + b'"')
    # Past the login timeout nothing comes (it no longer applies): what is observed is the
    # server's silence, read from the socket.
    raw.sock.settimeout(0.6)
    with pytest.raises(TimeoutError):
        raw.line()
    raw.sock.settimeout(10)
    assert raw.command(b"b", b"NOOP")[-1].startswith(b"b OK")
    raw.sock.settimeout(5)
    assert raw.line().startswith(b"* BYE")


def test_connection_limit_per_ip(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(limits={"max_connections_per_ip": 2})
    a, b = srv.raw(), srv.raw()
    third = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    assert third.recv(1000).startswith(b"* BYE")
    a.close()
    srv.wait_connections_closed(first=True)  # a's slot is free once its session ended
    c = srv.raw()
    assert c.greeting.startswith(b"* OK")
    b.close()
    c.close()


def test_total_connection_limit(make_server) -> None:  # type: ignore[no-untyped-def]
    srv = make_server(limits={"max_connections": 3})
    clients = [srv.raw() for _ in range(3)]
    extra = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5)
    tls = srv.client_context().wrap_socket(extra, server_hostname="localhost")
    assert tls.recv(1000).startswith(b"* BYE")
    for c in clients:
        c.close()


def test_many_concurrent_sessions(server: ServerThread) -> None:
    clients = [server.login("alice" if i % 2 else "bob") for i in range(20)]
    for i, c in enumerate(clients):
        assert c.create(f"box{i}")[0] == "OK"
    for c in clients:
        assert c.noop()[0] == "OK"
        c.logout()


def test_abrupt_disconnects_cost_nothing(server: ServerThread) -> None:
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.recv(100)
        s.sendall(b"a1 LOGIN alice")  # half a command, then gone
        s.close()
    server.wait_connections_closed()  # each greeted, so each has its session task
    c = server.login()
    assert c.noop()[0] == "OK"
    c.logout()
    server.wait_connections_closed()
    assert len(server.running.listener.tasks) == 0
    assert not server.running.listener.per_ip


def test_parser_bug_is_answered_bad_and_logged(server: ServerThread, monkeypatch,  # type: ignore[no-untyped-def]
                                               caplog) -> None:
    """Issue 10.15: a bug inside the parser (not a syntax error) still answers BAD, but its
    traceback reaches the log instead of vanishing into "Invalid command"."""
    import logging

    import crispin.protocol.connection

    real = crispin.protocol.connection.parse_command

    def broken(buf: bytes, *args, **kwargs):  # type: ignore[no-untyped-def]
        if b"XYZZY" in buf:
            raise ZeroDivisionError("parser bug for the test")
        return real(buf, *args, **kwargs)

    monkeypatch.setattr(crispin.protocol.connection, "parse_command", broken)
    caplog.set_level(logging.ERROR, logger="crispin")
    raw = server.raw()
    assert raw.command(b"a1", b"NOOP XYZZY")[-1].startswith(b"a1 BAD")
    assert raw.command(b"a2", b"NOOP")[-1].startswith(b"a2 OK")
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is ZeroDivisionError]
    assert logged, caplog.text
