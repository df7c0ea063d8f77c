"""Users: creation, passwords (scrypt), deletion cascade."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest

from crispin.storage import AlreadyExists, InvalidName, NotFound, Store, User, passwords

from .helpers import FAST_N, db_path, insert_message, query

HASH_RE = re.compile(r"^scrypt\$(\d+)\$8\$1\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")


async def test_create_user_makes_inbox(store: Store) -> None:
    u = await store.create_user("alice", "pw")
    assert u == User(u.id, "alice")
    [inbox] = await store.list_mailboxes(u.id)
    assert inbox.name == "INBOX"
    assert not inbox.noselect
    assert inbox.owner_id == u.id
    assert await store.get_user("alice") == u
    assert await store.user_count() == 1


async def test_duplicate_user(store: Store) -> None:
    await store.create_user("alice", "pw")
    with pytest.raises(AlreadyExists):
        await store.create_user("alice", "other")
    assert await store.user_count() == 1


async def test_user_names_are_case_sensitive(store: Store) -> None:
    a = await store.create_user("alice", "one")
    b = await store.create_user("Alice", "two")
    assert a.id != b.id
    assert await store.verify_password("alice", "one") == a
    assert await store.verify_password("Alice", "one") is None
    assert await store.get_user("ALICE") is None


@pytest.mark.parametrize("name", ["", "a\x00b", "tab\tname", "x" * 256])
async def test_invalid_user_names(store: Store, name: str) -> None:
    with pytest.raises(InvalidName):
        await store.create_user(name, "pw")


async def test_list_users_sorted(store: Store) -> None:
    for name in ["carol", "alice", "bob"]:
        await store.create_user(name, "pw")
    assert [u.name for u in await store.list_users()] == ["alice", "bob", "carol"]
    assert await store.user_count() == 3


async def test_verify_password(store: Store) -> None:
    u = await store.create_user("alice", "right")
    assert await store.verify_password("alice", "right") == u
    assert await store.verify_password("alice", "wrong") is None
    assert await store.verify_password("alice", "") is None
    assert await store.verify_password("nobody", "right") is None


async def test_non_ascii_password(store: Store) -> None:
    u = await store.create_user("jörg", "pässwörd✓")
    assert await store.verify_password("jörg", "pässwörd✓") == u
    assert await store.verify_password("jörg", "passwort") is None


async def test_unknown_user_costs_one_hash_like_a_known_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.create_user("alice", "pw")
    calls: list[str] = []
    real = passwords.verify_password

    def counting(password: str, stored: str) -> bool:
        calls.append(stored)
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", counting)
    assert await store.verify_password("nobody", "pw") is None
    assert await store.verify_password("alice", "bad") is None
    assert len(calls) == 2
    known_n = HASH_RE.match(calls[1])
    unknown_n = HASH_RE.match(calls[0])
    assert known_n and unknown_n and known_n.group(1) == unknown_n.group(1) == str(FAST_N)


async def test_set_password(store: Store) -> None:
    u = await store.create_user("alice", "old")
    await store.set_password("alice", "new")
    assert await store.verify_password("alice", "new") == u
    assert await store.verify_password("alice", "old") is None
    with pytest.raises(NotFound):
        await store.set_password("nobody", "x")


async def test_stored_hash_format_and_salt(store: Store, data_dir: Path) -> None:
    await store.create_user("a", "same")
    await store.create_user("b", "same")
    hashes = [r[0] for r in query(data_dir, "SELECT password_hash FROM users ORDER BY name")]
    salts = set()
    for h in hashes:
        m = HASH_RE.match(str(h))
        assert m, h
        assert len(base64.b64decode(m.group(2))) == 16
        assert len(base64.b64decode(m.group(3))) == 32
        salts.add(m.group(2))
    assert len(salts) == 2  # random salt: equal passwords, different hashes


async def test_default_cost_is_2_14(tmp_path: Path) -> None:
    assert passwords.SCRYPT_N == 2**14
    s = await Store.open(tmp_path / "d")
    try:
        u = await s.create_user("alice", "pw")
        assert await s.verify_password("alice", "pw") == u
    finally:
        await s.close()
    [(h,)] = query(tmp_path / "d", "SELECT password_hash FROM users")
    assert str(h).startswith("scrypt$16384$8$1$")


def test_verify_rejects_malformed_hashes() -> None:
    good = passwords.hash_password("pw", FAST_N)
    assert passwords.verify_password("pw", good)
    for bad in [
        "",
        "plain",
        "md5$x",
        good.replace("scrypt", "bcrypt"),
        "scrypt$3$8$1$AA==$AA==",
        "scrypt$16$8$1$!!$AA==",
    ]:
        assert not passwords.verify_password("pw", bad)


async def test_no_plaintext_password_in_files(data_dir: Path) -> None:
    secret = "Correct-Horse-Battery-Staple-4711"
    s = await Store.open(data_dir, scrypt_n=FAST_N)
    await s.create_user("alice", secret)
    await s.set_password("alice", secret + "-2")

    def all_bytes() -> bytes:
        return b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())

    before_close = all_bytes()
    await s.close()
    for blob in (before_close, all_bytes()):
        assert secret.encode() not in blob
        assert secret.encode("utf-16-le") not in blob
    assert b"alice" in all_bytes()  # the check does look at the right file


async def test_file_modes(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    s = await Store.open(data_dir, scrypt_n=FAST_N)
    try:
        await s.create_user("alice", "pw")
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(db_path(data_dir).stat().st_mode) == 0o600
        wal = data_dir / "crispin.db-wal"
        assert wal.exists()
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        await s.close()


async def test_delete_user_cascades(store: Store, data_dir: Path) -> None:
    alice = await store.create_user("alice", "pw")
    bob = await store.create_user("bob", "pw")
    work = await store.create_mailbox(alice.id, "Work/2024")
    inbox = await store.get_mailbox(alice.id, "INBOX")
    assert inbox is not None
    insert_message(data_dir, inbox.id, b"shared body")
    insert_message(data_dir, work.id, b"shared body")
    bob_inbox = await store.get_mailbox(bob.id, "INBOX")
    assert bob_inbox is not None
    insert_message(data_dir, bob_inbox.id, b"shared body")
    await store.subscribe(alice.id, "Work")
    assert query(data_dir, "SELECT refcount FROM messages") == [(3,)]

    await store.delete_user("alice")
    assert await store.get_user("alice") is None
    assert await store.list_mailboxes(alice.id) == []
    assert await store.list_subscriptions(alice.id) == []
    assert query(data_dir, "SELECT count(*) FROM mailbox_messages") == [(1,)]
    # the cascade fired the refcount trigger: only bob's copy is left
    assert query(data_dir, "SELECT refcount FROM messages") == [(1,)]
    assert [m.name for m in await store.list_mailboxes(bob.id)] == ["INBOX"]
    with pytest.raises(NotFound):
        await store.delete_user("alice")
    assert await store.verify_password("alice", "pw") is None


async def test_recreated_user_gets_fresh_inbox(store: Store) -> None:
    a1 = await store.create_user("alice", "pw")
    i1 = await store.get_mailbox(a1.id, "INBOX")
    await store.delete_user("alice")
    a2 = await store.create_user("alice", "pw")
    i2 = await store.get_mailbox(a2.id, "INBOX")
    assert i1 and i2 and i2.uidvalidity > i1.uidvalidity


async def test_password_hashing_has_its_own_pool(store: Store, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    """Issue 10.6: scrypt runs in the store's small hashing pool, not in the default pool
    that blob I/O and MIME parsing share, and never on the event loop."""
    import threading

    names: list[str] = []
    real_verify, real_hash = passwords.verify_password, passwords.hash_password

    def verify(*args: object) -> bool:
        names.append(threading.current_thread().name)
        return real_verify(*args)  # type: ignore[arg-type]

    def hash_(*args: object) -> str:
        names.append(threading.current_thread().name)
        return real_hash(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(passwords, "verify_password", verify)
    monkeypatch.setattr(passwords, "hash_password", hash_)
    await store.create_user("pooled", "pw-1")
    assert await store.verify_password("pooled", "pw-1") is not None
    assert await store.verify_password("nobody", "pw-1") is None
    assert len(names) == 3
    assert all(n.startswith("crispin-scrypt") for n in names), names
