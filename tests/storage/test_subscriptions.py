"""Subscriptions by name (RFC 3501 §6.3.6, §6.3.7)."""

from __future__ import annotations

import pytest

from crispin.storage import InvalidName, NotFound, Store, User


async def test_subscribe_and_list_sorted(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "b")
    await store.subscribe(user.id, "b")
    await store.subscribe(user.id, "INBOX")
    await store.subscribe(user.id, "a/c")
    assert await store.list_subscriptions(user.id) == ["INBOX", "a/c", "b"]


async def test_subscribe_is_idempotent(store: Store, user: User) -> None:
    await store.subscribe(user.id, "x")
    await store.subscribe(user.id, "x")
    assert await store.list_subscriptions(user.id) == ["x"]


async def test_subscribe_nonexistent_name(store: Store, user: User) -> None:
    await store.subscribe(user.id, "does/not/exist")
    assert await store.list_subscriptions(user.id) == ["does/not/exist"]
    assert await store.get_mailbox(user.id, "does/not/exist") is None


async def test_subscription_survives_delete(store: Store, user: User) -> None:
    await store.create_mailbox(user.id, "gone")
    await store.subscribe(user.id, "gone")
    await store.delete_mailbox(user.id, "gone")
    assert await store.list_subscriptions(user.id) == ["gone"]


async def test_unsubscribe(store: Store, user: User) -> None:
    await store.subscribe(user.id, "x")
    await store.unsubscribe(user.id, "x")
    assert await store.list_subscriptions(user.id) == []
    with pytest.raises(NotFound):
        await store.unsubscribe(user.id, "x")


async def test_subscriptions_are_per_user_and_case_sensitive(store: Store, user: User) -> None:
    bob = await store.create_user("bob", "pw")
    await store.subscribe(user.id, "News")
    await store.subscribe(bob.id, "news")
    assert await store.list_subscriptions(user.id) == ["News"]
    assert await store.list_subscriptions(bob.id) == ["news"]
    with pytest.raises(NotFound):
        await store.unsubscribe(user.id, "news")


async def test_subscribe_invalid(store: Store, user: User) -> None:
    with pytest.raises(InvalidName):
        await store.subscribe(user.id, "")
    with pytest.raises(NotFound):
        await store.subscribe(4242, "x")
