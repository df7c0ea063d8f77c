"""Every storage error answered with its RFC 5530 code, from one table
(``crispin.server.storage_errors``), and a storage lock timeout answered ``NO [UNAVAILABLE]`` on a
real connection (issue 9 point 10)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from crispin.server.storage_errors import STORAGE_ERRORS, answer_for, failure
from crispin.storage import (
    AlreadyExists,
    Busy,
    HasChildren,
    InvalidFlag,
    InvalidName,
    InvalidPassword,
    NoSelect,
    NotFound,
    OverQuota,
    SchemaTooNew,
    StorageError,
    TimeLimitExceeded,
)
from crispin.storage.store import DB_FILE
from tests.server.imap_client import Imap, fill

EXPECTED: list[tuple[type[StorageError], str, str | None]] = [
    (NotFound, "NO", "NONEXISTENT"),
    (NoSelect, "NO", "NONEXISTENT"),
    (AlreadyExists, "NO", "ALREADYEXISTS"),
    (InvalidName, "NO", "CANNOT"),
    (InvalidPassword, "NO", "CANNOT"),
    (HasChildren, "NO", "CANNOT"),
    (InvalidFlag, "BAD", None),
    (OverQuota, "NO", "OVERQUOTA"),
    (Busy, "NO", "UNAVAILABLE"),
    (SchemaTooNew, "NO", "UNAVAILABLE"),
    (TimeLimitExceeded, "NO", "LIMIT"),
    (StorageError, "NO", "UNAVAILABLE"),
]


@pytest.mark.parametrize(("error", "status", "code"), EXPECTED,
                         ids=[e.__name__ for e, _, _ in EXPECTED])
def test_each_storage_error_has_its_answer(error: type[StorageError], status: str,
                                           code: str | None) -> None:
    exc = failure(error("detail for the log only"))
    assert (exc.status, exc.code) == (status, code)
    assert "detail" not in exc.text  # storage's text is for the log, not the client
    # never SERVERBUG: that is for bugs in the server, not refusals of the store
    assert exc.code != "SERVERBUG"


def test_the_table_covers_every_storage_error() -> None:
    import crispin.storage.errors as errors

    classes = {c for c in vars(errors).values()
               if isinstance(c, type) and issubclass(c, StorageError)}
    assert classes == set(STORAGE_ERRORS) == {e for e, _, _ in EXPECTED}


def test_a_subclass_not_in_the_table_takes_its_base_answer() -> None:
    class Stuck(Busy):
        pass

    assert answer_for(Stuck("x")).code == "UNAVAILABLE"


def test_storage_lock_timeout_is_unavailable_not_serverbug(make_server: Any) -> None:
    """Another process (the CLI, an import) holds the database's write lock longer than
    the busy timeout: the command is refused with NO [UNAVAILABLE] (RFC 5530 §3), the
    connection keeps working, and the same command succeeds once the lock is gone."""
    server = make_server(limits={"storage_busy_timeout": 0.2})
    c = Imap(server)
    fill(c, 2)
    c.select()
    other = sqlite3.connect(server.config.data_dir / DB_FILE, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # what a writer in another process holds
        r = c.cmd("STORE 1 +FLAGS (\\Flagged)")
        assert r.status == "NO" and r.code() == "UNAVAILABLE", r
        r = c.cmd("CREATE Elsewhere")
        assert r.status == "NO" and r.code() == "UNAVAILABLE", r
        r = c.append("INBOX", b"Subject: later\r\n\r\nbody\r\n")
        assert r.status == "NO" and r.code() == "UNAVAILABLE", r
        assert c.cmd("NOOP").ok  # reads still work, the session is fine
    finally:
        other.execute("ROLLBACK")
        other.close()
    r = c.cmd("STORE 1 +FLAGS (\\Flagged)")
    assert r.ok and [n for n, _ in r.fetches()] == [1]
    assert c.cmd("CREATE Elsewhere").ok
    r = c.append("INBOX", b"Subject: later\r\n\r\nbody\r\n")
    assert r.ok and r.numbered("EXISTS") == [3]
    c.close()
