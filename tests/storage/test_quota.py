"""Quotas (RFC 9208) in storage: roots, limits, usage and the pre-write check."""

from __future__ import annotations

import asyncio

import pytest

from crispin.storage import MailboxInfo, NotFound, OverQuota, Store, User
from crispin.storage.models import Quota, QuotaResource

from .helpers import query

PARSED = {"envelope": b"(ENV)", "bodystructure": b"(BS)", "body_simple": b"(B)"}


def message(size: int, tag: int) -> bytes:
    """A distinct message body of exactly ``size`` octets."""
    head = b"Subject: %d\r\n\r\n" % tag
    return head + b"x" * (size - len(head))


async def append(store: Store, box: MailboxInfo, size: int, tag: int, *flags: str) -> int:
    uid, _ = await store.append_message(box.id, message(size, tag), flags, None, PARSED)
    return uid


@pytest.fixture
async def inbox(store: Store, user: User) -> MailboxInfo:
    found = await store.get_mailbox(user.id, "INBOX")
    assert found is not None
    return found


# -- set / get / remove ------------------------------------------------------------------


async def test_no_quota_by_default(store: Store, user: User) -> None:
    assert await store.get_quota("user", user.id) is None


async def test_set_get_remove(store: Store, user: User) -> None:
    await store.set_quota("user", user.id, 100, 10)
    assert await store.get_quota("user", user.id) == Quota(
        "user", user.id, [QuotaResource("STORAGE", 0, 100), QuotaResource("MESSAGE", 0, 10)]
    )
    await store.set_quota("user", user.id, None, 5)  # replaces both limits
    assert await store.get_quota("user", user.id) == Quota(
        "user", user.id, [QuotaResource("MESSAGE", 0, 5)]
    )
    await store.set_quota("user", user.id, 0, None)  # 0 is a limit, not "none"
    assert await store.get_quota("user", user.id) == Quota(
        "user", user.id, [QuotaResource("STORAGE", 0, 0)]
    )
    await store.set_quota("user", user.id, None, None)
    assert await store.get_quota("user", user.id) is None
    await store.set_quota("user", user.id, None, None)  # removing nothing is fine


async def test_has_quota_follows_set_quota(store: Store, user: User, inbox: MailboxInfo) -> None:
    """``has_quota`` (the SMTP router's cached early check) and the count of changes its
    cache compares."""
    assert await store.has_quota(inbox.id) is False
    before = store.quota_changes
    await store.set_quota("user", user.id, None, 3)
    assert store.quota_changes == before + 1
    assert await store.has_quota(inbox.id) is True
    await store.set_quota("user", user.id, None, None)
    assert await store.has_quota(inbox.id) is False
    with pytest.raises(NotFound):
        await store.has_quota(inbox.id + 1000)


async def test_set_quota_errors(store: Store, user: User, inbox: MailboxInfo) -> None:
    with pytest.raises(ValueError):
        await store.set_quota("group", 1, 10, None)
    with pytest.raises(ValueError):
        await store.set_quota("user", user.id, -1, None)
    with pytest.raises(ValueError):
        await store.set_quota("user", user.id, None, -5)
    with pytest.raises(NotFound):
        await store.set_quota("user", 424242, 10, None)
    with pytest.raises(NotFound):  # a user's mailbox is not a root of its own
        await store.set_quota("mailbox", inbox.id, 10, None)
    sub = await store.create_shared_mailbox("Team/Sub")
    with pytest.raises(NotFound):  # only top-level shared mailboxes are roots
        await store.set_quota("mailbox", sub.id, 10, None)
    with pytest.raises(NotFound):
        await store.set_quota("mailbox", 424242, 10, None)
    with pytest.raises(ValueError):
        await store.get_quota("group", 1)


# -- usage -------------------------------------------------------------------------------


async def test_usage_after_appends_copies_and_expunges(
    store: Store, user: User, inbox: MailboxInfo
) -> None:
    other = await store.create_mailbox(user.id, "Archive/2024")
    bob = await store.create_user("bob", "secret")
    bob_inbox = await store.get_mailbox(bob.id, "INBOX")
    assert bob_inbox is not None
    await store.set_quota("user", user.id, 1000, 1000)

    await append(store, inbox, 1000, 1)
    await append(store, inbox, 1500, 2, "\\Deleted")
    await append(store, other, 100, 3)
    await append(store, bob_inbox, 50_000, 4)  # another user's: not counted
    quota = await store.get_quota("user", user.id)
    assert quota is not None
    # 2600 octets -> 3 KiB (rounded up once, over the total).
    assert quota.resources == [
        QuotaResource("STORAGE", 3, 1000),
        QuotaResource("MESSAGE", 3, 1000),
    ]
    # A copy counts again (each mailbox holds the message), though the bytes are shared.
    await store.copy_messages(inbox.id, [1], other.id)
    quota = await store.get_quota("user", user.id)
    assert quota is not None and [r.usage for r in quota.resources] == [4, 4]  # 3600 octets
    await store.expunge(inbox.id)
    quota = await store.get_quota("user", user.id)
    assert quota is not None and [r.usage for r in quota.resources] == [3, 3]  # 2100 octets
    await store.delete_mailbox(user.id, "Archive/2024")
    quota = await store.get_quota("user", user.id)
    assert quota is not None and [r.usage for r in quota.resources] == [1, 1]


