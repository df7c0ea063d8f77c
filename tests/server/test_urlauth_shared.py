"""URLAUTH (RFC 4467) on mailboxes shared by ACL (RFC 4314), and URLAUTH-authorized URLs in
CATENATE (RFC 4469), over real sockets.

bob owns Projects and lets alice read it; alice's URLs name it as she sees it
(``Other Users/bob/Projects``, RFC 2342) and use her mailbox access key table (RFC 4467 §7
GENURLAUTH (2)). URLFETCH "effectively executes with the access of the userid in the server
component of the URL ... That access may have changed since the GENURLAUTH was done" (§7):
alice's "r" right is checked when the URL is made and each time it is used."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.harness import ServerThread
from tests.server.url_helpers import MESSAGE, PART, fetch, generate, login, tagged, urlfetch

BOB_BOX = b"Other%20Users/bob/Projects"


@pytest.fixture
def server(make_server: Any) -> ServerThread:
    srv: ServerThread = make_server(auth={"submit_users": "submitserver"})
    for name in ("bob", "carol", "dave", "submitserver"):
        srv.add_user(name)
    return srv


def bob_project(server: ServerThread, rights: bytes = b"lr") -> int:
    """bob's Projects with MESSAGE in it, alice granted ``rights``; its UID."""
    bob = login(server, "bob")
    assert tagged(bob.command(b"c", b"CREATE Projects")).startswith(b"c OK")
    bob.send(b"ap APPEND Projects {%d+}\r\n" % len(MESSAGE) + MESSAGE + b"\r\n")
    answer = tagged(bob.until_tagged(b"ap"))
    assert answer.startswith(b"ap OK [APPENDUID"), answer
    set_acl(server, rights)
    return int(answer.split()[4].rstrip(b"]"))


def set_acl(server: ServerThread, rights: bytes, who: bytes = b"alice") -> None:
    bob = login(server, "bob")
    assert tagged(bob.command(b"s", b"SETACL Projects " + who + b" " + rights)) \
        .startswith(b"s OK")


def test_urlfetch_of_a_shared_mailbox_follows_the_url_users_rights(
        server: ServerThread) -> None:
    uid = bob_project(server)
    alice, carol = login(server), login(server, "carol")
    url = generate(alice, b"imap://alice@localhost/" + BOB_BOX
                   + b"/;UID=%d/;SECTION=1.2;URLAUTH=user+carol" % uid)
    # carol has no right on bob's Projects: the URL gives her alice's access (§7).
    assert urlfetch(carol, url) == PART
    assert urlfetch(alice, url) is None  # user+carol only (§3)
    # bob takes "r" from alice: the URL gives nothing, though its token still validates.
    set_acl(server, b"l")
    assert urlfetch(carol, url) is None
    set_acl(server, b"lr")  # and gives it back: the same URL works again (same key)
    assert urlfetch(carol, url) == PART
    # RFC 4314: a right held through "anyone" counts as well as one given by name.
    bob = login(server, "bob")
    assert tagged(bob.command(b"d", b"DELETEACL Projects alice")).startswith(b"d OK")
    assert urlfetch(carol, url) is None
    set_acl(server, b"r", b"anyone")
    assert urlfetch(carol, url) == PART
    # A message bob expunges is gone from the URL too.
    assert tagged(bob.command(b"s", b"SELECT Projects")).startswith(b"s OK")
    bob.command(b"st", b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid)
    assert tagged(bob.command(b"e", b"EXPUNGE")).startswith(b"e OK")
    assert urlfetch(carol, url) is None


def test_genurlauth_needs_the_read_right(server: ServerThread) -> None:
    """§7 GENURLAUTH (1): the mailbox must exist for the URL's user; it must also be one
    whose data the user may read, else the URL could never give anything (BAD, §7)."""
    uid = bob_project(server, b"l")
    alice = login(server)
    rump = b"imap://alice@localhost/" + BOB_BOX + b"/;UID=%d;URLAUTH=authuser" % uid
    answer = alice.command(b"g", b'GENURLAUTH "' + rump + b'" INTERNAL')
    assert answer == [b"g BAD Permission denied (needs the 'r' right)"], answer
    set_acl(server, b"\"\"")  # no right at all
    answer = alice.command(b"g", b'GENURLAUTH "' + rump + b'" INTERNAL')
    assert answer == [b"g BAD Mailbox does not exist"], answer  # RFC 4314 §6: not seen
    set_acl(server, b"lr")
    assert urlfetch(login(server, "dave"), generate(alice, rump)) == MESSAGE


