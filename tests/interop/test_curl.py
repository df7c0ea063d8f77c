"""curl as an IMAP client (RFC 5092 URLs): LIST, EXAMINE, FETCH of whole messages and of single
parts, UID SEARCH, APPEND, over plain IMAP, STARTTLS (``--ssl-reqd``) and implicit TLS
(``imaps://``), the server's self-signed certificate trusted with ``--cacert``. CATENATE
(RFC 4469) and URLFETCH (RFC 4467) sent as custom commands (``-X``), with imaplib's
``_simple_command`` for CATENATE and GENURLAUTH.

curl writes a fetched literal to stdout byte for byte, so every FETCH here is compared with the
exact bytes the server stored (read back with imaplib ``BODY.PEEK[]``) and with what was
appended.  Every curl call has ``--max-time``.
"""

from __future__ import annotations

import imaplib
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import IO

import pytest

from tests.programs import programs
from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "curly", "curl pass 1"

pytestmark = programs("curl")

PLAIN = (
    b"From: =?UTF-8?Q?Jos=C3=A9?= <jose@example.com>\r\n"
    b"To: curly@example.com\r\n"
    b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n"
    b"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n"
    b"Message-ID: <plain@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9fe\r\n"
)
PLAIN_HEADER, PLAIN_TEXT = PLAIN.split(b"\r\n\r\n", 1)

ATTACHMENT_B64 = b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
MULTIPART = (
    b"From: Bob <bob@example.com>\r\n"
    b"To: curly@example.com\r\n"
    b"Subject: quarterly report attached\r\n"
    b"Date: Tue, 03 Mar 2026 11:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"See the attached file.\r\n"
    b"Second line.\r\n"
    b"--b1\r\n"
    b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + ATTACHMENT_B64 + b"\r\n"
    b"--b1--\r\n"
    b"epilogue\r\n"
)

INNER_HEADER = (b"From: Dave <dave@example.com>\r\n"
                b"Subject: the original\r\n"
                b"Date: Sun, 01 Mar 2026 09:00:00 +0000\r\n"
                b"\r\n")
INNER_TEXT = b"Original text.\r\nLast line."
NESTED = (
    b"From: Carol <carol@example.com>\r\n"
    b"To: curly@example.com\r\n"
    b"Subject: Fwd: the original\r\n"
    b"Date: Wed, 04 Mar 2026 12:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=outer\r\n"
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"Forwarding this.\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"Content-Description: forwarded\r\n"
    b"\r\n"
    + INNER_HEADER + INNER_TEXT + b"\r\n"
    b"--outer--\r\n"
)


class Server:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.proc = ServerProcess(data, "--log-level", "debug", "--trace")
        self.trace = data.parent / "trace.log"
        self._drain = threading.Thread(target=_copy, args=(self.proc.proc.stderr, self.trace),
                                       daemon=True)
        self._drain.start()
        self.cert = data / "tls" / "cert.pem"
        self.port, self.tls_port = self.proc.port, self.proc.tls_port

    def urls(self) -> dict[str, tuple[str, list[str]]]:
        """Base URL and extra options per transport."""
        return {
            "plain": (f"imap://127.0.0.1:{self.port}", []),
            "starttls": (f"imap://localhost:{self.port}", ["--ssl-reqd", "--cacert",
                                                            str(self.cert)]),
            "tls": (f"imaps://localhost:{self.tls_port}", ["--cacert", str(self.cert)]),
        }

    def stop(self) -> None:
        self.proc.terminate()
        self._drain.join(10)


