"""STATUS=SIZE (RFC 8438) and APPENDLIMIT (RFC 7889): transcripts of the RFCs' examples on
real sockets."""

from __future__ import annotations

import re
from typing import Any

from tests.server.harness import RawClient, ServerThread, raw_login


def append(c: RawClient, mailbox: bytes, msg: bytes, tag: bytes = b"ap") -> list[bytes]:
    c.send(tag + b" APPEND " + mailbox + b" {" + str(len(msg)).encode() + b"+}\r\n"
           + msg + b"\r\n")
    return c.until_tagged(tag)


def message(n: int) -> bytes:
    return b"Subject: m%d\r\n\r\n" % n + b"x" * (100 * n) + b"\r\n"


def test_status_size_is_the_sum_of_rfc822_sizes(server: ServerThread) -> None:
    c = raw_login(server)
    assert b"STATUS=SIZE" in c.command(b"a", b"CAPABILITY")[0].split()
    c.command(b"b", b"CREATE frop")
    for n in range(1, 9):
        assert append(c, b"frop", message(n))[-1].startswith(b"ap OK")
    # RFC 8438 §3's example
    lines = c.command(b"A01", b"STATUS frop (MESSAGES SIZE UIDNEXT)")
    m = re.fullmatch(rb'\* STATUS "frop" \(MESSAGES 8 SIZE (\d+) UIDNEXT 9\)', lines[0])
    assert m is not None, lines
    assert lines[1] == b"A01 OK STATUS completed"
    # "The same information can be obtained by ...": SELECT, FETCH 1:* (RFC822.SIZE)
    c.command(b"A02", b"SELECT frop")
    fetched = c.command(b"A03", b"FETCH 1:* (RFC822.SIZE)")
    sizes = [int(x) for x in re.findall(rb"RFC822\.SIZE (\d+)", b"\n".join(fetched))]
    assert len(sizes) == 8 and int(m[1]) == sum(sizes) == sum(len(message(n))
                                                              for n in range(1, 9))
    # an empty mailbox has SIZE 0; \Deleted messages still count until expunged
    c.command(b"c", b"CREATE empty")
    assert c.command(b"d", b"STATUS empty (SIZE)")[0] == b'* STATUS "empty" (SIZE 0)'
    c.command(b"e", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert c.command(b"f", b"STATUS frop (SIZE DELETED-STORAGE)")[0] == \
        b'* STATUS "frop" (SIZE %d DELETED-STORAGE 1)' % sum(sizes)
    c.command(b"g", b"EXPUNGE")
    assert c.command(b"h", b"STATUS frop (SIZE)")[0] == \
        b'* STATUS "frop" (SIZE %d)' % (sum(sizes) - sizes[0])
    c.close()


def test_list_status_size_and_quota_agree(server: ServerThread) -> None:
    store = server.running.ctx.store
    alice = server.call(store.get_user("alice"))
    assert alice is not None
    server.call(store.set_quota("user", alice.id, 1_000_000, None))
    c = raw_login(server)
    c.command(b"a", b"CREATE frop")
    for n in (1, 2, 3):
        append(c, b"INBOX", message(n))
    append(c, b"frop", message(4))
    # a copy counts in each mailbox that holds it, as the STORAGE quota counts it
    c.command(b"s", b"SELECT INBOX")
    assert c.command(b"t", b"COPY 1 frop")[-1].startswith(b"t OK")
    inbox = sum(len(message(n)) for n in (1, 2, 3))
    frop = len(message(4)) + len(message(1))
    # RFC 8438 §3's LIST-STATUS example
    lines = c.command(b"A04", b'LIST "" % RETURN (STATUS (MESSAGES SIZE))')
    assert lines == [
        b'* LIST (\\HasNoChildren) "/" "INBOX"',
        b'* STATUS "INBOX" (MESSAGES 3 SIZE %d)' % inbox,
        b'* LIST (\\HasNoChildren) "/" "frop"',
        b'* STATUS "frop" (MESSAGES 2 SIZE %d)' % frop,
        b"A04 OK LIST completed",
    ]
    # §3: SHOULD equal the usage the STORAGE limit is enforced on (kept in KiB there)
    quota = c.command(b"q", b"GETQUOTAROOT INBOX")
    assert quota[1] == b'* QUOTA "" (STORAGE %d 1000000)' % ((inbox + frop + 1023) // 1024)
    c.close()


def test_appendlimit_capability_status_list_and_toobig(make_server: Any) -> None:
    server: ServerThread = make_server(limits={"max_append_size": 1000})
    c = raw_login(server)
    caps = c.command(b"a", b"CAPABILITY")[0].split()
    # RFC 7889 §2 (a): one limit for every mailbox
    assert b"APPENDLIMIT=1000" in caps and b"APPENDLIMIT" not in caps
    # §3.1's example
    assert c.command(b"t1", b"STATUS INBOX (APPENDLIMIT)") == [
        b'* STATUS "INBOX" (APPENDLIMIT 1000)', b"t1 OK STATUS completed"]
    # §3.2's example
    assert c.command(b"t2", b'LIST "" % RETURN (STATUS (APPENDLIMIT))') == [
        b'* LIST (\\HasNoChildren) "/" "INBOX"',
        b'* STATUS "INBOX" (APPENDLIMIT 1000)',
        b"t2 OK LIST completed"]
    # §4: larger is refused with TOOBIG; exactly the limit is accepted
    body = b"Subject: x\r\n\r\n"
    exact = body + b"y" * (1000 - len(body))
    assert append(c, b"INBOX", exact)[-1].startswith(b"ap OK [APPENDUID ")
    c.send(b"big APPEND INBOX {1001}\r\n")
    assert c.line().startswith(b"big NO [TOOBIG]")
    assert c.command(b"n", b"NOOP")[-1] == b"n OK NOOP completed"
    c.close()


def test_appendlimit_not_before_login(server: ServerThread) -> None:
    c = server.raw()
    assert not any(w.startswith(b"APPENDLIMIT") or w == b"STATUS=SIZE"
                   for w in c.command(b"a", b"CAPABILITY")[0].split())
    c.close()
