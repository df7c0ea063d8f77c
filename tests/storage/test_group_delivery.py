"""Group commit of deliveries (issue 12, "Numbers"): deliveries that wait for the writer at
the same moment share one transaction and one fsync; each is answered only after that
COMMIT; one delivery's failure (over quota) does not fail the others of its group; the
commit report names every mailbox the group delivered to."""

from __future__ import annotations

import asyncio
import threading

from crispin.storage import ChangeKind, CommitReport, OverQuota, Store, User

from .helpers import query, text_parsed


async def test_deliveries_queued_together_share_one_commit(store: Store, user: User) -> None:
    users = [user] + [await store.create_user(f"u{i}", "pw") for i in range(7)]
    boxes = [await store.get_mailbox(u.id, "INBOX") for u in users]
    assert all(b is not None for b in boxes)
    box_ids = [b.id for b in boxes if b is not None]
    await store.set_quota("user", users[3].id, None, 0)  # u2's INBOX takes no message
    reports: list[CommitReport] = []
    store.on_commit(reports.append)

    # Hold the writer thread in a write of its own, so the eight deliveries below are all
    # queued when it comes back: the next batch takes them together (no timing involved).
    entered, release = threading.Event(), threading.Event()

    def hold(conn: object) -> None:
        entered.set()
        release.wait(60)

    before = store.database.batches
    holder = asyncio.ensure_future(store.database.write(hold))
    assert await asyncio.to_thread(entered.wait, 60)
    deliveries = [asyncio.ensure_future(store.append_to_mailboxes(
        [(box_id, ())], b"Subject: group %d\r\n\r\nbody %d\r\n" % (i, i), None,
        text_parsed(f"subject: group {i}", f"body {i}")))
        for i, box_id in enumerate(box_ids)]
    # Each delivery reaches the writer's queue within a few turns of the loop (an inline
    # body is prepared on the loop, no thread hop): yield until all eight are queued.
    for _ in range(50):
        if len(store.database._pending) == len(deliveries):
            break
        await asyncio.sleep(0)
    assert len(store.database._pending) == len(deliveries)
    assert not any(d.done() for d in deliveries)  # nobody answered before the commit
    release.set()
    await holder
    results = await asyncio.gather(*deliveries, return_exceptions=True)

    # The holder's transaction, then one transaction (one fsync) for the eight deliveries.
    assert store.database.batches - before == 2
    assert isinstance(results[3], OverQuota)
    for i, result in enumerate(results):
        if i != 3:
            assert result == [(1, result[0][1])], (i, result)  # type: ignore[index]
    delivered = [box_id for i, box_id in enumerate(box_ids) if i != 3]
    group = [r for r in reports if any(ChangeKind.APPENDED in c.kinds for c in r.changes)]
    assert len(group) == 1
    assert [c.mailbox_id for c in group[0].changes
            if ChangeKind.APPENDED in c.kinds] == sorted(delivered)
    # The refused delivery left nothing behind: no message row, no mailbox change.
    counts = dict(query(store.data_dir, "SELECT mailbox_id, count(*) FROM mailbox_messages"
                        " GROUP BY mailbox_id"))
    assert counts == {box_id: 1 for box_id in delivered}
    assert query(store.data_dir, "SELECT count(*) FROM messages") == [(7,)]