async def test_usage_of_shared_root(store: Store, user: User, inbox: MailboxInfo) -> None:
    team = await store.create_shared_mailbox("Team")
    sales = await store.create_shared_mailbox("Team/Sales/Q1")
    dash = await store.create_shared_mailbox("Team-x")  # sorts between "Team" and "Team/"
    teamx = await store.create_shared_mailbox("Teamx")
    await store.set_quota("mailbox", team.id, 10, 10)
    await append(store, team, 2048, 1)
    await append(store, sales, 1, 2)
    for i, b in enumerate([dash, teamx, inbox]):
        await append(store, b, 4096, 10 + i)
    assert await store.get_quota("mailbox", team.id) == Quota(
        "mailbox", team.id, [QuotaResource("STORAGE", 3, 10), QuotaResource("MESSAGE", 2, 10)]
    )
    assert await store.get_quota("mailbox", dash.id) is None


# -- quota roots -------------------------------------------------------------------------


async def test_quota_root_of(store: Store, user: User, inbox: MailboxInfo) -> None:
    sub = await store.create_mailbox(user.id, "a/b")
    assert await store.quota_root_of(inbox.id) == ("user", user.id)
    assert await store.quota_root_of(sub.id) == ("user", user.id)
    q1 = await store.create_shared_mailbox("Team/Sales/Q1")
    team = await store.get_shared_mailbox("Team")
    assert team is not None
    assert await store.quota_root_of(team.id) == ("mailbox", team.id)
    assert await store.quota_root_of(q1.id) == ("mailbox", team.id)
    with pytest.raises(NotFound):
        await store.quota_root_of(424242)


# -- check_quota -------------------------------------------------------------------------


async def test_check_without_quota(store: Store, user: User, inbox: MailboxInfo) -> None:
    await append(store, inbox, 5000, 1)
    assert await store.check_quota(inbox.id, 10**12, 10**9) is None
    with pytest.raises(NotFound):
        await store.check_quota(424242, 1, 1)


async def test_check_storage_limit(store: Store, user: User, inbox: MailboxInfo) -> None:
    await store.set_quota("user", user.id, 2, None)  # 2048 octets
    await append(store, inbox, 1000, 1)
    assert await store.check_quota(inbox.id, 1048, 1) is None  # exactly at the limit
    assert await store.check_quota(inbox.id, 1049, 1) == QuotaResource("STORAGE", 1, 2)
    other = await store.create_mailbox(user.id, "Other")
    assert await store.check_quota(other.id, 1049, 1) == QuotaResource("STORAGE", 1, 2)
    await append(store, inbox, 1048, 2)
    assert await store.check_quota(inbox.id, 0, 0) is None
    assert await store.check_quota(inbox.id, 1, 1) == QuotaResource("STORAGE", 2, 2)
    # A limit lowered below the usage refuses any addition.
    await store.set_quota("user", user.id, 1, None)
    assert await store.check_quota(inbox.id, 0, 0) == QuotaResource("STORAGE", 2, 1)


async def test_check_message_limit(store: Store, user: User, inbox: MailboxInfo) -> None:
    await store.set_quota("user", user.id, None, 2)
    await append(store, inbox, 10, 1)
    assert await store.check_quota(inbox.id, 10**9, 1) is None  # no STORAGE limit
    assert await store.check_quota(inbox.id, 10, 2) == QuotaResource("MESSAGE", 1, 2)
    await append(store, inbox, 10, 2)
    assert await store.check_quota(inbox.id, 10, 1) == QuotaResource("MESSAGE", 2, 2)


async def test_check_reports_storage_first(store: Store, user: User, inbox: MailboxInfo) -> None:
    await store.set_quota("user", user.id, 1, 1)
    await append(store, inbox, 1024, 1)
    assert await store.check_quota(inbox.id, 1, 1) == QuotaResource("STORAGE", 1, 1)
    assert await store.check_quota(inbox.id, 0, 1) == QuotaResource("MESSAGE", 1, 1)


