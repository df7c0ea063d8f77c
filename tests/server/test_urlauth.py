"""URLAUTH (RFC 4467): GENURLAUTH, URLFETCH, RESETKEY over real sockets, with the RFC's
examples as transcripts (user "joe" of example.com is alice here, "fred" a submitter; the
server is named example.com, as the examples' URLs name it: another host's URL is refused,
tests/server/test_urlauth_host.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.server.harness import RawClient, ServerThread
from tests.server.url_helpers import MESSAGE, PART, generate, login, urlfetch


@pytest.fixture
def server(make_server: Any) -> ServerThread:
    srv: ServerThread = make_server(auth={"submit_users": "submitserver"},
                                    server={"hostname": "example.com"})
    srv.add_user("submitserver")
    srv.add_user("carol")
    return srv


def append(c: RawClient, body: bytes = MESSAGE) -> int:
    c.send(b"ap APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
    m = re.match(rb"ap OK \[APPENDUID \d+ (\d+)\]", c.until_tagged(b"ap")[-1])
    assert m is not None
    return int(m[1])


def test_capability(server: ServerThread) -> None:
    c = login(server)
    assert b"URLAUTH" in c.command(b"a", b"CAPABILITY")[0].split()


def test_rfc4467_genurlauth_and_urlfetch_examples(server: ServerThread) -> None:
    c = login(server)
    uid = append(c)
    # a775: no access identifier; a776: no owner user name.
    assert c.command(b"a775", b'GENURLAUTH "imap://alice@example.com/INBOX/;uid=%d/'
                     b';section=1.2" INTERNAL' % uid)[-1].startswith(b"a775 BAD")
    assert c.command(b"a776", b'GENURLAUTH "imap://example.com/INBOX/;uid=%d/;section=1.2'
                     b';urlauth=submit+fred" INTERNAL' % uid)[-1].startswith(b"a776 BAD")
    rump = b"imap://alice@example.com/INBOX/;uid=%d/;section=1.2;urlauth=submit+fred" % uid
    url = generate(c, rump)
    m = re.fullmatch(re.escape(rump) + rb":internal:(01[0-9a-f]{64})", url)
    assert m is not None, url  # the token: a version, then 256 bits (at least 128: §2.5)
    assert generate(c, rump) == url  # deterministic (§2.5) while the key stands
    # a002: the submission server, logged in as itself, fetches the part.
    submit = login(server, "submitserver")
    assert urlfetch(submit, url) == PART
    # Only submission servers may use a submit+ URL (§3): alice herself gets NIL.
    assert urlfetch(c, url) is None


def test_validation_failures_are_nil(server: ServerThread) -> None:
    c = login(server)
    uid = append(c)
    url = generate(c, b"imap://alice@example.com/INBOX/;UID=%d;URLAUTH=authuser" % uid)
    assert urlfetch(c, url) == MESSAGE
    head, token = url.rsplit(b":", 1)
    flipped = token[:-1] + (b"0" if token[-1:] != b"0" else b"1")
    for bad in [
        head + b":" + flipped,  # wrong token
        url.replace(b";UID=%d" % uid, b";UID=%d" % (uid + 1)),  # another message
        url.replace(b"INBOX", b"inbox"),  # the rump is compared verbatim (§6)
        url.replace(b":internal:", b":xsample:"),  # unknown mechanism
        url.replace(b"alice@", b"carol@"),  # carol's key table (she has none)
        url.replace(b"alice@", b"nobody@"),  # no such user
        b"imap://alice@example.com/INBOX;URLAUTH=authuser:internal:" + token,  # a mailbox
        b"/INBOX/;UID=1",  # not an authorized URL at all
    ]:
        assert urlfetch(c, bad) is None, bad
    # A validated URL of a message since expunged is NIL too.
    assert c.command(b"s", b"SELECT INBOX")[-1].startswith(b"s OK")
    c.command(b"d", b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid)
    c.command(b"e", b"EXPUNGE")
    assert urlfetch(c, url) is None


def test_access_identifiers(server: ServerThread) -> None:
    alice = login(server)
    uid = append(alice)
    carol, submit = login(server, "carol"), login(server, "submitserver")
    base = b"imap://alice@example.com/INBOX/;UID=%d/;SECTION=1.2" % uid
    for access, allowed in [
        (b"anonymous", (alice, carol, submit)),
        (b"authuser", (alice, carol, submit)),
        (b"user+carol", (carol,)),
        (b"submit+carol", (submit,)),
    ]:
        url = generate(alice, base + b";URLAUTH=" + access)
        for who in (alice, carol, submit):
            expected = PART if who in allowed else None
            assert urlfetch(who, url) == expected, (access, who is alice, who is carol)


def test_expire(server: ServerThread) -> None:
    c = login(server)
    uid = append(c)
    base = b"imap://alice@example.com/INBOX/;UID=%d" % uid
    soon = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    past = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    assert urlfetch(c, generate(c, base + b";EXPIRE=" + soon + b";URLAUTH=authuser")) \
        == MESSAGE
    assert urlfetch(c, generate(c, base + b";EXPIRE=" + past + b";URLAUTH=authuser")) is None
    # The expiry is inside the signed rump: moving it invalidates the token.
    url = generate(c, base + b";EXPIRE=" + past + b";URLAUTH=authuser")
    assert urlfetch(c, url.replace(past, soon)) is None


def test_rfc4467_resetkey_examples(server: ServerThread) -> None:
    c = login(server)
    uid = append(c)
    c.command(b"c", b"CREATE Other")
    inbox = generate(c, b"imap://alice@example.com/INBOX/;UID=%d;URLAUTH=authuser" % uid)
    assert urlfetch(c, inbox) == MESSAGE
    # A session of the same user with INBOX selected is told of the new key (§7), and
    # SELECT itself names the mechanisms (§8).
    watcher = login(server)
    selected = watcher.command(b"s", b"SELECT INBOX")
    assert b"* OK [URLMECH INTERNAL] URLAUTH mechanisms" in selected
    assert c.command(b"a32", b"RESETKEY INBOX") == [b"a32 OK [URLMECH INTERNAL] Key reset"]
    assert watcher.command(b"n", b"NOOP")[:-1] == [b"* OK [URLMECH INTERNAL] Key reset"]
    assert urlfetch(c, inbox) is None  # revoked
    inbox = generate(c, b"imap://alice@example.com/INBOX/;UID=%d;URLAUTH=authuser" % uid)
    assert urlfetch(c, inbox) == MESSAGE
    assert c.command(b"a33", b"RESETKEY INBOX XSAMPLE")[-1].startswith(b"a33 BAD")
    assert c.command(b"a34", b"RESETKEY Nowhere")[-1].startswith(b"a34 NO [NONEXISTENT]")
    assert c.command(b"a31", b"RESETKEY") == [b"a31 OK All keys removed"]
    assert urlfetch(c, inbox) is None
    # GENURLAUTH after RESETKEY makes a new key (no RESETKEY needed first, §7).
    assert urlfetch(c, generate(c, b"imap://alice@example.com/INBOX/;UID=%d"
                                   b";URLAUTH=anonymous" % uid)) == MESSAGE


def test_genurlauth_refusals(server: ServerThread) -> None:
    c = login(server)
    uid = append(c)
    for args in [
        b'"imap://carol@example.com/INBOX/;UID=1;URLAUTH=authuser" INTERNAL',  # not alice
        b'"imap://alice@example.com/Nowhere/;UID=1;URLAUTH=authuser" INTERNAL',
        b'"imap://alice@example.com/INBOX;URLAUTH=authuser" INTERNAL',  # whole mailbox
        b'"/INBOX/;UID=%d;URLAUTH=authuser" INTERNAL' % uid,  # not absolute
        b'"imap://alice@example.com/INBOX/;UID=%d;URLAUTH=authuser" XSAMPLE' % uid,
        b'"imap://alice@example.com/INBOX/;UID=%d;URLAUTH=authuser:internal:' % uid
        + b"0" * 66 + b'" INTERNAL',  # already authorized
        b'"imap://alice@example.com/INBOX/;UID=%d;URLAUTH=anybody" INTERNAL' % uid,
    ]:
        lines = c.command(b"g", b"GENURLAUTH " + args)
        assert lines == [lines[-1]] and lines[-1].startswith(b"g BAD"), (args, lines)
    # Several pairs: one untagged response with every URL, in order.
    lines = c.command(b"g", b'GENURLAUTH '
                      b'"imap://alice@example.com/INBOX/;UID=%d;URLAUTH=authuser" INTERNAL '
                      b'"imap://alice@example.com/INBOX/;UID=%d;URLAUTH=anonymous" internal'
                      % (uid, uid))
    assert re.fullmatch(rb'\* GENURLAUTH "[^"]+authuser:internal:\w+" "[^"]+'
                        rb'anonymous:internal:\w+"', lines[0]), lines
