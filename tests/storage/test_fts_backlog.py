"""The full-text index of mail stored before it existed (issue 15): migration 9 no longer
indexes it at database open; the backlog (``storage/text_index.py``) is indexed in batches,
and SEARCH BODY/TEXT answers exactly as the scan at every moment of it."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from crispin.storage import MailboxInfo, Store, User
from crispin.storage.search import Not, TextContains

from .helpers import FAST_N, as_before_the_index
from .helpers import fts_documents as index_size
from .helpers import text_parsed as parsed

WORDS = ["zeppelin", "harbour", "noon", "rehearsal", "xylophonist", "quarterly", "ß", "straße"]


async def fill(store: Store, user: User, n: int) -> tuple[int, list[str]]:
    box = await store.get_mailbox(user.id, "INBOX")
    assert isinstance(box, MailboxInfo)
    rng = random.Random(1515)
    bodies = []
    for i in range(n):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 4))).upper()
        bodies.append(body.casefold())
        await store.append_message(box.id, b"m%d" % i, (), None, parsed(f"subject: {i}", body))
    return box.id, bodies


async def test_backlog_searched_exactly_while_it_is_indexed(data_dir: Path) -> None:
    store = await Store.open(data_dir, scrypt_n=FAST_N)
    user = await store.create_user("alice", "secret")
    box_id, bodies = await fill(store, user, 40)
    await store.close()
    as_before_the_index(data_dir)

    store = await Store.open(data_dir, scrypt_n=FAST_N)  # migrations 9.. run here
    try:
        assert index_size(data_dir) == 0  # nothing indexed at open
        first, last = await store.text_backlog()
        assert (first, last) == (1, 40)
        # Mail arriving now waits for the index too (migration 15), after the backlog.
        await store.append_message(box_id, b"new", (), None, parsed("", "new zeppelin"))
        bodies.append("new zeppelin")
        assert index_size(data_dir) == 0
        assert await store.text_unindexed() == 41

        async def answers_are_the_scan() -> None:
            for word in [*WORDS, "pel", "zeppelin harbour", "ss"]:
                folded = word.casefold()
                want = [uid for uid, b in enumerate(bodies, 1) if folded in b]
                assert await store.search(box_id, TextContains("body", word)) == want, word
                headers = [f"subject: {i}" for i in range(len(bodies) - 1)] + [""]
                nots = [uid for uid, (h, b) in enumerate(zip(headers, bodies, strict=True), 1)
                        if folded not in h and folded not in b]
                assert await store.search(box_id, Not(TextContains("text", word))) == nots

        await answers_are_the_scan()
        steps = 0
        while await store.index_text_backlog(7):
            steps += 1
            await answers_are_the_scan()  # halfway, at every step
        assert steps == 6
        assert await store.text_backlog() == (41, 40)
        assert not await store.text_index_pending()
        assert index_size(data_dir) == 41
        await answers_are_the_scan()
    finally:
        await store.close()
    conn = sqlite3.connect(data_dir / "crispin.db")
    conn.execute("INSERT INTO message_text_fts (message_text_fts) VALUES ('integrity-check')")
    conn.close()


async def test_a_new_store_has_no_backlog(store: Store, user: User) -> None:
    assert await store.text_backlog() == (1, 0)
    assert not await store.text_index_pending()
    assert await store.index_text_backlog(10) == 0


async def test_backlog_messages_can_go(data_dir: Path) -> None:
    """Deleting a message of the backlog (EXPUNGE, then the sweep) does not touch the
    index; the batch that reaches its id skips it."""
    store = await Store.open(data_dir, scrypt_n=FAST_N)
    user = await store.create_user("alice", "secret")
    box_id, bodies = await fill(store, user, 10)
    await store.close()
    as_before_the_index(data_dir)
    store = await Store.open(data_dir, scrypt_n=FAST_N)
    try:
        await store.store_flags(box_id, [2, 5, 10], "add", ["\\Deleted"])
        assert (await store.expunge(box_id))[0] == [2, 5, 10]
        await store.sweep_messages()
        while await store.index_text_backlog(3):
            pass
        assert index_size(data_dir) == 7
        want = [uid for uid, b in enumerate(bodies, 1)
                if "zeppelin" in b and uid not in (2, 5, 10)]
        assert await store.search(box_id, TextContains("body", "zeppelin")) == want
    finally:
        await store.close()
    conn = sqlite3.connect(data_dir / "crispin.db")
    conn.execute("INSERT INTO message_text_fts (message_text_fts) VALUES ('integrity-check')")
    conn.close()
