"""Nothing answered OK is lost when the process is killed (SIGKILL, no clean shutdown)."""

from __future__ import annotations

import imaplib
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def message(i: int) -> bytes:
    return (b"From: crash@example.com\r\nSubject: message %d\r\n\r\n" % i) + b"x" * (i * 37 % 3000)


def test_sigkill_during_appends_and_stores(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "crispin", "user", "add", "kim", "--password-stdin",
                    "--create", "--data-dir", str(data)], input="pw\n", text=True, cwd=ROOT,
                   check=True, timeout=60)
    srv = ServerProcess(data)
    appended: dict[int, int] = {}  # uid -> message number, for every APPEND answered OK
    flagged: set[int] = set()  # uids whose STORE was answered OK
    stop = threading.Event()
    # The kill lands once enough writes were acknowledged, whatever the machine's speed.
    progressed = threading.Event()

    def writer(worker: int) -> None:
        client = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
        client.login("kim", "pw")
        client.select("INBOX")
        i = worker * 100000
        try:
            while not stop.is_set():
                i += 1
                typ, resp = client.append("INBOX", None, None, message(i))
                if typ != "OK":
                    continue
                uid = int(re.search(rb"APPENDUID \d+ (\d+)", resp[0])[1])  # type: ignore[index]
                appended[uid] = i
                if len(appended) > 40:
                    progressed.set()
                if i % 3 == 0:
                    typ, _ = client.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)")
                    if typ == "OK":
                        flagged.add(uid)
        except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
            pass  # the server died under us: expected
        finally:
            progressed.set()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    assert progressed.wait(120)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(15)
    srv.kill()
    assert len(appended) > 20, "the writers made too little progress to test anything"

    again = ServerProcess(data)
    try:
        client = imaplib.IMAP4("127.0.0.1", again.port, timeout=10)
        client.login("kim", "pw")
        client.select("INBOX")
        uids = sorted(appended)
        for start in range(0, len(uids), 200):
            chunk = ",".join(str(u) for u in uids[start:start + 200])
            typ, data_ = client.uid("FETCH", chunk, "(UID FLAGS BODY.PEEK[])")
            assert typ == "OK"
            found = {}
            for item in data_:
                if isinstance(item, tuple):
                    uid = int(re.search(rb"UID (\d+)", item[0])[1])  # type: ignore[index]
                    found[uid] = (item[0], item[1])
            for uid in uids[start:start + 200]:
                assert uid in found, f"acknowledged APPEND of UID {uid} lost"
                meta, body = found[uid]
                assert body == message(appended[uid])
                if uid in flagged:
                    assert b"\\Flagged" in meta, f"acknowledged STORE on UID {uid} lost"
        client.logout()
    finally:
        again.terminate()


def test_sigkill_during_moves_leaves_each_message_in_exactly_one_mailbox(tmp_path: Path) -> None:
    """RFC 6851 MOVE is one transaction: after a crash at any moment, every message is in
    the source or in the target, never in both or neither."""
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "crispin", "user", "add", "kim", "--password-stdin",
                    "--create", "--data-dir", str(data)], input="pw\n", text=True, cwd=ROOT,
                   check=True, timeout=60)
    total = 600
    mbox = tmp_path / "load.mbox"
    mbox.write_bytes(b"".join(b"From kim Mon Jan  6 10:00:00 2025\n" + message(i).replace(
        b"\r\n", b"\n") + b"\n" for i in range(total)))
    subprocess.run([sys.executable, "-m", "crispin", "import", "--user", "kim",
                    "--mailbox", "INBOX", str(mbox), "--data-dir", str(data)], cwd=ROOT,
                   check=True, timeout=120, capture_output=True)
    subprocess.run([sys.executable, "-m", "crispin", "mailbox", "create", "kim", "Target",
                    "--data-dir", str(data)], cwd=ROOT, check=True, timeout=60,
                   capture_output=True)
    srv = ServerProcess(data)
    stop = threading.Event()
    # The kill lands once some moves were acknowledged, whatever the machine's speed.
    moving = threading.Event()

    def mover() -> None:
        client = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
        client.login("kim", "pw")
        client.select("INBOX")
        try:
            for uid in range(1, total + 1):
                if stop.is_set():
                    return
                client.uid("MOVE", str(uid), "Target")
                if uid == 5:
                    moving.set()
        except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
            pass
        finally:
            moving.set()

    thread = threading.Thread(target=mover)
    thread.start()
    assert moving.wait(60)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    stop.set()
    thread.join(15)
    srv.kill()

    again = ServerProcess(data)
    try:
        client = imaplib.IMAP4("127.0.0.1", again.port, timeout=10)
        client.login("kim", "pw")
        subjects: list[bytes] = []
        counts = {}
        for box in ("INBOX", "Target"):
            counts[box] = int(client.select(box)[1][0])
            if counts[box]:
                typ, found = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
                assert typ == "OK"
                subjects += [item[1].strip() for item in found if isinstance(item, tuple)]
        assert len(subjects) == total
        assert sorted(subjects) == sorted(b"Subject: message %d" % i for i in range(total))
        moved = counts["Target"]
        assert 0 < moved < total, "the kill should land in the middle of the moves"
        client.logout()
    finally:
        again.terminate()
