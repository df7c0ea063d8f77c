"""UTF8=ACCEPT (RFC 6855): after ENABLE, UTF-8 mailbox names both ways, UTF-8 in quoted
strings, APPEND's ``UTF8 (~{n})``, SEARCH without CHARSET; and the rules for sessions that did
not enable it (modified UTF-7 names, APPEND of 8-bit header fields refused with NO)."""

from __future__ import annotations

from pathlib import Path

from tests.server.harness import PASSWORD, RawClient, ServerThread

LOGIN = b'LOGIN alice "' + PASSWORD.encode() + b'"'
# "été" in modified UTF-7 (RFC 3501 §5.1.3) and in UTF-8.
ETE_MUTF7 = b"&AOk-t&AOk-"
ETE_UTF8 = "été".encode()
UTF8_MESSAGE = ("From: Jörg <jörg@exämple.org>\r\nSubject: Grüße aus Köln\r\n\r\n"
                "Hallo\r\n").encode()



def test_on_by_default(server: ServerThread) -> None:
    """Offered by default (docs/utf8-accept.md): advertised once authenticated, ENABLE-able,
    and then the RFC 6855 §4 rule for sessions that did not enable it holds."""
    c = server.raw()
    assert c.command(b"a", LOGIN)[-1].startswith(b"a OK")
    assert b"UTF8=ACCEPT" in c.command(b"b", b"CAPABILITY")[0].split()
    assert append(c, b"c", b"INBOX", UTF8_MESSAGE)[-1].startswith(b"c NO [CANNOT]")
    assert c.command(b"d", b"ENABLE UTF8=ACCEPT")[0] == b"* ENABLED UTF8=ACCEPT"
    assert append(c, b"e", b"INBOX", UTF8_MESSAGE, utf8=True)[-1].startswith(b"e OK")
    c.close()


def test_off_when_configured_so(tmp_path: Path) -> None:
    """``imap.utf8_accept = false``: not offered, ENABLE enables nothing (RFC 5161 §3.1),
    names stay modified UTF-7, and an APPEND of 8-bit header fields is taken as an
    IMAP4rev1 server always took it (RFC 6855 §4 binds a server that supports it)."""
    srv = ServerThread(tmp_path / "plain", imap={"utf8_accept": False})
    srv.add_user("alice")
    try:
        c = srv.raw()
        assert c.command(b"a", LOGIN)[-1].startswith(b"a OK")
        assert b"UTF8=ACCEPT" not in c.command(b"b", b"CAPABILITY")[0].split()
        assert c.command(b"c", b"ENABLE UTF8=ACCEPT")[0] == b"* ENABLED"
        assert append(c, b"d", b"INBOX", UTF8_MESSAGE)[-1].startswith(b"d OK")
        assert c.command(b"e", 'CREATE "é"'.encode())[-1].startswith(b"e NO [CANNOT]")
        c.close()
    finally:
        srv.stop()


def login(server: ServerThread, utf8: bool) -> RawClient:
    c = server.raw()
    assert c.command(b"l1", LOGIN)[-1].startswith(b"l1 OK")
    if utf8:
        assert c.command(b"l2", b"ENABLE UTF8=ACCEPT") == [
            b"* ENABLED UTF8=ACCEPT", b"l2 OK ENABLE completed"]
    return c


def append(c: RawClient, tag: bytes, mailbox: bytes, data: bytes, utf8: bool = False,
           ) -> list[bytes]:
    literal = b"~{%d+}\r\n" % len(data) + data
    body = b"UTF8 (" + literal + b")" if utf8 else b"{%d+}\r\n" % len(data) + data
    c.send(tag + b" APPEND " + mailbox + b" " + body + b"\r\n")
    return c.until_tagged(tag)


def test_advertised_after_login_and_enabled(server: ServerThread) -> None:
    c = server.raw()
    assert b"UTF8=ACCEPT" not in c.command(b"a", b"CAPABILITY")[0].split()
    assert c.command(b"b", LOGIN)[-1].startswith(b"b OK")
    assert b"UTF8=ACCEPT" in c.command(b"c", b"CAPABILITY")[0].split()
    assert c.command(b"d", b"ENABLE UTF8=ACCEPT")[0] == b"* ENABLED UTF8=ACCEPT"
    # RFC 5161 §3.2: enabling again lists nothing new
    assert c.command(b"e", b"ENABLE UTF8=ACCEPT")[0] == b"* ENABLED"
    c.close()


