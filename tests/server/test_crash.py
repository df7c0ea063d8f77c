"""Nothing answered OK is lost when the process is killed (SIGKILL, no clean shutdown)."""

from __future__ import annotations

import imaplib
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.server.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def message(i: int) -> bytes:
    return (b"From: crash@example.com\r\nSubject: message %d\r\n\r\n" % i) + b"x" * (i * 37 % 3000)


def test_sigkill_during_appends_and_stores(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "server.cli", "user", "add", "kim", "--password-stdin",
                    "--data-dir", str(data)], input="pw\n", text=True, cwd=ROOT, check=True,
                   timeout=60)
    srv = ServerProcess(data)
    appended: dict[int, int] = {}  # uid -> message number, for every APPEND answered OK
    flagged: set[int] = set()  # uids whose STORE was answered OK
    stop = threading.Event()

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
                if i % 3 == 0:
                    typ, _ = client.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)")
                    if typ == "OK":
                        flagged.add(uid)
        except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
            pass  # the server died under us: expected

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)
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
