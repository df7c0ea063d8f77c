"""Mutt, driven as a person drives it: inside tmux, keys in, screen out.

Mutt connects over STARTTLS (``ssl_force_tls``) and trusts the server's self-signed
certificate through ``certificate_file``, so no prompt stands in the way.  Each test starts its
own tmux server (``tmux -S <tmp>/tmux.sock``) and kills only that one.  The screen is polled with a
deadline (``Pane.wait_for``); nothing waits on a fixed sleep.

How stored bytes are compared: mutt pipes a message (``|``, ``pipe_decode`` unset) exactly as
it fetched it, except that it turns every CRLF into LF (mutt keeps messages with Unix line
ends; a lone CR is kept).  Piping adds no ``From_`` line and no ``Status:`` header, unlike
saving to an mbox with ``s``.  So the piped file must equal the server's ``BODY.PEEK[]`` (read
over a separate imaplib connection) with ``b"\\r\\n"`` replaced by ``b"\\n"``: nothing more,
nothing less.
"""

from __future__ import annotations

import base64
import imaplib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.programs import programs
from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "mutt pass 1"

pytestmark = programs("mutt", "tmux")

# -- the messages -----------------------------------------------------------------------

SUBJECT_Q = "Grüße aus Köln"
SUBJECT_B = "Résumé ✓ attached"

PLAIN_8BIT = (
    b"From: =?UTF-8?Q?Jos=C3=A9_P=C3=A9rez?= <jose@example.com>\r\n"
    b"To: mutt@example.com\r\n"
    b"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n"
    b"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n"
    b"Message-ID: <plain-8bit@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Hallo Mutt, sch\xc3\xb6ne Gr\xc3\xbc\xc3\x9fe vom Rhein!\r\n"
    b"Zweite Zeile.\r\n"
)

MULTIPART = (
    b"From: Bob <bob@example.com>\r\n"
    b"To: mutt@example.com\r\n"
    b"Subject: =?UTF-8?B?" + base64.b64encode(SUBJECT_B.encode()) + b"?=\r\n"
    b"Date: Tue, 03 Mar 2026 11:00:00 +0000\r\n"
    b"Message-ID: <multipart@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"=-=b0und=-=\"\r\n"
    b"\r\n"
    b"This is a MIME message.\r\n"
    b"--=-=b0und=-=\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"See the attached file.\r\n"
    b"--=-=b0und=-=\r\n"
    b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n"
    b"--=-=b0und=-=--\r\n"
)

NESTED = (
    b"From: Carol <carol@example.com>\r\n"
    b"To: mutt@example.com\r\n"
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
    b"\r\n"
    b"From: Dave <dave@example.com>\r\n"
    b"Subject: the original\r\n"
    b"Date: Sun, 01 Mar 2026 09:00:00 +0000\r\n"
    b"\r\n"
    b"Original text\r\nwith a lone CR here:\rend.\r\n"
    b"--outer--\r\n"
)


