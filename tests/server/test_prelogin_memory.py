"""What an unauthenticated client can make the server hold (issue 11 point 5): the literals
of one command, and of the whole connection before login, are bounded (Dovecot's login
processes keep a few KB per client); after login the ordinary limits apply."""

from __future__ import annotations

from tests.server.harness import PASSWORD, RawClient, ServerThread

KB64 = b"v" * 65536


def test_id_with_many_large_literals_is_refused_before_login(server: ServerThread) -> None:
    raw = server.raw()
    # The attack: ID ( with 63 literals of 64 KB. The first literal already exceeds the
    # per-command budget before login, and is refused before its bytes are sent.
    raw.send(b'a ID ("name" {65536}\r\n')
    assert raw.line() == b"a BAD [TOOBIG] Literals of this command too big"
    # Non-synchronising ones are skipped, then refused.
    raw.send(b'b ID ("name" {65536+}\r\n' + KB64 + b' "version" {65536+}\r\n' + KB64 + b")\r\n")
    assert raw.until_tagged(b"b")[-1] == b"b BAD [TOOBIG] Literals of this command too big"
    # Small literals add up to the per-command budget too.
    parts = b" ".join(b'"f%d" {4000+}\r\n' % i + b"x" * 4000 for i in range(5))
    raw.send(b"c ID (" + parts + b")\r\n")
    assert raw.until_tagged(b"c")[-1] == b"c BAD [TOOBIG] Literals of this command too big"
    # An ordinary ID with a literal still works.
    raw.send(b'd ID ("name" {6+}\r\nclient)\r\n')
    assert raw.until_tagged(b"d")[-1].startswith(b"d OK")
    assert raw.command(b"e", b"NOOP")[-1].startswith(b"e OK")


def test_literals_of_a_connection_before_login_are_bounded(server: ServerThread) -> None:
    raw = server.raw()
    literal = b"x" * 10000
    tags = []
    for i in range(7):  # 70,000 bytes: over the 65,536 of a connection before login
        tag = b"i%d" % i
        tags.append(tag)
        raw.send(tag + b' ID ("name" {10000+}\r\n' + literal + b")\r\n")
    answers = [raw.until_tagged(tag)[-1] for tag in tags]
    assert all(a.startswith(b"i%d OK" % i) for i, a in enumerate(answers[:6])), answers
    assert answers[6] == b"i6 BAD [LIMIT] Too much literal data"
    raw.send(b"l LOGIN alice {6000}\r\n")
    assert raw.line() == b"l BAD [LIMIT] Too much literal data"
    # A login still works, and then the ordinary limits apply.
    assert raw.command(b"m", b'LOGIN alice "%s"' % PASSWORD.encode())[-1].startswith(b"m OK")
    raw.send(b'n ID ("name" {65536+}\r\n' + KB64 + b' "v" {65536+}\r\n' + KB64 + b")\r\n")
    assert raw.until_tagged(b"n")[-1].startswith(b"n OK")


def test_login_with_literals_still_works(server: ServerThread) -> None:
    raw = RawClient("127.0.0.1", server.port)
    raw.send(b"a LOGIN {5}\r\n")
    assert raw.line().startswith(b"+ ")
    raw.send(b"alice {%d+}\r\n%s\r\n" % (len(PASSWORD), PASSWORD.encode()))
    assert raw.until_tagged(b"a")[-1].startswith(b"a OK")
