"""IMAP URLs through Python's imaplib (a client library nobody here wrote), as a Lemonade-style
client and a submission server would use them: GENURLAUTH (RFC 4467) of a message in a mailbox
shared by ACL (RFC 4314), URLFETCH of it by another user, and APPEND CATENATE (RFC 4469) with
an absolute URL naming this server and with the URLAUTH-authorized URL. imaplib knows none of
these commands: they go through ``_simple_command`` once imaplib is told the states they
are valid in."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import PASSWORD, ServerThread

MESSAGE = (b"Subject: schedule\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
           b"--x\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
           b"--x\r\nContent-Type: text/plain\r\n\r\nMonday: planning\r\n--x--\r\n")
PART = b"Monday: planning"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerThread]:
    for command in ("GENURLAUTH", "URLFETCH"):
        monkeypatch.setitem(imaplib.Commands, command, ("AUTH", "SELECTED"))
    srv = ServerThread(tmp_path / "data")
    for name in ("alice", "bob", "carol"):
        srv.add_user(name)
    yield srv
    srv.stop()


def client(server: ServerThread, user: str) -> imaplib.IMAP4:
    c = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    c.login(user, PASSWORD)
    return c


def urlfetch(c: imaplib.IMAP4, url: str) -> bytes | None:
    typ, data = c._simple_command("URLFETCH", f'"{url}"')
    assert typ == "OK", data
    answer = c.untagged_responses.pop("URLFETCH")
    first = answer[0]
    if isinstance(first, tuple):  # imaplib keeps a literal as (line, payload)
        assert first[0] == f'"{url}" {{{len(first[1])}}}'.encode(), first
        return first[1]
    assert first == f'"{url}" NIL'.encode(), answer
    return None


def appended_uid(c: imaplib.IMAP4) -> int:
    code = c.untagged_responses.pop("APPENDUID")[-1]
    return int(code.split()[-1])


def test_shared_message_by_urlauth_and_catenate(server: ServerThread) -> None:
    bob = client(server, "bob")
    assert bob.create("Projects")[0] == "OK"
    assert bob.append("Projects", None, None, MESSAGE)[0] == "OK"
    assert bob.setacl("Projects", "alice", "lr")[0] == "OK"

    # alice authorizes carol (only) to read part 2 of bob's message, with her own access.
    alice = client(server, "alice")
    host = f"127.0.0.1:{server.port}"
    rump = (f"imap://alice@{host}/Other%20Users/bob/Projects/;UID=1/;SECTION=2"
            f";URLAUTH=user+carol")
    typ, data = alice._simple_command("GENURLAUTH", f'"{rump}"', "INTERNAL")
    assert typ == "OK", data
    url = alice.untagged_responses.pop("GENURLAUTH")[-1].decode().strip('"')
    assert url.startswith(rump + ":internal:")
    # A URL naming another server gets no token (RFC 4467 §7: "for this server").
    with pytest.raises(imaplib.IMAP4.error, match="The URL names another server"):
        alice._simple_command("GENURLAUTH", f'"{rump.replace(host, "mail.example.org")}"',
                              "INTERNAL")

    carol = client(server, "carol")
    assert urlfetch(carol, url) == PART
    assert urlfetch(alice, url) is None  # user+carol: not alice's to use

    # carol builds a message from her own (absolute URL of this server) and the part.
    head = b"Subject: fwd\r\n\r\n"
    assert carol.append("INBOX", None, None, head)[0] == "OK"
    mine = appended_uid(carol)
    typ, data = carol._simple_command(
        "APPEND", "INBOX", "CATENATE",
        f'(URL "imap://carol@{host}/INBOX/;UID={mine}" URL "{url}")')
    assert typ == "OK", data
    new = appended_uid(carol)
    carol.select("INBOX", readonly=True)
    typ, fetched = carol.uid("FETCH", str(new), "(BODY.PEEK[])")
    assert typ == "OK" and isinstance(fetched[0], tuple), fetched
    assert fetched[0][1] == head + PART

    # Another server's URL is refused, and says so.
    elsewhere = f"imap://carol@mail.example.org/INBOX/;UID={mine}"
    typ, data = carol._simple_command("APPEND", "INBOX", "CATENATE", f'(URL "{elsewhere}")')
    assert typ == "NO" and data == [f"[BADURL {elsewhere}] URL names another server"
                                    .encode()], data

    # bob takes alice's "r" right: the URL no longer gives anything (RFC 4467 §7).
    assert bob.setacl("Projects", "alice", "l")[0] == "OK"
    assert urlfetch(carol, url) is None
    for c in (alice, bob, carol):
        c.logout()
