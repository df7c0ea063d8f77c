"""SELECT and EXAMINE (RFC 3501 §6.3.1-2) over real connections, plus the small literal-aware
IMAP client (:class:`Imap`) and response parser that the other message-command tests share.

Each test talks to 127.0.0.1 only; every socket has a timeout.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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


class Imap:
    """One raw connection: ``cmd("FETCH 1 FLAGS")`` sends with a fresh tag and returns the
    :class:`Reply`. Literals in responses are read by their byte count."""

    def __init__(self, server: ServerThread, user: str | None = "alice",
                 timeout: float = 20) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        self.buf = b""
        self.n = 0
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


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


# -- SELECT / EXAMINE -----------------------------------------------------------------------


def test_select_empty_mailbox_reports_everything(imap: Any) -> None:
    c = imap()
    r = c.select()
    assert r.tagged.startswith(b"t2 OK [READ-WRITE]")
    # The order of storage's one table of system flags (storage/flags.py).
    assert r.untagged[0] == b"* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)"
    codes = r.ok_codes()
    assert codes["PERMANENTFLAGS"] == b"(\\Seen \\Answered \\Flagged \\Deleted \\Draft \\*)"
    assert r.numbered("EXISTS") == [0]
    assert r.numbered("RECENT") == [0]
    assert "UNSEEN" not in codes  # no unseen message: no UNSEEN code
    assert int(codes["UIDNEXT"]) == 1
    assert int(codes["UIDVALIDITY"]) > 0


def test_select_counts_unseen_uidnext_and_keywords(imap: Any) -> None:
    c = imap()
    assert c.append("INBOX", message("one"), "\\Seen").ok
    assert c.append("INBOX", message("two"), "\\Seen $Important").ok
    assert c.append("INBOX", message("three"), "Work").ok
    assert c.append("INBOX", message("four")).ok
    r = c.select()
    flags = parse(r.untagged[0][len(b"* FLAGS "):])
    assert set(flags) == {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft",
                          "$Important", "Work"}
    codes = r.ok_codes()
    perm = parse(codes["PERMANENTFLAGS"])
    assert set(perm) == set(flags) | {"\\*"}
    assert r.numbered("EXISTS") == [4]
    assert r.numbered("RECENT") == [4]
    assert codes["UNSEEN"] == b"3"  # RFC 3501 §7.1: number of the first unseen message
    assert codes["UIDNEXT"] == b"5"
    # every untagged response RFC 3501 §6.3.1 requires is there
    kinds = r.kinds()
    assert kinds.count("FLAGS") == 1 and kinds.count("EXISTS") == 1
    assert kinds.count("RECENT") == 1


def test_examine_is_read_only_without_star_and_keeps_recent(imap: Any) -> None:
    c = imap()
    fill(c, 2)
    r = c.cmd("EXAMINE INBOX")
    assert r.tagged.startswith(b"t4 OK [READ-ONLY]")
    perm = parse(r.ok_codes()["PERMANENTFLAGS"])
    assert "\\*" not in perm  # RFC 3501 §7.1: no new keywords in a read-only mailbox
    # issue 9 point 4: EXAMINE reports the real count, as STATUS does ...
    assert r.numbered("RECENT") == [2]
    assert b"RECENT 2" in c.cmd("STATUS INBOX (RECENT)").untagged[0]
    f = c.cmd("FETCH 1:2 FLAGS").fetches()
    assert all("\\Recent" in flags_of(items) for _, items in f)
    # ... but does not claim \Recent, so the next SELECT still finds both messages
    # \Recent (RFC 3501 §6.3.2)
    r = c.select()
    assert r.numbered("RECENT") == [2]
    f = c.cmd("FETCH 1:2 FLAGS").fetches()
    assert all("\\Recent" in flags_of(items) for _, items in f)


def test_examine_and_status_agree_on_recent(imap: Any) -> None:
    """Issue 9 point 4: after two APPENDs, EXAMINE said ``* 0 RECENT`` while STATUS said
    ``RECENT 2``; a message arriving during the EXAMINE is counted too, unclaimed."""
    a, b = imap(), imap()
    assert a.append("INBOX", message("one")).ok
    assert a.append("INBOX", message("two")).ok
    assert b"RECENT 2" in a.cmd("STATUS INBOX (RECENT)").untagged[0]
    r = a.cmd("EXAMINE INBOX")
    assert r.numbered("RECENT") == [2]
    assert b.append("INBOX", message("three")).ok
    assert a.cmd("NOOP").numbered("RECENT") == [3]
    assert b"RECENT 3" in b.cmd("STATUS INBOX (RECENT)").untagged[0]
    # the first SELECT claims all three; EXAMINE and STATUS then agree on 0
    assert b.select().numbered("RECENT") == [3]
    assert b"RECENT 0" in b.cmd("STATUS INBOX (RECENT)").untagged[0]
    assert a.cmd("EXAMINE INBOX").numbered("RECENT") == [0]


def test_recent_goes_to_exactly_one_session(imap: Any) -> None:
    a, b = imap(), imap()
    fill(a, 1)
    ra, rb = a.select(), b.select()
    assert ra.numbered("RECENT") == [1]
    assert rb.numbered("RECENT") == [0]
    # a message arriving while both are selected is \Recent in exactly one of them
    c = imap()
    assert c.append("INBOX", message("late")).ok
    na, nb = a.cmd("NOOP"), b.cmd("NOOP")
    assert na.numbered("EXISTS") == [2] and nb.numbered("EXISTS") == [2]
    fa = dict(a.cmd("FETCH 2 FLAGS").fetches())[2]
    fb = dict(b.cmd("FETCH 2 FLAGS").fetches())[2]
    assert ("\\Recent" in flags_of(fa)) != ("\\Recent" in flags_of(fb))
    recent_counts = na.numbered("RECENT") + nb.numbered("RECENT")
    assert sorted(recent_counts) in ([1, 1], [0, 2])  # one claimed 1 new (+1 old for a)
    # a third session selecting now gets no \Recent at all
    assert c.select().numbered("RECENT") == [0]


def test_failed_select_deselects_previous_mailbox(imap: Any) -> None:
    c = imap()
    fill(c, 1)
    c.select()
    r = c.cmd("SELECT Nowhere")
    assert r.status == "NO"
    # RFC 3501 §6.3.1: the failed SELECT leaves no mailbox selected
    assert c.cmd("FETCH 1 FLAGS").status == "BAD"
    assert c.cmd("NOOP").ok


def test_select_other_mailbox_switches_view(imap: Any) -> None:
    c = imap()
    assert c.cmd("CREATE Other").ok
    fill(c, 3)
    fill(c, 1, "Other")
    assert c.select().numbered("EXISTS") == [3]
    r = c.select("Other")
    assert r.numbered("EXISTS") == [1]
    assert dict(c.cmd("FETCH 1 ENVELOPE").fetches())[1]["ENVELOPE"][1] == b"m1"
    assert c.cmd("FETCH 2 FLAGS").status == "BAD"


def test_select_noselect_and_missing(imap: Any) -> None:
    c = imap()
    assert c.cmd("CREATE Parent/Child").ok
    assert c.cmd("DELETE Parent").ok  # leaves a \Noselect placeholder
    assert c.cmd("SELECT Parent").status == "NO"
    r = c.cmd("EXAMINE Missing")
    assert r.status == "NO"
    assert c.cmd("SELECT inbox").ok  # INBOX is case-insensitive


def test_uidvalidity_stable_and_uidnext_advances(imap: Any) -> None:
    c = imap()
    v1 = c.select().ok_codes()["UIDVALIDITY"]
    fill(c, 2)
    r = c.select()
    assert r.ok_codes()["UIDVALIDITY"] == v1
    assert r.ok_codes()["UIDNEXT"] == b"3"
    assert c.cmd("STORE 1:2 +FLAGS (\\Deleted)").ok
    assert c.cmd("EXPUNGE").ok
    r = c.select()
    assert r.numbered("EXISTS") == [0]
    assert r.ok_codes()["UIDNEXT"] == b"3"  # UIDs are never reused


def test_select_with_unknown_parameters_is_bad(imap: Any) -> None:
    c = imap()
    assert c.cmd("SELECT INBOX (FOOBAR)").status == "BAD"
    assert c.cmd("SELECT INBOX (CONDSTORE)").status == "OK"


def test_selected_commands_need_a_selected_mailbox(imap: Any) -> None:
    c = imap()
    for text in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "COPY 1 INBOX", "EXPUNGE",
                 "CLOSE", "UNSELECT", "CHECK", "UID FETCH 1 FLAGS"):
        assert c.cmd(text).status == "BAD", text
