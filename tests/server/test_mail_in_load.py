"""Mail in under load (issue 12, "Numbers"): eight SMTP senders at once, their deliveries
group-committed, killed mid-stream (RFC 5321 §6.1: nothing answered 250 is lost, and no
message is half stored); new mail's full-text indexing off the delivery's transaction, with
SEARCH TEXT exact before, during and after it."""

from __future__ import annotations

import imaplib
import re
import signal
import smtplib
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from crispin.server import backfill
from tests.server.harness import ServerThread
from tests.server.process import ServerProcess
from tests.server.smtp_helpers import smtp_port, split_received
from tests.storage.helpers import fts_documents

ROOT = Path(__file__).resolve().parents[2]
SENDERS = 8


def message(worker: int, i: int) -> bytes:
    subject = b"w%d-%d" % (worker, i)
    # The subject ends in "." so SEARCH TEXT "w1-1." finds that one message, not w1-10..
    return (b"Subject: " + subject + b".\r\nTo: kim@x\r\n\r\n"
            + b"line %d of it\r\n" % i * (1 + i * 7 % 300))


@pytest.mark.parametrize("synchronous", ["full", "normal"])
def test_eight_senders_killed_mid_stream_lose_nothing_answered(tmp_path: Path,
                                                               synchronous: str) -> None:
    """``database.synchronous = normal`` (no fsync per commit) keeps this promise too: the
    process dies, the kernel keeps what was written (only a power cut would lose it)."""
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "crispin", "user", "add", "kim", "--password-stdin",
                    "--create", "--data-dir", str(data)], input="pw\n", text=True, cwd=ROOT,
                   check=True, timeout=60)
    env = {"CRISPIN_DATABASE_SYNCHRONOUS": synchronous}
    srv = ServerProcess(data, env=env)
    assert ("database.synchronous = normal" in "".join(srv.output)) == (synchronous == "normal")
    port = srv.mail_ports["smtp"]
    answered: dict[bytes, bytes] = {}  # subject -> message, for every 250
    attempted: dict[bytes, bytes] = {}  # every message whose DATA was started
    lock = threading.Lock()
    enough = threading.Event()

    def sender(worker: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                for i in range(100000):
                    body = message(worker, i)
                    subject = b"w%d-%d" % (worker, i)
                    with lock:
                        attempted[subject] = body
                    smtp.sendmail("s@x", ["kim@x"], body)  # returns only after 250
                    with lock:
                        answered[subject] = body
                        if len(answered) >= 15 * SENDERS:
                            enough.set()
        except (OSError, smtplib.SMTPException):
            pass  # the server died under us: expected
        finally:
            enough.set()

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(SENDERS)]
    for t in threads:
        t.start()
    assert enough.wait(120)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    for t in threads:
        t.join(60)
    srv.kill()
    assert len(answered) >= 15 * SENDERS, "the senders made too little progress"

    after = ServerProcess(data, env=env)
    try:
        imap = imaplib.IMAP4("127.0.0.1", after.port, timeout=30)
        imap.login("kim", "pw")
        imap.select("INBOX")
        typ, data_ = imap.fetch("1:*", "(RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK"
        stored: dict[bytes, bytes] = {}
        for part in data_:
            if not isinstance(part, tuple):
                continue
            size = int(re.search(rb"RFC822.SIZE (\d+)", part[0])[1])  # type: ignore[index]
            assert size == len(part[1])
            _, sent = split_received(part[1])
            subject = re.match(rb"Subject: (\S+)\.\r\n", sent)[1]  # type: ignore[index]
            assert subject not in stored, f"{subject!r} stored twice"
            stored[subject] = sent
        # Every 250 is there; whatever else is there is a whole message that was being sent
        # when the kill came (its 250 never reached the sender), byte for byte.
        assert set(answered) <= set(stored), set(answered) - set(stored)
        for subject, sent in stored.items():
            assert sent == attempted[subject], f"{subject!r} stored other than sent"
        # And the text of every one is searchable after the restart (indexed or scanned).
        pick = sorted(answered)[len(answered) // 2]
        typ, found = imap.search(None, "TEXT", f'"{pick.decode()}."')
        assert typ == "OK" and len(found[0].split()) == 1
        imap.logout()
    finally:
        after.terminate()


def test_new_mail_is_indexed_after_delivery_and_searched_exactly_before(tmp_path: Path) -> None:
    srv = ServerThread(tmp_path / "data")
    try:
        srv.add_user("kim")
        indexer = srv.running.text_indexer
        assert indexer is not None
        srv.call(indexer.settled())
        before = fts_documents(srv.config.data_dir)
        # Hold the indexing (its lock, as another run of it would) while mail comes in.
        index_lock = backfill.lock(srv.running.ctx.store, "text-index")
        srv.call(index_lock.acquire())
        try:
            with smtplib.SMTP("127.0.0.1", smtp_port(srv), timeout=30) as smtp:
                for i in range(12):
                    word = "zeppelin" if i % 3 == 0 else "harbour"
                    smtp.sendmail("s@x", ["kim@x"],
                                  b"Subject: n%d\r\n\r\nthe %s of %d\r\n" % (i, word.encode(), i))
            # Answered 250 and stored, but not indexed in the delivery's transaction.
            assert fts_documents(srv.config.data_dir) == before
            assert srv.call(srv.running.ctx.store.text_unindexed()) == 12
            imap = srv.login("kim")
            imap.select("INBOX")
            typ, found = imap.search(None, "TEXT", '"zeppelin"')
            assert typ == "OK" and found[0].split() == [b"1", b"4", b"7", b"10"]
            typ, found = imap.search(None, "BODY", '"harbour of 1"')
            assert found[0].split() == [b"2", b"11", b"12"]
        finally:
            srv.call(_release(index_lock))
        srv.call(indexer.settled())
        assert fts_documents(srv.config.data_dir) == before + 12
        assert srv.call(srv.running.ctx.store.text_unindexed()) == 0
        typ, found = imap.search(None, "TEXT", '"zeppelin"')
        assert found[0].split() == [b"1", b"4", b"7", b"10"]
        typ, found = imap.search(None, "NOT", "BODY", '"harbour"')
        assert found[0].split() == [b"1", b"4", b"7", b"10"]
        imap.logout()
    finally:
        srv.stop()


async def _release(lock: object) -> None:
    lock.release()  # type: ignore[attr-defined]
