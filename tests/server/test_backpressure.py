"""A client that does not read its replies must not grow the server's memory (issue 10.5,
11.4): reading of commands stops while replies wait, large literals stream, and one APPEND
cannot carry messages past its bounds (MULTIAPPEND, limits.max_multiappend_size).

Each test starts its own ``crispin serve`` process and compares its peak RSS (VmHWM, read
from the kernel after the attack) with what the attack would make it hold if it buffered.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.server.memory import MiB, message, peak_rss, populate, slow_reader
from tests.server.process import ServerProcess

PASSWORD = "secret-pw-1"


def _login(sock: socket.socket) -> bytes:
    """Greeting, LOGIN, SELECT INBOX; returns whatever arrived after SELECT's OK."""
    sock.sendall(b"l LOGIN alice " + PASSWORD.encode() + b"\r\ns SELECT INBOX\r\n")
    return _until(sock, b"s OK")


def _until(sock: socket.socket, marker: bytes, buf: bytes = b"") -> bytes:
    while marker not in buf:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError(buf[-300:])
        buf += chunk
    return buf


def _server(tmp_path: Path, messages: list[bytes],
            env: dict[str, str] | None = None) -> ServerProcess:
    data = tmp_path / "data"
    populate(data, "alice", PASSWORD, messages)
    return ServerProcess(data, env=env)


def _warm_up(srv: ServerProcess, command: bytes) -> None:
    """Run the attack's command once on a reading client, so the baseline includes what
    answering it costs anyway (caches, one batch, the allocator's arenas)."""
    sock = slow_reader(srv.port)
    try:
        _login(sock)
        sock.sendall(b"w " + command + b"\r\n")
        _until(sock, b"\r\nw OK")
    finally:
        sock.close()


@pytest.mark.timeout(600)  # a loaded machine: the bound is on memory, not on time
def test_pipelined_search_flood_to_a_client_that_does_not_read(tmp_path: Path) -> None:
    """Issue 11.4: 2,000 pipelined SEARCH ALL over 1,500 messages (about 13 MB of
    replies) while the client reads nothing."""
    srv = _server(tmp_path, [message(i, 300) for i in range(1500)])
    try:
        _warm_up(srv, b"SEARCH ALL")
        base = peak_rss(srv.proc.pid)
        sock = slow_reader(srv.port)
        _login(sock)
        count = 2000
        sock.sendall(b"".join(b"q%d SEARCH ALL\r\n" % i for i in range(count)))
        # Another client's full round trip (scrypt LOGIN) lets an unbounded server run
        # ahead; the measurement does not depend on it.
        other = slow_reader(srv.port)
        _login(other)
        other.close()
        # Now read everything: every SEARCH is answered, in order.
        buf = b""
        while not buf.endswith(b"q%d OK SEARCH completed\r\n" % (count - 1)):
            chunk = sock.recv(1 << 20)
            assert chunk, buf[-300:]
            buf = (buf + chunk)[-4096:]
        grown = peak_rss(srv.proc.pid) - base
        replies = count * len(b" ".join(b"%d" % n for n in range(1, 1501)))
        assert replies > 12 * MiB
        # Buffering them would hold the replies (and their joined copy): several times this.
        assert grown < 6 * MiB, f"peak RSS grew {grown / MiB:.1f} MiB"
        sock.close()
    finally:
        srv.kill()


@pytest.mark.timeout(600)
def test_large_fetch_to_a_client_that_does_not_read(tmp_path: Path) -> None:
    """Issue 10.2 / 11.4: FETCH 1:* BODY.PEEK[] of 6 x 8 MB streams from the blob files."""
    size = 8 * MiB
    count = 6
    bodies = [message(i, size) for i in range(count)]
    srv = _server(tmp_path, bodies)
    try:
        _warm_up(srv, b"FETCH 1 (UID FLAGS)")
        base = peak_rss(srv.proc.pid)
        sock = slow_reader(srv.port)
        _login(sock)
        sock.sendall(b"f FETCH 1:* BODY.PEEK[]\r\n")
        other = slow_reader(srv.port)
        _login(other)
        other.close()
        received = 0
        buf = b""
        while not buf.endswith(b"f OK FETCH completed\r\n"):
            chunk = sock.recv(1 << 20)
            assert chunk, buf[-300:]
            received += len(chunk)
            buf = (buf + chunk)[-100:]
        assert received > sum(len(b) for b in bodies)
        grown = peak_rss(srv.proc.pid) - base
        assert grown < size * count // 4, f"peak RSS grew {grown / MiB:.1f} MiB"
        sock.close()
    finally:
        srv.kill()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("sync", [False, True])
def test_append_with_many_messages_is_refused(tmp_path: Path, sync: bool) -> None:
    """Issue 11.4: several messages in one APPEND (MULTIAPPEND, RFC 3502) are refused at
    the message that takes the command past ``limits.max_multiappend_size``, and the whole
    command with it; non-synchronising payloads are counted away, not kept."""
    srv = _server(tmp_path, [message(0, 300)],
                  env={"CRISPIN_LIMITS_MAX_MULTIAPPEND_SIZE": str(MiB)})
    try:
        base = peak_rss(srv.proc.pid)
        sock = slow_reader(srv.port)
        _login(sock)
        body = message(1, 250 * 1024)
        if sync:
            sock.sendall(b"a APPEND INBOX {%d}\r\n" % len(body))
            for _ in range(4):  # 4 x 250 KiB fit in 1 MiB
                _until(sock, b"+ ")
                sock.sendall(body + b" {%d}\r\n" % len(body))
            reply = _until(sock, b"\r\n", _until(sock, b"a "))
        else:
            count = 100
            literal = b" {%d+}\r\n" % len(body) + body
            sock.sendall(b"a APPEND INBOX" + literal * count + b"\r\n")
            reply = _until(sock, b"\r\n", _until(sock, b"a "))
        assert b"a NO [TOOBIG]" in reply, reply
        # The connection goes on; the refused command stored nothing.
        sock.sendall(b"n NOOP\r\nx STATUS INBOX (MESSAGES)\r\n")
        reply = _until(sock, b"x OK")
        assert b"(MESSAGES 1)" in reply, reply
        grown = peak_rss(srv.proc.pid) - base
        assert grown < 12 * MiB, f"peak RSS grew {grown / MiB:.1f} MiB"
        sock.close()
    finally:
        srv.kill()
