"""The ``Store`` methods for users: accounts, passwords (scrypt, in the Store's own small
thread pool), lookups by name and id.

A mixin so that ``store.py`` stays the facade (as ``store_access.py`` for ACL and quotas);
each method is one function run on a database thread (``db.py``), sequenced here with
password hashing, which runs in a worker thread because scrypt costs ~50-100 ms.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from . import passwords, scram, users
from .db import Database
from .errors import NotFound
from .models import User

T = TypeVar("T")


class UsersMixin:
    _db: Database
    _scrypt_n: int
    _hash_pool: ThreadPoolExecutor

    async def _hashing(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._hash_pool, fn, *args)

    async def create_user(self, name: str, password: str) -> User:
        """Create a user and its INBOX.  ``AlreadyExists``, ``InvalidName``,
        ``InvalidPassword`` (empty)."""
        users.validate_user_name(name)
        passwords.validate_password(password)
        hashed, keys = await self._hash(password)
        return await self._db.write(partial(users.create_user, name=name, password_hash=hashed,
                                            scram=keys))

    async def set_password(self, name: str, password: str) -> None:
        """``NotFound`` for an unknown user, ``InvalidPassword`` for an empty one."""
        passwords.validate_password(password)
        hashed, keys = await self._hash(password)
        await self._db.write(partial(users.set_password, name=name, password_hash=hashed,
                                     scram=keys))

    async def create_user_hashed(self, name: str, password_hash: str) -> User:
        """:meth:`create_user` with a hash already in the stored form (a users file)."""
        users.validate_user_name(name)
        if not passwords.is_hash(password_hash):
            raise ValueError("not a password hash in the stored form")
        return await self._db.write(partial(users.create_user, name=name,
                                            password_hash=password_hash))

    async def update_password(self, name: str, password: str | None = None,
                              password_hash: str | None = None) -> bool:
        """Make ``name``'s password ``password`` (or the stored-form ``password_hash``);
        False when it already was (nothing written). ``NotFound`` for an unknown user."""
        found = await self._db.read(partial(users.get_user_and_hash, name=name))
        if found is None:
            raise NotFound(f"no user {name!r}")
        keys: str | None = None  # a bare hash carries no SCRAM keys: the next login adds them
        if password_hash is not None:
            if not passwords.is_hash(password_hash):
                raise ValueError("not a password hash in the stored form")
            if found[1] == password_hash:
                return False
            new = password_hash
        else:
            assert password is not None
            if await asyncio.to_thread(passwords.verify_password, password, found[1]):
                return False
            new, keys = await self._hash(password)
        await self._db.write(partial(users.set_password, name=name, password_hash=new,
                                     scram=keys))
        return True

    async def delete_user(self, name: str) -> None:
        """Delete the user with its mailboxes, messages and subscriptions.  ``NotFound``."""
        await self._db.write(partial(users.delete_user, name=name))

    async def list_users(self) -> list[User]:
        return await self._db.read(users.list_users)

    async def get_user(self, name: str) -> User | None:
        return await self._db.read(partial(users.get_user, name=name))

    async def password_hash(self, name: str) -> tuple[User, str] | None:
        """The user and their stored password hash (the auth cache checks it is unchanged)."""
        return await self._db.read(partial(users.get_user_and_hash, name=name))

    async def verify_password(self, name: str, password: str) -> User | None:
        """The user if ``password`` is right, else None.

        An unknown user is checked against a dummy hash of the same cost, so the answer
        takes as long as for a known user with a wrong password.
        """
        if not password:
            return None  # an account made with an empty password before it was refused
        found = await self._db.read(partial(users.get_login, name=name))
        stored = found[1] if found is not None else passwords.dummy_hash(self._scrypt_n)
        ok = await self._hashing(passwords.verify_password, password, stored)
        if found is None or not ok:
            return None
        if not found[2]:
            # A password set before SCRAM existed (or given as a bare hash): its SCRAM keys
            # can be made now that the password is known to be right.
            keys = await self._hashing(scram.new_keys, password)
            if keys is not None:
                await self._db.write(partial(users.add_scram_keys, name=name,
                                             password_hash=stored, scram=keys))
        return found[0]

    async def scram_keys(self, name: str) -> tuple[User, scram.ScramKeys | None] | None:
        """The user and their SCRAM-SHA-256 keys (None: not derived yet), or None."""
        found = await self._db.read(partial(users.get_user_and_scram, name=name))
        return None if found is None else (found[0], scram.decode(found[1]))

    async def has_messages(self) -> bool:
        """Whether any mailbox holds a message (a preload goes only into an empty store)."""
        def query(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT EXISTS (SELECT 1 FROM mailbox_messages)").fetchone()
            return bool(row[0])

        return await self._db.read(query)

    async def user_count(self) -> int:
        return await self._db.read(users.user_count)

    async def _hash(self, password: str) -> tuple[str, str | None]:
        """The scrypt hash and the SCRAM keys of a new password, in one trip to the pool."""
        return await self._hashing(_hash_and_keys, password, self._scrypt_n)

    async def get_user_by_id(self, user_id: int) -> User | None:
        def query(conn: sqlite3.Connection) -> User | None:
            row = conn.execute("SELECT id, name FROM users WHERE id = ?", (user_id,)).fetchone()
            return None if row is None else User(int(row[0]), str(row[1]))

        return await self._db.read(query)


def _hash_and_keys(password: str, n: int) -> tuple[str, str | None]:
    return passwords.hash_password(password, n), scram.new_keys(password)
