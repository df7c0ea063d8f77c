"""SIGKILL in the middle of a mixed load from several clients (APPEND, STORE, COPY, MOVE,
EXPUNGE, RENAME): every operation the server answered OK is there after a restart, and
``crispin check`` finds the data folder sound (issue 10, "Crash safety and invariants").

The kill comes when the clients have been answered OK a chosen number of times (read from
the clients, not timed), different in each trial. An operation in flight at the kill may or
may not have happened; only answered ones are checked, and nothing else may be damaged.
"""

from __future__ import annotations

import imaplib
import random
import re
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.server.acks import AckCounter
from tests.server.process import ServerProcess
from tests.server.process import run_crispin as crispin

WORKERS = 4
TRIALS = 20


def message(w: int, i: int) -> bytes:
    # Every 7th message is large, so that its body goes to a blob file.
    filler = b"z" * (300 * 1024) if i % 7 == 3 else b"x" * (i * 53 % 2000)
    return b"From: load@example.com\r\nSubject: w%d-%d\r\n\r\n" % (w, i) + filler + b"\r\n"


@dataclass
class Worker:
    """One client's acknowledged operations, by message number i (Subject "w<w>-<i>")."""

    w: int
    live: dict[int, int] = field(default_factory=dict)      # i -> UID in the worker's inbox
    flagged: set[int] = field(default_factory=set)
    copied: set[int] = field(default_factory=set)
    moved: set[int] = field(default_factory=set)
    expunged: set[int] = field(default_factory=set)
    renames: int = 0
    in_flight: tuple[str, int] | None = None

    @property
    def inbox(self) -> str:
        return f"W{self.w}"

    def run(self, port: int, acks: AckCounter, stop: threading.Event, seed: int) -> None:
        rng = random.Random(seed)
        try:
            c = imaplib.IMAP4("127.0.0.1", port, timeout=30)
            c.login("kim", "pw")
            c.select(self.inbox)
            i = 0
            while not stop.is_set():
                i += 1
                self.in_flight = ("append", i)
                typ, data = c.append(self.inbox, None, None, message(self.w, i))
                assert typ == "OK", data
                uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0])[1])  # type: ignore[index]
                self.live[i] = uid
                acks.add()
                if len(self.live) < 3:
                    continue
                op = rng.choice(["store", "copy", "move", "expunge", "rename"])
                j = rng.choice(sorted(self.live))
                self.in_flight = (op, j)
                if op == "store":
                    ok = c.uid("STORE", str(self.live[j]), "+FLAGS", "(\\Flagged)")[0]
                    if ok == "OK":
                        self.flagged.add(j)
                elif op == "copy":
                    if c.uid("COPY", str(self.live[j]), f"C{self.w}")[0] == "OK":
                        self.copied.add(j)
                elif op == "move":
                    if c.uid("MOVE", str(self.live[j]), f"M{self.w}")[0] == "OK":
                        self.moved.add(j)
                        del self.live[j]
                elif op == "expunge":
                    c.uid("STORE", str(self.live[j]), "+FLAGS.SILENT", "(\\Deleted)")
                    if c.uid("EXPUNGE", str(self.live[j]))[0] == "OK":
                        self.expunged.add(j)
                        del self.live[j]
                else:
                    old, new = f"R{self.w}-{self.renames}", f"R{self.w}-{self.renames + 1}"
                    if c.rename(old, new)[0] == "OK":
                        self.renames += 1
                self.in_flight = None
                acks.add()
        except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error, EOFError):
            pass  # the server was killed under us

    def check(self, c: imaplib.IMAP4) -> None:
        unsure = {self.in_flight[1]} if self.in_flight is not None else set()
        inbox, copies, moved = (self._read(c, box) for box in
                                (self.inbox, f"C{self.w}", f"M{self.w}"))
        for i in set(self.live) - unsure:
            assert i in inbox, f"acknowledged APPEND w{self.w}-{i} lost"
            if i in self.flagged:
                assert "\\Flagged" in inbox[i], f"acknowledged STORE on w{self.w}-{i} lost"
        for i in self.copied:
            assert i in copies, f"acknowledged COPY of w{self.w}-{i} lost"
        for i in self.moved:
            assert i in moved and i not in inbox, f"acknowledged MOVE of w{self.w}-{i} lost"
        for i in self.expunged:
            assert i not in inbox, f"acknowledged EXPUNGE of w{self.w}-{i} undone"
        names = {f"R{self.w}-{self.renames}"}
        if self.in_flight is not None and self.in_flight[0] == "rename":
            names.add(f"R{self.w}-{self.renames + 1}")
        typ, found = c.list('""', f'"R{self.w}-*"')
        listed = {line.decode().rsplit(" ", 1)[1].strip('"') for line in found if line}
        assert typ == "OK" and len(listed) == 1 and listed <= names, (listed, names)

    @staticmethod
    def _read(c: imaplib.IMAP4, box: str) -> dict[int, str]:
        """Message number -> flags, of every message in ``box``."""
        typ, data = c.select(box)
        assert typ == "OK", data
        if int(data[0]) == 0:
            return {}
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        out: dict[int, str] = {}
        for item in data:
            if isinstance(item, tuple):
                i = int(re.search(rb"Subject: w\d+-(\d+)", item[1])[1])  # type: ignore[index]
                out[i] = item[0].decode()
        return out


def trial(tmp_path: Path, n: int) -> None:
    data = tmp_path / "data"
    assert crispin(data, "user", "add", "kim", "--password-stdin", "--create",
                   stdin="pw\n").returncode == 0
    for w in range(WORKERS):
        for box in (f"W{w}", f"C{w}", f"M{w}", f"R{w}-0"):
            assert crispin(data, "mailbox", "create", "kim", box).returncode == 0
    rng = random.Random(n)
    kill_after = rng.randint(20, 120)
    srv = ServerProcess(data)
    workers = [Worker(w) for w in range(WORKERS)]
    acks, stop = AckCounter(), threading.Event()
    threads = [threading.Thread(target=wk.run, args=(srv.port, acks, stop, n * 100 + wk.w))
               for wk in workers]
    try:
        for t in threads:
            t.start()
        acks.wait_for(kill_after)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
    finally:
        stop.set()
        srv.kill()
        for t in threads:
            t.join(30)
    # Straight after the crash: nothing wrong but leftovers of operations cut off (a
    # temporary file, a body file installed for a transaction that never committed), which
    # the next start removes.
    after_crash = crispin(data, "check")
    problems = [line for line in after_crash.stdout.splitlines()
                if line != "ok" and not line.startswith(("temporary_file:", "orphan_file:"))]
    assert problems == [], after_crash.stdout

    again = ServerProcess(data)
    try:
        c = imaplib.IMAP4("127.0.0.1", again.port, timeout=30)
        c.login("kim", "pw")
        for wk in workers:
            wk.check(c)
        c.logout()
    finally:
        again.terminate()
    final = crispin(data, "check")
    assert (final.returncode, final.stdout.strip()) == (0, "ok"), final.stdout


@pytest.mark.parametrize("n", [
    pytest.param(n, marks=[pytest.mark.slow] if n else []) for n in range(TRIALS)
])
def test_sigkill_during_mixed_load(tmp_path: Path, n: int) -> None:
    trial(tmp_path, n)
