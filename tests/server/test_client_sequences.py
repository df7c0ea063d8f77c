"""What real clients send, replayed command by command, with every answer checked.

The sequences come from the project's issue (protocol logs of the clients named below):

- Thunderbird 153 opens each connection with ``AUTHENTICATE PLAIN`` (SASL-IR), ``COMPRESS
  DEFLATE`` and ``ID``; the first connection reads ``NAMESPACE``, the subscribed folders with
  their special-use attributes and ``MYRIGHTS``; each folder gets ``STATUS``, ``select``,
  ``getquotaroot``, a flags fetch, a header fetch and a body fetch per message; then two
  connections IDLE while a third appends and flags, and a message is moved to Trash with
  ``UID MOVE`` (Thunderbird files the copy by its ``[COPYUID]``).  A reconnect resynchronises
  with ``ENABLE CONDSTORE`` and ``UID FETCH 1:* (FLAGS) (CHANGEDSINCE m)``.
- Apple Mail's opening: ``ID``, ``NAMESPACE``, ``LIST "" "*" RETURN (SPECIAL-USE)``.
- mbsync: APPENDs pipelined with LITERAL+ in one write, then ``UID EXPUNGE``.
- K-9 / neomutt: ``ENABLE QRESYNC`` and ``SELECT INBOX (QRESYNC (...))`` after changes made
  while away, then expunges of another session as ``VANISHED``.

Every response line goes through :func:`check_grammar` (RFC 3501 §9, loosely: balanced
parentheses and brackets, single spaces between tokens, no space after "(" or before ")",
well-formed quoted strings and literals, status responses with a text).
"""

from __future__ import annotations

import base64
import re
import socket
import zlib
from typing import Any

from tests.server.harness import PASSWORD, ServerThread
from tests.server.response_grammar import check_grammar, fetch_items, parse_data, uid_set


def code_of(response: bytes, name: bytes) -> bytes | None:
    m = re.search(rb"\[" + name + rb"(?: ([^\]]*))?\]", response)
    return None if m is None else (m[1] or b"")


# -- a raw client that can switch to DEFLATE ------------------------------------------------


class Wire:
    """Whole responses in, exact bytes out; ``deflate()`` turns on RFC 4978 compression the
    way a client does it: a raw DEFLATE stream each way, Z_SYNC_FLUSH after every write."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.comp: Any = None
        self.decomp: Any = None
        self.tag_no = 0
        self.idle_tag = b""
        self.caps: list[bytes] = []
        self.greeting = self.response()
        check_grammar(self.greeting)

    def deflate(self) -> None:
        assert self.buf == b"", self.buf  # nothing may follow the OK uncompressed
        self.comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.decomp = zlib.decompressobj(-15)

    def send(self, data: bytes) -> None:
        if self.comp is not None:
            data = self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed; pending {self.buf!r}")
        self.buf += self.decomp.decompress(chunk) if self.decomp is not None else chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self) -> bytes:
        """One response, literals inline (``... {n}`` CRLF data ``rest``)."""
        out = self._line()
        while m := re.search(rb"~?\{(\d+)\}\Z", out):
            n = int(m[1])
            while len(self.buf) < n:
                self._fill()
            out += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]
            out += self._line()
        return out

    def next_tag(self) -> bytes:
        self.tag_no += 1
        return str(self.tag_no).encode()

    def until_tagged(self, tag: bytes) -> list[bytes]:
        out = []
        while True:
            r = self.response()
            check_grammar(r, tag)
            out.append(r)
            if r.startswith(tag + b" "):
                return out

    def command(self, text: bytes, expect: bytes = b"OK") -> list[bytes]:
        """Send ``<tag> text``; all responses up to the tagged one, which must be ``expect``."""
        tag = self.next_tag()
        self.send(tag + b" " + text + b"\r\n")
        lines = self.until_tagged(tag)
        assert lines[-1].startswith(tag + b" " + expect + b" "), (text, lines)
        return lines

    def wait_for(self, pattern: bytes) -> list[bytes]:
        """Untagged responses (pushed during IDLE) up to one matching ``pattern``."""
        out = []
        while True:
            r = self.response()
            check_grammar(r)
            assert r.startswith(b"* "), r
            out.append(r)
            if re.search(pattern, r):
                return out

    def close(self) -> None:
        self.sock.close()


def untagged(lines: list[bytes], kind: bytes) -> list[bytes]:
    """Untagged responses ``* [n ]KIND ...`` from a command's lines."""
    pat = re.compile(rb"\* (?:\d+ )?" + kind + rb"\b")
    return [x for x in lines if pat.match(x)]


