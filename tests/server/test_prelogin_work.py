"""What an unauthenticated client can make the server *do* (issue 10 point 14): before
login only the commands of that state are parsed, on short lines, a bounded number of
times per connection; ID has RFC 2971's 30 pairs in every state."""

from __future__ import annotations

from tests.server.harness import PASSWORD, ServerThread


def test_only_the_commands_of_the_state_are_parsed_before_login(server: ServerThread) -> None:
    raw = server.raw()
    # Refused at its name: the garbage after it is never looked at (after login the same
    # command is a syntax error, because there it is parsed).
    assert raw.command(b"a", b"FETCH ((garbage") == [b"a BAD Command not allowed in this state"]
    assert raw.command(b"b", b"UID SEARCH ((") == [b"b BAD Command not allowed in this state"]
    # One with a literal is refused before the literal is sent.
    raw.send(b"c SELECT {5}\r\n")
    assert raw.line() == b"c BAD Command not allowed in this state"
    assert raw.command(b"d", b"CAPABILITY")[-1].startswith(b"d OK")
    assert raw.command(b"l", b'LOGIN alice "%s"' % PASSWORD.encode())[-1].startswith(b"l OK")
    assert raw.command(b"e", b"FETCH ((garbage")[-1].startswith(b"e BAD")
    assert raw.command(b"f", b"NOOP")[-1].startswith(b"f OK")


def test_lines_before_login_are_short(server: ServerThread) -> None:
    raw = server.raw()
    long_id = b'ID ("name" "' + b"x" * 9000 + b'")'
    assert raw.command(b"a", long_id) == [b"a BAD [TOOBIG] Command line too long"]
    assert raw.command(b"b", b'ID ("name" "client")')[-1].startswith(b"b OK")
    assert raw.command(b"l", b'LOGIN alice "%s"' % PASSWORD.encode())[-1].startswith(b"l OK")
    assert raw.command(b"c", long_id)[-1] == b"c OK ID completed"


def test_id_has_at_most_30_pairs(server: ServerThread) -> None:
    raw = server.raw()
    pairs = b" ".join(b'"k%d" "v"' % i for i in range(31))
    assert raw.command(b"a", b"ID (" + pairs + b")") == \
        [b"a BAD [LIMIT] Too many ID fields (at most 30)"]
    thirty = b" ".join(b'"k%d" "v"' % i for i in range(30))
    assert raw.command(b"b", b"ID (" + thirty + b")")[-1] == b"b OK ID completed"


def test_commands_before_login_are_counted(make_server) -> None:  # type: ignore[no-untyped-def]
    server: ServerThread = make_server(limits={"prelogin_max_commands": 5})
    raw = server.raw()
    for i in range(5):  # valid commands, never "bad": ID and NOOP could go on forever
        assert raw.command(b"a%d" % i, b'ID ("name" "x")' if i % 2 else b"NOOP")[-1] \
            .startswith(b"a%d OK" % i)
    raw.send(b"b NOOP\r\n")
    assert raw.line() == b"* BYE Too many commands before login"
    assert raw.closed()
    # The count is per connection and ends with login.
    raw = server.raw()
    for i in range(4):
        assert raw.command(b"c%d" % i, b"NOOP")[-1].startswith(b"c%d OK" % i)
    assert raw.command(b"l", b'LOGIN alice "%s"' % PASSWORD.encode())[-1].startswith(b"l OK")
    for i in range(10):
        assert raw.command(b"d%d" % i, b"NOOP")[-1].startswith(b"d%d OK" % i)
