"""Annotations in storage (RFC 5464, storage/metadata.py): reads by user and depth, the
all-or-nothing write with its limits, and what the commit report says about them."""

from __future__ import annotations

import pytest

from crispin.storage import (
    ChangeKind,
    CommitReport,
    MetadataChange,
    MetadataLimits,
    MetadataTooBig,
    MetadataTooMany,
    NotFound,
    Store,
    User,
)

LIMITS = MetadataLimits(max_size=10, max_entries=3, max_user_entries=4)


async def test_private_entries_belong_to_their_user(store: Store, user: User) -> None:
    bob = await store.create_user("bob", "secret")
    box = (await store.create_mailbox(user.id, "Box")).id
    await store.set_metadata(box, user.id, [("/private/a", b"mine"), ("/shared/a", b"ours")],
                             LIMITS)
    assert await store.get_metadata(box, user.id, ["/private/a", "/shared/a"]) == \
        {"/private/a": b"mine", "/shared/a": b"ours"}
    assert await store.get_metadata(box, bob.id, ["/private/a", "/shared/a"]) == \
        {"/shared/a": b"ours"}
    # The server's entries are apart from the mailbox's.
    assert await store.get_metadata(None, user.id, ["/shared/a"]) == {}


async def test_depth_one_level_or_all(store: Store, user: User) -> None:
    entries: list[tuple[str, bytes | None]] = [("/shared/a", b"1"), ("/shared/a/b", b"2"),
                                                ("/shared/a/b/c", b"3")]
    await store.set_metadata(None, user.id, entries, MetadataLimits(10, 10, 10))
    assert set(await store.get_metadata(None, user.id, ["/shared/a"])) == \
        {"/shared/a", "/shared/a/b"}
    assert set(await store.get_metadata(None, user.id, ["/shared/a"], infinite=True)) == \
        {"/shared/a", "/shared/a/b", "/shared/a/b/c"}
    # "/shared/ab" is not below "/shared/a".
    await store.set_metadata(None, user.id, [("/shared/ab", b"x")], MetadataLimits(10, 10, 10))
    assert "/shared/ab" not in await store.get_metadata(None, user.id, ["/shared/a"], True)


async def test_limits_leave_nothing_changed(store: Store, user: User) -> None:
    await store.set_metadata(None, user.id, [("/private/a", b"1")], LIMITS)
    with pytest.raises(MetadataTooBig) as too_big:
        await store.set_metadata(None, user.id, [("/private/a", b"2"), ("/private/b", b"x" * 11)],
                                 LIMITS)
    assert too_big.value.limit == 10
    with pytest.raises(MetadataTooMany):
        await store.set_metadata(None, user.id, [("/private/a", b"2"), ("/private/b", b"b"),
                                                 ("/private/c", b"c"), ("/private/d", b"d")],
                                 LIMITS)
    assert await store.get_metadata(None, user.id, ["/private/a", "/private/b"]) == \
        {"/private/a": b"1"}
    # Private entries of one user over every mailbox: 4.
    box = (await store.create_mailbox(user.id, "Box")).id
    await store.set_metadata(box, user.id, [("/private/b", b"b"), ("/private/c", b"c"),
                                            ("/private/d", b"d")], LIMITS)
    with pytest.raises(MetadataTooMany):
        await store.set_metadata(None, user.id, [("/private/e", b"e")], LIMITS)


async def test_commit_report_names_the_entries(store: Store, user: User) -> None:
    reports: list[CommitReport] = []
    store.on_commit(reports.append)
    box = (await store.create_mailbox(user.id, "Box")).id
    reports.clear()
    await store.set_metadata(box, user.id, [("/private/a", b"1"), ("/shared/a", b"2")], LIMITS)
    await store.set_metadata(None, user.id, [("/private/s", b"1")], LIMITS)
    [mailbox_report, server_report] = reports
    assert mailbox_report.metadata == (MetadataChange(box, None, "/shared/a"),
                                       MetadataChange(box, user.id, "/private/a"))
    [change] = mailbox_report.changes
    assert change.mailbox_id == box and change.kinds == {ChangeKind.METADATA}
    assert server_report.changes == ()
    assert server_report.metadata == (MetadataChange(None, user.id, "/private/s"),)
    reports.clear()
    # The same value again changes nothing and is not reported; NIL of a missing one neither.
    await store.set_metadata(box, user.id, [("/private/a", b"1"), ("/private/zz", None)],
                             LIMITS)
    assert reports == []
    await store.set_metadata(box, user.id, [("/private/a", None)], LIMITS)
    assert [r.metadata for r in reports] == [(MetadataChange(box, user.id, "/private/a"),)]
    reports.clear()
    # Deleting the mailbox takes its entries along: reported as the deletion only.
    await store.delete_mailbox(user.id, "Box")
    [report] = reports
    assert report.metadata == () and report.changes[0].kinds == {ChangeKind.DELETED}


async def test_set_on_a_deleted_mailbox_is_not_found(store: Store, user: User) -> None:
    box = (await store.create_mailbox(user.id, "Gone")).id
    await store.delete_mailbox(user.id, "Gone")
    with pytest.raises(NotFound):
        await store.set_metadata(box, user.id, [("/shared/a", b"x")], LIMITS)