def fetches(lines: list[bytes]) -> dict[int, dict[str, Any]]:
    """FETCH responses by UID (each must carry one)."""
    out: dict[int, dict[str, Any]] = {}
    for line in untagged(lines, b"FETCH"):
        _, items = fetch_items(line)
        out.setdefault(int(items["UID"]), {}).update(items)
    return out


def select_info(lines: list[bytes]) -> dict[str, int]:
    info: dict[str, int] = {}
    for line in lines:
        if m := re.fullmatch(rb"\* (\d+) (EXISTS|RECENT)", line):
            info[m[2].decode()] = int(m[1])
        elif m := re.match(rb"\* OK \[(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ|UNSEEN) (\d+)\]", line):
            info[m[1].decode()] = int(m[2])
    return info


# -- messages --------------------------------------------------------------------------------

HEADER_FIELDS = (b"From To Cc Bcc Subject Date Message-ID Priority X-Priority References "
                 b"Newsgroups In-Reply-To Content-Type Reply-To")
TB_HEADER_FETCH = (b"UID fetch 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ("
                   + HEADER_FIELDS + b")])")


def make_message(n: int, folder: str = "INBOX", size: int = 0) -> bytes:
    """A message with requested and unrequested headers, a folded one, and UTF-8 in the body."""
    body = f"Grüße, message {n} in {folder}.\r\n".encode()
    body += b"".join(b"line %06d of the padding\r\n" % i for i in range(size // 26))
    return (
        b"Return-Path: <robin@example.org>\r\n"
        b"Received: from mx.example.org by mail.example.net; Tue, 2 Jan 2024 10:00:00 +0000\r\n"
        b"From: Robin <robin@example.org>\r\n"
        b"To: carol@example.net\r\n"
        b"Cc: team@example.net\r\n"
        b"Subject: Test %d in %s\r\n"
        b"Date: Tue, 2 Jan 2024 10:%02d:00 +0000\r\n"
        b"Message-ID: <m%d.%s@example.org>\r\n"
        b"References: <a@example.org>\r\n <b@example.org>\r\n"
        b"X-Priority: 3\r\n"
        b"X-Mailer: none\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain;\r\n\tcharset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n" % (n, folder.encode(), n % 60, n, folder.encode())
    ) + body


def header_fields(msg: bytes, names: bytes) -> bytes:
    """RFC 3501 §6.4.5 BODY[HEADER.FIELDS (names)]: the matching header lines (with their
    continuation lines), in message order, and the blank line."""
    wanted = {x.lower() for x in names.split()}
    header = msg.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    out, keep = b"", False
    for line in header.split(b"\r\n")[:-1]:
        if not line[:1].isspace():
            keep = line.split(b":", 1)[0].strip().lower() in wanted
        if keep:
            out += line + b"\r\n"
    return out + b"\r\n"


def append_all(port: int, user: str, folder: str, msgs: list[bytes]) -> list[int]:
    w = Wire(port)
    w.command(b'LOGIN %s "%s"' % (user.encode(), PASSWORD.encode()))
    uids = []
    for msg in msgs:
        lines = w.command(b'APPEND "%s" {%d+}\r\n' % (folder.encode(), len(msg)) + msg)
        uids.append(int((code_of(lines[-1], b"APPENDUID") or b"0 0").split()[1]))
    w.command(b"LOGOUT")
    w.close()
    return uids


# -- Thunderbird -----------------------------------------------------------------------------

TB_ID = b'ID ("name" "Thunderbird" "version" "153.0")'


def thunderbird_connect(server: ServerThread, user: str) -> Wire:
    """Thunderbird's opening on every connection: SASL-IR PLAIN, COMPRESS, ID."""
    w = Wire(server.port)
    assert w.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 "), w.greeting
    caps = w.greeting.split(b"]")[0].split()[2:]
    assert b"AUTH=PLAIN" in caps and b"SASL-IR" in caps, caps
    ir = base64.b64encode(b"\0" + user.encode() + b"\0" + PASSWORD.encode())
    lines = w.command(b"authenticate PLAIN " + ir)
    assert len(lines) == 1, lines
    caps = w.caps = (code_of(lines[0], b"CAPABILITY") or b"").split()
    for cap in (b"COMPRESS=DEFLATE", b"CONDSTORE", b"QRESYNC", b"IDLE", b"MOVE", b"UIDPLUS",
                b"ID", b"NAMESPACE", b"SPECIAL-USE", b"LIST-EXTENDED", b"ENABLE"):
        assert cap in caps, (cap, lines)
    lines = w.command(b"COMPRESS DEFLATE")
    assert len(lines) == 1, lines
    w.deflate()
    lines = w.command(TB_ID)
    assert len(lines) == 2 and lines[0].startswith(b"* ID ("), lines
    [server_id] = parse_data(lines[0][5:])
    fields = dict(zip(server_id[::2], server_id[1::2], strict=True))
    assert fields.get("name") == "Crispin", fields
    return w


def not_yet(tagged: bytes) -> bool:
    """The answer to a command of the ACL / QUOTA milestone before it lands: tagged BAD,
    unknown (server) or parsed but not implemented (protocol layer already knows it)."""
    text = tagged.split(b" ", 2)[2]
    return text.startswith((b"Unknown command", b"Command not implemented"))


def check_myrights(w: Wire, folder: str) -> None:
    """``MYRIGHTS`` as Thunderbird sends it for every folder.  Without ACL in the
    capabilities it must be an unknown command (BAD); with it, RFC 4314 §3.5: one untagged
    MYRIGHTS for the folder, and the owner holds every right of RFC 4314 §2.1."""
    if b"ACL" not in w.caps:
        lines = w.command(b'myrights "%s"' % folder.encode(), expect=b"BAD")
        assert len(lines) == 1 and not_yet(lines[0]), lines
        return
    lines = w.command(b'myrights "%s"' % folder.encode())
    assert len(lines) == 2 and lines[0].startswith(b"* MYRIGHTS "), lines
    name, rights = parse_data(lines[0][2:])[1:]
    assert name == folder and set("lrswipkxtea") <= set(rights), lines


def check_quotaroot(w: Wire, folder: str) -> None:
    """``getquotaroot`` as Thunderbird sends it.  Without QUOTA: unknown command (BAD).  With
    it, RFC 9208 §4.1.2: a QUOTAROOT response naming the folder and its roots, and for each
    root a QUOTA response with (resource usage limit) triplets (an empty list if unlimited)."""
    q = b'"%s"' % folder.encode()
    if b"QUOTA" not in w.caps:
        lines = w.command(b"getquotaroot " + q, expect=b"BAD")
        assert len(lines) == 1 and not_yet(lines[0]), lines
        return
    lines = w.command(b"getquotaroot " + q)
    assert lines[0].startswith(b"* QUOTAROOT "), lines
    name, *roots = parse_data(lines[0][2:])[1:]
    assert name == folder, lines
    quotas = {}
    for line in lines[1:-1]:
        assert line.startswith(b"* QUOTA "), lines
        root, triplets = parse_data(line[2:])[1:]
        assert len(triplets) % 3 == 0 and all(x.isdigit() for x in
                                              triplets[1::3] + triplets[2::3]), line
        quotas[root] = triplets
    assert sorted(quotas) == sorted(roots), ("a QUOTA response for each root", lines)


FOLDERS = ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]
SPECIAL = {"Archive": "\\Archive", "Drafts": "\\Drafts", "Junk": "\\Junk", "Sent": "\\Sent",
           "Trash": "\\Trash"}


def check_namespace(lines: list[bytes]) -> None:
    """RFC 2342 §5: personal namespace "" with "/"; other users' and shared namespaces NIL
    or (prefix delimiter) lists (they appear once sharing is supported)."""
    assert len(lines) == 2 and lines[0].startswith(b"* NAMESPACE "), lines
    personal, other, shared = parse_data(lines[0][12:])
    assert personal == [["", "/"]], lines
    for space in (other, shared):
        assert space is None or all(
            len(ns) == 2 and ns[0].endswith("/") and ns[1] == "/" for ns in space), lines


def thunderbird_folder(w: Wire, folder: str, msgs: dict[int, bytes]) -> dict[str, int]:
    """One folder the way Thunderbird opens it; returns the SELECT data."""
    q = b'"%s"' % folder.encode()
    lines = w.command(b"STATUS " + q + b" (UIDNEXT MESSAGES UNSEEN RECENT)")
    assert len(lines) == 2, lines
    name, items = parse_data(lines[0][2:])[1:]
    assert name == folder, lines
    status = dict(zip(items[::2], (int(x) for x in items[1::2]), strict=True))
    assert status["MESSAGES"] == len(msgs), status
    assert status["UIDNEXT"] == max(msgs, default=0) + 1, status
    assert status["UNSEEN"] == len(msgs), status

    lines = w.command(b"select " + q)
    assert lines[-1].split(b"]")[0].endswith(b"[READ-WRITE"), lines
    info = select_info(lines)
    # RFC 7162 §3.1.2.1 lets the server volunteer HIGHESTMODSEQ; Thunderbird uses CONDSTORE
    # only when it is there.
    assert "HIGHESTMODSEQ" in info and info["HIGHESTMODSEQ"] > 0, lines
    assert info["EXISTS"] == len(msgs) and info["UIDNEXT"] == status["UIDNEXT"], lines
    assert "UIDVALIDITY" in info and "RECENT" in info, lines
    assert any(x.startswith(b"* FLAGS (") for x in lines), lines
    assert any(x.startswith(b"* OK [PERMANENTFLAGS (") for x in lines), lines

    check_quotaroot(w, folder)

    lines = w.command(b"UID fetch 1:* (FLAGS)")
    got = fetches(lines)
    assert sorted(got) == sorted(msgs), lines
    assert all("\\Seen" not in v["FLAGS"] for v in got.values()), lines
    assert len(lines) == len(msgs) + 1

    lines = w.command(TB_HEADER_FETCH)
    got = fetches(lines)
    assert sorted(got) == sorted(msgs), lines
    section = f"BODY[HEADER.FIELDS ({HEADER_FIELDS.decode()})]"
    for uid, msg in msgs.items():
        items = got[uid]
        assert int(items["RFC822.SIZE"]) == len(msg), (uid, items)
        assert isinstance(items["FLAGS"], list), items
        [key] = [k for k in items if k.startswith("BODY[")]
        assert key.upper() == section.upper(), key
        assert items[key] == header_fields(msg, HEADER_FIELDS), (uid, items[key])

    for uid, msg in msgs.items():
        lines = w.command(b"UID fetch %d (UID RFC822.SIZE BODY.PEEK[])" % uid)
        assert len(lines) == 2, lines
        _, items = fetch_items(lines[0])
        assert int(items["UID"]) == uid and items["BODY[]"] == msg, (uid, items)
        assert "FLAGS" not in items, items  # PEEK: no \Seen, so no FLAGS update
    return info


def test_thunderbird(server: ServerThread) -> None:
    server.add_account("carol")
    inbox = {uid: m for uid, m in zip(
        append_all(server.port, "carol", "INBOX", [make_message(i) for i in range(1, 4)]),
        [make_message(i) for i in range(1, 4)], strict=True)}
    big = make_message(9, "Sent", size=300_000)
    sent = dict(zip(append_all(server.port, "carol", "Sent", [make_message(8, "Sent"), big]),
                    [make_message(8, "Sent"), big], strict=True))
    assert sorted(inbox) == [1, 2, 3] and sorted(sent) == [1, 2]
    contents: dict[str, dict[int, bytes]] = {f: {} for f in FOLDERS}
    contents["INBOX"], contents["Sent"] = inbox, sent

    # -- first connection: the account's folder tree --
    tb1 = thunderbird_connect(server, "carol")
    lines = tb1.command(b"namespace")
    check_namespace(lines)
    lines = tb1.command(b'list (SUBSCRIBED) "" "*" RETURN (SPECIAL-USE)')
    listed = {}
    for line in lines[:-1]:
        assert line.startswith(b"* LIST ("), line
        attrs, delim, name = parse_data(line[7:])
        assert delim == "/", line
        listed[name] = set(attrs)
    assert sorted(listed) == sorted(FOLDERS), lines
    for name, attrs in listed.items():
        assert "\\Subscribed" in attrs, (name, attrs)  # RFC 5258 §3.1
        uses = attrs & set(SPECIAL.values())
        assert uses == ({SPECIAL[name]} if name in SPECIAL else set()), (name, attrs)
    lines = tb1.command(b'list "" "INBOX"')
    assert len(lines) == 2 and re.fullmatch(rb'\* LIST \([^)]*\) "/" "?INBOX"?', lines[0]), lines
    for folder in FOLDERS:
        check_myrights(tb1, folder)

    # -- every folder --
    for folder in FOLDERS:
        thunderbird_folder(tb1, folder, contents[folder])

    # -- two connections IDLE on INBOX; a third changes it --
    tb2 = thunderbird_connect(server, "carol")
    thunderbird_folder(tb1, "INBOX", inbox)
    info = thunderbird_folder(tb2, "INBOX", inbox)
    # tb2 resynchronises its flags from its cache's modseq: a CONDSTORE enabling command
    # (RFC 7162 §3.1), so from now on every FETCH it gets carries MODSEQ, and UID (§3.2.4).
    lines = tb2.command(b"UID fetch 1:* (FLAGS) (CHANGEDSINCE %d)" % (info["HIGHESTMODSEQ"] - 1))
    assert untagged(lines, b"FETCH"), lines  # the message(s) at HIGHESTMODSEQ
    for line in untagged(lines, b"FETCH"):
        _, items = fetch_items(line)
        assert "UID" in items and "MODSEQ" in items, line
    assert not untagged(lines, b"EXISTS|EXPUNGE|VANISHED"), lines
    for w in (tb1, tb2):
        tag = w.next_tag()
        w.send(tag + b" IDLE\r\n")
        cont = w.response()
        assert cont.startswith(b"+ "), cont  # "+" SP text (RFC 3501 §7.5)
        w.idle_tag = tag

    other = server.login("carol")
    new = make_message(4)
    typ, data = other.append("INBOX", None, None, new)
    assert typ == "OK" and b"[APPENDUID " in data[0], data
    new_uid = int(data[0].split(b"]")[0].split()[-1])
    assert new_uid == 4, data
    inbox[new_uid] = new
    for w in (tb1, tb2):
        seen = w.wait_for(rb"^\* \d+ EXISTS$")
        assert seen[-1] == b"* 4 EXISTS", seen
    assert other.select("INBOX")[0] == "OK"
    typ, data = other.uid("STORE", "2", "+FLAGS.SILENT", "(\\Flagged $Label1)")
    assert typ == "OK", data
    seen1 = [x for x in tb1.wait_for(rb"^\* 2 FETCH ") if b" FETCH " in x]
    seen2 = [x for x in tb2.wait_for(rb"^\* 2 FETCH ") if b" FETCH " in x]
    _, items = fetch_items(seen1[-1])
    assert {"\\Flagged", "$Label1"} <= set(items["FLAGS"]), seen1
    _, items = fetch_items(seen2[-1])
    assert {"\\Flagged", "$Label1"} <= set(items["FLAGS"]), seen2
    assert int(items["UID"]) == 2, seen2
    [modseq] = items["MODSEQ"]
    assert int(modseq) > info["HIGHESTMODSEQ"], seen2

    tb1.send(b"DONE\r\n")
    lines = tb1.until_tagged(tb1.idle_tag)
    assert lines[-1].startswith(tb1.idle_tag + b" OK "), lines

    # -- UID MOVE to Trash; Thunderbird files the copy under the UID from [COPYUID] --
    lines = tb1.command(b'UID move 1 "Trash"')
    copyuid = [i for i, x in enumerate(lines) if code_of(x, b"COPYUID") is not None]
    expunges = [i for i, x in enumerate(lines) if re.fullmatch(rb"\* \d+ EXPUNGE", x)]
    assert len(copyuid) == 1 and expunges == [copyuid[0] + 1], lines  # RFC 6851 §4.3
    assert lines[copyuid[0]].startswith(b"* OK [COPYUID "), lines
    assert lines[expunges[0]] == b"* 1 EXPUNGE", lines
    uidvalidity, src, dst = (code_of(lines[copyuid[0]], b"COPYUID") or b"").split()
    assert src == b"1", lines
    # tb2, still idling, is told of the expunge at once.
    seen = tb2.wait_for(rb"EXPUNGE|VANISHED")
    assert seen[-1] == b"* 1 EXPUNGE", seen  # CONDSTORE without QRESYNC: EXPUNGE
    tb2.send(b"DONE\r\n")
    lines = tb2.until_tagged(tb2.idle_tag)
    assert lines[-1].startswith(tb2.idle_tag + b" OK "), lines

    lines = tb1.command(b'select "Trash"')
    info = select_info(lines)
    assert info["UIDVALIDITY"] == int(uidvalidity) and info["EXISTS"] == 1, lines
    lines = tb1.command(b"UID fetch %s (UID FLAGS BODY.PEEK[])" % dst)
    got = fetches(lines)
    assert list(got) == [int(dst)] and got[int(dst)]["BODY[]"] == inbox.pop(1), lines
    for w in (tb1, tb2):
        assert untagged(w.command(b"logout"), b"BYE"), "no BYE"
        w.close()

    # -- reconnect: resynchronise with CONDSTORE --
    tb3 = thunderbird_connect(server, "carol")
    lines = tb3.command(b"ENABLE CONDSTORE")
    assert lines[0] == b"* ENABLED CONDSTORE", lines
    lines = tb3.command(b'select "INBOX"')
    before = select_info(lines)
    assert before["EXISTS"] == 3, lines
    tb3.command(b"logout")
    tb3.close()
    # While Thunderbird is away: one message gets \Seen, one arrives.
    assert other.uid("STORE", "3", "+FLAGS.SILENT", "(\\Seen)")[0] == "OK"
    typ, data = other.append("INBOX", None, None, make_message(5))
    arrived = int(data[0].split(b"]")[0].split()[-1])
    other.logout()

    tb4 = thunderbird_connect(server, "carol")
    assert tb4.command(b"ENABLE CONDSTORE")[0] == b"* ENABLED CONDSTORE"
    lines = tb4.command(b'select "INBOX"')
    after = select_info(lines)
    assert after["EXISTS"] == 4 and after["HIGHESTMODSEQ"] > before["HIGHESTMODSEQ"], lines
    lines = tb4.command(b"UID fetch 1:* (FLAGS) (CHANGEDSINCE %d)" % before["HIGHESTMODSEQ"])
    got = fetches(lines)
    assert sorted(got) == [3, arrived], lines  # only what changed
    for items in got.values():
        [m] = items["MODSEQ"]
        assert before["HIGHESTMODSEQ"] < int(m) <= after["HIGHESTMODSEQ"], lines
    assert "\\Seen" in got[3]["FLAGS"] and "\\Seen" not in got[arrived]["FLAGS"], lines
    tb4.command(b"logout")
    tb4.close()


# -- Apple Mail ------------------------------------------------------------------------------


def test_apple_mail_opening(server: ServerThread) -> None:
    server.add_account("dave")
    w = Wire(server.port)
    w.command(b'LOGIN "dave" "%s"' % PASSWORD.encode())
    lines = w.command(b'ID ("name" "Mac OS X Mail" "version" "16.0 (3774.600.62)" "os" '
                      b'"Mac OS X" "os-version" "14.5 (23F79)" "vendor" "Apple Inc.")')
    assert len(lines) == 2 and lines[0].startswith(b"* ID ("), lines
    lines = w.command(b"NAMESPACE")
    check_namespace(lines)
    lines = w.command(b'LIST "" "*" RETURN (SPECIAL-USE)')
    listed = {}
    for line in lines[:-1]:
        attrs, delim, name = parse_data(line[7:])
        assert line.startswith(b"* LIST (") and delim == "/", line
        listed[name] = set(attrs)
    assert sorted(listed) == sorted(FOLDERS), lines
    for name, attrs in listed.items():
        uses = attrs & set(SPECIAL.values())
        assert uses == ({SPECIAL[name]} if name in SPECIAL else set()), (name, attrs)
        assert "\\HasNoChildren" in attrs, (name, attrs)
    w.command(b"LOGOUT")
    w.close()


# -- mbsync ----------------------------------------------------------------------------------


def test_mbsync_pipelined_appends(server: ServerThread) -> None:
    w = Wire(server.port)
    w.command(b'LOGIN "alice" "%s"' % PASSWORD.encode())
    lines = w.command(b'SELECT "INBOX"')
    uidvalidity = select_info(lines)["UIDVALIDITY"]
    msgs = [make_message(i, size=i * 20_000) for i in range(1, 6)]
    dates = [f'"{i + 1:02d}-Mar-2024 08:15:00 +0100"' for i in range(5)]
    flags = ["(\\Seen)", "()", "(\\Seen \\Flagged)", "(\\Draft)", "(\\Seen)"]
    batch = b""
    for i, msg in enumerate(msgs):
        batch += b'a%d APPEND "INBOX" %s %s {%d+}\r\n' % (
            i, flags[i].encode(), dates[i].encode(), len(msg)) + msg + b"\r\n"
    w.send(batch)  # one write, no waiting for continuations (RFC 7888)
    uids = []
    for i in range(len(msgs)):
        lines = w.until_tagged(b"a%d" % i)
        tagged = lines[-1]
        assert tagged.startswith(b"a%d OK [APPENDUID " % i), lines
        v, uid = (code_of(tagged, b"APPENDUID") or b"").split()
        assert int(v) == uidvalidity, tagged
        uids.append(int(uid))
        # Only EXISTS / RECENT may accompany it (the mailbox is selected).
        assert all(re.fullmatch(rb"\* \d+ (EXISTS|RECENT)", x) for x in lines[:-1]), lines
    assert uids == [1, 2, 3, 4, 5], uids

    lines = w.command(b"UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)")
    got = fetches(lines)
    assert sorted(got) == uids, lines
    for i, uid in enumerate(uids):
        assert int(got[uid]["RFC822.SIZE"]) == len(msgs[i]), got[uid]
        assert set(got[uid]["FLAGS"]) - {"\\Recent"} == set(flags[i][1:-1].split()), got[uid]
        # date-day-fixed is (SP DIGIT) / 2DIGIT (RFC 3501 §9): " 1-Mar" and "01-Mar" both.
        assert got[uid]["INTERNALDATE"] in (dates[i].strip('"'),
                                             dates[i].strip('"').replace("0", " ", 1)), got[uid]
    lines = w.command(b"UID FETCH 3 BODY.PEEK[]")
    assert fetches(lines)[3]["BODY[]"] == msgs[2]

    # mbsync deletes with UIDPLUS: only the UIDs named are expunged (RFC 4315 §2.1), even
    # though another message is \Deleted too.
    lines = w.command(b"UID STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    assert lines == [lines[-1]], lines
    lines = w.command(b"UID EXPUNGE 4")
    assert lines[:-1] == [b"* 4 EXPUNGE"], lines
    lines = w.command(b"UID SEARCH DELETED")
    assert lines[0] == b"* SEARCH 2", lines
    lines = w.command(b"UID EXPUNGE 1:*")
    assert lines[:-1] == [b"* 2 EXPUNGE"], lines
    lines = w.command(b"UID SEARCH ALL")
    assert lines[0] == b"* SEARCH 1 3 5", lines
    w.command(b"LOGOUT")
    w.close()


# -- K-9 / neomutt: QRESYNC ------------------------------------------------------------------


def test_qresync_resync(server: ServerThread) -> None:
    append_all(server.port, "alice", "INBOX", [make_message(i) for i in range(1, 6)])

    a = Wire(server.port)
    a.command(b'LOGIN "alice" "%s"' % PASSWORD.encode())
    assert a.command(b"ENABLE QRESYNC")[0] == b"* ENABLED QRESYNC"
    first = select_info(a.command(b"SELECT INBOX"))
    assert first["EXISTS"] == 5 and "HIGHESTMODSEQ" in first
    got = fetches(a.command(b"UID FETCH 1:* (FLAGS MODSEQ)"))
    assert sorted(got) == [1, 2, 3, 4, 5]
    a.command(b"LOGOUT")
    a.close()

    # While the client is away: two arrive (UIDs 6 and 7), 2 is flagged, 3 and 6 expunged.
    other = server.login("alice")
    for i in (6, 7):
        assert other.append("INBOX", None, None, make_message(i))[0] == "OK"
    assert other.select("INBOX")[0] == "OK"
    assert other.uid("STORE", "2", "+FLAGS.SILENT", "(\\Flagged)")[0] == "OK"
    assert other.uid("STORE", "3,6", "+FLAGS.SILENT", "(\\Deleted)")[0] == "OK"
    assert other.expunge()[0] == "OK"

    v, m = first["UIDVALIDITY"], first["HIGHESTMODSEQ"]
    # With the known UIDs (RFC 7162 §3.2.5.1): changes of those messages only.
    b = Wire(server.port)
    b.command(b'LOGIN "alice" "%s"' % PASSWORD.encode())
    assert b.command(b"ENABLE QRESYNC")[0] == b"* ENABLED QRESYNC"
    lines = b.command(b"SELECT INBOX (QRESYNC (%d %d 1:5))" % (v, m))
    info = select_info(lines)
    assert info["EXISTS"] == 5 and info["UIDNEXT"] == 8 and info["HIGHESTMODSEQ"] > m, lines
    vanished = untagged(lines, b"VANISHED")
    assert vanished == [b"* VANISHED (EARLIER) 3"], lines
    fetched = untagged(lines, b"FETCH")
    assert len(fetched) == 1, lines
    assert lines.index(vanished[0]) < lines.index(fetched[0]), lines  # §3.2.6
    n, items = fetch_items(fetched[0])
    assert n == 2 and int(items["UID"]) == 2 and set(items["FLAGS"]) == {"\\Flagged"}, lines
    assert m < int(items["MODSEQ"][0]) <= info["HIGHESTMODSEQ"], lines
    assert not untagged(lines, b"EXPUNGE"), lines

    # Without them: as if 1:<UIDNEXT-1> were given, so 6 (expunged) and 7 (new) count too.
    c = Wire(server.port)
    c.command(b'LOGIN "alice" "%s"' % PASSWORD.encode())
    assert c.command(b"ENABLE QRESYNC")[0] == b"* ENABLED QRESYNC"
    lines = c.command(b"EXAMINE INBOX (QRESYNC (%d %d))" % (v, m))
    assert lines[-1].split(b"]")[0].endswith(b"[READ-ONLY"), lines
    vanished = untagged(lines, b"VANISHED")
    assert len(vanished) == 1 and vanished[0].startswith(b"* VANISHED (EARLIER) "), lines
    assert uid_set(vanished[0].split()[-1].decode()) == {3, 6}, lines
    got = fetches(lines)
    assert sorted(got) == [2, 7], lines
    assert [fetch_items(x)[0] for x in untagged(lines, b"FETCH")] == [2, 5], lines
    c.command(b"LOGOUT")
    c.close()

    # Another session expunges while b idles: b, with QRESYNC on, hears VANISHED without
    # EARLIER, never EXPUNGE (§3.2.10.2).
    tag = b.next_tag()
    b.send(tag + b" IDLE\r\n")
    assert b.response().startswith(b"+ ")
    assert other.uid("STORE", "4", "+FLAGS.SILENT", "(\\Deleted)")[0] == "OK"
    assert other.expunge()[0] == "OK"
    seen = b.wait_for(rb"VANISHED|EXPUNGE")
    assert seen[-1] == b"* VANISHED 4", seen
    # A flag change meanwhile: FETCH with UID and MODSEQ (QRESYNC implies CONDSTORE, §3.2.4).
    assert other.uid("STORE", "7", "+FLAGS.SILENT", "(\\Seen)")[0] == "OK"
    seen = b.wait_for(rb"FETCH")
    n, items = fetch_items(seen[-1])
    assert (n, int(items["UID"]), items["FLAGS"]) == (4, 7, ["\\Seen"]), seen
    assert int(items["MODSEQ"][0]) > info["HIGHESTMODSEQ"], seen
    b.send(b"DONE\r\n")
    lines = b.until_tagged(tag)
    assert lines[-1].startswith(tag + b" OK "), lines
    assert not untagged(lines, b"EXPUNGE"), lines
    lines = b.command(b"UID SEARCH ALL")
    assert lines[0] == b"* SEARCH 1 2 5 7", lines
    other.logout()
    b.command(b"LOGOUT")
    b.close()


def test_qresync_own_expunge_and_move(server: ServerThread) -> None:
    """With QRESYNC on, the session's own EXPUNGE, UID EXPUNGE and (UID) MOVE report VANISHED
    and the new HIGHESTMODSEQ (RFC 7162 §3.2.7, §3.2.9; RFC 6851 §4.4)."""
    append_all(server.port, "alice", "INBOX", [make_message(i) for i in range(1, 6)])
    assert server.login("alice").create("Elsewhere")[0] == "OK"
    w = Wire(server.port)
    w.command(b'LOGIN "alice" "%s"' % PASSWORD.encode())
    assert w.command(b"ENABLE QRESYNC")[0] == b"* ENABLED QRESYNC"
    highest = select_info(w.command(b"SELECT INBOX"))["HIGHESTMODSEQ"]
    w.command(b"UID STORE 1,2 +FLAGS.SILENT (\\Deleted)")
    results = {
        "EXPUNGE": w.command(b"EXPUNGE"),
        "UID EXPUNGE": (w.command(b"UID STORE 3 +FLAGS.SILENT (\\Deleted)"),
                        w.command(b"UID EXPUNGE 3"))[1],
        "UID MOVE": w.command(b"UID MOVE 4 Elsewhere"),
        "MOVE": w.command(b"MOVE 1 Elsewhere"),
    }
    expected_vanished = {"EXPUNGE": {1, 2}, "UID EXPUNGE": {3}, "UID MOVE": {4}, "MOVE": {5}}
    problems = []
    for name, lines in results.items():
        vanished: set[int] = set()
        for x in untagged(lines, b"VANISHED"):
            assert b"EARLIER" not in x, lines
            vanished |= uid_set(x.split()[-1].decode())
        if vanished != expected_vanished[name]:
            problems.append((name, "VANISHED", lines))
        if untagged(lines, b"EXPUNGE"):
            problems.append((name, "EXPUNGE instead of VANISHED", lines))
        # MOVE may carry HIGHESTMODSEQ in the tagged or an untagged OK; EXPUNGE in the tagged.
        where = lines if "MOVE" in name else lines[-1:]
        codes = [int(c) for x in where if (c := code_of(x, b"HIGHESTMODSEQ"))]
        if not codes or codes[-1] <= highest:
            problems.append((name, "no new HIGHESTMODSEQ", lines))
        else:
            highest = codes[-1]
    assert not problems, problems
    w.command(b"LOGOUT")
    w.close()


# -- the grammar checker itself --------------------------------------------------------------


def test_grammar_checker_catches_layout_errors() -> None:
    check_grammar(b'* LIST (\\HasNoChildren \\Trash) "/" "Trash"')
    check_grammar(b'* NAMESPACE (("" "/")("#shared/" "/")) NIL NIL')
    check_grammar(b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (From To)] {3}\r\nabc)")
    check_grammar(b"* OK [PERMANENTFLAGS (\\Seen \\*)] Flags permitted")
    check_grammar(b"7 OK [READ-WRITE] SELECT completed", b"7")
    for bad in (b"* LIST ( \\Trash) \"/\" x", b"* LIST (\\Trash ) \"/\" x",
                b"* 1 FETCH (UID 1", b"* 1 FETCH (UID  1)", b"* 1 EXISTS ", b"* SEARCH 1)",
                b'* LIST () "/" "x', b"* OK [UIDNEXT 2]", b"* 1 FETCH (X {5}\r\nab)"):
        try:
            check_grammar(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad!r}")
