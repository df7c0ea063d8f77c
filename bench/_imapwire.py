"""A small raw IMAP client for the benchmarks: frames lines and ``{n}`` literals itself,
because imaplib is too slow to read 100,000-line answers (bench/mailbox100k.py, sharing.py).
"""

from __future__ import annotations

import re
import socket
import time

from _common import PASSWORD, USER

HOST = "127.0.0.1"
CONNECT_TIMEOUT = 600.0          # socket timeout: one answer may take long, never forever


class ProtocolError(Exception):
    pass


_LITERAL = re.compile(rb"\{(\d+)\+?\}$")


class Reader:
    """Frames server output: CRLF lines and ``{n}`` literals (a response may carry several)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.pos = 0

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ProtocolError("connection closed by server")
        self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                out = self.buf[self.pos:i]
                self.pos = i + 2
                return out
            self._fill()

    def exact(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n:
            self._fill()
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def response(self) -> tuple[bytes, list[bytes]]:
        """One response: its text with each literal replaced by ``{n}``, and the literals."""
        line = self.line()
        if not line.endswith(b"}"):
            return line, []
        parts, lits = [], []
        while True:
            parts.append(line)
            m = _LITERAL.search(line) if line.endswith(b"}") else None
            if m is None:
                return b"\r\n".join(parts), lits
            lits.append(self.exact(int(m.group(1))))
            line = self.line()

    def until_tagged(self, tag: bytes, keep: bool = False
                     ) -> tuple[bytes, int, int, list[tuple[bytes, list[bytes]]]]:
        """Read to the tagged response: (tagged line, untagged count, literal count, kept)."""
        prefix = tag + b" "
        count = literals = 0
        kept: list[tuple[bytes, list[bytes]]] = []
        while True:
            text, lits = self.response()
            if text.startswith(prefix):
                return text, count, literals, kept
            if text.startswith(b"* "):
                count += 1
                literals += len(lits)
                if keep:
                    kept.append((text, lits))
            elif text.startswith(b"+"):
                raise ProtocolError(f"unexpected continuation: {text[:80]!r}")


class Client:
    def __init__(self, port: int, login: bool = True) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=CONNECT_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.r = Reader(self.sock)
        self.n = 0
        greeting = self.r.line()
        if not greeting.startswith(b"* OK"):
            raise ProtocolError(greeting.decode(errors="replace"))
        if login:
            self.ok(f'LOGIN {USER} "{PASSWORD}"')

    def tag(self) -> bytes:
        self.n += 1
        return b"c%d" % self.n

    def run(self, command: str, keep: bool = False
            ) -> tuple[bytes, int, int, list[tuple[bytes, list[bytes]]]]:
        tag = self.tag()
        self.sock.sendall(tag + b" " + command.encode() + b"\r\n")
        return self.r.until_tagged(tag, keep)

    def ok(self, command: str, keep: bool = False
           ) -> tuple[bytes, int, int, list[tuple[bytes, list[bytes]]]]:
        out = self.run(command, keep)
        if b" OK" not in out[0][:12]:
            raise ProtocolError(f"{command[:60]}: {out[0].decode(errors='replace')[:200]}")
        return out

    def timed(self, command: str, keep: bool = False
              ) -> tuple[float, tuple[bytes, int, int, list[tuple[bytes, list[bytes]]]]]:
        """``run``, timed from the send to the last byte of the tagged response: the
        bytes are only received while the clock runs (the tagged line is found at the end
        of what arrived), then framed and counted as ``run`` does once it has stopped, so
        the client's parsing (70,000 numbers of a ``SEARCH UNSEEN`` line, 100,000 FETCH
        lines) is not in the figure. A tagged-looking line that was not the end (inside a
        literal) would leave the framing short: ``ProtocolError``, never a wrong figure."""
        if self.r.pos != len(self.r.buf):
            raise ProtocolError("timed command with unread data before it")
        tag = self.tag()
        sock = self.sock
        chunks: list[bytes] = []
        tail = b""
        total = 0
        start = tag + b" "
        t0 = time.perf_counter()
        sock.sendall(tag + b" " + command.encode() + b"\r\n")
        while True:
            data = sock.recv(1 << 20)
            if not data:
                raise ProtocolError("connection closed by server")
            chunks.append(data)
            total += len(data)
            tail = (tail + data)[-4096:]
            if tail.endswith(b"\r\n"):
                # The last line: after the CRLF before it, or all there is.
                i = tail.rfind(b"\r\n", 0, len(tail) - 2)
                if (i >= 0 or total == len(tail)) and tail[i + 2 if i >= 0 else 0:] \
                        .startswith(start):
                    break
        wall = time.perf_counter() - t0
        reader = Reader(_Received(b"".join(chunks)))  # type: ignore[arg-type]
        out = reader.until_tagged(tag, keep)
        if reader.pos != len(reader.buf):
            raise ProtocolError("bytes after the tagged response")
        return wall, out

    def close(self) -> None:
        try:
            self.sock.sendall(b"z LOGOUT\r\n")
            self.r.until_tagged(b"z")
        except (OSError, ProtocolError):
            pass
        self.sock.close()


class _Received:
    """Bytes already received, read by ``Reader`` as if from the socket."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def recv(self, _: int) -> bytes:
        data, self.data = self.data, b""
        return data


def _status(tagged: bytes) -> str:
    parts = tagged.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 else "?"


# --------------------------------------------------------------------------------------------
# Loading