def _copy(stream: IO[str], path: Path) -> None:
    with path.open("w") as out:
        for line in stream:
            out.write(line)
            out.flush()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("curl") / "data"
    r = subprocess.run([sys.executable, "-m", "crispin", "user", "add", USER,
                        "--password-stdin", "--create", "--data-dir", str(data)],
                       input=PASSWORD + "\n", capture_output=True, text=True, cwd=ROOT,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    srv = Server(data)
    try:
        c = imap(srv)
        try:
            assert c.create("Reports/2026")[0] == "OK"
            assert c.create("Ablage/K&APY-ln")[0] == "OK"  # Ablage/Köln, modified UTF-7
            for raw in (PLAIN, MULTIPART, NESTED):
                assert c.append("INBOX", None, None, raw)[0] == "OK"
        finally:
            c.logout()
        yield srv
    finally:
        srv.stop()


def imap(srv: Server) -> imaplib.IMAP4:
    c = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
    c.login(USER, PASSWORD)
    return c


def curl(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    r = subprocess.run(["curl", "-s", "-S", "--max-time", "20", "-u", f"{USER}:{PASSWORD}",
                        *args], capture_output=True, timeout=30)
    if check:
        assert r.returncode == 0, (args, r.returncode, r.stderr)
    return r


def stored(srv: Server, uid: int, mailbox: str = "INBOX") -> bytes:
    c = imap(srv)
    try:
        c.select(mailbox, readonly=True)
        typ, data = c.uid("FETCH", str(uid), "(BODY.PEEK[])")
        assert typ == "OK" and data[0], data
        return data[0][1]
    finally:
        c.logout()


def uidvalidity(srv: Server) -> int:
    c = imap(srv)
    try:
        typ, data = c.status("INBOX", "(UIDVALIDITY)")
        m = re.search(rb"UIDVALIDITY (\d+)", data[0])
        assert m, data
        return int(m[1])
    finally:
        c.logout()


TRANSPORTS = ["plain", "starttls", "tls"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_list_and_examine(server: Server, transport: str) -> None:
    base, opts = server.urls()[transport]
    out = curl(*opts, f"{base}/").stdout.decode()
    lines = out.splitlines()
    assert all(line.startswith("* LIST (") for line in lines), lines
    names = {re.sub(r'^\* LIST \([^)]*\) "/" ', "", line).strip('"') for line in lines}
    assert {"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive", "Reports",
            "Reports/2026", "Ablage", "Ablage/K&APY-ln"} <= names, lines
    assert any(r'\Sent' in line and line.endswith('"Sent"') for line in lines), lines
    assert any(r'\HasChildren' in line and line.endswith('"Reports"') for line in lines)
    # A custom LIST with a pattern.
    out = curl(*opts, "-X", 'LIST "" "Reports/%"', f"{base}/").stdout.decode()
    assert out.splitlines() == ['* LIST (\\HasNoChildren) "/" "Reports/2026"'], out
    # EXAMINE: the untagged data curl prints.
    out = curl(*opts, "-X", "EXAMINE INBOX", f"{base}/INBOX").stdout.decode()
    assert re.search(r"^\* 3 EXISTS\r?$", out, re.M), out
    assert re.search(r"^\* OK \[UIDVALIDITY \d+\]", out, re.M), out
    assert re.search(r"^\* OK \[UIDNEXT \d+\]", out, re.M), out
    assert re.search(r"^\* FLAGS \(.*\\Seen.*\)", out, re.M), out
    assert "PERMANENTFLAGS ()" in out, out  # read-only
    out = curl(*opts, "-X", "STATUS INBOX (MESSAGES UIDNEXT)", f"{base}/").stdout.decode()
    assert re.search(r'^\* STATUS "?INBOX"? \(MESSAGES \d+ UIDNEXT \d+\)', out), out


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fetch_whole_messages_and_parts(server: Server, transport: str) -> None:
    base, opts = server.urls()[transport]
    mailbox = f"{base}/INBOX"
    for uid, raw in ((1, PLAIN), (2, MULTIPART), (3, NESTED)):
        assert stored(server, uid) == raw
        assert curl(*opts, f"{mailbox};UID={uid}").stdout == raw, uid
    # Sections, RFC 3501 §6.4.5: each is compared with the bytes cut by hand from the message.
    cases = {
        (1, "HEADER"): PLAIN_HEADER + b"\r\n\r\n",
        (1, "TEXT"): PLAIN_TEXT,
        (1, "1"): PLAIN_TEXT,  # the single part of a non-multipart message
        (1, "HEADER.FIELDS%20(SUBJECT%20DATE)"):
            b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n"
            b"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n\r\n",
        (2, "1"): b"See the attached file.\r\nSecond line.",
        (2, "1.MIME"): b"Content-Type: text/plain; charset=us-ascii\r\n\r\n",
        (2, "2"): ATTACHMENT_B64,
        (2, "2.MIME"): b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
                       b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
                       b"Content-Transfer-Encoding: base64\r\n\r\n",
        (3, "1"): b"Forwarding this.",
        (3, "2"): INNER_HEADER + INNER_TEXT,
        (3, "2.HEADER"): INNER_HEADER,
        (3, "2.TEXT"): INNER_TEXT,
        (3, "2.1"): INNER_TEXT,
    }
    for (uid, section), expected in cases.items():
        got = curl(*opts, f"{mailbox};UID={uid};SECTION={section}").stdout
        assert got == expected, (uid, section, got)
    # Partial fetch (RFC 5092 ;PARTIAL=offset.length → BODY[...]<offset.length>).
    assert curl(*opts, f"{mailbox};UID=2;SECTION=2;PARTIAL=4.8").stdout == ATTACHMENT_B64[4:12]
    assert curl(*opts, f"{mailbox};UID=3;PARTIAL=0.100").stdout == NESTED[:100]
    # UIDVALIDITY in the URL is checked by curl against the server's.
    validity = uidvalidity(server)
    assert curl(*opts, f"{mailbox};UIDVALIDITY={validity}/;UID=1").stdout == PLAIN
    assert curl(*opts, f"{mailbox};UIDVALIDITY={validity + 1}/;UID=1",
                check=False).returncode == 78  # CURLE_REMOTE_FILE_NOT_FOUND
    # A UID that does not exist: OK with no FETCH data (RFC 3501 §6.4.8), so curl finds nothing.
    assert curl(*opts, f"{mailbox};UID=999", check=False).returncode == 78


def test_search(server: Server) -> None:
    base, opts = server.urls()["starttls"]
    mailbox = f"{base}/INBOX"

    def search(command: str) -> list[int]:
        out = curl(*opts, "-X", command, mailbox).stdout.decode()
        m = re.fullmatch(r"\* SEARCH((?: \d+)*)\s*", out)
        assert m, (command, out)
        return [int(n) for n in m[1].split()]

    assert search("UID SEARCH ALL") == [1, 2, 3]
    assert search('UID SEARCH SUBJECT "original"') == [3]
    assert search("UID SEARCH FROM bob") == [2]
    assert search('UID SEARCH OR FROM bob FROM carol') == [2, 3]
    assert search("UID SEARCH NOT FROM bob") == [1, 3]
    assert search("UID SEARCH BODY attached") == [2]
    assert search("UID SEARCH TEXT Forwarding") == [3]
    assert search("UID SEARCH HEADER Message-ID plain@example.com") == [1]
    assert search("UID SEARCH SENTSINCE 3-Mar-2026") == [2, 3]
    assert search("UID SEARCH SENTBEFORE 3-Mar-2026") == [1]
    assert search(f"UID SEARCH LARGER {len(NESTED)}") == [2]  # sizes: 307, 512, 453
    assert search(f"UID SEARCH SMALLER {len(NESTED)}") == [1]
    assert search("UID SEARCH UID 2:*") == [2, 3]
    assert search("UID SEARCH SUBJECT nothing-like-this") == []
    # The URL query form (RFC 5092 "?<search>") makes curl send a SEARCH.
    out = curl(*opts, f"{mailbox}?SUBJECT%20report").stdout.decode()
    assert out.split() == ["*", "SEARCH", "2"], out


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_append_upload(server: Server, transport: str, tmp_path: Path) -> None:
    base, opts = server.urls()[transport]
    raw = (f"From: Uploader <up@example.com>\r\nTo: curly@example.com\r\n"
           f"Subject: uploaded over {transport}\r\nDate: Fri, 06 Mar 2026 08:00:00 +0000\r\n"
           f"\r\nUploaded with curl -T.\r\n").encode()
    upload = tmp_path / "upload.eml"
    upload.write_bytes(raw)
    mailbox = f"Uploads-{transport}"
    c = imap(server)
    try:
        assert c.create(mailbox)[0] == "OK"
    finally:
        c.logout()
    curl(*opts, "-T", str(upload), f"{base}/{mailbox}")
    assert stored(server, 1, mailbox) == raw
    # curl appends with \Seen; the server keeps it.
    c = imap(server)
    try:
        c.select(mailbox, readonly=True)
        typ, data = c.uid("FETCH", "1", "(FLAGS RFC822.SIZE)")
        assert b"\\Seen" in data[0] and f"RFC822.SIZE {len(raw)}".encode() in data[0], data
    finally:
        c.logout()
    # And curl reads it back byte for byte.
    assert curl(*opts, f"{base}/{mailbox};UID=1").stdout == raw


def test_large_message_round_trip_over_tls(server: Server, tmp_path: Path) -> None:
    base, opts = server.urls()["tls"]
    line = bytes(range(0x21, 0x21 + 76)) + b"\r\n"
    raw = (b"From: big@example.com\r\nSubject: five megabytes\r\n\r\n"
           + line * (5 * 1024 * 1024 // len(line)))
    upload = tmp_path / "big.eml"
    upload.write_bytes(raw)
    c = imap(server)
    try:
        assert c.create("Big")[0] == "OK"
    finally:
        c.logout()
    curl(*opts, "-T", str(upload), f"{base}/Big")
    assert curl(*opts, f"{base}/Big;UID=1").stdout == raw
    assert curl(*opts, f"{base}/Big;UID=1;SECTION=TEXT;PARTIAL=4000000.76").stdout \
        == raw[raw.index(b"\r\n\r\n") + 4:][4000000:4000076]


def test_wrong_password_and_untrusted_certificate(server: Server, tmp_path: Path) -> None:
    r = subprocess.run(["curl", "-s", "--max-time", "20", "-u", f"{USER}:wrong",
                        f"imap://127.0.0.1:{server.port}/"], capture_output=True, timeout=30)
    assert r.returncode == 67  # CURLE_LOGIN_DENIED
    other = tmp_path / "other.pem"
    other.write_text(other_certificate())
    r = curl("--ssl-reqd", "--cacert", str(other), f"imap://localhost:{server.port}/",
             check=False)
    assert r.returncode == 60, r  # CURLE_PEER_FAILED_VERIFICATION
    # Without --ssl-reqd, curl must not fall back to plaintext silently: it still verifies.
    r = curl("--cacert", str(other), f"imaps://localhost:{server.tls_port}/", check=False)
    assert r.returncode == 60, r


def other_certificate() -> str:
    """A self-signed certificate for localhost that is not the server's."""
    from datetime import datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_sort_thread_esearch(server: Server) -> None:
    """Custom requests (curl -X) for SORT, THREAD and ESEARCH on the three messages of
    the module (UIDs 1-3: "Grüße aus Köln" from José, 2 Mar 09:00 UTC; "quarterly report
    attached" from Bob, 3 Mar; "Fwd: the original" from Carol, 4 Mar)."""
    base, opts = server.urls()["tls"]
    mailbox = f"{base}/INBOX"

    def ask(command: str) -> str:
        return curl(*opts, "-X", command, mailbox).stdout.decode().strip()

    assert ask("UID SORT (SUBJECT) UTF-8 UID 1:3") == "* SORT 1 2 3"
    assert ask("UID SORT (REVERSE DATE) UTF-8 UID 1:3") == "* SORT 3 2 1"
    assert ask("UID SORT (DISPLAYFROM) UTF-8 UID 1:3") == "* SORT 2 3 1"
    assert ask('UID SORT (DATE) UTF-8 UID 1:3 SUBJECT "original"') == "* SORT 3"
    assert ask("UID THREAD ORDEREDSUBJECT UTF-8 UID 1:3") == "* THREAD (1)(2)(3)"
    out = ask("UID SEARCH RETURN (MIN MAX COUNT) UID 1:3")
    assert re.fullmatch(r'\* ESEARCH \(TAG "[^"]+"\) UID MIN 1 MAX 3 COUNT 3', out), out


# --- IMAP URLs in commands (RFC 5092): CATENATE (RFC 4469) and URLAUTH (RFC 4467) ---


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
        # The message built below has no blank line after the first part's 64 octets, so
        # the second part's 8-bit text lands in its header: RFC 6855 §4 lets only a client
        # that enabled UTF8=ACCEPT append that (others get NO [CANNOT]).
        c.enable("UTF8=ACCEPT")
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
