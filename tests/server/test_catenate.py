"""CATENATE (RFC 4469): APPEND of a message built from TEXT literals and IMAP URLs of messages
or parts the user may read, over real sockets; the examples of Appendix A as transcripts."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from tests.server.harness import PASSWORD, RawClient, ServerThread
from tests.server.memory import populate
from tests.server.process import ServerProcess
from tests.server.url_helpers import BOUNDARY, ORIGINAL, OTHER, append, fetch, login, tagged

LOGIN = b'LOGIN alice "' + PASSWORD.encode() + b'"'


def test_capability(server: ServerThread) -> None:
    c = login(server)
    assert b"CATENATE" in c.command(b"a", b"CAPABILITY")[0].split()


def test_rfc4469_example_2_replaces_edited_text(server: ServerThread) -> None:
    c = login(server)
    c.command(b"c", b"CREATE Drafts")
    validity, uid = append(c, b"Drafts", ORIGINAL)
    url = b"/Drafts;UIDVALIDITY=%d/;UID=%d/;Section=2" % (validity, uid)
    head, sep, _ = ORIGINAL.partition(b"Our travel agent")
    text1 = head.replace(b"Date: Thu, 12 Nov", b"Date: Fri, 12 Nov") + \
        b"Our travel agent has sent the updated schedule.\r\n\r\nCheers,\r\nBob\r\n--" + \
        BOUNDARY + b"\r\n"
    text2 = b"\r\n--" + BOUNDARY + b"--\r\n"
    c.send(b"A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (TEXT {%d}\r\n"
           % len(text1))
    assert c.line() == b"+ Ready for literal data"
    c.send(text1 + b' URL "' + url + b'.MIME" URL "' + url + b'" TEXT {%d}\r\n' % len(text2))
    assert c.line() == b"+ Ready for literal data"
    c.send(text2 + b")\r\n")
    ok = tagged(c.until_tagged(b"A003"))
    assert ok == b"A003 OK [APPENDUID %d %d] APPEND completed" % (validity, uid + 1), ok
    mime = fetch(c, b"Drafts", uid, b"2.MIME")
    part = fetch(c, b"Drafts", uid, b"2")
    assert fetch(c, b"Drafts", uid + 1) == text1 + mime + part + text2
    # The source was only read: APPEND does not set \Seen on it (§3); the new one has it.
    assert b"UNSEEN 1" in c.command(b"s", b"STATUS Drafts (UNSEEN)")[0]


def test_rfc4469_example_1_header_parts_and_whole_message(server: ServerThread) -> None:
    c = login(server)
    c.command(b"c", b"CREATE Drafts")
    validity, uid = append(c, b"Drafts", ORIGINAL)
    _, other = append(c, b"Drafts", OTHER)
    base = b"/Drafts;UIDVALIDITY=%d/;UID=%d" % (validity, uid)
    sep = b"\r\n--" + BOUNDARY + b"\r\n"
    end = b"\r\n--" + BOUNDARY + b"--\r\n"
    # As Appendix A sends it: every TEXT literal synchronising.
    c.send(b'A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL "' + base +
           b'/;section=HEADER" TEXT {%d}\r\n' % len(sep))
    assert c.line() == b"+ Ready for literal data"
    c.send(sep + b' URL "' + base + b'/;section=1.MIME" URL "' + base +
           b'/;section=1" TEXT {%d}\r\n' % len(sep))
    assert c.line() == b"+ Ready for literal data"
    c.send(sep + b' URL "/Drafts;UIDVALIDITY=%d/;UID=%d" TEXT {%d}\r\n'
           % (validity, other, len(end)))
    assert c.line() == b"+ Ready for literal data"
    c.send(end + b")\r\n")
    ok = tagged(c.until_tagged(b"A003"))
    assert ok.startswith(b"A003 OK [APPENDUID %d %d]" % (validity, other + 1)), ok
    expected = (fetch(c, b"Drafts", uid, b"HEADER") + sep + fetch(c, b"Drafts", uid, b"1.MIME")
                + fetch(c, b"Drafts", uid, b"1") + sep + OTHER + end)
    assert fetch(c, b"Drafts", other + 1) == expected
    # FLAGS as given (RFC 4469 §3 "as described in IMAP"), BODYSTRUCTURE parsed at ingest.
    assert tagged(c.command(b"ex", b"EXAMINE Drafts")).startswith(b"ex OK")
    lines = c.command(b"f", b"UID FETCH %d (FLAGS BODYSTRUCTURE)" % (other + 1))
    assert b"\\Draft" in lines[0] and b"$MDNSent" in lines[0]
    assert b'("text" "plain"' in lines[0] and b'"mixed"' in lines[0], lines[0]


def test_rfc4469_example_4_badurl_stores_nothing(server: ServerThread) -> None:
    c = login(server)
    c.command(b"c", b"CREATE Sent")
    validity, uid = append(c, b"INBOX", OTHER)
    intro = b"Subject: Digest of the mailing list for today\r\n\r\n--x\r\n"
    c.send(b"A003 APPEND Sent (\\Seen $MDNSent) CATENATE (TEXT {%d}\r\n" % len(intro))
    assert c.line() == b"+ Ready for literal data"
    c.send(intro + b' URL "/INBOX;UIDVALIDITY=%d/;UID=%d" TEXT {7}\r\n' % (validity, uid))
    assert c.line() == b"+ Ready for literal data"
    bad = b"/INBOX;UIDVALIDITY=%d/;UID=%d/;section=1.5.9" % (validity, uid)
    c.send(b'\r\n--x\r\n URL "' + bad + b'" TEXT {9}\r\n')
    # §4 Note: the server may answer NO [BADURL] in place of the continuation request.
    assert c.line() == b"A003 NO [BADURL " + bad + b"] CATENATE could not use this URL"
    assert b"MESSAGES 0" in c.command(b"s", b"STATUS Sent (MESSAGES)")[0]
    assert tagged(c.command(b"n", b"NOOP")) == b"n OK NOOP completed"


def test_badurl_at_the_end_of_the_command(server: ServerThread) -> None:
    """A URL-only CATENATE has no literal to refuse: NO [BADURL] is the tagged answer."""
    c = login(server)
    validity, uid = append(c, b"INBOX", OTHER)
    good = b"/INBOX;UIDVALIDITY=%d/;UID=%d" % (validity, uid)
    for bad in [
        b"/INBOX;UIDVALIDITY=%d/;UID=%d" % (validity + 1, uid),  # stale URL (RFC 5092 §6)
        b"/INBOX/;UID=%d" % (uid + 1),  # no such message
        b"/INBOX/;UID=%d/;SECTION=3" % uid,  # no such part
        b"/Nowhere/;UID=1",  # no such mailbox
        b"/INBOX",  # a mailbox, not a message
        b";UID=%d" % uid,  # relative-path (RFC 5092 §7.2)
        b"/INBOX/;UID=1/;SECTION=1]x",  # "]" cannot appear in the response code
    ]:
        c.send(b'b APPEND INBOX CATENATE (URL "' + good + b'" URL "' + bad + b'")\r\n')
        answer = tagged(c.until_tagged(b"b"))
        shown = bad.replace(b"]", b"%5D")
        assert answer == b"b NO [BADURL " + shown + b"] CATENATE could not use this URL", bad
    assert b"MESSAGES 1" in c.command(b"s", b"STATUS INBOX (MESSAGES)")[0]


def test_url_needs_the_read_right(server: ServerThread) -> None:
    """URLs are resolved only from mailboxes the user can read (RFC 4314 §4 "r")."""
    bob = login(server, b"bob")
    bob.command(b"c", b"CREATE Projects")
    _, uid = append(bob, b"Projects", OTHER)
    assert tagged(bob.command(b"s", b"SETACL Projects alice l")).startswith(b"s OK")
    c = login(server)
    url = b"/Other%%20Users/bob/Projects/;UID=%d" % uid
    c.send(b'a APPEND INBOX CATENATE (URL "' + url + b'")\r\n')
    assert tagged(c.until_tagged(b"a")).startswith(b"a NO [BADURL " + url + b"]")
    assert tagged(bob.command(b"s", b"SETACL Projects alice lr")).startswith(b"s OK")
    c.send(b'a APPEND INBOX CATENATE (URL "' + url + b'")\r\n')
    assert tagged(c.until_tagged(b"a")).startswith(b"a OK [APPENDUID")
    assert fetch(c, b"INBOX", 1) == OTHER


def test_multiappend_with_literal_plus(server: ServerThread) -> None:
    """RFC 4469 §1 and §3: CATENATE messages inside a MULTIAPPEND (RFC 3502), sent without
    waiting (LITERAL+, RFC 7888): all stored in one transaction, APPENDUID for all."""
    c = login(server)
    validity, uid = append(c, b"INBOX", OTHER)
    url = b"/INBOX;UIDVALIDITY=%d/;UID=%d/;SECTION=TEXT/;PARTIAL=5.4" % (validity, uid)
    head = b"Subject: part\r\n\r\n"
    c.send(b"m APPEND INBOX CATENATE (TEXT {%d+}\r\n" % len(head) + head + b' URL "' + url +
           b'") (\\Flagged) {%d+}\r\n' % len(OTHER) + OTHER +
           b' CATENATE (URL "/INBOX/;UID=%d")\r\n' % uid)
    ok = tagged(c.until_tagged(b"m"))
    assert ok == b"m OK [APPENDUID %d %d:%d] APPEND completed" % (validity, uid + 1, uid + 3)
    assert fetch(c, b"INBOX", uid + 1) == head + b"text"
    assert fetch(c, b"INBOX", uid + 2) == OTHER
    assert fetch(c, b"INBOX", uid + 3) == OTHER
    # A bad URL in the last message: none of them is stored (RFC 3502 §6.3.11).
    c.send(b"n APPEND INBOX {%d+}\r\n" % len(OTHER) + OTHER +
           b' CATENATE (URL "/INBOX/;UID=99")\r\n')
    assert tagged(c.until_tagged(b"n")).startswith(b"n NO [BADURL /INBOX/;UID=99]")
    # ... also when a non-synchronising TEXT follows it: its octets are skipped.
    c.send(b'o APPEND INBOX CATENATE (URL "/INBOX/;UID=99" TEXT {3+}\r\nabc)\r\n')
    assert tagged(c.until_tagged(b"o")).startswith(b"o NO [BADURL /INBOX/;UID=99]")
    assert tagged(c.command(b"p", b"NOOP")) == b"p OK NOOP completed"
    assert b"MESSAGES 4" in c.command(b"s", b"STATUS INBOX (MESSAGES)")[0]


def test_large_part_is_streamed_and_size_limited(make_server: Any) -> None:
    """A URL part kept in a body file is copied in chunks, exactly; a catenated message
    over the APPEND limit is refused with [TOOBIG] (RFC 4469 §4.2)."""
    server = make_server(limits={"max_append_size": 3_000_000})
    c = login(server)
    big = b"Subject: big\r\n\r\n" + b"".join(b"line %07d of the attachment\r\n" % i
                                              for i in range(40_000))
    assert len(big) > 1_000_000
    validity, uid = append(c, b"INBOX", big)
    url = b'URL "/INBOX;UIDVALIDITY=%d/;UID=%d"' % (validity, uid)
    c.send(b"a APPEND INBOX CATENATE (" + url + b" " + url + b")\r\n")
    assert tagged(c.until_tagged(b"a")).startswith(b"a OK [APPENDUID")
    assert fetch(c, b"INBOX", uid + 1) == big + big
    c.send(b"b APPEND INBOX CATENATE (" + b" ".join([url] * 3) + b" TEXT {5}\r\n")
    assert c.line().startswith(b"b NO [TOOBIG]")
    c.send(b"c APPEND INBOX CATENATE (TEXT {2999999}\r\n")
    assert c.line() == b"+ Ready for literal data"
    c.send(b"x" * 2_999_999 + b" " + url + b")\r\n")
    assert tagged(c.until_tagged(b"c")).startswith(b"c NO [TOOBIG]")
    assert b"MESSAGES 2" in c.command(b"s", b"STATUS INBOX (MESSAGES)")[0]


def test_answered_ok_survives_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    populate(data, "alice", PASSWORD, [OTHER])
    srv = ServerProcess(data)
    try:
        c = RawClient("127.0.0.1", srv.port)
        assert c.command(b"l", LOGIN)[-1].startswith(b"l OK")
        c.send(b'a APPEND INBOX CATENATE (TEXT {6+}\r\nX: y\r\n URL "/INBOX/;UID=1")\r\n')
        assert tagged(c.until_tagged(b"a")).startswith(b"a OK [APPENDUID")
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(30)
        c.close()
    finally:
        srv.kill()
    srv = ServerProcess(data)
    try:
        c = RawClient("127.0.0.1", srv.port)
        assert c.command(b"l", LOGIN)[-1].startswith(b"l OK")
        assert fetch(c, b"INBOX", 2) == b"X: y\r\n" + OTHER
        c.close()
    finally:
        srv.kill()
