"""``Store.global_parts_after`` (the scan behind ``server.rederive.GlobalPartsJob``): messages
whose stored part tree names a message/global part, found in id order across scan chunks
however far apart they are, and the end of the scan reported as 0."""

from __future__ import annotations

import pytest

from crispin.storage import Store, User
from crispin.storage import rederive as rederive_mod

GLOBAL = (b'[1,[0,10,20,1,"multipart","mixed","","7bit",'
          b'[[0,1,2,0,"message","global","","7bit",[],null]],null]]')
PLAIN = b'[1,[0,10,20,1,"text","plain","","7bit",[],null]]'


async def test_the_scan_finds_rare_messages_across_chunks(
        store: Store, user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rederive_mod, "SCAN", 3)
    box = await store.get_mailbox(user.id, "INBOX")
    assert box is not None
    trees = [PLAIN] * 4 + [GLOBAL] + [PLAIN] * 5 + [GLOBAL, GLOBAL]
    for i, tree in enumerate(trees):
        await store.append_message(box.id, b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i), (),
                                   None, {"envelope": b"NIL", "bodystructure": b"NIL",
                                          "body_simple": b"NIL", "part_tree": tree})
    found: list[int] = []
    after, chunks = 0, 0
    while True:
        rows, reached = await store.global_parts_after(after, limit=1)
        chunks += 1
        if not reached:
            break
        assert reached > after
        found += [mid for mid, _ in rows]
        assert all(raw.startswith(b"Subject: ") for _, raw in rows)
        after = reached
    ids = [mid for mid, in await store.database.read(
        lambda c: c.execute("SELECT id FROM messages ORDER BY id").fetchall())]
    assert found == [ids[4], ids[10], ids[11]]
    assert chunks >= len(trees) // 3
