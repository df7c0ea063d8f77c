"""MULTIAPPEND is all or nothing under SIGKILL, as a property (issue 16, "How it is checked").

RFC 3502 §6.3.11: "If the server fails to append any message, none of the messages are
appended."  Each trial runs ``crispin serve`` as a process with several clients sending
MULTIAPPENDs of random sizes (some bodies over ``storage.blobs.INLINE_MAX``, so they go to
blob files; some with flags and dates) into the same mailbox.  One client picks, from what it
has received, the moment of the SIGKILL: after its k-th continuation request, after it sent
a whole command but before the answer, or right after a tagged OK (never a timer).  After a
restart: every command's messages (found by the marker in their Subject) are there entirely
or not at all; every command answered OK is there with the UIDs of its APPENDUID (RFC 4315
§3), its flags and its dates; and ``crispin check`` finds the data folder sound.
"""

from __future__ import annotations

import imaplib
import random
import re
import signal
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crispin.storage.blobs import INLINE_MAX
from tests.server.harness import RawClient
from tests.server.process import ServerProcess
from tests.server.process import run_crispin as crispin

TRIALS = 12
FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "$Label1"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
SUBJECT_RE = re.compile(rb"Subject: c(\d+)-(\d+)-(\d+)")


@dataclass
class Part:
    """One message of a MULTIAPPEND: its body, and its flags and date if it gives them."""

    body: bytes
    flags: list[str]
    date: str | None


@dataclass
class Command:
    parts: list[Part]
    uids: list[int] = field(default_factory=list)  # from the APPENDUID of its tagged OK


def make_command(rng: random.Random, client: int, number: int) -> Command:
    parts = []
    for j in range(rng.randint(1, 5)):
        large = rng.random() < 0.2
        filler = b"b" * (INLINE_MAX + rng.randint(1, 50_000) if large else rng.randint(0, 3000))
        body = (b"From: multi@example.com\r\nSubject: c%d-%d-%d\r\n\r\n" % (client, number, j)
                + filler + b"\r\n")
        flags = rng.sample(FLAGS, rng.randint(0, 2)) if rng.random() < 0.5 else []
        date = None
        if rng.random() < 0.5:
            date = (f"{rng.randint(10, 28)}-{rng.choice(MONTHS)}-{rng.randint(1995, 2025)} "
                    f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
                    f" {rng.choice(['+0000', '+0100', '-0800'])}")
        parts.append(Part(body, flags, date))
    return Command(parts)


def uid_set(text: bytes) -> list[int]:
    out: list[int] = []
    for item in text.split(b","):
        lo, _, hi = item.partition(b":")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


@dataclass
class Client:
    """One connection sending MULTIAPPENDs one after another (synchronising literals, so
    every message but the first waits for a continuation request)."""

    n: int
    commands: list[Command]
    answered: set[int] = field(default_factory=set)  # command numbers answered OK
    # (command number, stage, k): the killer's chosen moment; None for the other clients
    kill_at: tuple[int, str, int] | None = None
    killed: threading.Event = field(default_factory=threading.Event)

    def run(self, port: int, kill: threading.Event) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=120)
            c = RawClient("127.0.0.1", port, sock)
            assert c.command(b"l", b'LOGIN kim "pw"')[-1].startswith(b"l OK")
            for number, cmd in enumerate(self.commands):
                if kill.is_set():
                    return
                self._one(c, number, cmd, kill)
        except (OSError, ConnectionError):
            pass  # the server was killed under us

    def _at(self, number: int, stage: str, k: int, kill: threading.Event) -> bool:
        if self.kill_at == (number, stage, k):
            kill.set()
            self.killed.wait(60)
            return True
        return False

    def _one(self, c: RawClient, number: int, cmd: Command, kill: threading.Event) -> None:
        tag = b"a%d" % number
        head = tag + b" APPEND INBOX"
        for k, part in enumerate(cmd.parts):
            if part.flags:
                head += b" (" + " ".join(part.flags).encode() + b")"
            if part.date:
                head += b' "' + part.date.encode() + b'"'
            c.send(head + b" {%d}\r\n" % len(part.body))
            line = c.line()
            assert line.startswith(b"+"), line
            if self._at(number, "continuation", k, kill):
                return
            c.send(part.body)
            head = b""
        c.send(b"\r\n")
        if self._at(number, "sent", 0, kill):
            return
        lines = c.until_tagged(tag)
        m = re.match(rb"%s OK \[APPENDUID \d+ ([\d:,]+)\]" % tag, lines[-1])
        assert m is not None, lines
        cmd.uids = uid_set(m[1])
        assert len(cmd.uids) == len(cmd.parts), lines
        self.answered.add(number)
        self._at(number, "ok", 0, kill)


