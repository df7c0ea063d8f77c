"""What each write transaction changed, reported after COMMIT (DESIGN.md "Storage reports,
the server reacts").

Storage is the one place that knows what a commit changed, so it says so: after every
COMMIT of the writer (``db.Database``), each subscriber gets one :class:`CommitReport`
listing the mailboxes that changed, their new highest modseq and the kinds of change. The
IDLE hub subscribes; so can NOTIFY (RFC 5465), an HTTP long-poll, SMTP/LMTP delivery
statistics, or a cross-process notifier. Nobody above storage re-declares its methods to
learn about writes.

How changes are found
    Not by each storage function remembering to report (a new one would silently wake
    nobody), but by SQLite: TEMP triggers on the writer's own connection record every row
    change of ``mailboxes``, ``mailbox_messages``, ``private_flags`` and ``expunged`` into
    the TEMP table ``commit_log`` (one row per mailbox and kind; per-connection, so other
    processes and the read connections pay nothing), and every annotation set or removed
    (RFC 5464, table ``metadata``) into ``metadata_log``: the report names those entries
    (``CommitReport.metadata``) and gives their mailboxes the kind ``METADATA``. The log
    is part of the transaction:
    a write rolled back (its SAVEPOINT, or the whole batch) takes its entries with it. The
    writer drains the log just before COMMIT and hands it out once COMMIT returned, so a
    report always describes data that is on disk and visible to every reader. A batch of
    writes queued for several origins (``ORIGIN``: the sessions they were made for) is
    drained after each origin's run of writes instead, and gives one report per run, in
    order: a session can tell its own changes from another's committed with them.

Subscribing
    ``Store.on_commit(callback)`` (or ``Database.on_commit``) registers
    ``callback(report)``; it returns a function that unsubscribes. Callbacks run on the
    event loop, in the writer task, after the callers of the batch's writes have been
    given their results (they resume after the callbacks). A callback must be quick and
    must not block: set an ``asyncio.Event``, put into a queue, or start a task. An
    exception in a callback is logged and does not reach the writer or other subscribers.

    Besides the mailboxes (``changes``), a report names what NOTIFY (RFC 5465) needs and
    a mailbox id cannot tell: the annotations changed (``metadata``), the names before
    and after of the mailboxes created, renamed or deleted (``names``), and the
    subscriptions changed (``subscriptions``).

    Reports cover changes made through *this* ``Store`` (this process). Changes by other
    processes on the same file (the CLI, ``crispin import``) are not reported here; the
    hub finds them by polling ``Store.highest_modseqs``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger("crispin.storage")

ORIGIN: ContextVar[object] = ContextVar("crispin_commit_origin", default=None)
"""Who the writes queued from this context are made for (opaque to storage: the server sets
its session here, for the session's task): each report names the origin of the writes it
describes (``CommitReport.origin``)."""


class ChangeKind(StrEnum):
    """What happened to a mailbox in a commit."""

    CREATED = "created"
    """The mailbox was created (CREATE, or a superior created along with an inferior)."""
    APPENDED = "appended"
    """Messages arrived: APPEND, COPY or MOVE into it, delivery, import (UIDNEXT moved)."""
    FLAGS = "flags"
    """Flags or keywords of messages changed (anybody's, private flags included)."""
    EXPUNGED = "expunged"
    """Messages left: EXPUNGE, MOVE out of it."""
    RENAMED = "renamed"
    """Its name changed (RENAME of it or of a superior); its id stays."""
    DELETED = "deleted"
    """It is gone (DELETE, or its owner deleted): sessions holding it must let go."""
    SETTINGS = "settings"
    """Its settings changed (which flags are private, special use, selectability)."""
    METADATA = "metadata"
    """One of its annotations (RFC 5464) was set or removed; which ones, in
    ``CommitReport.metadata``."""
    ACL = "acl"
    """Its access control list changed (RFC 4314): somebody's rights on it may differ."""


@dataclass(frozen=True)
class MailboxChange:
    """One mailbox in a :class:`CommitReport`."""

    mailbox_id: int
    modseq: int
    """Its highest modseq after the commit (RFC 7162 §3.1.1); 0 when deleted."""
    kinds: frozenset[ChangeKind]


@dataclass(frozen=True)
class MetadataChange:
    """One annotation (RFC 5464) set or removed in a commit: what an unsolicited METADATA
    response (§4.4.2) or a NOTIFY MailboxMetadataChange/ServerMetadataChange (RFC 5465
    §5.7, §5.8) names."""

    mailbox_id: int | None
    """None: a server annotation."""
    user_id: int | None
    """The user whose private entry it is; None: a shared entry, everybody's concern."""
    name: str
    """The entry name, lower-cased."""


@dataclass(frozen=True)
class NameChange:
    """A mailbox that got, changed or lost its name in a commit: what NOTIFY's MailboxName
    event (RFC 5465 §5.4) reports, including the OLDNAME of a rename, which the mailbox's
    id alone can no longer tell once it is renamed or gone."""

    mailbox_id: int
    owner_id: int | None
    """None: a shared mailbox."""
    old: str | None
    """None: created in this commit."""
    new: str | None
    """None: deleted in this commit."""


@dataclass(frozen=True)
class SubscriptionChange:
    """A user subscribed to or unsubscribed from a name (RFC 3501 §6.3.6, §6.3.7): NOTIFY's
    SubscriptionChange event (RFC 5465 §5.5) and its SUBSCRIBED filter (§6.4)."""

    user_id: int
    name: str
    subscribed: bool
    """The state after the commit."""


@dataclass(frozen=True)
class CommitReport:
    """Every mailbox that one committed write transaction (a group-commit batch) changed,
    in ascending id order, and the annotations it changed. Never empty: a commit that
    changed neither is not reported."""

    changes: tuple[MailboxChange, ...]
    metadata: tuple[MetadataChange, ...] = ()
    names: tuple[NameChange, ...] = ()
    """The mailboxes of ``changes`` created, renamed or deleted, with their names."""
    subscriptions: tuple[SubscriptionChange, ...] = ()
    origin: object = None
    """``ORIGIN`` of every write whose changes this report lists (writes of several
    origins in one batch are reported one origin at a time); None: no origin was set."""

    @property
    def mailbox_ids(self) -> tuple[int, ...]:
        return tuple(c.mailbox_id for c in self.changes)


Subscriber = Callable[[CommitReport], None]

# The TEMP schema the writer connection gets (``install``). ``commit_log`` keeps one row per
# (mailbox, kind) with the highest modseq seen; the triggers cost one small upsert per row
# changed. TEMP triggers may watch tables of the main database (SQLite "CREATE TRIGGER":
# a TEMP trigger can refer to any database's tables).
_LOG = "temp.commit_log"
_METADATA_LOG = "temp.metadata_log"
_NAME_LOG = "temp.name_log"
_SUBSCRIPTION_LOG = "temp.subscription_log"
_UPSERT = (
    "INSERT INTO commit_log (mailbox_id, kind, modseq) VALUES ({mailbox}, '{kind}', {modseq})"
    " ON CONFLICT (mailbox_id, kind) DO UPDATE SET modseq = max(modseq, excluded.modseq);"
)


def _trigger(name: str, event: str, table: str, kind: ChangeKind, mailbox: str, modseq: str,
             when: str = "") -> str:
    when_sql = f" WHEN {when}" if when else ""
    body = _UPSERT.format(mailbox=mailbox, kind=kind.value, modseq=modseq)
    return (f"CREATE TEMP TRIGGER IF NOT EXISTS {name} AFTER {event} ON main.{table}"
            f"{when_sql} BEGIN {body} END")


_SCHEMA = [
    "CREATE TEMP TABLE IF NOT EXISTS commit_log (mailbox_id INTEGER NOT NULL,"
    " kind TEXT NOT NULL, modseq INTEGER NOT NULL, PRIMARY KEY (mailbox_id, kind))"
    " WITHOUT ROWID",
    _trigger("commit_mailbox_created", "INSERT", "mailboxes", ChangeKind.CREATED,
             "NEW.id", "NEW.highest_modseq"),
    _trigger("commit_mailbox_renamed", "UPDATE OF name", "mailboxes", ChangeKind.RENAMED,
             "NEW.id", "NEW.highest_modseq", "NEW.name IS NOT OLD.name"),
    _trigger("commit_mailbox_settings", "UPDATE OF private_flags, special_use, noselect",
             "mailboxes", ChangeKind.SETTINGS, "NEW.id", "NEW.highest_modseq",
             "NEW.private_flags IS NOT OLD.private_flags"
             " OR NEW.special_use IS NOT OLD.special_use OR NEW.noselect IS NOT OLD.noselect"),
    _trigger("commit_mailbox_deleted", "DELETE", "mailboxes", ChangeKind.DELETED,
             "OLD.id", "0"),
    _trigger("commit_message_added", "INSERT", "mailbox_messages", ChangeKind.APPENDED,
             "NEW.mailbox_id", "NEW.modseq"),
    _trigger("commit_message_flags", "UPDATE", "mailbox_messages", ChangeKind.FLAGS,
             "NEW.mailbox_id", "NEW.modseq", "NEW.modseq IS NOT OLD.modseq"),
    _trigger("commit_private_added", "INSERT", "private_flags", ChangeKind.FLAGS,
             "NEW.mailbox_id", "NEW.modseq"),
    _trigger("commit_private_flags", "UPDATE", "private_flags", ChangeKind.FLAGS,
             "NEW.mailbox_id", "NEW.modseq"),
    _trigger("commit_expunged", "INSERT", "expunged", ChangeKind.EXPUNGED,
             "NEW.mailbox_id", "NEW.modseq"),
    # Annotations (RFC 5464): which entries, for METADATA and NOTIFY (0 stands for the
    # server and for "shared", since NULLs would not conflict in the key).
    "CREATE TEMP TABLE IF NOT EXISTS metadata_log (mailbox_id INTEGER NOT NULL,"
    " user_id INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (mailbox_id, user_id, name))"
    " WITHOUT ROWID",
    *(
        f"CREATE TEMP TRIGGER IF NOT EXISTS commit_metadata_{event.lower()} AFTER {event}"
        f" ON main.metadata BEGIN INSERT OR IGNORE INTO metadata_log"
        f" (mailbox_id, user_id, name) VALUES (ifnull({row}.mailbox_id, 0),"
        f" ifnull({row}.user_id, 0), {row}.name); END"
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    ),
    # RFC 4314: an ACL changed (a right granted or revoked: NOTIFY's MailboxName, §5.4).
    *(
        _trigger(f"commit_acl_{event.lower()}", event, "acl", ChangeKind.ACL,
                 f"{row}.mailbox_id", "0")
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD"))
    ),
    # Names before and after (the first old name and the last new one of the commit).
    "CREATE TEMP TABLE IF NOT EXISTS name_log (mailbox_id INTEGER PRIMARY KEY,"
    " owner_id INTEGER, old TEXT, new TEXT)",
    "CREATE TEMP TRIGGER IF NOT EXISTS commit_name_created AFTER INSERT ON main.mailboxes"
    " BEGIN INSERT INTO name_log (mailbox_id, owner_id, old, new)"
    " VALUES (NEW.id, NEW.owner_id, NULL, NEW.name)"
    " ON CONFLICT (mailbox_id) DO UPDATE SET new = excluded.new; END",
    "CREATE TEMP TRIGGER IF NOT EXISTS commit_name_renamed AFTER UPDATE OF name"
    " ON main.mailboxes WHEN NEW.name IS NOT OLD.name"
    " BEGIN INSERT INTO name_log (mailbox_id, owner_id, old, new)"
    " VALUES (NEW.id, NEW.owner_id, OLD.name, NEW.name)"
    " ON CONFLICT (mailbox_id) DO UPDATE SET new = excluded.new; END",
    "CREATE TEMP TRIGGER IF NOT EXISTS commit_name_deleted AFTER DELETE ON main.mailboxes"
    " BEGIN INSERT INTO name_log (mailbox_id, owner_id, old, new)"
    " VALUES (OLD.id, OLD.owner_id, OLD.name, NULL)"
    " ON CONFLICT (mailbox_id) DO UPDATE SET new = NULL; END",
    # Subscriptions, the state after the commit.
    "CREATE TEMP TABLE IF NOT EXISTS subscription_log (user_id INTEGER NOT NULL,"
    " name TEXT NOT NULL, subscribed INTEGER NOT NULL, PRIMARY KEY (user_id, name))"
    " WITHOUT ROWID",
    *(
        f"CREATE TEMP TRIGGER IF NOT EXISTS commit_subscription_{event.lower()} AFTER {event}"
        f" ON main.subscriptions BEGIN INSERT INTO subscription_log (user_id, name, subscribed)"
        f" VALUES ({row}.user_id, {row}.name, {state}) ON CONFLICT (user_id, name)"
        f" DO UPDATE SET subscribed = excluded.subscribed; END"
        for event, row, state in (("INSERT", "NEW", 1), ("DELETE", "OLD", 0))
    ),
]


_ROW_TRIGGERS = {s.split()[6]: s for s in _SCHEMA[1:]}


@contextmanager
def logged_once(conn: sqlite3.Connection, trigger: str) -> Iterator[bool]:
    """For one statement that changes many rows (``STORE 1:*`` of 100,000 messages), the
    row trigger ``trigger`` is off: SQLite has no statement triggers, and running one per
    row costs as much as the change itself. The caller records the change once with
    ``record``; yields whether this connection logs at all (the writer's does). The
    trigger is dropped and created again inside the caller's transaction, so a rollback
    (of the write's SAVEPOINT or of the batch) restores it too."""
    statement = _ROW_TRIGGERS[trigger]
    installed = conn.execute(
        "SELECT 1 FROM sqlite_temp_master WHERE type = 'trigger' AND name = ?", (trigger,)
    ).fetchone() is not None
    if not installed:
        yield False
        return
    conn.execute(f"DROP TRIGGER temp.{trigger}")
    try:
        yield True
    finally:
        conn.execute(statement)


def record(conn: sqlite3.Connection, mailbox_id: int, kind: ChangeKind, modseq: int) -> None:
    """What the row triggers log, written once (``logged_once``)."""
    conn.execute(_UPSERT.format(mailbox="?", kind=kind.value, modseq="?"),
                 (mailbox_id, modseq))


def install(conn: sqlite3.Connection) -> None:
    """Give the writer connection its TEMP ``commit_log`` and triggers (after migrations:
    the triggers name columns of the latest schema)."""
    for statement in _SCHEMA:
        conn.execute(statement)


def drain(conn: sqlite3.Connection, origin: object = None) -> CommitReport | None:
    """Writer thread, inside the transaction before COMMIT: take the log's entries
    (emptying it, in the same transaction) as a report of ``origin``'s writes; None when
    nothing changed."""
    # The mailbox's highest modseq as it will be committed (0 once deleted), rather than
    # the logged row modseqs: several writes of one batch may have touched it.
    rows = conn.execute(
        f"SELECT l.mailbox_id, l.kind, coalesce(m.highest_modseq, 0) FROM {_LOG} l"
        " LEFT JOIN main.mailboxes m ON m.id = l.mailbox_id ORDER BY l.mailbox_id"
    ).fetchall()
    # Entries of a mailbox deleted in the same commit went with it (ON DELETE CASCADE):
    # its DELETED change says all there is to say.
    entries = conn.execute(
        f"SELECT l.mailbox_id, l.user_id, l.name, l.mailbox_id = 0 OR EXISTS (SELECT 1"
        f" FROM main.mailboxes m WHERE m.id = l.mailbox_id) FROM {_METADATA_LOG} l"
        " ORDER BY l.mailbox_id, l.user_id, l.name"
    ).fetchall()
    if entries:
        conn.execute(f"DELETE FROM {_METADATA_LOG}")
    kinds: dict[int, set[ChangeKind]] = {}
    modseqs: dict[int, int] = {}
    for mailbox_id, kind, modseq in rows:
        kinds.setdefault(int(mailbox_id), set()).add(ChangeKind(kind))
        modseqs[int(mailbox_id)] = int(modseq)
    if rows:
        conn.execute(f"DELETE FROM {_LOG}")
    metadata = tuple(MetadataChange(int(box) or None, int(user) or None, str(name))
                     for box, user, name, alive in entries if alive)
    for change in metadata:
        if change.mailbox_id is not None:
            box = change.mailbox_id
            if box not in kinds:
                modseqs[box] = int(conn.execute(
                    "SELECT highest_modseq FROM main.mailboxes WHERE id = ?", (box,)
                ).fetchone()[0])
            kinds.setdefault(box, set()).add(ChangeKind.METADATA)
    named = conn.execute(
        f"SELECT mailbox_id, owner_id, old, new FROM {_NAME_LOG} ORDER BY mailbox_id"
    ).fetchall()
    if named:
        conn.execute(f"DELETE FROM {_NAME_LOG}")
    # Created and deleted in the same commit: nobody could have seen it.
    names = tuple(NameChange(int(box), None if owner is None else int(owner), old, new)
                  for box, owner, old, new in named if old is not None or new is not None)
    subscriptions = tuple(
        SubscriptionChange(int(user), str(name), bool(state))
        for user, name, state in conn.execute(
            f"SELECT user_id, name, subscribed FROM {_SUBSCRIPTION_LOG} ORDER BY user_id, name"
        ).fetchall()
    )
    if subscriptions:
        conn.execute(f"DELETE FROM {_SUBSCRIPTION_LOG}")
    if not kinds and not metadata and not subscriptions:
        return None
    return CommitReport(tuple(
        MailboxChange(box, modseqs[box], frozenset(kinds[box])) for box in sorted(kinds)
    ), metadata, names, subscriptions, origin)


def deliver(subscribers: list[Subscriber], report: CommitReport) -> None:
    """Event loop: hand ``report`` to every subscriber; one failing does not stop the
    others, nor the writer."""
    for callback in list(subscribers):
        try:
            callback(report)
        except Exception:
            log.exception("commit subscriber %r failed", callback)
