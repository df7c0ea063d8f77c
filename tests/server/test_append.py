"""APPEND (RFC 3501 §6.3.11) with APPENDUID (RFC 4315 §3), LITERAL+ (RFC 7888) and the
size limit (RFC 7888 §4, RFC 5530 [TOOBIG]): messages must come back byte for byte."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server.harness import ServerThread
from tests.server.imap_client import (
    Imap,
    client_factory,
    corpus,
    flags_of,
    message,
    parse,
)


@pytest.fixture
def imap(server: ServerThread) -> Iterator[Callable[..., Imap]]:
    yield from client_factory(server)


def body_of(c: Imap, n: int = 1) -> bytes:
    r = c.cmd(f"FETCH {n} BODY.PEEK[]")
    assert r.ok, r
    (_, items), = r.fetches()
    return items["BODY[]"]  # type: ignore[no-any-return]


def status(c: Imap, items: str = "MESSAGES", mailbox: str = "INBOX") -> dict[str, int]:
    r = c.cmd(f"STATUS {mailbox} ({items})")
    assert r.ok and len(r.untagged) == 1, r
    values = parse(r.untagged[0][r.untagged[0].rindex(b" ("):].strip())
    return {values[i]: values[i + 1] for i in range(0, len(values), 2)}


def appenduid(tagged: bytes) -> tuple[int, str]:
    m = re.search(rb"\[APPENDUID (\d+) (\S+)\]", tagged)
    assert m, tagged
    return int(m.group(1)), m.group(2).decode()


def test_flags_and_internaldate_kept(imap: Any) -> None:
    c = imap()
    assert c.append("INBOX", message(), "\\Seen \\Flagged $Todo",
                    "05-Mar-2021 23:59:01 +0530").ok
    assert c.append("INBOX", message("b"), "", " 7-Jul-1999 01:02:03 -1130").ok
    c.select()
    f = dict(c.cmd("FETCH 1:2 (FLAGS INTERNALDATE)").fetches())
    assert flags_of(f[1]) == {"\\Seen", "\\Flagged", "$Todo", "\\Recent"}
    # the zone given is the zone echoed (RFC 3501 §2.3.3: the date-time is kept)
    # (date-day-fixed: a one-digit day is written space-padded, RFC 3501 §9)
    assert f[1]["INTERNALDATE"] == b" 5-Mar-2021 23:59:01 +0530"
    assert f[2]["INTERNALDATE"] == b" 7-Jul-1999 01:02:03 -1130"
    assert flags_of(f[2]) == {"\\Recent"}


def test_internaldate_defaults_to_now(imap: Any) -> None:
    c = imap()
    assert c.append("INBOX", message()).ok
    c.select()
    (_, items), = c.cmd("FETCH 1 INTERNALDATE").fetches()
    assert re.fullmatch(rb"[ \d]\d-[A-Z][a-z]{2}-20\d\d \d\d:\d\d:\d\d [+-]\d{4}",
                        items["INTERNALDATE"])


def test_bad_flag_or_date_is_bad(imap: Any) -> None:
    c = imap()
    assert c.append("INBOX", message(), "\\Bogus").status == "BAD"
    assert c.append("INBOX", message(), None, "31-Foo-2020 00:00:00 +0000").status == "BAD"
    assert c.cmd("NOOP").ok
    assert status(c) == {"MESSAGES": 0}


def test_trycreate(imap: Any) -> None:
    c = imap()
    r = c.append("Nowhere", message())
    assert r.status == "NO" and r.code() == "TRYCREATE"  # RFC 3501 §6.3.11
    assert c.cmd("CREATE Parent/Child").ok
    assert c.cmd("DELETE Parent").ok  # \Noselect placeholder
    r = c.append("Parent", message())
    assert r.status == "NO"
    assert c.cmd("NOOP").ok


def test_appenduid(imap: Any) -> None:
    c = imap()
    assert c.cmd("CREATE Box").ok
    validity = int(re.search(rb"UIDVALIDITY (\d+)",  # type: ignore[union-attr]
                             c.cmd("STATUS Box (UIDVALIDITY)").untagged[0]).group(1))
    got = [appenduid(c.append("Box", message(f"m{i}")).tagged) for i in range(3)]
    assert got == [(validity, "1"), (validity, "2"), (validity, "3")]
    c.select("Box")
    f = c.cmd("UID FETCH 1:* ENVELOPE").fetches()
    assert [(i["UID"], i["ENVELOPE"][1]) for _, i in f] == [(1, b"m0"), (2, b"m1"), (3, b"m2")]


def test_an_empty_message_is_refused(imap: Any) -> None:
    """RFC 3502 §6.3.11 (MULTIAPPEND is advertised): "A zero-length message literal
    argument is an error, and MUST return a NO"."""
    c = imap()
    assert corpus("empty") == b""
    assert c.append("INBOX", corpus("empty")).status == "NO"
    assert c.cmd("NOOP").ok