def test_same_mailbox_from_a_mutf7_client_and_a_utf8_client(server: ServerThread) -> None:
    legacy = login(server, utf8=False)
    modern = login(server, utf8=True)
    # created by the legacy client in modified UTF-7, seen by the UTF-8 client in UTF-8
    assert legacy.command(b"a", b"CREATE " + ETE_MUTF7)[-1].startswith(b"a OK")
    assert append(legacy, b"b", ETE_MUTF7, b"Subject: one\r\n\r\nx\r\n")[-1].startswith(b"b OK")
    listed = modern.command(b"c", b'LIST "" "%"')
    assert b'* LIST (\\HasNoChildren) "/" "' + ETE_UTF8 + b'"' in listed
    assert not any(ETE_MUTF7 in line for line in listed)
    # UTF-8 in a quoted string names the same mailbox (RFC 6855 §3)
    selected = modern.command(b"d", b'SELECT "' + ETE_UTF8 + b'"')
    assert b"* 1 EXISTS" in selected and selected[-1].startswith(b"d OK")
    status = modern.command(b"e", b'STATUS "' + ETE_UTF8 + b'" (MESSAGES)')
    assert status[0] == b'* STATUS "' + ETE_UTF8 + b'" (MESSAGES 1)'
    # and a UTF-8 literal too
    status = modern.command(b"f", b"STATUS {%d+}\r\n" % len(ETE_UTF8) + ETE_UTF8
                            + b" (MESSAGES)")
    assert status[0].endswith(b"(MESSAGES 1)")
    # created by the UTF-8 client, seen by the legacy client in modified UTF-7
    assert modern.command(b"g", 'CREATE "Ñandú/Ça va"'.encode())[-1].startswith(b"g OK")
    listed = legacy.command(b"h", b'LIST "" "*"')
    assert b'* LIST (\\HasNoChildren) "/" "&ANE-and&APo-/&AMc-a va"' in listed
    assert b'* LIST (\\HasChildren) "/" "&ANE-and&APo-"' in listed
    assert legacy.command(b"j", b'SELECT "&ANE-and&APo-/&AMc-a va"')[-1].startswith(b"j OK")
    # no duplicate: the UTF-8 client creating the legacy client's folder is told it exists
    exists = modern.command(b"k", b'CREATE "' + ETE_UTF8 + b'"')[-1]
    assert exists.startswith(b"k NO [ALREADYEXISTS]")
    legacy.close()
    modern.close()


def test_utf8_client_names_are_taken_literally(server: ServerThread) -> None:
    """Once UTF-8 is enabled, "&AOk-" is no longer modified UTF-7 but the name itself: the
    legacy client sees it as "&-AOk-" (RFC 3501 §5.1.3: "&" is "&-")."""
    modern = login(server, utf8=True)
    legacy = login(server, utf8=False)
    assert modern.command(b"a", b"CREATE &AOk-")[-1].startswith(b"a OK")
    assert b'* LIST (\\HasNoChildren) "/" "&-AOk-"' in legacy.command(b"b", b'LIST "" "%"')
    assert legacy.command(b"c", b"STATUS &AOk- (MESSAGES)")[-1].startswith(b"c NO")
    modern.close()
    legacy.close()


def test_legacy_session_keeps_modified_utf7(server: ServerThread) -> None:
    """RFC 6855 §3: "The IMAP server MUST NOT send UTF-8 in quoted-strings to the client
    unless the client has indicated support"; the legacy client's 8-bit name is not
    modified UTF-7, hence no mailbox (NO [CANNOT]), and the session goes on."""
    modern = login(server, utf8=True)
    assert modern.command(b"a", 'CREATE "Ünïcödé"'.encode())[-1].startswith(b"a OK")
    legacy = login(server, utf8=False)
    listed = legacy.command(b"b", b'LIST "" "*"')
    assert all(line.isascii() for line in listed)
    assert b'* LIST (\\HasNoChildren) "/" "&ANw-n&AO8-c&APY-d&AOk-"' in listed
    refused = legacy.command(b"c", 'SELECT "Ünïcödé"'.encode())[-1]
    assert refused.startswith(b"c NO [CANNOT]")
    assert legacy.command(b"d", b"NOOP")[-1].startswith(b"d OK")
    modern.close()
    legacy.close()


def test_invalid_utf8_is_bad_and_forbidden_characters_are_no(server: ServerThread) -> None:
    c = login(server, utf8=True)
    # RFC 6855 §3: high-bit octets that are not UTF-8 in a quoted string: BAD
    assert c.command(b"a", b'CREATE "caf\xe9"')[-1].startswith(b"a BAD")
    assert c.command(b"b", b'SEARCH SUBJECT "\xff"')[-1].startswith(b"b BAD")
    # U+0085 (a C1 control) and U+2028 are not allowed in mailbox names
    for tag, name in ((b"c", "bad\u0085name"), (b"d", "line\u2028sep")):
        reply = c.command(tag, b'CREATE "' + name.encode() + b'"')[-1]
        assert reply.startswith(tag + b" NO [CANNOT]")
    assert c.command(b"e", b"NOOP")[-1].startswith(b"e OK")
    c.close()


