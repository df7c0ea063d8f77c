"""SCRAM-SHA-256 keys beside the scrypt hash (schema 12): written with every password,
cleared with a bare hash, derived at the next right password (RFC 5802 §3)."""

from __future__ import annotations

from crispin.storage import Store
from crispin.storage.passwords import hash_password
from crispin.storage.scram import derive


async def keys_match(store: Store, name: str, password: str) -> bool:
    found = await store.scram_keys(name)
    assert found is not None
    keys = found[1]
    return keys is not None and derive(password, keys.salt, keys.iterations) == keys


async def test_every_password_gets_keys(store: Store) -> None:
    await store.create_user("alice", "first")
    assert await keys_match(store, "alice", "first")
    await store.set_password("alice", "second")
    assert await keys_match(store, "alice", "second")
    assert await store.update_password("alice", password="third")
    assert await keys_match(store, "alice", "third")
    assert await store.scram_keys("nobody") is None


async def test_bare_hash_clears_keys_until_a_login(store: Store) -> None:
    await store.create_user("bob", "old")
    await store.update_password("bob", password_hash=hash_password("new", 2**4))
    found = await store.scram_keys("bob")
    assert found is not None and found[1] is None  # the old password's keys are gone
    assert await store.verify_password("bob", "wrong") is None
    found = await store.scram_keys("bob")
    assert found is not None and found[1] is None
    assert await store.verify_password("bob", "new") is not None
    assert await keys_match(store, "bob", "new")


async def test_hashed_account_has_no_keys(store: Store) -> None:
    await store.create_user_hashed("carol", hash_password("pw", 2**4))
    found = await store.scram_keys("carol")
    assert found is not None and found[1] is None
