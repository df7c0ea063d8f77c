"""URLAUTH URLs name this server (RFC 4467 §7 GENURLAUTH: the URL "MUST be ... for this
server"; §7 URLFETCH: NIL "if the URL is invalid for any reason"), decided by the same rule
as CATENATE's absolute URLs (``crispin.server.urlhost``): the configured ``server.hostname``
or the address the client connected to ("localhost" for a loopback one), and that port if a
port is given. Dovecot's imap-urlauth refuses another host the same way (BAD / NIL)."""

from __future__ import annotations

from pathlib import Path

from tests.server import url_helpers
from tests.server.harness import RawClient, ServerThread
from tests.server.url_helpers import MESSAGE, PART, generate, login, tagged, urlfetch


def append(c: RawClient) -> int:
    return url_helpers.append(c, b"INBOX", MESSAGE)[1]


def test_genurlauth_refuses_another_host(server: ServerThread) -> None:
    c = login(server)
    uid = append(c)
    port = server.port
    for host in [b"mail.example.org", b"127.0.0.2", b"[::2]", b"localhost:%d" % (port + 1),
                 b"127.0.0.1:%d" % (port + 1)]:
        rump = b"imap://alice@%s/INBOX/;UID=%d;URLAUTH=authuser" % (host, uid)
        lines = c.command(b"g", b'GENURLAUTH "' + rump + b'" INTERNAL')
        assert lines == [b"g BAD The URL names another server"], (host, lines)
    # One URL of another host makes the whole command BAD (§7: "If any error occurs").
    good = b"imap://alice@localhost/INBOX/;UID=%d;URLAUTH=authuser" % uid
    lines = c.command(b"g", b'GENURLAUTH "' + good + b'" INTERNAL '
                      b'"imap://alice@mail.example.org/INBOX/;UID=%d;URLAUTH=authuser" '
                      b'INTERNAL' % uid)
    assert lines == [b"g BAD The URL names another server"], lines
    # This server by its name (any case), its address with and without the port.
    for host in [b"localhost", b"LocalHost", b"127.0.0.1", b"127.0.0.1:%d" % port,
                 b"localhost:%d" % port]:
        rump = b"imap://alice@%s/INBOX/;UID=%d;URLAUTH=authuser" % (host, uid)
        assert urlfetch(c, generate(c, rump)) == MESSAGE, host
    assert tagged(c.command(b"n", b"NOOP")) == b"n OK NOOP completed"


def test_configured_hostname_is_this_server(make_server: object) -> None:
    server: ServerThread = make_server(  # type: ignore[operator]
        server={"hostname": "imap.example.com"})
    c = login(server)
    uid = append(c)
    url = generate(c, b"imap://alice@IMAP.example.com/INBOX/;UID=%d/;SECTION=1.2"
                   b";URLAUTH=authuser" % uid)
    assert urlfetch(c, url) == PART
    lines = c.command(b"g", b'GENURLAUTH "imap://alice@example.com/INBOX/;UID=%d'
                      b';URLAUTH=authuser" INTERNAL' % uid)
    assert lines == [b"g BAD The URL names another server"], lines


def test_urlfetch_and_catenate_of_another_hosts_url(tmp_path: Path) -> None:
    """A URL authorized while the server was named old.example.net (its token is good) is
    another server's once the server is renamed: URLFETCH gives NIL, CATENATE BADURL."""
    data = tmp_path / "data"
    before = ServerThread(data, server={"hostname": "old.example.net"})
    try:
        before.add_user("alice")
        c = login(before)
        uid = append(c)
        old = generate(c, b"imap://alice@old.example.net/INBOX/;UID=%d;URLAUTH=authuser" % uid)
        assert urlfetch(c, old) == MESSAGE
        c.command(b"lo", b"LOGOUT")
    finally:
        before.stop()
    after = ServerThread(data, server={"hostname": "new.example.net"})
    try:
        c = login(after)
        assert urlfetch(c, old) is None
        new = generate(c, b"imap://alice@new.example.net/INBOX/;UID=%d;URLAUTH=authuser" % uid)
        assert urlfetch(c, new) == MESSAGE  # same key, this server's name: still good
        answer = tagged(c.command(b"a", b'APPEND INBOX CATENATE (URL "' + old + b'")'))
        assert answer.startswith(b"a NO [BADURL "), answer
        answer = tagged(c.command(b"a", b'APPEND INBOX CATENATE (URL "' + new + b'")'))
        assert answer.startswith(b"a OK [APPENDUID "), answer
        assert tagged(c.command(b"n", b"NOOP")) == b"n OK NOOP completed"
    finally:
        after.stop()