@pytest.mark.parametrize("name", ["8bit", "binary-part", "bare-lf", "plain"])
def test_stored_byte_for_byte(imap: Any, name: str) -> None:
    c = imap()
    raw = corpus(name)
    assert c.append("INBOX", raw).ok
    c.select()
    assert body_of(c) == raw
    (_, items), = c.cmd("FETCH 1 RFC822.SIZE").fetches()
    assert items["RFC822.SIZE"] == len(raw)


def test_odd_bytes_kept(imap: Any) -> None:
    c = imap()
    odd = [
        b"Subject: mixed\r\n\nbare LF header end\r\nCRLF\nLF\rCR\r\n",
        b"Subject: nul\r\n\r\n\x00\x01\x02\xff\xfe\x00\r\n\x00",
        b"Subject: no final newline\r\n\r\ntext",
        b"no header at all",
        bytes(range(256)) * 4,
    ]
    for raw in odd:
        assert c.append("INBOX", raw).ok
    c.select()
    for n, raw in enumerate(odd, 1):
        assert body_of(c, n) == raw


def test_large_message_spooled_round_trip(imap: Any, server: ServerThread) -> None:
    c = imap()
    # > 1 MB: spooled to a file during APPEND, stored as a blob file, parsed in a thread
    attachment = os.urandom(900_000).hex().encode()
    lines = b"\r\n".join(attachment[i:i + 76] for i in range(0, len(attachment), 76))
    raw = (b"Subject: big\r\nContent-Type: text/plain\r\n\r\n" + lines + b"\r\n")
    assert len(raw) > 1_500_000
    r = c.append("INBOX", raw)
    assert r.ok, r
    c.select()
    assert body_of(c) == raw
    (_, items), = c.cmd("FETCH 1 (RFC822.SIZE BODY.PEEK[TEXT]<1000.50> ENVELOPE)").fetches()
    assert items["RFC822.SIZE"] == len(raw)
    assert items["BODY[TEXT]<1000>"] == raw[raw.index(b"\r\n\r\n") + 4 + 1000:][:50]
    assert items["ENVELOPE"][1] == b"big"
    # the spool file is gone once the message is stored
    spool = server.config.data_dir / "blobs" / "tmp"
    assert spool.is_dir() and not any(spool.iterdir())


def test_literal_plus(imap: Any) -> None:
    c = imap()
    raw = corpus("alternative")
    r = c.append("INBOX", raw, "\\Draft", plus=True)
    assert r.ok and appenduid(r.tagged)[1] == "1"
    # pipelined: two non-synchronising APPENDs and a NOOP in one write
    t1, t2, t3 = c.tag(), c.tag(), c.tag()
    c.send(f"{t1} APPEND INBOX {{3+}}\r\nabc\r\n{t2} APPEND INBOX (\\Seen) {{4+}}\r\n"
           f"defg\r\n{t3} NOOP\r\n".encode())
    assert c.until_tagged(t1).ok
    assert c.until_tagged(t2).ok
    assert c.until_tagged(t3).ok
    c.select()
    assert [body_of(c, n) for n in (1, 2, 3)] == [raw, b"abc", b"defg"]


def test_toobig_refused_before_payload(make_server: Any) -> None:
    srv = make_server(limits={"max_append_size": 1000})
    c = Imap(srv)
    try:
        tag = c.tag()
        c.send(f"{tag} APPEND INBOX {{5000}}\r\n".encode())
        # no "+": the answer comes at once, without the client sending a byte of it
        line = c.line()
        assert line.startswith(f"{tag} NO [TOOBIG]".encode()), line
        assert c.cmd("NOOP").ok
        # a non-synchronising literal over the limit: refused, its payload skipped
        tag = c.tag()
        c.send(f"{tag} APPEND INBOX {{5000+}}\r\n".encode() + b"x" * 5000 + b"\r\n")
        r = c.until_tagged(tag)
        assert r.tagged.startswith(f"{tag} NO [TOOBIG]".encode()), r
        assert c.cmd("NOOP").ok
        # at the limit is fine
        assert c.append("INBOX", b"y" * 1000).ok
        assert status(c) == {"MESSAGES": 1}
    finally:
        c.close()


