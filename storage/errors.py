"""Exceptions raised by the storage layer.

Storage itself never builds response text: the server maps each class to a tagged
response in one table, ``server/storage_errors.py`` (RFC 5530 response codes), where the
nearest base class's entry answers for a subclass without one.  Today: ``NotFound`` and
``NoSelect`` to ``NO [NONEXISTENT]``, ``AlreadyExists`` to ``NO [ALREADYEXISTS]``,
``InvalidName``, ``InvalidPassword`` and ``HasChildren`` to ``NO [CANNOT]``, ``OverQuota``
to ``NO [OVERQUOTA]``, ``InvalidFlag`` to ``BAD``, ``TimeLimitExceeded`` to ``NO [LIMIT]``,
``Busy``, ``SchemaTooNew`` and any other ``StorageError`` to ``NO [UNAVAILABLE]``
(``search.SearchTooComplex`` is caught by SEARCH, SORT and THREAD themselves).
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error the storage layer raises on purpose."""


class NotFound(StorageError):
    """The user, mailbox, subscription or message does not exist."""


class AlreadyExists(StorageError):
    """A user or mailbox of that name exists already."""


class InvalidName(StorageError):
    """The name is not acceptable (empty level, leading delimiter, INBOX where forbidden...)."""


class InvalidPassword(StorageError):
    """The password is empty: an account that anyone can log in to is never created."""


class HasChildren(StorageError):
    """RFC 3501 §6.3.4: a \\Noselect mailbox with inferior names cannot be deleted."""


class Busy(StorageError):
    """The database stayed locked by another process longer than the busy timeout."""


class SchemaTooNew(StorageError):
    """The database was written by a newer Crispin (PRAGMA user_version above what we know)."""


class InvalidFlag(StorageError):
    """An unknown system flag (``\\Foo``) or a keyword storage cannot hold."""


class NoSelect(NotFound):
    """The mailbox exists only as a \\Noselect placeholder (RFC 3501 §7.2.2): it holds no
    messages.  A subclass of ``NotFound`` so APPEND/COPY targets answer [TRYCREATE]."""


class TimeLimitExceeded(StorageError):
    """A read given a time limit (``Database.read(..., time_limit=)``) ran past it and was
    interrupted inside SQLite."""


class OverQuota(StorageError):
    """RFC 9208 §4.3: the APPEND, COPY or MOVE would take a quota root past a limit; nothing
    was stored.  Checked inside the write transaction, so concurrent writers cannot
    together overshoot.  ``resource`` names the limit (``STORAGE`` or ``MESSAGE``),
    ``usage`` and ``limit`` are in its units."""

    def __init__(self, resource: str, usage: int = 0, limit: int = 0) -> None:
        super().__init__(f"quota exceeded: {resource} {usage} of {limit}")
        self.resource = resource
        self.usage = usage
        self.limit = limit
