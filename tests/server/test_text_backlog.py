"""Issue 15: a store whose mail was stored before the full-text index existed opens without
indexing it (migration 9 used to, for minutes); the server indexes it in the background, and
SEARCH TEXT over a real socket answers exactly, before, during and after."""

from __future__ import annotations

import imaplib
import random
from pathlib import Path

import pytest

from crispin.server.text_index import TextIndexJob
from tests.server.harness import ServerThread
from tests.storage.helpers import as_before_the_index
from tests.storage.helpers import fts_documents as index_size

WORDS = ["zeppelin", "harbour", "noon", "rehearsal", "Zeppelin", "ZEP", "pelican"]


def numbers(client: imaplib.IMAP4, *criteria: str) -> list[int]:
    typ, data = client.search(None, *criteria)
    assert typ == "OK"
    return [int(n) for n in data[0].split()]


def test_search_text_is_exact_while_the_backlog_is_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    rng = random.Random(15)
    bodies = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 3))) for _ in range(60)]
    srv = ServerThread(data)
    try:
        srv.add_user("alice")
        c = srv.login()
        for i, body in enumerate(bodies):
            msg = f"Subject: message {i}\r\n\r\n{body}\r\n".encode()
            assert c.append("INBOX", None, None, msg)[0] == "OK"
        c.logout()
    finally:
        srv.stop()
    as_before_the_index(data)

    # One message per transaction: the searches below meet the backlog half done.
    monkeypatch.setattr(TextIndexJob, "batch", 1)
    srv = ServerThread(data)
    try:
        c = srv.login()
        c.select("INBOX")
        want = {w: [n for n, b in enumerate(bodies, 1) if w.casefold() in b.casefold()]
                for w in ("zeppelin", "pelica", "harbour noon")}
        task = srv.running.text_index
        assert task is not None
        while True:
            finished = task.done()
            for word, expected in want.items():
                assert numbers(c, "TEXT", f'"{word}"') == expected, word
                assert numbers(c, "BODY", f'"{word}"') == expected, word
            if finished:
                break
        assert task.result() == 60
        assert srv.call(srv.running.ctx.store.text_backlog()) == (61, 60)
        assert index_size(data) == 60
        c.logout()
    finally:
        srv.stop()
