"""Fixtures for storage tests: a Store on a fresh directory with a cheap scrypt cost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crispin.storage import Store, User

from .helpers import FAST_N


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def store(data_dir: Path) -> AsyncIterator[Store]:
    s = await Store.open(data_dir, scrypt_n=FAST_N)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def user(store: Store) -> User:
    return await store.create_user("alice", "secret")
