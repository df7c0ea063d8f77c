"""Real clients with IMAP URLs (RFC 5092): curl sends CATENATE (RFC 4469) as a custom command
(``-X``), and Python's imaplib does through ``_simple_command``; the new message is read back
and compared byte for byte with the parts it was built from."""

from __future__ import annotations

import imaplib
import re
from collections.abc import Iterator

import pytest

from tests.interop.test_curl import MULTIPART, PLAIN, Server, curl, imap, server, stored
from tests.programs import programs

pytestmark = programs("curl")

__all__ = ["server"]  # the module-scoped server fixture of test_curl, shared


@pytest.fixture
def inbox(server: Server) -> Iterator[tuple[int, int, int]]:
    """(UIDVALIDITY, UID of PLAIN, UID of MULTIPART) in a fresh copy of the two."""
    c = imap(server)
    try:
        uids = []
        for raw in (PLAIN, MULTIPART):
            typ, data = c.append("INBOX", None, None, raw)
            m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
            assert typ == "OK" and m, data
            uids.append(int(m[2]))
        yield int(m[1]), uids[0], uids[1]
    finally:
        c.logout()


def test_curl_catenate(server: Server, inbox: tuple[int, int, int]) -> None:
    validity, plain, multi = inbox
    url = f"/INBOX;UIDVALIDITY={validity}/;UID={plain}"
    command = (f'APPEND INBOX (\\Seen) CATENATE (URL "{url}/;SECTION=HEADER" '
               f'URL "/INBOX/;UID={multi}/;SECTION=1")')
    base, _ = server.urls()["plain"]
    r = curl(f"{base}/INBOX", "-X", command, "-v")
    assert b"OK [APPENDUID" in r.stderr, r.stderr
    header, _ = PLAIN.split(b"\r\n\r\n", 1)
    part = MULTIPART.split(b"--b1\r\n")[1].split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")
    c = imap(server)
    try:
        c.select("INBOX", readonly=True)
        typ, data = c.uid("SEARCH", "ALL")
        last = int(data[0].split()[-1])
        typ, data = c.uid("FETCH", str(multi), "(BODY.PEEK[1])")
        assert data[0][1] == part
    finally:
        c.logout()
    assert stored(server, last) == header + b"\r\n\r\n" + part
    # A URL curl's user cannot read (no such mailbox): NO [BADURL], curl fails.
    r = curl(f"{base}/INBOX", "-X", 'APPEND INBOX CATENATE (URL "/Nope/;UID=1")', "-v",
             check=False)
    assert r.returncode != 0 and b"NO [BADURL /Nope/;UID=1]" in r.stderr, r.stderr


def test_imaplib_catenate(server: Server, inbox: tuple[int, int, int]) -> None:
    validity, plain, multi = inbox
    c = imap(server)
    try:
        typ, data = c._simple_command(  # imaplib has no CATENATE of its own
            "APPEND", "INBOX", "CATENATE",
            f'(URL "/INBOX;UIDVALIDITY={validity}/;UID={multi}/;PARTIAL=0.64" '
            f'URL "/INBOX/;UID={plain}/;SECTION=TEXT")')
        assert typ == "OK", data
        code = c.untagged_responses.get("APPENDUID", [b""])[-1]
        uid = int(code.split()[-1])
    finally:
        c.logout()
    _, text = PLAIN.split(b"\r\n\r\n", 1)
    assert stored(server, uid) == MULTIPART[:64] + text
    c = imap(server)
    try:
        bad = f"/INBOX/;UID={plain}/;SECTION=9"
        typ, data = c._simple_command("APPEND", "INBOX", "CATENATE", f'(URL "{bad}")')
        assert typ == "NO", data
        assert c.untagged_responses.get("BADURL") == [bad.encode()], c.untagged_responses
    finally:
        c.logout()


def test_curl_urlfetch(server: Server, inbox: tuple[int, int, int],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 4467 §7 URLFETCH sent by curl as a custom command (the "real client" a
    submission server would be), of a URL made with GENURLAUTH (imaplib)."""
    validity, plain, multi = inbox
    base, _ = server.urls()["plain"]
    host = base.removeprefix("imap://")
    rump = (f"imap://curly@{host}/INBOX;UIDVALIDITY={validity}/;UID={multi}/;SECTION=1"
            f";URLAUTH=authuser")
    # imaplib refuses commands it does not know: it is told the state GENURLAUTH needs.
    monkeypatch.setitem(imaplib.Commands, "GENURLAUTH", ("AUTH", "SELECTED"))
    c = imap(server)
    try:
        typ, data = c._simple_command("GENURLAUTH", f'"{rump}"', "INTERNAL")
        assert typ == "OK", data
        url = c.untagged_responses["GENURLAUTH"][-1].decode().strip('"')
    finally:
        c.logout()
    assert url.startswith(rump + ":internal:")
    part = MULTIPART.split(b"--b1\r\n")[1].split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")
    r = curl("--url", f"{base}/", "-X", f'URLFETCH "{url}"', "-v")
    head = b'* URLFETCH "%s" {%d}' % (url.encode(), len(part))
    # curl prints a custom command's untagged lines on stdout, but a literal's payload only
    # in its trace (-v: "< " + each line received): the part, then the tagged OK.
    assert r.stdout == head + b"\r\n", r.stdout
    received = [line.removeprefix(b"< ").rstrip(b"\r") for line in r.stderr.split(b"\n")
                if line.startswith(b"< ")]
    at = received.index(head)
    assert received[at + 1:at + 3] == part.split(b"\r\n"), received[at:]
    assert received[at + 3].endswith(b" OK URLFETCH completed"), received[at:]
    # A token that does not validate: NIL, and still OK (§7).
    forged = url[:-1] + ("0" if url[-1] != "0" else "1")
    r = curl("--url", f"{base}/", "-X", f'URLFETCH "{forged}"')
    assert b'* URLFETCH "%s" NIL' % forged.encode() in r.stdout, r.stdout
