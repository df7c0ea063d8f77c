"""The one table from storage errors to IMAP answers (RFC 5530 response codes).

Storage raises the exceptions of ``crispin.storage.errors`` and never builds response text; the
session turns any that a handler did not answer itself into the tagged response below, so a
new storage error (or a handler that forgets one) is answered with its code instead of
``[SERVERBUG]``. Handlers still catch an error where the command gives it a more precise
meaning (a missing APPEND/COPY target is ``[TRYCREATE]``, RFC 3501 §6.3.11, §6.4.7).
"""

from __future__ import annotations

from dataclasses import dataclass

from crispin.server.outcome import CommandFailed
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


@dataclass(frozen=True)
class Answer:
    status: str
    code: str | None
    text: str
    # Worth a line in the server's log: the store, not the client, has a problem.
    logged: bool = False


STORAGE_ERRORS: dict[type[StorageError], Answer] = {
    # RFC 5530 §3 NONEXISTENT: "the operation attempts to access something that does not
    # exist" (a \Noselect placeholder holds no messages, RFC 3501 §7.2.2).
    NotFound: Answer("NO", "NONEXISTENT", "Mailbox does not exist"),
    NoSelect: Answer("NO", "NONEXISTENT", "Mailbox cannot hold messages (\\Noselect)"),
    # RFC 5530 §3 ALREADYEXISTS.
    AlreadyExists: Answer("NO", "ALREADYEXISTS", "Mailbox already exists"),
    # RFC 5530 §3 CANNOT: "the operation violates some invariant of the server".
    InvalidName: Answer("NO", "CANNOT", "Invalid mailbox name"),
    # A password storage refuses (empty): no IMAP command sets one yet; CANNOT if one does.
    InvalidPassword: Answer("NO", "CANNOT", "Password not acceptable"),
    # RFC 3501 §6.3.4: a \Noselect name with inferiors cannot be deleted; RFC 5530 §3
    # INUSE would say "try later", which never helps here, so CANNOT.
    HasChildren: Answer("NO", "CANNOT",
                        "Mailbox has inferior hierarchical names; delete them first"),
    # RFC 9208 §4.3: checked inside the write transaction of APPEND, COPY and MOVE.
    OverQuota: Answer("NO", "OVERQUOTA", "Quota exceeded"),
    # RFC 3501 §9 flag syntax is the parser's; what reaches storage is a flag it refuses.
    InvalidFlag: Answer("BAD", None, "Invalid flag"),
    # RFC 5530 §3 UNAVAILABLE: "temporary failure because a subsystem is down" (another
    # process held the database lock past the busy timeout); the client may retry.
    Busy: Answer("NO", "UNAVAILABLE", "Mail storage is busy; try again", logged=True),
    # RFC 5530 §3 LIMIT: a read past its time budget (SEARCH, server/search_budget.py).
    TimeLimitExceeded: Answer("NO", "LIMIT", "Took too long; narrow it down"),
    SchemaTooNew: Answer("NO", "UNAVAILABLE",
                         "Mail storage was written by a newer Crispin", logged=True),
    # Any other failure of the store (database closed while stopping, a failed write
    # transaction): not a bug in the command, and possibly temporary.
    StorageError: Answer("NO", "UNAVAILABLE", "Mail storage failure, logged", logged=True),
}


def answer_for(exc: StorageError) -> Answer:
    """The table's answer for ``exc``: its own class's entry, else its nearest base's."""
    for cls in type(exc).__mro__:
        answer = STORAGE_ERRORS.get(cls)
        if answer is not None:
            return answer
    return STORAGE_ERRORS[StorageError]


def failure(exc: StorageError, text: str | None = None) -> CommandFailed:
    """``exc`` as the CommandFailed the session answers; ``text``: what the command knows
    better to say (the code stays the table's)."""
    answer = answer_for(exc)
    return CommandFailed(text or answer.text, answer.code, answer.status)
