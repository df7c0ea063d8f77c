"""CATENATE (RFC 4469) with absolute IMAP URLs (RFC 5092 §3) that name this server and the
logged-in user: RFC 4469 §3 leaves them "outside the scope" of the base extension, and
servers (Dovecot) accept the URL of their own host, as a client that builds its URLs from
the server's name or address sends them. URLs of another server or user keep NO [BADURL],
with a text saying which it was."""

from __future__ import annotations

from tests.server.harness import RawClient, ServerThread
from tests.server.url_helpers import ORIGINAL, OTHER, append, fetch, login, tagged


def catenate(c: RawClient, tag: bytes, *urls: bytes) -> bytes:
    parts = b" ".join(b'URL "' + url + b'"' for url in urls)
    c.send(tag + b" APPEND INBOX CATENATE (" + parts + b")\r\n")
    return tagged(c.until_tagged(tag))


def test_absolute_urls_of_this_server_and_user(server: ServerThread) -> None:
    c = login(server)
    validity, uid = append(c, b"INBOX", ORIGINAL)
    port = server.port
    for url, expected in [
        # The configured server.hostname ("localhost" by default), any case (RFC 3986 §3.2.2).
        (b"imap://alice@localhost/INBOX/;UID=%d" % uid, ORIGINAL),
        (b"imap://alice@LocalHost/INBOX;UIDVALIDITY=%d/;UID=%d" % (validity, uid), ORIGINAL),
        # The address the client connected to, with its port.
        (b"imap://alice@127.0.0.1:%d/INBOX/;UID=%d/;SECTION=1" % (port, uid),
         b"Our travel agent has sent the schedule."),
        # ;AUTH= says how to log in (RFC 5092 §3.2); the session already is.
        (b"imap://alice;AUTH=*@localhost/INBOX/;UID=%d/;SECTION=HEADER.FIELDS%%20(TO)" % uid,
         b"To: foo@example.net\r\n\r\n"),
        # A network-path reference (RFC 5092 §7) resolves to the same absolute URL.
        (b"//alice@localhost/INBOX/;UID=%d/;PARTIAL=0.6" % uid, ORIGINAL[:6]),
    ]:
        answer = catenate(c, b"a", url)
        assert answer.startswith(b"a OK [APPENDUID %d " % validity), (url, answer)
        new = int(answer.split()[4].rstrip(b"]"))
        assert fetch(c, b"INBOX", new) == expected, url


def test_absolute_url_of_a_mailbox_shared_with_the_user(server: ServerThread) -> None:
    """The mailbox path is the user's view (RFC 4469 §3: the base is imap://user@server/),
    so another user's mailbox is named under "Other Users" and needs the "r" right."""
    bob = login(server, b"bob")
    bob.command(b"c", b"CREATE Projects")
    _, uid = append(bob, b"Projects", OTHER)
    assert tagged(bob.command(b"s", b"SETACL Projects alice l")).startswith(b"s OK")
    c = login(server)
    url = b"imap://alice@localhost/Other%%20Users/bob/Projects/;UID=%d" % uid
    assert catenate(c, b"a", url) == \
        b"a NO [BADURL " + url + b"] CATENATE could not use this URL"
    assert tagged(bob.command(b"s", b"SETACL Projects alice lr")).startswith(b"s OK")
    assert catenate(c, b"a", url).startswith(b"a OK [APPENDUID")
    assert fetch(c, b"INBOX", 1) == OTHER


def test_other_servers_and_users_are_badurl(server: ServerThread) -> None:
    c = login(server)
    validity, uid = append(c, b"INBOX", OTHER)
    good = b"/INBOX;UIDVALIDITY=%d/;UID=%d" % (validity, uid)
    port = server.port
    for bad, why in [
        (b"imap://alice@mail.example.org/INBOX/;UID=%d" % uid, b"URL names another server"),
        (b"imap://alice@127.0.0.2/INBOX/;UID=%d" % uid, b"URL names another server"),
        (b"imap://alice@localhost:%d/INBOX/;UID=%d" % (port + 1, uid),
         b"URL names another server"),
        (b"imap://bob@localhost/INBOX/;UID=%d" % uid,
         b"URL names a user other than the one logged in"),
        (b"imap://nobody@localhost/INBOX/;UID=%d" % uid,
         b"URL names a user other than the one logged in"),
        (b"imap://localhost/INBOX/;UID=%d" % uid,
         b"URL names a user other than the one logged in"),  # anonymous (RFC 5092 §3.2)
        (b"imap://alice@localhost/INBOX", b"CATENATE could not use this URL"),  # a mailbox
        (b"http://alice@localhost/INBOX/;UID=%d" % uid, b"CATENATE could not use this URL"),
    ]:
        answer = catenate(c, b"b", good, bad)
        assert answer == b"b NO [BADURL " + bad + b"] " + why, (bad, answer)
    assert b"MESSAGES 1" in c.command(b"s", b"STATUS INBOX (MESSAGES)")[0]
    assert tagged(c.command(b"n", b"NOOP")) == b"n OK NOOP completed"