def test_access_identifiers_on_a_shared_mailbox(server: ServerThread) -> None:
    """§3: who may use the URL, whatever their own rights on the mailbox (bob owns it,
    dave has no right on it); the data is read with alice's rights."""
    uid = bob_project(server)
    alice = login(server)
    users = {name: login(server, name)
             for name in ("alice", "bob", "carol", "dave", "submitserver")}
    base = b"imap://alice@localhost/" + BOB_BOX + b"/;UID=%d" % uid
    everyone = set(users)
    for access, allowed in [
        # No anonymous login exists here: every session is an authorized user (§3).
        (b"anonymous", everyone),
        (b"authuser", everyone),
        (b"user+carol", {"carol"}),
        (b"user+bob", {"bob"}),
        (b"submit+dave", {"submitserver"}),  # a submission server, for dave (§3)
    ]:
        url = generate(alice, base + b";URLAUTH=" + access)
        for name, client in users.items():
            expected = MESSAGE if name in allowed else None
            assert urlfetch(client, url) == expected, (access, name)


def test_shared_namespace_mailbox(server: ServerThread) -> None:
    """A mailbox of the "Shared" namespace, readable by alice through "anyone"."""
    store = server.running.ctx.store

    async def setup() -> None:
        info = await store.create_shared_mailbox("support")
        await store.set_acl(info.id, "anyone", "lri")

    server.call(setup())
    alice = login(server)
    alice.send(b'ap APPEND "Shared/support" {%d+}\r\n' % len(MESSAGE) + MESSAGE + b"\r\n")
    answer = tagged(alice.until_tagged(b"ap"))
    assert answer.startswith(b"ap OK [APPENDUID"), answer
    uid = int(answer.split()[4].rstrip(b"]"))
    url = generate(alice, b"imap://alice@localhost/Shared/support/;UID=%d/;SECTION=1.2"
                          b";URLAUTH=submit+alice" % uid)
    assert urlfetch(login(server, "submitserver"), url) == PART

    async def revoke() -> None:
        info = await store.get_mailbox_in(None, "support")
        assert info is not None
        await store.set_acl(info.id, "anyone", "l")

    server.call(revoke())
    assert urlfetch(login(server, "submitserver"), url) is None


def test_catenate_with_a_urlauth_url(server: ServerThread) -> None:
    """RFC 4469 §3 CATENATE, with a URL that URLAUTH authorizes: carol forwards a part of
    bob's message that alice gave her a URL for, without any right of her own on it, and
    without downloading it. Who may use it and what it gives are URLFETCH's rules."""
    uid = bob_project(server)
    alice, carol = login(server), login(server, "carol")
    url = generate(alice, b"imap://alice@localhost/" + BOB_BOX
                   + b"/;UID=%d/;SECTION=1.2;URLAUTH=user+carol" % uid)
    head = b"Subject: fwd\r\n\r\n"
    carol.send(b"a APPEND INBOX CATENATE (TEXT {%d+}\r\n" % len(head) + head
               + b' URL "' + url + b'")\r\n')
    answer = tagged(carol.until_tagged(b"a"))
    assert answer.startswith(b"a OK [APPENDUID"), answer
    new = int(answer.split()[4].rstrip(b"]"))
    assert fetch(carol, b"INBOX", new) == head + PART
    # Refused with NO [BADURL]: the wrong user, a wrong token, a revoked right, and a
    # URLAUTH URL without its token (never authorized).
    dave = login(server, "dave")
    flipped = url[:-1] + (b"0" if url[-1:] != b"0" else b"1")
    no_token = url[:url.index(b":internal:")]
    relative = b"/INBOX/;UID=1;URLAUTH=anonymous"  # URLAUTH needs an absolute URL (§6)
    for who, bad in [(dave, url), (carol, flipped), (carol, no_token), (carol, relative)]:
        who.send(b'b APPEND INBOX CATENATE (URL "' + bad + b'")\r\n')
        assert tagged(who.until_tagged(b"b")) == b"b NO [BADURL " + bad + \
            b"] URLAUTH-authorized URL not valid here", bad
    set_acl(server, b"l")
    carol.send(b'c APPEND INBOX CATENATE (URL "' + url + b'")\r\n')
    assert tagged(carol.until_tagged(b"c")) == b"c NO [BADURL " + url + \
        b"] URLAUTH-authorized URL not valid here"
    assert b"MESSAGES 1" in carol.command(b"s", b"STATUS INBOX (MESSAGES)")[0]


def test_user_access_for_a_user_that_does_not_exist(server: ServerThread) -> None:
    """§7 GENURLAUTH (3): "user+" must name a valid userid; the server "MAY issue a tagged OK
    response with a generated mailbox key that always fails validation" so that GENURLAUTH
    does not tell which users exist. Always: a user of that name made later cannot use it."""
    uid = bob_project(server)
    alice = login(server)
    url = generate(alice, b"imap://alice@localhost/" + BOB_BOX
                   + b"/;UID=%d;URLAUTH=user+erin" % uid)
    server.add_user("erin")
    assert urlfetch(login(server, "erin"), url) is None
    assert urlfetch(login(server, "erin"), generate(
        alice, b"imap://alice@localhost/" + BOB_BOX + b"/;UID=%d;URLAUTH=user+erin" % uid)) \
        == MESSAGE
