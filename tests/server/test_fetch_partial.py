"""A partial FETCH of a large message reads only the range asked for (issue 10.3).

Thunderbird downloads a big message as ``BODY.PEEK[]<n.65536>`` chunks; reading the whole
body for each chunk made that quadratic in disk reads. Measured with the server process's
own read counter (``rchar`` in ``/proc/<pid>/io``), not with time.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.server.memory import MiB, bytes_read, message, populate
from tests.server.process import ServerProcess

PASSWORD = "secret-pw-2"


def _command(sock: socket.socket, buf: bytes, tag: bytes, text: bytes) -> tuple[bytes, bytes]:
    sock.sendall(tag + b" " + text + b"\r\n")
    end = b"\r\n" + tag + b" "
    buf = b"\r\n" + buf  # a tagged line may be the first one
    while end not in buf or b"\r\n" not in buf[buf.index(end) + 2:]:
        chunk = sock.recv(1 << 20)
        assert chunk, buf[-200:]
        buf += chunk
    cut = buf.index(end)
    after = buf.index(b"\r\n", cut + 2) + 2
    return buf[2:after], buf[after:]


def _literal(reply: bytes, name: bytes) -> bytes:
    m = re.search(re.escape(name) + rb" \{(\d+)\}\r\n", reply)
    assert m, reply[:300]
    return reply[m.end():m.end() + int(m[1])]


@pytest.mark.timeout(600)  # a loaded machine: the bound is on bytes read, not on time
def test_partial_fetches_read_only_their_range(tmp_path: Path) -> None:
    raw = message(0, 20 * MiB)
    header_size = raw.index(b"\r\n\r\n") + 4
    data = tmp_path / "data"
    populate(data, "alice", PASSWORD, [raw])
    srv = ServerProcess(data)
    try:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
        buf = b""
        _, buf = _command(sock, buf, b"l", b"LOGIN alice " + PASSWORD.encode())
        _, buf = _command(sock, buf, b"s", b"EXAMINE INBOX")
        before = bytes_read(srv.proc.pid)
        chunk = 65536
        asked = 0
        for i, origin in enumerate(range(0, len(raw), len(raw) // 16)):
            tag = b"p%d" % i
            reply, buf = _command(sock, buf, tag, b"FETCH 1 BODY.PEEK[]<%d.%d>" % (origin,
                                                                                 chunk))
            assert _literal(reply, b"BODY[]<%d>" % origin) == raw[origin:origin + chunk]
            asked += chunk
        reply, buf = _command(sock, buf, b"t", b"FETCH 1 BODY.PEEK[TEXT]<1000.500>")
        assert _literal(reply, b"BODY[TEXT]<1000>") == raw[header_size + 1000:
                                                          header_size + 1500]
        reply, buf = _command(sock, buf, b"u", b"FETCH 1 BODY.PEEK[1]<5000000.300>")
        assert _literal(reply, b"BODY[1]<5000000>") == raw[header_size + 5000000:
                                                          header_size + 5000300]
        reply, buf = _command(sock, buf, b"h", b"FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        assert _literal(reply, b"BODY[HEADER.FIELDS (SUBJECT)]") == \
            b"Subject: message 0\r\n\r\n"
        read = bytes_read(srv.proc.pid) - before
        # What was asked plus the database and socket reads around it; the whole body
        # per command would be 20 MiB x 20.
        assert read < asked + 4 * MiB, f"read {read / MiB:.1f} MiB for {asked / MiB:.1f}"
        sock.close()
    finally:
        srv.kill()

