"""A small literal-aware IMAP client (:class:`Imap`), its :class:`Reply`, a response parser
and message builders, shared by the server tests that talk raw IMAP over 127.0.0.1.

Every socket has a timeout.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.server.harness import PASSWORD, ServerThread

CORPUS = Path(__file__).parent.parent / "protocol" / "mime" / "corpus"

_LITERAL_END = re.compile(rb"\{(\d+)\+?\}$")


def corpus(name: str) -> bytes:
    return (CORPUS / f"{name}.eml").read_bytes()


def message(subject: str = "hello", body: str = "body text", frm: str = "a@example.com") -> bytes:
    return (f"From: {frm}\r\nTo: b@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.com>\r\n\r\n{body}\r\n").encode()


# -- a small IMAP client that understands literals ------------------------------------------


@dataclass
class Reply:
    """A command's answer: untagged responses (literals inlined as ``{n}\\r\\n`` + data) and
    the tagged line."""

    untagged: list[bytes]
    tagged: bytes

    @property
    def ok(self) -> bool:
        return self.status == "OK"

    @property
    def status(self) -> str:
        return self.tagged.split(b" ", 2)[1].decode()

    def code(self) -> str | None:
        m = re.match(rb"\S+ \S+ \[([^\]]*)\]", self.tagged)
        return m.group(1).decode() if m else None

    def fetches(self) -> list[tuple[int, dict[str, Any]]]:
        """``(msn, {ITEM: value})`` for every untagged FETCH, in order."""
        return [(int(r.split()[1]), fetch_items(r)) for r in self.untagged
                if re.match(rb"\* \d+ FETCH ", r)]

    def numbered(self, word: str) -> list[int]:
        """Numbers of ``* n WORD`` responses (EXISTS, EXPUNGE, RECENT) in order."""
        pat = re.compile(rb"\* (\d+) " + word.encode() + rb"$")
        return [int(m.group(1)) for r in self.untagged if (m := pat.match(r))]

    def kinds(self) -> list[str]:
        """``EXPUNGE``/``EXISTS``/``FETCH``/``OK``... for each untagged response, in order."""
        out = []
        for r in self.untagged:
            parts = r.split(b" ", 3)
            out.append((parts[2] if parts[1].isdigit() else parts[1]).decode())
        return out

    def ok_codes(self) -> dict[str, bytes]:
        """``* OK [CODE args] text`` responses as {CODE: args}."""
        out = {}
        for r in self.untagged:
            m = re.match(rb"\* OK \[([A-Z-]+) ?(.*?)\]", r)
            if m:
                out[m.group(1).decode()] = m.group(2)
        return out


def header_is_8bit(msg: bytes) -> bool:
    """Whether the header fields (up to the first empty line) hold an octet over 0x7F."""
    text = b"\n" + msg
    ends = [i for i in (text.find(b"\n\r\n"), text.find(b"\n\n")) if i >= 0]
    return not text[:min(ends) if ends else len(text)].isascii()


class Imap:
    """One raw connection: ``cmd("FETCH 1 FLAGS")`` sends with a fresh tag and returns the
    :class:`Reply`. Literals in responses are read by their byte count."""

    def __init__(self, server: ServerThread, user: str | None = "alice",
                 timeout: float = 20) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        self.buf = b""
        self.n = 0
        self.utf8 = False
        self.greeting = self.response()
        if user is not None:
            assert self.cmd(f"LOGIN {user} \"{PASSWORD}\"").ok

    # -- bytes ------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError(f"closed; pending {self.buf[:200]!r}")
        self.buf += chunk

    def line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self) -> bytes:
        """One whole response, literals included."""
        out = self.line()
        while m := _LITERAL_END.search(out):
            out += b"\r\n" + self.take(int(m.group(1))) + self.line()
        return out

    def until_tagged(self, tag: str) -> Reply:
        untagged = []
        prefix = tag.encode() + b" "
        while True:
            r = self.response()
            if r.startswith(prefix):
                return Reply(untagged, r)
            untagged.append(r)

    # -- commands ---------------------------------------------------------------------------
    def tag(self) -> str:
        self.n += 1
        return f"t{self.n}"

    def cmd(self, text: str | bytes) -> Reply:
        tag = self.tag()
        data = text.encode() if isinstance(text, str) else text
        self.send(tag.encode() + b" " + data + b"\r\n")
        return self.until_tagged(tag)

    def append(self, mailbox: str, msg: bytes, flags: str | None = None,
               date: str | None = None, plus: bool = False) -> Reply:
        if not self.utf8 and header_is_8bit(msg):
            # RFC 6855 §4: 8-bit header fields only after ENABLE UTF8=ACCEPT, as a client
            # that sends them must do (a session that did not is answered NO).
            assert self.cmd("ENABLE UTF8=ACCEPT").ok
            self.utf8 = True
        tag = self.tag()
        head = f"{tag} APPEND {mailbox}"
        if flags is not None:
            head += f" ({flags})"
        if date is not None:
            head += f' "{date}"'
        if plus:
            self.send(head.encode() + b" {%d+}\r\n" % len(msg) + msg + b"\r\n")
            return self.until_tagged(tag)
        self.send(head.encode() + b" {%d}\r\n" % len(msg))
        cont = self.line()
        if not cont.startswith(b"+"):
            return Reply([], cont)
        self.send(msg + b"\r\n")
        return self.until_tagged(tag)

    def select(self, mailbox: str = "INBOX") -> Reply:
        reply = self.cmd(f"SELECT {mailbox}")
        assert reply.ok, reply
        return reply

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# -- parsing response data ------------------------------------------------------------------


def _parse(data: bytes, i: int) -> tuple[Any, int]:
    c = data[i:i + 1]
    if c == b"(":
        items: list[Any] = []
        i += 1
        while data[i:i + 1] != b")":
            if data[i:i + 1] == b" ":
                i += 1
                continue
            item, i = _parse(data, i)
            items.append(item)
        return items, i + 1
    if c == b'"':
        out = bytearray()
        i += 1
        while data[i] != 0x22:
            if data[i] == 0x5C:
                i += 1
            out.append(data[i])
            i += 1
        return bytes(out), i + 1
    if c == b"{":
        end = data.index(b"}", i)
        n = int(data[i + 1:end].rstrip(b"+"))
        start = end + 3
        return data[start:start + n], start + n
    j = i
    depth = 0
    while j < len(data):
        ch = data[j:j + 1]
        if ch == b"[":
            depth += 1
        elif ch == b"]":
            depth -= 1
        elif depth == 0 and ch in (b" ", b"(", b")"):
            break
        j += 1
    atom = data[i:j]
    if atom == b"NIL":
        return None, j
    if atom.isdigit():
        return int(atom), j
    return atom.decode(), j


def parse(data: bytes) -> Any:
    """IMAP data to Python: lists, bytes (strings), None (NIL), int, str (atoms)."""
    value, end = _parse(data, 0)
    assert end == len(data), (data, end)
    return value


def fetch_items(resp: bytes) -> dict[str, Any]:
    """``* n FETCH (A x B y)`` → {"A": x, "B": y}."""
    m = re.match(rb"\* \d+ FETCH ", resp)
    assert m, resp
    values = parse(resp[m.end():])
    return {values[i]: values[i + 1] for i in range(0, len(values), 2)}


def flags_of(items: dict[str, Any]) -> set[str]:
    return set(items["FLAGS"])


def fill(client: Imap, count: int, mailbox: str = "INBOX", flags: str | None = None) -> None:
    for i in range(count):
        assert client.append(mailbox, message(f"m{i + 1}"), flags).ok


def client_factory(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    """Body of the ``imap`` fixture each module defines: ``imap()`` opens a logged-in
    connection (``imap("bob")``, ``imap(None)`` for none), all closed at the end."""
    clients: list[Imap] = []

    def make(user: str | None = "alice") -> Imap:
        c = Imap(server, user)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()