def test_search_charset_after_enable_is_bad(server: ServerThread) -> None:
    c = login(server, utf8=True)
    assert append(c, b"a", b"INBOX", UTF8_MESSAGE, utf8=True)[-1].startswith(b"a OK")
    c.command(b"b", b"SELECT INBOX")
    # RFC 6855 §3: SHOULD reject SEARCH with a charset, BAD
    reply = c.command(b"c", b"SEARCH CHARSET UTF-8 SUBJECT x")[-1]
    assert reply.startswith(b"c BAD")
    # without CHARSET, UTF-8 in a quoted string
    found = c.command(b"d", 'SEARCH SUBJECT "grüße"'.encode())
    assert found[0] == b"* SEARCH 1"
    assert c.command(b"e", 'SEARCH FROM "jörg"'.encode())[0] == b"* SEARCH 1"
    c.close()
    legacy = login(server, utf8=False)
    legacy.command(b"f", b"SELECT INBOX")
    found = legacy.command(b"g", 'SEARCH CHARSET UTF-8 SUBJECT "grüße"'.encode())
    assert found[0] == b"* SEARCH 1"
    legacy.close()


def test_append_utf8_literal_and_headers_returned_as_stored(server: ServerThread) -> None:
    c = login(server, utf8=True)
    reply = append(c, b"a", b"INBOX", UTF8_MESSAGE, utf8=True)
    assert reply[-1].startswith(b"a OK [APPENDUID ")
    # a synchronising literal8 inside UTF8 ( ): the continuation, then the data and ")"
    c.send(b"b APPEND INBOX (\\Seen) UTF8 (~{%d}\r\n" % len(UTF8_MESSAGE))
    assert c.line().startswith(b"+ ")
    c.send(UTF8_MESSAGE + b")\r\n")
    assert c.until_tagged(b"b")[-1].startswith(b"b OK [APPENDUID ")
    c.command(b"c", b"SELECT INBOX")
    header_end = UTF8_MESSAGE.index(b"\r\n\r\n") + 4
    c.send(b"d FETCH 1:2 (BODY.PEEK[HEADER])\r\n")
    for n in (1, 2):
        assert c.line() == b"* %d FETCH (BODY[HEADER] {%d}" % (n, header_end)
        got = c.buf[:header_end]
        c.buf = c.buf[header_end:]
        assert got == UTF8_MESSAGE[:header_end]  # as stored, UTF-8 untouched
        assert c.line() == b")"
    assert c.line().startswith(b"d OK")
    c.close()


def test_multiappend_of_utf8_literals(server: ServerThread) -> None:
    c = login(server, utf8=True)
    m = UTF8_MESSAGE
    c.send(b"a APPEND INBOX UTF8 (~{%d+}\r\n" % len(m) + m + b") (\\Flagged) UTF8 (~{%d+}\r\n"
           % len(m) + m + b")\r\n")
    reply = c.until_tagged(b"a")[-1]
    assert reply.startswith(b"a OK [APPENDUID ") and reply.split()[4].endswith(b":2]")
    # the ")" is required
    c.send(b"b APPEND INBOX UTF8 (~{%d+}\r\n" % len(m) + m + b"\r\n")
    assert c.until_tagged(b"b")[-1].startswith(b"b BAD")
    assert c.command(b"c", b"STATUS INBOX (MESSAGES)")[0].endswith(b"(MESSAGES 2)")
    c.close()


def test_append_of_8bit_headers_without_enable_is_no(server: ServerThread) -> None:
    """RFC 6855 §4: "the server MUST reject, with a "NO" response, an "APPEND" command that
    includes any 8-bit character in message header fields" unless UTF8=ACCEPT was enabled;
    8-bit octets in the body are not header fields."""
    c = login(server, utf8=False)
    for tag, utf8 in ((b"a", False), (b"b", True)):
        reply = append(c, tag, b"INBOX", UTF8_MESSAGE, utf8=utf8)[-1]
        assert reply.startswith(tag + b" NO [CANNOT]")
    body_8bit = "Subject: plain\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n"
    assert append(c, b"c", b"INBOX", body_8bit.encode())[-1].startswith(b"c OK")
    assert append(c, b"d", b"INBOX", b"Subject: ascii\r\n\r\nx\r\n", utf8=True)[-1] \
        .startswith(b"d OK")
    # a MULTIAPPEND with one such message stores none (RFC 3502 §6.3.11)
    ok = b"Subject: fine\r\n\r\nx\r\n"
    c.send(b"e APPEND INBOX {%d+}\r\n" % len(ok) + ok + b" {%d+}\r\n" % len(UTF8_MESSAGE)
           + UTF8_MESSAGE + b"\r\n")
    assert c.until_tagged(b"e")[-1].startswith(b"e NO [CANNOT]")
    assert c.command(b"f", b"STATUS INBOX (MESSAGES)")[0].endswith(b"(MESSAGES 2)")
    c.close()


