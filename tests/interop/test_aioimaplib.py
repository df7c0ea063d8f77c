"""aioimaplib (PyPI), an asyncio IMAP client nobody here wrote: its framing of literals and
untagged responses, its IDLE (``idle_start`` / ``wait_server_push`` / ``idle_done``), and the
values it hands to applications must all hold against Crispin.

aioimaplib returns raw response lines (a literal as a separate ``bytearray``); the small parser
below turns them into Python values so ENVELOPE and BODYSTRUCTURE are checked field by field.
The server comes from the interop ``crispin`` fixture (user ``alice``, fresh data per test,
trace printed on failure).  Every step runs under ``asyncio.timeout``; aioimaplib's own calls
time out after 10 s.
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import imaplib
import re
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from aioimaplib import IMAP4, IMAP4_SSL, Response

from tests.interop import messages
from tests.interop.conftest import InteropServer

# -- a small parser for the lines aioimaplib returns -------------------------------------


def join_literals(lines: list[bytes | bytearray]) -> list[bytes]:
    """Put each literal back into its response: ``... {n}`` + CRLF + data + the rest."""
    out: list[bytes] = []
    after_literal = False
    for item in lines:
        if isinstance(item, bytearray):
            out[-1] += b"\r\n" + bytes(item)
            after_literal = True
        elif after_literal:
            out[-1] += item
            after_literal = False
        else:
            out.append(bytes(item))
    return out


_TOKEN = re.compile(
    rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\{(\d+)\}\r\n'  # ( ) "quoted" {literal}
    rb'|([^\s()\[]+(?:\[[^\]]*\][^\s()]*)?))',  # atom, maybe with [section]<partial>
    re.S)


def parse(data: bytes) -> list[Any]:
    """IMAP data (RFC 3501 §4) to Python: lists, str (quoted/atom), bytes (literal), None."""
    stack: list[list[Any]] = [[]]
    pos = 0
    while pos < len(data):
        if data[pos:pos + 1].isspace():
            pos += 1
            continue
        m = _TOKEN.match(data, pos)
        assert m, (data[pos:pos + 40], data)
        pos = m.end()
        opening, closing, quoted, literal, atom = m.groups()
        if opening:
            stack.append([])
        elif closing:
            done = stack.pop()
            stack[-1].append(done)
        elif quoted is not None:
            stack[-1].append(re.sub(rb"\\(.)", rb"\1", quoted).decode("utf-8"))
        elif literal is not None:
            n = int(literal)
            stack[-1].append(data[pos:pos + n])
            pos += n
        else:
            stack[-1].append(None if atom.upper() == b"NIL" else atom.decode("utf-8"))
    assert len(stack) == 1, data
    return stack[0]


def fetches(response: Response) -> dict[int, dict[str, Any]]:
    """``N FETCH (k v ...)`` lines by message number; items merged if several lines."""
    out: dict[int, dict[str, Any]] = {}
    for line in join_literals(response.lines):
        m = re.match(rb"(\d+) FETCH ", line)
        if m:
            [items] = parse(line[m.end():])
            out.setdefault(int(m[1]), {}).update(zip(items[::2], items[1::2], strict=True))
    return out


def untagged(response: Response, name: bytes) -> list[bytes]:
    """The data of the untagged ``name`` responses (aioimaplib drops the name when it is the
    command's own, as for ``* SEARCH``, and keeps it otherwise)."""
    out = []
    for line in join_literals(response.lines[:-1]):  # the last line is the tagged text
        if line == name:
            out.append(b"")
        elif line.startswith(name + b" "):
            out.append(line[len(name) + 1:])
        elif not re.match(rb"\d+ (EXISTS|RECENT|EXPUNGE|FETCH)\b|OK \[", line):
            out.append(line)
    return out


def ok(response: Response) -> Response:
    assert response.result == "OK", response
    return response


# -- clients -------------------------------------------------------------------------------


@pytest.fixture
async def connect(crispin: InteropServer
                  ) -> AsyncIterator[Callable[..., Coroutine[Any, Any, IMAP4]]]:
    clients: list[IMAP4] = []

    async def make(tls: bool = True) -> IMAP4:
        if tls:
            ctx = ssl.create_default_context(cafile=str(crispin.cert))
            c: IMAP4 = IMAP4_SSL("localhost", crispin.tls_port, ssl_context=ctx, timeout=10)
        else:
            c = IMAP4("127.0.0.1", crispin.port, timeout=10)
        clients.append(c)
        await c.wait_hello_from_server()
        ok(await c.login(crispin.user, crispin.password))
        # aioimaplib reads capabilities from the LOGIN response code loosely; ask again.
        await asyncio.wait_for(c.protocol.capability(), 10)
        return c

    yield make
    for c in clients:
        if c.get_state() == "LOGOUT":
            continue
        try:
            if c.has_pending_idle():
                c.idle_done()
            await asyncio.wait_for(c.logout(), 5)
        except Exception:
            pass


async def in_thread(crispin: InteropServer, action: Callable[[imaplib.IMAP4], object]) -> None:
    """Another client (imaplib, in a thread) does ``action`` with INBOX selected."""
    def run() -> None:
        c = crispin.imap()
        try:
            assert c.select("INBOX")[0] == "OK"
            action(c)
        finally:
            c.logout()

    await asyncio.wait_for(asyncio.to_thread(run), 15)


# -- scenarios -----------------------------------------------------------------------------


async def test_capabilities_namespace_list(crispin: InteropServer, connect) -> None:  # type: ignore[no-untyped-def]
    crispin.load(messages.message_set(large=False))
    async with asyncio.timeout(30):
        for tls in (True, False):
            c = await connect(tls)
            for cap in ("IMAP4rev1", "IDLE", "MOVE", "UIDPLUS", "NAMESPACE", "ID", "ENABLE",
                        "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "LITERAL+", "UNSELECT"):
                assert c.has_capability(cap), (cap, c.protocol.capabilities)
            r = ok(await c.namespace())
            assert parse(r.lines[0]) == [[["", "/"]], [["Other Users/", "/"]],
                                         [["Shared/", "/"]]]
            # LIST: names in modified UTF-7 on the wire (aioimaplib does not decode them).
            r = ok(await c.list('""', "*"))
            folders: dict[str, set[str]] = {}
            for line in join_literals(r.lines[:-1]):
                attrs, delim, name = parse(line)
                assert delim == "/"
                folders[messages.mutf7_decode(name if isinstance(name, str)
                                              else name.decode())] = set(attrs)
            assert {"INBOX", "Archive", "Drafts", "Sent", "Trash", "Junk", "Projekte",
                    "Projekte/Crispin", messages.UMLAUT} <= set(folders), folders
            assert "\\Sent" in folders["Sent"] and "\\Drafts" in folders["Drafts"]
            assert "\\HasChildren" in folders["Projekte"]
            await c.logout()
        # LIST-EXTENDED (RFC 5258) with SPECIAL-USE (RFC 6154).  (aioimaplib drops the
        # STATUS lines of RETURN (STATUS ...): it files untagged data by command name.)
        c = await connect()
        r = ok(await c.list('""', '"*" RETURN (SPECIAL-USE)'))
        assert any(b"\\Trash" in line and line.endswith(b'"Trash"') for line in r.lines), r
        # The selection option form: only special-use mailboxes.
        r = ok(await asyncio.wait_for(
            c.protocol.simple_command("LIST", "(SPECIAL-USE)", '""', '"*"'), 10))
        names = sorted(parse(line)[2] for line in join_literals(r.lines[:-1]))
        assert names == ["Archive", "Drafts", "Junk", "Sent", "Trash"], names


async def test_id(crispin: InteropServer, connect) -> None:  # type: ignore[no-untyped-def]
    """RFC 2971 ID as aioimaplib sends it: ``ID ( "name" "x" "version" "2" )``, with a space
    inside each parenthesis.  Looser than the RFC 2971 ABNF allows, but Dovecot's parser skips runs
    of spaces between arguments (imap-parser.c, imap_parser_skip_to_next), so clients doing
    this work against it; the server answers with its own ID."""
    async with asyncio.timeout(20):
        c = await connect()
        r = ok(await c.id(name="aioimaplib-interop", version="2"))
        [server_id] = untagged(r, b"ID")
        [fields] = parse(server_id)
        info = dict(zip(fields[::2], fields[1::2], strict=True))
        assert info["name"].lower().startswith("crispin"), info
        r = ok(await c.id())  # no arguments: "ID NIL"
        assert untagged(r, b"ID"), r


async def test_envelope_bodystructure_and_partial_fetch(crispin: InteropServer,
                                                        connect) -> None:  # type: ignore[no-untyped-def]
    corpus = [messages.plain_text(1), messages.multipart_mixed(), messages.encoded_subject(),
              messages.nested_rfc822(), messages.eight_bit_body()]
    async with asyncio.timeout(30):
        c = await connect()
        for raw in corpus:
            r = ok(await c.append(raw, mailbox="INBOX", flags="(\\Seen)"))
            assert re.search(rb"\[APPENDUID \d+ \d+\]", r.lines[-1]), r
        ok(await c.select("INBOX"))
        r = ok(await c.fetch("1:*", "(UID RFC822.SIZE ENVELOPE BODYSTRUCTURE)"))
        items = fetches(r)
        assert sorted(items) == [1, 2, 3, 4, 5]
        for n, raw in enumerate(corpus, start=1):
            assert items[n]["UID"] == str(n) and int(items[n]["RFC822.SIZE"]) == len(raw)
        # ENVELOPE (RFC 3501 §7.4.2): date, subject (raw, still RFC 2047-encoded), from,
        # sender, reply-to, to, cc, bcc, in-reply-to, message-id.
        env = items[3]["ENVELOPE"]
        word = re.search(rb"^Subject: (.*)\r$", corpus[2], re.M)[1].decode()  # type: ignore[index]
        assert env == ["Mon, 06 Jan 2025 10:00:00 +0100", word,
                       [["Alice Example", None, "alice", "example.org"]],
                       [["Alice Example", None, "alice", "example.org"]],
                       [["Alice Example", None, "alice", "example.org"]],
                       [["Bob Example", None, "bob", "example.org"]],
                       None, None, None, "<interop-5@crispin.test>"]
        # BODYSTRUCTURE of a single text part: type, subtype, params, id, desc, enc, size, lines.
        bs = items[1]["BODYSTRUCTURE"]
        text = messages.plain_text(1).split(b"\r\n\r\n", 1)[1]
        assert [x.lower() if isinstance(x, str) else x for x in bs[:6]] == \
            ["text", "plain", ["charset", "us-ascii"], None, None, "7bit"]
        assert int(bs[6]) == len(text) and int(bs[7]) == text.count(b"\r\n")
        # multipart/mixed with a base64 attachment.
        bs = items[2]["BODYSTRUCTURE"]
        first, attachment, subtype = bs[0], bs[1], bs[2]
        assert subtype.lower() == "mixed"
        assert [first[0].lower(), first[1].lower()] == ["text", "plain"]
        assert [attachment[0].lower(), attachment[1].lower()] == ["application", "octet-stream"]
        assert attachment[2] == ["name", "data.bin"] or attachment[2] == ["NAME", "data.bin"]
        assert attachment[5].lower() == "base64"
        disposition = attachment[8]
        assert disposition[0].lower() == "attachment" and disposition[1][1] == "data.bin"
        assert bs[3][0].lower() == "boundary" and bs[3][1] == "=_mixed_boundary"
        # Nested message/rfc822: its own ENVELOPE and BODYSTRUCTURE, then its line count.
        bs = items[4]["BODYSTRUCTURE"]
        intro, forwarded, subtype = bs[0], bs[1], bs[2]
        assert subtype.lower() == "mixed" and intro[0].lower() == "text"
        assert [forwarded[0].lower(), forwarded[1].lower()] == ["message", "rfc822"]
        inner = messages.plain_text(40)
        assert int(forwarded[6]) == len(inner)
        inner_env, inner_body, inner_lines = forwarded[7], forwarded[8], forwarded[9]
        assert inner_env[1] == "Plain text message 40"
        assert inner_env[9] == "<interop-40@crispin.test>"
        assert [inner_body[0].lower(), inner_body[1].lower()] == ["text", "plain"]
        assert int(inner_lines) == inner.count(b"\r\n")
        # 8-bit body: the encoding as declared.
        assert items[5]["BODYSTRUCTURE"][5].lower() == "8bit"
        # Partial and section fetches, byte-exact.
        r = ok(await c.uid("fetch", "1", "(BODY.PEEK[]<0.100>)"))
        got = fetches(r)[1]
        assert got["BODY[]<0>"] == corpus[0][:100]
        r = ok(await c.uid("fetch", "1", "(BODY.PEEK[]<100.1000000>)"))
        assert fetches(r)[1]["BODY[]<100>"] == corpus[0][100:]
        r = ok(await c.uid("fetch", "4", "(BODY.PEEK[2.HEADER] BODY.PEEK[2.1] BODY.PEEK[1.MIME])"))
        got = fetches(r)[4]
        head, body = inner.split(b"\r\n\r\n", 1)
        assert got["BODY[2.HEADER]"] == head + b"\r\n\r\n"
        assert got["BODY[2.1]"] == body
        assert got["BODY[1.MIME]"] == b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        r = ok(await c.uid("fetch", "2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)])"))
        assert fetches(r)[2]["BODY[HEADER.FIELDS (SUBJECT MESSAGE-ID)]"] == \
            b"Subject: Report with attachment\r\nMessage-ID: <interop-2@crispin.test>\r\n\r\n"
        r = ok(await c.uid("fetch", "5", "(BODY.PEEK[TEXT])"))
        assert fetches(r)[5]["BODY[TEXT]"] == corpus[4].split(b"\r\n\r\n", 1)[1]


async def test_search_store_copy_move_expunge_status_rename_delete(
        crispin: InteropServer, connect) -> None:  # type: ignore[no-untyped-def]
    crispin.load([("INBOX", messages.plain_text(1), ()),
                  ("INBOX", messages.multipart_mixed(), ("\\Seen",)),
                  ("INBOX", messages.encoded_subject(), ("\\Flagged",)),
                  ("INBOX", messages.eight_bit_body(), ("\\Seen", "\\Answered")),
                  ("INBOX", messages.nested_rfc822(), ())])
    async with asyncio.timeout(40):
        c = await connect()
        ok(await c.select("INBOX"))

        async def search(*criteria: str, uid: bool = True, charset: str | None = None) -> list[int]:
            r = ok(await (c.uid_search(*criteria, charset=charset) if uid
                          else c.search(*criteria, charset=charset)))
            [numbers] = untagged(r, b"SEARCH")
            return [int(n) for n in numbers.split()]

        assert await search("ALL") == [1, 2, 3, 4, 5]
        assert await search("UNSEEN") == [1, 3, 5]
        assert await search("SEEN", "NOT", "ANSWERED") == [2]
        assert await search("OR", "FLAGGED", "ANSWERED") == [3, 4]
        assert await search("SUBJECT", '"plain text"') == [1, 5]  # 5: "Fwd: Plain text…"
        assert await search("LARGER", "1000") == [2]
        assert await search("HEADER", "Message-ID", '"interop-4@"') == [5]
        assert await search("SUBJECT", '"Köln"', charset="utf-8") == [3]  # RFC 2047 decoded
        assert await search("BODY", '"日本語"', charset="UTF-8") == [4]
        assert await search("2:4", "UNSEEN", uid=False) == [3]
        # STORE: answers FETCH FLAGS (not .SILENT); keywords are kept.
        r = ok(await c.store("1:2", "+FLAGS", "(\\Flagged $Work)"))
        stored = fetches(r)
        assert set(stored[1]["FLAGS"]) - {"\\Recent"} == {"\\Flagged", "$Work"}
        assert set(stored[2]["FLAGS"]) - {"\\Recent"} == {"\\Flagged", "$Work", "\\Seen"}
        r = ok(await c.uid("store", "2", "-FLAGS.SILENT", "($Work)"))
        assert not fetches(r), r
        assert await search("KEYWORD", "$Work") == [1]
        assert await search("FLAGGED") == [1, 2, 3]
        # COPY and MOVE with UIDPLUS answers.
        r = ok(await c.uid("copy", "1:2", "Archive"))
        assert re.search(rb"\[COPYUID \d+ 1:2 1:2\]", r.lines[-1]), r
        r = ok(await c.uid("move", "3", "Trash"))
        assert any(re.search(rb"COPYUID \d+ 3 1", line) for line in r.lines), r
        assert b"3 EXPUNGE" in r.lines, r
        # STATUS of the targets.
        r = ok(await c.status("Archive", "(MESSAGES UNSEEN UIDNEXT)"))
        [status] = untagged(r, b"STATUS")
        name, values = parse(status)
        assert name == "Archive" and values == ["MESSAGES", "2", "UNSEEN", "1", "UIDNEXT", "3"]
        # EXPUNGE and UID EXPUNGE (UIDPLUS).
        ok(await c.uid("store", "1,4", "+FLAGS.SILENT", "(\\Deleted)"))
        r = ok(await c.uid("expunge", "4"))
        assert [line for line in r.lines if line.endswith(b"EXPUNGE")] == [b"3 EXPUNGE"], r
        assert await search("ALL") == [1, 2, 5]
        r = ok(await c.expunge())
        assert [line for line in r.lines if line.endswith(b"EXPUNGE")] == [b"1 EXPUNGE"], r
        assert await search("ALL") == [2, 5]
        # CREATE (non-ASCII, modified UTF-7 on the wire), RENAME, DELETE.
        wire = messages.mutf7_encode("Büro/2025")
        ok(await c.create(f'"{wire}"'))
        ok(await c.uid("copy", "5", f'"{wire}"'))
        renamed = messages.mutf7_encode("Büro/Ärger")
        ok(await c.rename(f'"{wire}"', f'"{renamed}"'))
        r = ok(await c.list('""', '"B*"'))
        names = {messages.mutf7_decode(parse(line)[2]) for line in join_literals(r.lines[:-1])}
        assert names == {"Büro", "Büro/Ärger"}, names
        r = ok(await c.status(f'"{renamed}"', "(MESSAGES)"))
        assert parse(untagged(r, b"STATUS")[0])[1] == ["MESSAGES", "1"]
        ok(await c.delete(f'"{renamed}"'))
        r = await c.delete('"Nonexistent"')
        assert r.result == "NO" and b"[NONEXISTENT]" in r.lines[-1], r
        r = await c.create('"INBOX"')
        assert r.result == "NO", r


async def test_idle_push_of_append_flags_and_expunge(crispin: InteropServer,
                                                     connect) -> None:  # type: ignore[no-untyped-def]
    crispin.load([("INBOX", messages.plain_text(n), ()) for n in (1, 2, 3)])
    async with asyncio.timeout(40):
        c = await connect()
        ok(await c.select("INBOX"))

        async def push_until(action: Callable[[imaplib.IMAP4], object],
                             expected: bytes) -> list[bytes]:
            idle = await c.idle_start(timeout=20)
            await in_thread(crispin, action)
            seen: list[bytes] = []
            while not any(re.fullmatch(expected, line) for line in seen):
                pushed = await c.wait_server_push(timeout=10)
                assert isinstance(pushed, list), pushed
                seen += [bytes(x) for x in pushed]
            c.idle_done()
            done = await asyncio.wait_for(idle, 10)
            assert done.result == "OK", done
            return seen

        seen = await push_until(lambda o: o.append("INBOX", None, None,
                                                   messages.extra_message(4)), rb"4 EXISTS")
        assert all(re.fullmatch(rb"\d+ (EXISTS|RECENT)", line) for line in seen), seen
        seen = await push_until(lambda o: o.store("2", "+FLAGS", "(\\Flagged)"),
                                rb"2 FETCH \(.*FLAGS \([^)]*\\Flagged[^)]*\).*\)")

        def expunge(o: imaplib.IMAP4) -> None:
            o.store("1", "+FLAGS", "(\\Deleted)")
            o.expunge()

        seen = await push_until(expunge, rb"1 EXPUNGE")
        # The session is in step after IDLE: three messages, UIDs 2, 3 and 4.
        r = ok(await c.fetch("1:*", "(UID)"))
        assert {n: int(v["UID"]) for n, v in fetches(r).items()} == {1: 2, 2: 3, 3: 4}
        # Several changes while idling arrive, in order, and end consistent.
        idle = await c.idle_start(timeout=20)

        def burst(o: imaplib.IMAP4) -> None:
            for n in range(5, 8):
                o.append("INBOX", None, None, messages.extra_message(n))
            o.store("1", "+FLAGS", "(\\Deleted)")
            o.expunge()

        await in_thread(crispin, burst)
        pushed: list[bytes] = []
        while not any(line.endswith(b" EXISTS") for line in pushed) or \
                not any(line.endswith(b" EXPUNGE") for line in pushed):
            pushed += [bytes(x) for x in await c.wait_server_push(timeout=10)]
        c.idle_done()
        ok(await asyncio.wait_for(idle, 10))
        r = ok(await c.uid_search("ALL", charset=None))
        assert untagged(r, b"SEARCH") == [b"3 4 5 6 7"], (r, pushed)


async def test_large_append_and_fetch_through_asyncio(crispin: InteropServer,
                                                      connect) -> None:  # type: ignore[no-untyped-def]
    big = messages.large_message()
    async with asyncio.timeout(40):
        c = await connect()
        ok(await c.append(big, mailbox="INBOX"))
        ok(await c.select("INBOX"))
        r = ok(await c.uid("fetch", "1", "(RFC822.SIZE BODY.PEEK[])"))
        got = fetches(r)[1]
        assert int(got["RFC822.SIZE"]) == len(big)
        assert hashlib.sha256(got["BODY[]"]).hexdigest() == hashlib.sha256(big).hexdigest()


async def test_uid_commands_report_uid_in_every_fetch(crispin: InteropServer,
                                                      connect) -> None:  # type: ignore[no-untyped-def]
    """A client that maps FETCH responses by UID gets a UID in each one answering a UID
    command, also for flag changes made meanwhile by another client (RFC 3501 §6.4.8: "MUST
    implicitly include the UID message data item as part of any FETCH response caused by a
    UID command"; RFC 9051 §7.5.2 and RFC 7162 errata 1807: every unsolicited FETCH carries
    UID; Dovecot does so)."""
    crispin.load([("INBOX", messages.plain_text(n), ()) for n in (1, 2, 3)])
    async with asyncio.timeout(30):
        c = await connect()
        ok(await c.select("INBOX"))
        for command in ("fetch", "store", "copy"):
            await in_thread(crispin, lambda o: o.store("1", "FLAGS", "(\\Answered $X)"))
            if command == "fetch":
                r = ok(await c.uid("fetch", "3", "(FLAGS)"))
            elif command == "store":
                r = ok(await c.uid("store", "3", "+FLAGS", "(\\Seen)"))
            else:
                r = ok(await c.uid("copy", "3", "Archive"))
            lines = [line for line in join_literals(r.lines) if b" FETCH " in line]
            if command != "copy":  # the change is reported here (as Dovecot does)
                assert any(line.startswith(b"1 FETCH") for line in lines), (command, r)
            for line in lines:
                assert "UID" in fetches(Response("OK", [line])).popitem()[1], (command, line)
            await in_thread(crispin, lambda o: o.store("1", "FLAGS", "()"))
            ok(await c.noop())


async def test_issue16_rev2_binary_preview_objectid(crispin: InteropServer,
                                                    connect) -> None:  # type: ignore[no-untyped-def]
    """Issue 16's items through aioimaplib's own calls: ENABLE IMAP4rev2 (RFC 9051 §6.3.1),
    a rev2 session (SELECT's untagged LIST, STATUS SIZE / DELETED §6.3.11, NAMESPACE, UID
    MOVE §6.4.8), and, after APPEND, FETCH of BINARY.PEEK (RFC 3516 §4.2: the part decoded
    from base64), PREVIEW (RFC 8970 §3) and EMAILID (RFC 8474 §5.1: kept by MOVE)."""
    attachment_message = messages.multipart_mixed()
    decoded = email.message_from_bytes(attachment_message).get_payload()[1]
    attachment = decoded.get_payload(decode=True)
    assert isinstance(attachment, bytes) and len(attachment) == 2048
    async with asyncio.timeout(40):
        c = await connect()
        for cap in ("IMAP4rev2", "BINARY", "PREVIEW", "OBJECTID", "STATUS=SIZE"):
            assert c.has_capability(cap), (cap, c.protocol.capabilities)
        r = ok(await c.enable("IMAP4rev2"))
        assert untagged(r, b"ENABLED") == [b"IMAP4rev2"], r
        # APPEND: a plain message (flagged, to be deleted) and one with a base64 attachment.
        plain = messages.plain_text(1)
        r = ok(await c.append(plain, mailbox="INBOX", flags="(\\Deleted)"))
        assert re.search(rb"\[APPENDUID \d+ 1\]", r.lines[-1]), r
        r = ok(await c.append(attachment_message, mailbox="INBOX"))
        assert re.search(rb"\[APPENDUID \d+ 2\]", r.lines[-1]), r
        # STATUS with rev2's DELETED and SIZE (RFC 9051 §6.3.11, §7.5.2)
        r = ok(await c.status("INBOX", "(MESSAGES DELETED SIZE)"))
        [status] = untagged(r, b"STATUS")
        name, values = parse(status)
        assert name == "INBOX"
        assert dict(zip(values[::2], values[1::2], strict=True)) == {
            "MESSAGES": "2", "DELETED": "1", "SIZE": str(len(plain) + len(attachment_message))}
        r = ok(await c.namespace())
        assert parse(untagged(r, b"NAMESPACE")[0])[0] == [["", "/"]], r
        # SELECT in rev2: an untagged LIST of the mailbox, no RECENT (RFC 9051 §6.3.2)
        r = ok(await c.select("INBOX"))
        assert any(re.fullmatch(rb'LIST \([^)]*\) "/" "?INBOX"?', line) for line in r.lines), r
        assert not any(line.endswith(b" RECENT") for line in r.lines), r
        r = ok(await c.uid("fetch", "1:2", "(EMAILID BINARY.PEEK[2] BINARY.SIZE[2] PREVIEW)"))
        got = fetches(r)
        assert sorted(got) == [1, 2], r
        assert got[2]["BINARY[2]"] == attachment  # decoded by the server, byte for byte
        assert got[2]["BINARY.SIZE[2]"] == str(len(attachment))
        assert got[2]["PREVIEW"] == "See the attachment.", got[2]
        body_start = plain.split(b"\r\n\r\n", 1)[1].decode().split()[:3]
        assert got[1]["PREVIEW"].split()[:3] == body_start, got[1]
        ids = {n: item["EMAILID"] for n, item in got.items()}
        assert all(isinstance(v, list) and len(v) == 1 for v in ids.values()), ids
        assert ids[1] != ids[2]
        # UID MOVE (RFC 9051 §6.4.8, §7.5.1): the message goes with its EMAILID
        r = ok(await c.uid("move", "2", "Archive"))
        assert any(re.search(rb"COPYUID \d+ 2 1", line) for line in r.lines), r
        assert b"2 EXPUNGE" in r.lines, r
        ok(await c.select("Archive"))
        r = ok(await c.uid("fetch", "1", "(EMAILID BINARY.PEEK[2])"))
        moved = fetches(r)[1]
        assert moved["EMAILID"] == ids[2] and moved["BINARY[2]"] == attachment, moved
