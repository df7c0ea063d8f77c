"""IMAP4rev2 (RFC 9051) beside IMAP4rev1: one test per item of Appendix E ("Changes from RFC
3501 / IMAP4rev1"), each named for its item; docs/imap4rev2.md maps every item to its test.
A session is in rev2 mode once it sent ``ENABLE IMAP4rev2`` (Appendix A)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from tests.server.harness import PASSWORD, RawClient, ServerThread

LOGIN = b'LOGIN alice "' + PASSWORD.encode() + b'"'



def test_off_when_configured_so(tmp_path: Path) -> None:
    """``imap.imap4rev2 = false``: not advertised, and then ENABLE IMAP4rev2 enables nothing
    (RFC 5161 §3.1: unknown names are ignored)."""
    srv = ServerThread(tmp_path / "plain", imap={"imap4rev2": False})
    srv.add_user("alice")
    try:
        c = srv.raw()
        assert b"IMAP4rev2" not in c.command(b"a", b"CAPABILITY")[0].split()
        assert c.command(b"b", LOGIN)[-1].startswith(b"b OK")
        assert b"IMAP4rev2" not in c.command(b"c", b"CAPABILITY")[0].split()
        assert c.command(b"d", b"ENABLE IMAP4rev2")[0] == b"* ENABLED"
        c.close()
    finally:
        srv.stop()


def login(server: ServerThread, rev2: bool = True) -> RawClient:
    c = server.raw()
    assert c.command(b"l1", LOGIN)[-1].startswith(b"l1 OK")
    if rev2:
        assert c.command(b"l2", b"ENABLE IMAP4rev2") == [
            b"* ENABLED IMAP4rev2", b"l2 OK ENABLE completed"]
    return c


def append(c: RawClient, tag: bytes, data: bytes, mailbox: bytes = b"INBOX",
           flags: bytes = b"") -> list[bytes]:
    c.send(tag + b" APPEND " + mailbox + b" " + flags + b"{%d+}\r\n" % len(data) + data
           + b"\r\n")
    reply = c.until_tagged(tag)
    assert reply[-1].startswith(tag + b" OK"), reply
    return reply


def msg(subject: str = "hello", extra: str = "") -> bytes:
    return (f"From: a@example.org\r\nSubject: {subject}\r\n{extra}\r\nbody text\r\n"
            .encode())


def test_advertised_beside_rev1_and_enabled(server: ServerThread) -> None:
    """Appendix A: both advertised by default (IMAP4rev1 first, as before, for clients that
    read only the first); ENABLE IMAP4rev2 turns rev2 on (RFC 9051 §6.3.1)."""
    c = server.raw()
    caps = c.command(b"a", b"CAPABILITY")[0].split()
    assert caps[:4] == [b"*", b"CAPABILITY", b"IMAP4rev1", b"IMAP4rev2"]
    assert c.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    assert c.command(b"b", LOGIN)[-1].startswith(b"b OK")
    caps = c.command(b"c", b"CAPABILITY")[0].split()
    assert b"IMAP4rev1" in caps and b"IMAP4rev2" in caps
    assert c.command(b"d", b"ENABLE imap4rev2")[0] == b"* ENABLED IMAP4rev2"
    assert c.command(b"e", b"ENABLE IMAP4rev2")[0] == b"* ENABLED"
    c.close()


def test_e01_64bit_sizes(server: ServerThread) -> None:
    """E.1: number64 sizes parse: a message over 4 GB is refused for its size (NO
    [TOOBIG]), not as bad syntax; LARGER takes a number64."""
    c = login(server)
    for tag, literal in ((b"a", b"{5000000000}"), (b"b", b"~{5000000000}")):
        reply = c.command(tag, b"APPEND INBOX " + literal)
        assert reply[-1].startswith(tag + b" NO [TOOBIG]"), reply
    append(c, b"c", msg())
    c.command(b"d", b"SELECT INBOX")
    assert c.command(b"e", b"SEARCH LARGER 5000000000")[0] == b'* ESEARCH (TAG "e")'
    c.close()


def test_e02_folded_extensions(server: ServerThread) -> None:
    """E.2: NAMESPACE, UNSELECT, UIDPLUS, ESEARCH, SEARCHRES, ENABLE, IDLE, SASL-IR,
    LIST-EXTENDED, LIST-STATUS, MOVE, LITERAL-, RFC 5530 codes, BINARY FETCH and the
    SPECIAL-USE attributes, each used once in rev2 mode."""
    server.add_account("carol")
    c = server.raw()
    caps = c.command(b"a", b"CAPABILITY")[0].split()
    assert b"SASL-IR" in caps and b"LITERAL+" in caps  # LITERAL+ includes LITERAL-
    initial = base64.b64encode(b"\0carol\0" + PASSWORD.encode())
    assert c.command(b"b", b"AUTHENTICATE PLAIN " + initial)[-1].startswith(b"b OK")
    caps = c.command(b"c", b"CAPABILITY")[0].split()
    for name in (b"NAMESPACE", b"UNSELECT", b"UIDPLUS", b"ESEARCH", b"SEARCHRES", b"ENABLE",
                 b"IDLE", b"LIST-EXTENDED", b"LIST-STATUS", b"MOVE", b"BINARY",
                 b"SPECIAL-USE"):
        assert name in caps, name
    assert c.command(b"d", b"ENABLE IMAP4rev2")[0] == b"* ENABLED IMAP4rev2"
    assert c.command(b"e", b"NAMESPACE")[0].startswith(b'* NAMESPACE (("" "/"))')
    # LITERAL-: a non-synchronising literal of 4096 octets or less
    reply = append(c, b"f", msg("one"))
    assert re.search(rb"\[APPENDUID \d+ 1\]", reply[-1])  # UIDPLUS
    append(c, b"g", msg("two"), flags=b"(\\Deleted) ")
    c.command(b"h", b"SELECT INBOX")
    assert c.command(b"i", b"SEARCH RETURN (SAVE COUNT) SUBJECT two")[0] == \
        b'* ESEARCH (TAG "i") COUNT 1'
    fetched = c.command(b"j", b"FETCH $ (UID)")
    assert fetched[0] == b"* 2 FETCH (UID 2)"  # SEARCHRES
    assert c.command(b"k", b"UID EXPUNGE 2")[0] == b"* 2 EXPUNGE"  # UIDPLUS
    binary = c.command(b"l", b"FETCH 1 (BINARY.SIZE[1])")
    assert binary[0] == b"* 1 FETCH (BINARY.SIZE[1] 11)"
    c.send(b"m IDLE\r\n")
    assert c.line().startswith(b"+ ")
    c.send(b"DONE\r\n")
    assert c.until_tagged(b"m")[-1].startswith(b"m OK")
    moved = c.command(b"n", b"MOVE 1 Trash")
    assert any(line.startswith(b"* OK [COPYUID ") for line in moved)
    assert c.command(b"o", b"UNSELECT")[-1].startswith(b"o OK")
    listed = c.command(b"p", b'LIST (SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES))')
    assert b'* LIST (\\HasNoChildren \\Trash) "/" Trash' in listed or \
        b'* LIST (\\HasNoChildren \\Trash) "/" "Trash"' in listed
    assert any(line.startswith(b'* STATUS "Trash" (MESSAGES 1)') for line in listed)
    assert c.command(b"q", b"SELECT Nowhere")[-1].startswith(b"q NO [NONEXISTENT]")  # 5530
    c.close()


def test_e03_status_size_and_deleted(server: ServerThread) -> None:
    c = login(server)
    one = msg("one")
    append(c, b"a", one, flags=b"(\\Deleted) ")
    append(c, b"b", msg("two"))
    reply = c.command(b"c", b"STATUS INBOX (DELETED SIZE MESSAGES)")
    size = len(one) + len(msg("two"))
    assert reply[0] == b'* STATUS "INBOX" (DELETED 1 SIZE %d MESSAGES 2)' % size
    c.close()


def test_e04_search_answers_esearch(server: ServerThread) -> None:
    """E.4: in rev2 every SEARCH is answered with ESEARCH, never SEARCH (§6.4.4: no result
    option means ALL); a rev1 session still gets SEARCH."""
    c = login(server)
    for subject in ("alpha", "beta", "alpha again"):
        append(c, b"a", msg(subject))
    c.command(b"b", b"SELECT INBOX")
    assert c.command(b"c", b"SEARCH SUBJECT alpha")[0] == b'* ESEARCH (TAG "c") ALL 1,3'
    assert c.command(b"d", b"UID SEARCH ALL")[0] == b'* ESEARCH (TAG "d") UID ALL 1:3'
    nothing = c.command(b"e", b"SEARCH SUBJECT gamma")
    assert nothing[0] == b'* ESEARCH (TAG "e")' and nothing[1].startswith(b"e OK")
    assert c.command(b"f", b"SEARCH RETURN (MIN) ALL")[0] == b'* ESEARCH (TAG "f") MIN 1'
    assert not any(line.startswith(b"* SEARCH") for line in c.command(b"g", b"SEARCH ALL"))
    c.close()
    rev1 = login(server, rev2=False)
    rev1.command(b"a", b"SELECT INBOX")
    assert rev1.command(b"b", b"SEARCH SUBJECT alpha")[0] == b"* SEARCH 1 3"
    rev1.close()


def test_e05_substring_search_keys(server: ServerThread) -> None:
    """E.5: string keys (SUBJECT, FROM, HEADER, BODY, TEXT ...) match substrings,
    case-insensitively; KEYWORD matches a whole flag."""
    c = login(server)
    append(c, b"a", msg("Hello world", "X-Tag: Crispin server\r\n"), flags=b"(Project) ")
    c.command(b"b", b"SELECT INBOX")
    for tag, key in ((b"c", b"SUBJECT ELLO"), (b"d", b"FROM xample"),
                     (b"e", b'HEADER X-Tag "pin ser"'), (b"f", b'BODY "ody te"'),
                     (b"g", b"TEXT world")):
        assert c.command(tag, b"SEARCH " + key)[0] == b'* ESEARCH (TAG "%s") ALL 1' % tag
    assert c.command(b"h", b"SEARCH KEYWORD Proj")[0] == b'* ESEARCH (TAG "h")'
    c.close()


def test_e06_rfc2231_continuations_decoded(server: ServerThread) -> None:
    """E.6: parameter value continuations are joined in BODYSTRUCTURE (§7.5.2)."""
    c = login(server)
    extra = ('MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii;\r\n'
             ' name*0="long"; name*1="name.txt"\r\n'
             'Content-Disposition: attachment; filename*0="long";\r\n filename*1="name.txt"\r\n')
    append(c, b"a", msg("params", extra))
    c.command(b"b", b"SELECT INBOX")
    structure = c.command(b"c", b"FETCH 1 (BODYSTRUCTURE)")[0]
    assert b'"name" "longname.txt"' in structure
    assert b'("attachment" ("filename" "longname.txt"))' in structure
    c.close()


def test_e07_copyuid_for_move_and_uid_move(server: ServerThread) -> None:
    c = login(server)
    for subject in ("a", "b"):
        append(c, b"a", msg(subject))
    assert c.command(b"b", b"CREATE Archive")[-1].startswith(b"b OK")
    c.command(b"c", b"SELECT INBOX")
    moved = c.command(b"d", b"MOVE 1 Archive")
    assert re.fullmatch(rb"\* OK \[COPYUID \d+ 1 1\].*", moved[0]), moved
    moved = c.command(b"e", b"UID MOVE 2 Archive")
    assert re.fullmatch(rb"\* OK \[COPYUID \d+ 2 2\].*", moved[0]), moved
    c.close()


def test_e08_copy_move_never_create_and_say_trycreate(server: ServerThread) -> None:
    c = login(server)
    append(c, b"a", msg())
    c.command(b"b", b"SELECT INBOX")
    for tag, command in ((b"c", b"COPY 1 Missing"), (b"d", b"MOVE 1 Missing"),
                         (b"e", b"UID COPY 1 Missing"), (b"f", b"UID MOVE 1 Missing")):
        assert c.command(tag, command)[-1].startswith(tag + b" NO [TRYCREATE]")
    assert c.command(b"g", b'LIST "" Missing') == [b"g OK LIST completed"]
    c.close()


def test_e09_closed_response_code(server: ServerThread) -> None:
    c = login(server)
    assert c.command(b"a", b"CREATE Other")[-1].startswith(b"a OK")
    first = c.command(b"b", b"SELECT INBOX")
    assert not any(b"[CLOSED]" in line for line in first)
    second = c.command(b"c", b"EXAMINE Other")
    assert second[0].startswith(b"* OK [CLOSED]")
    # a failing SELECT closes the mailbox too
    third = c.command(b"d", b"SELECT Missing")
    assert third[0].startswith(b"* OK [CLOSED]") and third[-1].startswith(b"d NO")
    c.close()


def test_e10_select_returns_list(server: ServerThread) -> None:
    """E.10, §6.3.2: SELECT and EXAMINE answer an untagged LIST with accurate attributes."""
    c = login(server)
    assert c.command(b"a", b"CREATE Lists/Sub")[-1].startswith(b"a OK")
    assert b'* LIST (\\HasNoChildren) "/" "INBOX"' in c.command(b"b", b"SELECT INBOX")
    assert b'* LIST (\\HasChildren) "/" "Lists"' in c.command(b"c", b"EXAMINE Lists")
    assert b'* LIST (\\HasNoChildren) "/" "Lists/Sub"' in c.command(b"d", b"SELECT Lists/Sub")
    c.close()
    rev1 = login(server, rev2=False)
    assert not any(line.startswith(b"* LIST") for line in rev1.command(b"e", b"SELECT INBOX"))
    rev1.close()


def test_e11_no_unseen_response_code(server: ServerThread) -> None:
    c = login(server)
    append(c, b"a", msg("seen"), flags=b"(\\Seen) ")
    append(c, b"b", msg("unseen"))
    assert not any(b"[UNSEEN " in line for line in c.command(b"c", b"SELECT INBOX"))
    c.close()
    rev1 = login(server, rev2=False)
    assert b"* OK [UNSEEN 2] First unseen" in rev1.command(b"d", b"SELECT INBOX")
    rev1.close()


def test_e12_recent_deprecated(server: ServerThread) -> None:
    """E.12: no RECENT response (on SELECT or later), no \\Recent flag, no STATUS RECENT
    and no SEARCH NEW/OLD/RECENT in rev2 (§9: not in status-att nor search-key)."""
    c = login(server)
    append(c, b"a", msg("one"))
    selected = c.command(b"b", b"SELECT INBOX")
    assert not any(line.endswith(b" RECENT") for line in selected)
    assert c.command(b"c", b"FETCH 1 (FLAGS)")[0] == b"* 1 FETCH (FLAGS ())"
    other = login(server, rev2=False)
    append(other, b"d", msg("two"))
    update = c.command(b"e", b"NOOP")
    assert update == [b"* 2 EXISTS", b"e OK NOOP completed"]
    assert c.command(b"f", b"FETCH 2 (FLAGS)")[0] == b"* 2 FETCH (FLAGS ())"
    for tag, command in ((b"g", b"STATUS INBOX (RECENT)"), (b"h", b"SEARCH NEW"),
                         (b"i", b"SEARCH OLD"), (b"j", b"SEARCH RECENT"),
                         (b"k", b"SEARCH NOT (UNSEEN RECENT)")):
        assert c.command(tag, command)[-1].startswith(tag + b" BAD"), command
    # the rev1 session still has its \Recent: the rev2 session claimed none
    selected = other.command(b"l", b"SELECT INBOX")
    assert b"* 2 RECENT" in selected
    c.close()
    other.close()


def test_e13_no_new_permanentflags_needed_after_star(server: ServerThread) -> None:
    """E.13: PERMANENTFLAGS held \\*; a new keyword is simply stored (the FLAGS and
    PERMANENTFLAGS the server sends anyway are allowed, RFC 9051 §7.3.5)."""
    c = login(server)
    append(c, b"a", msg())
    selected = c.command(b"b", b"SELECT INBOX")
    assert any(line.startswith(b"* OK [PERMANENTFLAGS (") and b"\\*)]" in line
               for line in selected)
    stored = c.command(b"c", b"STORE 1 +FLAGS (NewWord)")
    assert stored[-2:] == [b"* 1 FETCH (FLAGS (NewWord))", b"c OK STORE completed"]
    c.close()


def test_e14_tagged_ext_simple_number64(server: ServerThread) -> None:
    """E.14: a bare number64 as tagged-ext-simple (RFC 9051 §9), e.g. CHANGEDSINCE."""
    c = login(server)
    append(c, b"a", msg())
    c.command(b"b", b"SELECT INBOX")
    reply = c.command(b"c", b"FETCH 1 (FLAGS) (CHANGEDSINCE 5000000000)")
    # RFC 7162 §3.1: CHANGEDSINCE enables CONDSTORE, hence the HIGHESTMODSEQ first
    assert reply[1:] == [b"c OK FETCH completed"] and b"[HIGHESTMODSEQ " in reply[0]
    reply = c.command(b"d", b"FETCH 1 (FLAGS) (CHANGEDSINCE 1)")
    assert reply[0].startswith(b"* 1 FETCH (") and b"MODSEQ" in reply[0]
    c.close()


def test_e15_recommended_keywords(server: ServerThread) -> None:
    c = login(server)
    append(c, b"a", msg())
    c.command(b"b", b"SELECT INBOX")
    keywords = b"$MDNSent $Forwarded $Junk $NonJunk $Phishing"
    assert c.command(b"c", b"STORE 1 +FLAGS.SILENT (" + keywords + b")")[-1] \
        .startswith(b"c OK")
    flags = c.command(b"d", b"FETCH 1 (FLAGS)")[0]
    for word in keywords.split():
        assert word in flags
    assert c.command(b"e", b"SEARCH KEYWORD $Phishing")[0] == b'* ESEARCH (TAG "e") ALL 1'
    c.close()


def test_e16_utf8_names_and_headers(server: ServerThread) -> None:
    """E.16: rev2 mailbox names are UTF-8 (§5.1) and UTF-8 header fields are accepted
    (the RFC 6855 §4 refusal is for sessions that enabled neither)."""
    c = login(server)
    assert c.command(b"a", 'CREATE "Grüße"'.encode())[-1].startswith(b"a OK")
    listed = c.command(b"b", b'LIST "" "*"')
    assert '* LIST (\\HasNoChildren) "/" "Grüße"'.encode() in listed
    header = "From: Jörg <jörg@exämple.org>\r\nSubject: Grüße\r\n\r\nx\r\n".encode()
    append(c, b"c", header, mailbox='"Grüße"'.encode())
    c.command(b"d", 'SELECT "Grüße"'.encode())
    assert c.command(b"e", 'SEARCH SUBJECT "grüße"'.encode())[0] == b'* ESEARCH (TAG "e") ALL 1'
    c.close()
    rev1 = login(server, rev2=False)
    assert b'* LIST (\\HasNoChildren) "/" "Gr&APwA3w-e"' in rev1.command(b"f", b'LIST "" "*"')
    rev1.close()


def test_e17_check_removed(server: ServerThread) -> None:
    c = login(server)
    c.command(b"a", b"SELECT INBOX")
    assert c.command(b"b", b"CHECK")[-1].startswith(b"b BAD")
    assert c.command(b"c", b"NOOP")[-1].startswith(b"c OK")
    c.close()
    rev1 = login(server, rev2=False)
    rev1.command(b"d", b"SELECT INBOX")
    assert rev1.command(b"e", b"CHECK")[-1].startswith(b"e OK")
    rev1.close()


def test_e18_rfc822_items_deprecated_but_answered(server: ServerThread) -> None:
    """E.18: RFC822, RFC822.HEADER, RFC822.TEXT deprecated; Appendix A: a server that
    advertises both returns them only when asked. BODY[] is the rev2 way."""
    c = login(server)
    data = msg()
    append(c, b"a", data)
    c.command(b"b", b"SELECT INBOX")
    c.send(b"c FETCH 1 (RFC822.SIZE BODY.PEEK[])\r\n")
    assert c.line() == b"* 1 FETCH (RFC822.SIZE %d BODY[] {%d}" % (len(data), len(data))
    assert c.buf.startswith(data)
    c.buf = c.buf[len(data):]
    assert c.line() == b")"
    assert c.line().startswith(b"c OK")
    c.close()


def test_e19_lsub_deprecated_list_subscribed(server: ServerThread) -> None:
    c = login(server)
    assert c.command(b"a", b"SUBSCRIBE Gone")[-1].startswith(b"a OK")
    listed = c.command(b"b", b'LIST (SUBSCRIBED) "" "*"')
    assert b'* LIST (\\NonExistent \\Subscribed) "/" "Gone"' in listed
    assert c.command(b"c", b'LSUB "" "*"')[0] == b'* LSUB (\\Noselect) "/" "Gone"'
    c.close()


def test_e21_unsolicited_fetch_has_uid(server: ServerThread) -> None:
    c = login(server)
    append(c, b"a", msg())
    c.command(b"b", b"SELECT INBOX")
    other = login(server, rev2=False)
    other.command(b"c", b"SELECT INBOX")
    assert other.command(b"d", b"STORE 1 +FLAGS.SILENT (\\Flagged)")[-1].startswith(b"d OK")
    assert c.command(b"e", b"NOOP")[0] == b"* 1 FETCH (UID 1 FLAGS (\\Flagged))"
    c.close()
    other.close()


def test_e27_scram_sha_256_not_digest_md5(server: ServerThread) -> None:
    c = server.raw()
    caps = c.command(b"a", b"CAPABILITY")[0].split()
    assert b"AUTH=SCRAM-SHA-256" in caps and b"AUTH=DIGEST-MD5" not in caps
    c.close()


def test_rev1_session_unchanged(server: ServerThread) -> None:
    """A rev1 session keeps RECENT, \\Recent and CHECK (Appendix A: removed responses are
    returned to an IMAP4rev1 client)."""
    c = login(server, rev2=False)
    append(c, b"a", msg())
    selected = c.command(b"b", b"SELECT INBOX")
    assert b"* 1 RECENT" in selected
    assert c.command(b"c", b"FETCH 1 (FLAGS)")[0] == b"* 1 FETCH (FLAGS (\\Recent))"
    assert c.command(b"d", b"STATUS INBOX (RECENT)")[-1].startswith(b"d OK")
    c.close()


def test_imapclient_in_rev2_mode(server: ServerThread) -> None:
    """imapclient (a client nobody here wrote) with ``enable("IMAP4rev2")``: UTF-8 folder
    names, SELECT with its LIST and without RECENT, flags without \\Recent, a SEARCH
    answered by ESEARCH (read through the imaplib connection underneath)."""
    import imapclient

    c = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    try:
        c.login("alice", PASSWORD)
        assert c.enable("IMAP4rev2") == [b"IMAP4rev2"]
        c.folder_encode = False  # names are UTF-8 now (RFC 9051 §5.1)
        c._imap._mode_utf8()  # imaplib sends str arguments as UTF-8 from here
        c.create_folder("Entwürfe")
        assert any(name == "Entwürfe".encode() for _, _, name in c.list_folders())
        c.append("Entwürfe", msg("one"))
        c.append("Entwürfe", msg("two"))
        selected = c.select_folder("Entwürfe")
        assert selected[b"EXISTS"] == 2 and b"RECENT" not in selected
        assert c.get_flags([1, 2]) == {1: (), 2: ()}
        imap = c._imap
        typ, _ = imap._simple_command("UID", "SEARCH", "SUBJECT", "two")
        assert typ == "OK"
        assert imap.untagged_responses.pop("ESEARCH")[-1].endswith(b"UID ALL 2")
        assert "SEARCH" not in imap.untagged_responses
    finally:
        c.logout()


def test_delete_with_inferiors_says_haschildren(server: ServerThread) -> None:
    """RFC 9051 §6.3.4: "The NO response SHOULD include the HASCHILDREN response code";
    a rev1 session keeps [CANNOT]."""
    c = login(server)
    assert c.command(b"a", b"CREATE Top/Inner")[-1].startswith(b"a OK")
    assert c.command(b"b", b"DELETE Top")[-1].startswith(b"b OK")  # now \Noselect
    assert c.command(b"c", b"DELETE Top")[-1].startswith(b"c NO [HASCHILDREN]")
    c.close()
    rev1 = login(server, rev2=False)
    assert rev1.command(b"d", b"DELETE Top")[-1].startswith(b"d NO [CANNOT]")
    rev1.close()