async def test_check_shared_inferior_uses_top_root(store: Store, user: User) -> None:
    q1 = await store.create_shared_mailbox("Team/Sales/Q1")
    team = await store.get_shared_mailbox("Team")
    assert team is not None
    assert await store.check_quota(q1.id, 10**9, 10**6) is None
    await store.set_quota("mailbox", team.id, None, 1)
    await append(store, team, 10, 1)
    assert await store.check_quota(q1.id, 10, 1) == QuotaResource("MESSAGE", 1, 1)
    # The user's own quota does not apply to shared mailboxes.
    await store.set_quota("user", user.id, 0, 0)
    await store.set_quota("mailbox", team.id, None, None)
    assert await store.check_quota(q1.id, 10, 1) is None


# -- quota rows go with their root -------------------------------------------------------


async def test_quota_rows_go_with_their_root(store: Store, user: User) -> None:
    bob = await store.create_user("bob", "secret")
    await store.set_quota("user", user.id, 10, None)
    await store.set_quota("user", bob.id, 10, None)
    team = await store.create_shared_mailbox("Team")
    lobby = await store.create_shared_mailbox("Lobby")
    await store.set_quota("mailbox", team.id, None, 3)
    await store.set_quota("mailbox", lobby.id, None, 3)

    await store.delete_user("bob")
    assert await store.get_quota("user", bob.id) is None
    await store.delete_shared_mailbox("Team")
    # Renamed below another level, "Lobby" is no longer a root: its quota goes.
    await store.create_shared_mailbox("Hall")
    await store.rename_shared_mailbox("Lobby", "Hall/Lobby")
    assert await store.quota_root_of(lobby.id) != ("mailbox", lobby.id)
    rows = query(store.data_dir, "SELECT root_kind, root_id FROM quotas ORDER BY root_kind")
    assert rows == [("user", user.id)]
    with pytest.raises(NotFound):
        await store.set_quota("mailbox", lobby.id, None, 1)
    # A top-level rename keeps the root and its quota.
    hall = await store.get_shared_mailbox("Hall")
    assert hall is not None
    await store.set_quota("mailbox", hall.id, 5, None)
    await store.rename_shared_mailbox("Hall", "Atrium")
    assert await store.get_quota("mailbox", hall.id) == Quota(
        "mailbox", hall.id, [QuotaResource("STORAGE", 0, 5)]
    )


# -- enforced inside the write transaction --------------------------------------------------


async def test_concurrent_appends_cannot_overshoot(store: Store, user: User,
                                                   inbox: MailboxInfo) -> None:
    """20 APPENDs at once against a 5-message quota: each is checked in the transaction
    that adds it, so exactly 5 land (they share group-commit batches)."""
    await store.set_quota("user", user.id, None, 5)
    results = await asyncio.gather(
        *(append(store, inbox, 100, i) for i in range(20)), return_exceptions=True
    )
    assert sum(isinstance(r, int) for r in results) == 5
    refused = [r for r in results if not isinstance(r, int)]
    assert all(isinstance(r, OverQuota) and r.resource == "MESSAGE" for r in refused)
    assert (await store.get_quota("user", user.id)) == Quota(
        "user", user.id, [QuotaResource("MESSAGE", 5, 5)])


async def test_concurrent_copies_cannot_overshoot(store: Store, user: User,
                                                  inbox: MailboxInfo) -> None:
    uids = [await append(store, inbox, 1000, i) for i in range(3)]
    other = await store.create_mailbox(user.id, "Other")
    await store.set_quota("user", user.id, 6, None)  # 6144 octets: room for 3 more
    results = await asyncio.gather(
        *(store.copy_messages(inbox.id, uids, other.id) for _ in range(4)),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results].count("CopyResult") == 1
    assert all(isinstance(r, OverQuota) for r in results if not hasattr(r, "uid_map"))
    assert len(await store.list_messages(other.id)) == 3
    # A MOVE within the root adds nothing and is allowed even at the limit.
    moved = await store.move_messages(other.id, [1], inbox.id)
    assert moved.uid_map


async def test_copy_counts_every_copy_of_a_shared_body(store: Store, user: User,
                                                       inbox: MailboxInfo) -> None:
    uid = await append(store, inbox, 1000, 1)
    await store.copy_messages(inbox.id, [uid], inbox.id)  # the same body twice
    await store.set_quota("user", user.id, 3, None)  # 3072: 2000 used, 2000 more refused
    with pytest.raises(OverQuota):
        await store.copy_messages(inbox.id, [1, 2], inbox.id)