def test_catenate_utf8_part(server: ServerThread) -> None:
    """RFC 6855 §4: "If the server also advertises the "CATENATE" capability [RFC4469], the
    client can use the same data extension to include such a message in a catenated message
    part" (``cat-part =/ utf8-literal``); the ``)`` is required after the octets."""
    c = login(server, utf8=True)
    assert b"CATENATE" in c.command(b"a", b"CAPABILITY")[0].split()
    head, tail = UTF8_MESSAGE[:30], UTF8_MESSAGE[30:]
    c.send(b"b APPEND INBOX CATENATE (UTF8 (~{%d+}\r\n" % len(head) + head
           + b") TEXT {%d+}\r\n" % len(tail) + tail + b")\r\n")
    assert c.until_tagged(b"b")[-1].startswith(b"b OK [APPENDUID ")
    # a synchronising literal8: the continuation first
    c.send(b"c APPEND INBOX CATENATE (UTF8 (~{%d}\r\n" % len(UTF8_MESSAGE))
    assert c.line().startswith(b"+ ")
    c.send(UTF8_MESSAGE + b"))\r\n")
    assert c.until_tagged(b"c")[-1].startswith(b"c OK [APPENDUID ")
    c.send(b"d APPEND INBOX CATENATE (UTF8 (~{%d+}\r\n" % len(head) + head + b")\r\n")
    assert c.until_tagged(b"d")[-1].startswith(b"d BAD")
    c.send(b"e APPEND INBOX CATENATE (UTF8 ({%d+}\r\n" % len(head) + head + b"))\r\n")
    assert c.until_tagged(b"e")[-1].startswith(b"e BAD")
    c.command(b"f", b"SELECT INBOX")
    c.send(b"g FETCH 1:2 (BODY.PEEK[])\r\n")
    for n in (1, 2):
        assert c.line() == b"* %d FETCH (BODY[] {%d}" % (n, len(UTF8_MESSAGE))
        assert c.take(len(UTF8_MESSAGE)) == UTF8_MESSAGE
        assert c.line() == b")"
    assert c.until_tagged(b"g")[-1].startswith(b"g OK")
    c.close()


def test_unauthenticate_ends_utf8_mode(server: ServerThread) -> None:
    c = login(server, utf8=True)
    assert c.command(b"a", 'CREATE "été"'.encode())[-1].startswith(b"a OK")
    assert c.command(b"b", b"UNAUTHENTICATE")[-1].startswith(b"b OK")
    assert c.command(b"c", LOGIN)[-1].startswith(b"c OK")
    assert b'* LIST (\\HasNoChildren) "/" "' + ETE_MUTF7 + b'"' in \
        c.command(b"d", b'LIST "" "%"')
    c.close()


def test_imaplib_enable_utf8(server: ServerThread) -> None:
    """Python's imaplib, a client nobody here wrote: ``enable("UTF8=ACCEPT")`` switches it
    to UTF-8 commands; names come back in UTF-8."""
    imap = server.login()
    try:
        typ, data = imap.enable("UTF8=ACCEPT")
        assert typ == "OK" and imap.utf8_enabled
        assert imap.create('"Привет"')[0] == "OK"
        typ, listed = imap.list('""', '"*"')
        assert typ == "OK"
        assert b'(\\HasNoChildren) "/" "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"' \
            in listed
        assert imap.select('"Привет"')[0] == "OK"
    finally:
        imap.logout()
    legacy = server.login()
    try:
        typ, listed = legacy.list('""', '"*"')
        assert b'"&BB8EQAQ4BDIENQRC-"' in b" ".join(x for x in listed if isinstance(x, bytes))
    finally:
        legacy.logout()


def test_names_must_be_nfc(server: ServerThread) -> None:
    """RFC 6855 §3 and RFC 9051 §5.1: UTF-8 names are Net-Unicode (NFC); a decomposed one
    is not created (NO [CANNOT]), the composed one is."""
    c = login(server, utf8=True)
    decomposed = "Cafe\u0301".encode()
    assert c.command(b"a", b'CREATE "' + decomposed + b'"')[-1].startswith(b"a NO [CANNOT]")
    assert c.command(b"b", 'CREATE "Café"'.encode())[-1].startswith(b"b OK")
    reply = c.command(b"c", 'RENAME "Café" "' .encode() + decomposed + b'"')[-1]
    assert reply.startswith(b"c NO [CANNOT]")
    c.close()