def read_inbox(port: int) -> dict[tuple[int, int, int], tuple[int, str, str]]:
    """(client, command, part) -> (UID, FLAGS text, INTERNALDATE) of every INBOX message."""
    c = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    c.login("kim", "pw")
    typ, data = c.select("INBOX")
    assert typ == "OK", data
    out: dict[tuple[int, int, int], tuple[int, str, str]] = {}
    if int(data[0] or 0) > 0:
        typ, data = c.uid("FETCH", "1:*",
                          "(UID FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            m = SUBJECT_RE.search(item[1])
            assert m is not None, item
            meta = item[0].decode()
            uid = re.search(r"UID (\d+)", meta)
            flags = re.search(r"FLAGS \(([^)]*)\)", meta)
            date = re.search(r'INTERNALDATE "([^"]+)"', meta)
            assert uid and flags and date, meta
            key = (int(m[1]), int(m[2]), int(m[3]))
            assert key not in out, f"message {key} stored twice"
            out[key] = (int(uid[1]), flags[1], date[1])
    c.logout()
    return out


def trial(tmp_path: Path, n: int) -> None:
    rng = random.Random(n)
    data = tmp_path / "data"
    assert crispin(data, "user", "add", "kim", "--password-stdin", "--create",
                   stdin="pw\n").returncode == 0
    clients = [Client(i, [make_command(rng, i, k) for k in range(rng.randint(2, 6))])
               for i in range(rng.randint(1, 3))]
    killer = clients[0]
    number = rng.randrange(len(killer.commands))
    stage = rng.choice(["continuation", "sent", "ok"])
    k = rng.randrange(len(killer.commands[number].parts)) if stage == "continuation" else 0
    killer.kill_at = (number, stage, k)

    srv = ServerProcess(data)
    kill = threading.Event()
    threads = [threading.Thread(target=cl.run, args=(srv.port, kill)) for cl in clients]
    try:
        for t in threads:
            t.start()
        # The killer sets ``kill`` at its chosen moment; if a client failed before, its thread
        # ends without setting it, which the assertion below reports.
        while not kill.wait(1):
            assert threads[0].is_alive(), "the killing client stopped before its moment"
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(30)
    finally:
        kill.set()
        killer.killed.set()
        srv.kill()
        for t in threads:
            t.join(60)
    assert killer.kill_at[0] in killer.answered or stage != "ok"

    # Right after the crash, only leftovers of the cut-off command (a temporary file, a
    # body file for a transaction that never committed) may show; the next start removes them.
    after_crash = crispin(data, "check")
    problems = [line for line in after_crash.stdout.splitlines()
                if line != "ok" and not line.startswith(("temporary_file:", "orphan_file:"))]
    assert problems == [], after_crash.stdout

    again = ServerProcess(data)
    try:
        stored = read_inbox(again.port)
    finally:
        again.terminate()
    for cl in clients:
        for number, cmd in enumerate(cl.commands):
            there = [(cl.n, number, j) in stored for j in range(len(cmd.parts))]
            # RFC 3502 §6.3.11: all of the command's messages, or none of them
            assert all(there) or not any(there), (cl.n, number, there)
            if number not in cl.answered:
                continue
            assert all(there), f"MULTIAPPEND c{cl.n}-{number} answered OK, then lost"
            for j, (part, uid) in enumerate(zip(cmd.parts, cmd.uids, strict=True)):
                got_uid, flags, date = stored[(cl.n, number, j)]
                assert got_uid == uid, (cl.n, number, j, got_uid, uid)  # RFC 4315 §3
                assert set(part.flags) <= set(flags.split()), (part.flags, flags)
                if part.date is not None:
                    assert date == part.date, (date, part.date)
    final = crispin(data, "check")
    assert (final.returncode, final.stdout.strip()) == (0, "ok"), final.stdout


@pytest.mark.parametrize("n", [
    pytest.param(n, marks=[pytest.mark.slow] if n else []) for n in range(TRIALS)
])
def test_multiappend_is_all_or_nothing_under_sigkill(tmp_path: Path, n: int) -> None:
    trial(tmp_path, n)
