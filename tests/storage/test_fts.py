"""The trigram index of SEARCH text (migration 9): the same answers as a scan, for needles
of every length, non-ASCII case folding, and messages that come and go."""

from __future__ import annotations

import random
import sqlite3

from crispin.storage import MailboxInfo, Store, User
from crispin.storage.search import TextContains, compile_search

from .helpers import query
from .helpers import text_parsed as parsed

# Characters whose case folding changes length or is not one-to-one (ß, ẞ, İ, dotless i,
# final sigma), and the FTS5 and LIKE specials.
ALPHABET = "abcSs ßẞÉéiİ\u0131Σ\u03c3ς\"'%_\\*:(){}-"


async def test_index_answers_like_the_scan(store: Store, user: User) -> None:
    box = await store.get_mailbox(user.id, "INBOX")
    assert isinstance(box, MailboxInfo)
    rng = random.Random(15)
    texts = []
    for i in range(60):
        h = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))
        b = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 200)))
        texts.append((h.casefold(), b.casefold()))
        await store.append_message(box.id, b"m%d" % i, (), None, parsed(h, b))
    needles = ["", "a", "ss", "ß", "SS", "ẞe", "\"'%", "_\\*", "{body} : x", "ΣΑ", "éé",
               "abc", "İi"]
    needles += ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6)))
                for _ in range(80)]
    for needle in needles:
        folded = needle.casefold()
        for field in ("body", "headers", "text"):
            want = [uid for uid, (h, b) in enumerate(texts, 1)
                    if (field != "body" and folded in h) or (field != "headers" and folded in b)]
            got = await store.search(box.id, TextContains(field, needle))  # type: ignore[arg-type]
            assert got == want, (field, needle)


def test_short_needles_scan_long_ones_use_the_index() -> None:
    assert "message_text_fts" not in compile_search(TextContains("body", "ab")).where
    c = compile_search(TextContains("body", "abc"))
    assert "message_text_fts MATCH" in c.where and '{body} : ("abc")' in c.params
    c = compile_search(TextContains("text", 'a"bcd'))
    assert '{headers body} : ("""bc" AND "a""b" AND "bcd")' in c.params


async def test_index_follows_append_and_sweep(store: Store, user: User, data_dir) -> None:  # type: ignore[no-untyped-def]
    box = await store.get_mailbox(user.id, "INBOX")
    assert isinstance(box, MailboxInfo)
    await store.append_message(box.id, b"one", ("\\Deleted",), None, parsed("", "zeppelin one"))
    await store.append_message(box.id, b"two", (), None, parsed("", "zeppelin two"))
    assert await store.search(box.id, TextContains("body", "ZEPPELIN")) == [1, 2]  # scanned
    assert await store.index_text_backlog(10) == 2  # new mail is indexed after the commit
    assert await store.text_unindexed() == 0
    assert await store.search(box.id, TextContains("body", "ZEPPELIN")) == [1, 2]
    await store.expunge(box.id, [1])
    assert await store.search(box.id, TextContains("body", "zeppelin")) == [2]
    await store.sweep_messages()
    rows = query(data_dir, "SELECT rowid FROM message_text_fts WHERE message_text_fts MATCH ?",
                 ('"zep"',))
    assert len(rows) == 1  # the swept message left the index with its text
    conn = sqlite3.connect(data_dir / "crispin.db")
    conn.execute("INSERT INTO message_text_fts (message_text_fts) VALUES ('integrity-check')")
    conn.close()