def test_broken_line_after_literal_stores_nothing(imap: Any) -> None:
    c = imap()
    tag = c.tag()
    c.send(f"{tag} APPEND INBOX {{5}}\r\n".encode())
    assert c.line().startswith(b"+")
    c.send(b"hello junk that is not CRLF\r\n")
    r = c.until_tagged(tag)
    assert r.status == "BAD", r
    assert c.cmd("NOOP").ok
    assert status(c, "MESSAGES UIDNEXT") == {"MESSAGES": 0, "UIDNEXT": 1}


def test_disconnect_mid_literal_stores_nothing(imap: Any, server: ServerThread) -> None:
    c = imap()
    tag = c.tag()
    c.send(f"{tag} APPEND INBOX {{500000}}\r\n".encode())
    assert c.line().startswith(b"+")
    c.send(b"x" * 300_000)  # beyond the in-memory spool: a spool file exists now
    c.close()
    d = imap()
    assert status(d) == {"MESSAGES": 0}
    spool = server.config.data_dir / "blobs" / "tmp"
    deadline = time.monotonic() + 5
    while spool.is_dir() and any(spool.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not spool.is_dir() or not any(spool.iterdir())  # the half message is gone


def test_append_to_selected_mailbox_gives_exists(imap: Any) -> None:
    c = imap()
    assert c.cmd("CREATE Other").ok
    c.select()
    r = c.append("INBOX", message())
    assert r.ok
    assert r.numbered("EXISTS") == [1]
    assert r.numbered("RECENT") == [1]
    r = c.append("Other", message())
    assert r.ok and r.untagged == []  # another mailbox: nothing to report here
    r = c.append("INBOX", message("x"), "NewWord")
    assert r.numbered("EXISTS") == [2]
    # a keyword new to the mailbox is announced in FLAGS (RFC 3501 §7.2.6)
    assert any(u.startswith(b"* FLAGS") and b"NewWord" in u for u in r.untagged)


def test_append_before_login_is_refused(imap: Any) -> None:
    c = imap(None)
    tag = c.tag()
    c.send(f"{tag} APPEND INBOX {{3}}\r\n".encode())
    line = c.line()
    assert line.startswith(f"{tag} BAD".encode()) or line.startswith(f"{tag} NO".encode())
    assert c.cmd("NOOP").ok


def test_large_append_is_moved_into_place_not_copied(imap: Any, server: ServerThread,
                                                     monkeypatch: Any) -> None:
    """Issue 10.4: a message larger than the inline size is hashed while it is spooled and
    its spool file becomes the blob file (same inode): ``blobs.prepare``, which reads a
    body and writes a copy, is not used for it."""
    import crispin.storage.blobs as blobs

    prepared: list[object] = []
    real_prepare = blobs.prepare
    finished: list[int] = []
    real_finish = blobs.SpoolWriter.finish

    def spy_prepare(data_dir: Any, source: Any, *args: Any) -> Any:
        prepared.append(source)
        return real_prepare(data_dir, source, *args)

    def spy_finish(self: Any) -> Any:
        body = real_finish(self)
        finished.append(os.stat(self.path).st_ino)
        return body

    monkeypatch.setattr(blobs, "prepare", spy_prepare)
    monkeypatch.setattr(blobs.SpoolWriter, "finish", spy_finish)
    c = imap()
    raw = b"Subject: big\r\n\r\n" + b"y" * 76 * 30_000 + b"\r\n"
    assert c.append("INBOX", raw).ok
    assert prepared == []
    stored = [p for p in (server.config.data_dir / "blobs").rglob("*") if p.is_file()]
    assert [p.stat().st_ino for p in stored] == finished
    c.select()
    assert body_of(c) == raw
    assert c.append("INBOX", b"Subject: small\r\n\r\nhi\r\n").ok
    assert len(prepared) == 1 and isinstance(prepared[0], bytes)