def big_message(size: int = 5 * 1024 * 1024) -> bytes:
    head = (b"From: Big <big@example.com>\r\nTo: mutt@example.com\r\n"
            b"Subject: five megabytes\r\nDate: Thu, 05 Mar 2026 13:00:00 +0000\r\n\r\n")
    line = b"".join(bytes([65 + i % 26]) for i in range(76)) + b"\r\n"
    body = line * ((size - len(head)) // len(line))
    return head + body


# -- server, user, and a second (imaplib) view on the account ------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("mutt") / "data"
    srv = ServerProcess(data, "--log-level", "debug", "--trace")
    srv.data_dir = data  # type: ignore[attr-defined]
    # The protocol trace must be read, or the server blocks on a full stderr pipe.
    trace = data.parent / "trace.log"
    drain = threading.Thread(target=copy_stream, args=(srv.proc.stderr, trace), daemon=True)
    drain.start()
    try:
        yield srv
    finally:
        srv.terminate()
        drain.join(10)


def copy_stream(stream: IO[str], path: Path) -> None:
    with path.open("w") as out:
        for line in stream:
            out.write(line)
            out.flush()


@pytest.fixture
def account(server: ServerProcess, request: pytest.FixtureRequest) -> str:
    name = "m" + re.sub(r"\W", "", request.node.name)[-20:].lower()
    r = subprocess.run([sys.executable, "-m", "crispin", "user", "add", name,
                        "--password-stdin", "--data-dir", str(server.data_dir)],  # type: ignore[attr-defined]
                       input=PASSWORD + "\n", capture_output=True, text=True, cwd=ROOT,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return name


def imap(server: ServerProcess, user: str) -> imaplib.IMAP4:
    c = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    c.login(user, PASSWORD)
    return c


def append_all(server: ServerProcess, user: str, *messages: bytes) -> list[int]:
    c = imap(server, user)
    uids = []
    try:
        for raw in messages:
            typ, data = c.append("INBOX", None, None, raw)
            assert typ == "OK", data
            m = re.search(rb"APPENDUID \d+ (\d+)", data[0])
            assert m, data
            uids.append(int(m[1]))
    finally:
        c.logout()
    return uids


def stored(server: ServerProcess, user: str, uid: int) -> bytes:
    c = imap(server, user)
    try:
        c.select("INBOX", readonly=True)
        typ, data = c.uid("FETCH", str(uid), "(BODY.PEEK[])")
        assert typ == "OK", data
        return data[0][1]
    finally:
        c.logout()


def server_flags(server: ServerProcess, user: str) -> dict[int, set[str]]:
    c = imap(server, user)
    try:
        c.select("INBOX", readonly=True)
        typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
        assert typ == "OK", data
        out: dict[int, set[str]] = {}
        for line in data:
            m = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)", line or b"")
            if not m:  # an unsolicited flag update for a message reported on its own line
                continue
            uid = int(m[1] or m[4])
            out[uid] = set((m[2] if m[1] else m[3]).decode().split())
        return out
    finally:
        c.logout()


def eventually(check: Callable[[], object], what: str, timeout: float = 15) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


# -- mutt under tmux ---------------------------------------------------------------------


class Pane:
    """One mutt in its own tmux server (its own socket in the test's folder), 200x50."""

    def __init__(self, tmp: Path, server: ServerProcess, user: str) -> None:
        self.socket = str(tmp / "tmux.sock")
        cert = tmp / "trusted.pem"
        cert.write_bytes((server.data_dir / "tls" / "cert.pem").read_bytes())  # type: ignore[attr-defined]
        self.muttrc = tmp / "muttrc"
        self.muttrc.write_text("\n".join([
            f"set folder=imap://{user}@localhost:{server.port}/",
            "set spoolfile=+INBOX",
            f'set imap_pass="{PASSWORD}"',
            "set ssl_starttls=yes",
            "set ssl_force_tls=yes",
            f"set certificate_file={cert}",
            "set header_cache=",
            "set message_cachedir=",
            "set mail_check=1",
            "set timeout=1",
            "set imap_idle=yes",
            "set wait_key=no",
            "set sort=mailbox-order",
            "unset pipe_decode",
            "set delete=yes",
            "set quit=yes",
            "set move=no",
            "unset mark_old",
            "set charset=utf-8",
            'set index_format="%4C [%Z] %s"',
            "set beep=no",
            "",
        ]))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "LC_"))}
        env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8", HOME=str(tmp), TERM="xterm")
        self.env = env
        # If mutt exits, the pane stays (for the failure message) instead of vanishing.
        command = f"mutt -n -F {self.muttrc}; echo MUTT-EXITED $?; sleep 120"
        self.tmux("new-session", "-d", "-x", "200", "-y", "50", "-s", "mutt", command)

    def tmux(self, *args: str) -> str:
        r = subprocess.run(["tmux", "-S", self.socket, "-f", "/dev/null", *args],
                           capture_output=True, text=True, env=self.env, timeout=10)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "mutt")

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", "mutt", *(["-l"] if literal else []), *keys)

    def type(self, text: str) -> None:
        self.keys(text, literal=True)

    def wait_for(self, predicate: Callable[[str], object], what: str,
                 timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if "MUTT-EXITED" in text:
                break
            if predicate(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"mutt: timed out waiting for {what}; screen:\n{text}")

    def wait_text(self, *needles: str, timeout: float = 20) -> str:
        return self.wait_for(lambda s: all(n in s for n in needles), repr(needles), timeout)

    def index_line(self, number: int) -> str:
        for line in self.screen().splitlines():
            if re.match(rf"\s*{number} \[", line):
                return line
        raise AssertionError(f"no index line {number}:\n{self.screen()}")

    def jump(self, number: int) -> None:
        """Move the index cursor to message ``number`` (mutt's jump: digits, Enter)."""
        self.type(str(number))
        self.wait_text("Jump to message:")
        self.keys("Enter")
        self.wait_for(lambda s: "Jump to message:" not in s, "the jump to finish")

    def pipe(self, number: int, target: Path) -> None:
        self.jump(number)
        self.type("|")
        self.wait_text("Pipe to command:")
        self.type(f"cat > {target}")
        self.keys("Enter")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True,
                       env=self.env, timeout=10)
        Path(self.socket).unlink(missing_ok=True)


@pytest.fixture
def mutt(tmp_path: Path, server: ServerProcess, account: str) -> Iterator[Callable[[], Pane]]:
    panes: list[Pane] = []

    def start() -> Pane:
        pane = Pane(tmp_path, server, account)
        panes.append(pane)
        return pane

    yield start
    for pane in panes:
        pane.close()


# -- the scenarios -----------------------------------------------------------------------


def test_index_decodes_subjects_and_pipe_gives_stored_bytes(
        server: ServerProcess, account: str, mutt: Callable[[], Pane], tmp_path: Path) -> None:
    big = big_message()
    uids = append_all(server, account, PLAIN_8BIT, MULTIPART, NESTED, big)
    pane = mutt()
    screen = pane.wait_text("Msgs:4", SUBJECT_Q)
    # RFC 2047: Q and B encoded words decoded in the index, in the server's order.
    assert SUBJECT_Q in pane.index_line(1), screen
    assert SUBJECT_B in pane.index_line(2), screen
    assert "Fwd: the original" in pane.index_line(3), screen
    assert "five megabytes" in pane.index_line(4), screen
    for number, uid in enumerate(uids, start=1):
        target = tmp_path / f"piped-{number}.eml"
        expected = stored(server, account, uid).replace(b"\r\n", b"\n")
        pane.pipe(number, target)
        eventually(lambda t=target, e=expected: t.exists() and t.stat().st_size == len(e),
                   f"mutt to pipe message {number} ({len(expected)} bytes)", timeout=30)
        assert target.read_bytes() == expected, f"message {number} differs"
    # What the server stored is what was appended: the round trip is byte-exact.
    assert stored(server, account, uids[0]) == PLAIN_8BIT
    assert stored(server, account, uids[3]) == big
    # Piping uses BODY.PEEK: nothing became \Seen.
    assert all("\\Seen" not in f for f in server_flags(server, account).values())
    # The pager decodes the 8-bit UTF-8 body and the encoded From name.
    pane.jump(1)
    pane.keys("Enter")
    pager = pane.wait_text("schöne Grüße vom Rhein!", "José Pérez")
    assert "Zweite Zeile." in pager
    pane.type("i")  # back to the index
    pane.wait_text("Msgs:4")


def test_flag_read_and_delete_sync_to_server(
        server: ServerProcess, account: str, mutt: Callable[[], Pane]) -> None:
    uids = append_all(server, account, PLAIN_8BIT, MULTIPART, NESTED)
    pane = mutt()
    pane.wait_text("Msgs:3", SUBJECT_Q)
    # Flag message 2, read message 3 in the pager, delete message 1, then sync ($).
    pane.jump(2)
    pane.type("F")
    pane.wait_for(lambda s: "!" in pane.index_line(2), "the flag mark on message 2")
    pane.jump(3)
    pane.keys("Enter")
    pane.wait_text("Forwarding this.")
    pane.type("i")
    pane.wait_text("Msgs:3")
    pane.jump(1)
    pane.type("d")
    pane.wait_for(lambda s: "D" in pane.index_line(1), "the delete mark on message 1")
    pane.type("$")
    pane.wait_text("Msgs:2")

    def synced() -> dict[int, set[str]] | None:
        flags = server_flags(server, account)
        return flags if uids[0] not in flags and "\\Flagged" in flags.get(uids[1], ()) \
            and "\\Seen" in flags.get(uids[2], ()) else None

    flags = eventually(synced, "mutt's changes on the server")
    assert isinstance(flags, dict)
    assert set(flags) == {uids[1], uids[2]}
    assert "\\Seen" not in flags[uids[1]] and "\\Deleted" not in flags[uids[1]]
    assert "\\Flagged" not in flags[uids[2]]
    # Unflag in mutt; the server loses the flag.
    pane.jump(1)  # message 2 is now number 1
    pane.type("F")
    pane.type("$")
    eventually(lambda: "\\Flagged" not in server_flags(server, account)[uids[1]],
               "the flag to be cleared on the server")


def test_new_mail_and_expunge_by_another_client(
        server: ServerProcess, account: str, mutt: Callable[[], Pane]) -> None:
    append_all(server, account, PLAIN_8BIT, MULTIPART)
    pane = mutt()
    pane.wait_text("Msgs:2", SUBJECT_Q)
    # Another client delivers a message: mutt's index shows it (IDLE / mail_check).
    append_all(server, account, NESTED)
    pane.wait_text("Msgs:3", "Fwd: the original")
    # Another client expunges message 1: mutt drops it and keeps the others in order.
    other = imap(server, account)
    try:
        other.select("INBOX")
        other.store("1", "+FLAGS.SILENT", "(\\Deleted)")
        other.expunge()
    finally:
        other.logout()
    screen = pane.wait_for(lambda s: "Msgs:2" in s and SUBJECT_Q not in s,
                           "mutt to drop the expunged message")
    assert SUBJECT_B in pane.index_line(1), screen
    assert "Fwd: the original" in pane.index_line(2), screen
