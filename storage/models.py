"""Plain immutable values that storage hands to the server.

They are snapshots: a ``MailboxInfo`` is what the row held when it was read and does not
follow later changes.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from datetime import datetime

from .flags import names_of


@dataclass(frozen=True)
class User:
    """An account. ``name`` is case-sensitive, exactly as created."""

    id: int
    name: str


@dataclass(frozen=True)
class MailboxInfo:
    """One row of ``mailboxes``.

    ``name`` is the full hierarchical name with ``DELIMITER`` ("/") between levels, INBOX
    spelt exactly "INBOX".  ``noselect`` marks a placeholder kept by DELETE so that its
    inferiors stay reachable (RFC 3501 §6.3.4).  ``special_use`` is an RFC 6154 attribute
    such as ``"\\Sent"``, stored opaquely.  ``private_flags`` is the bitmask of the system
    flags each user keeps for themselves (``flags.py`` bits; 1: \\Seen, the default; 0:
    every flag shared; see migrations.py, version 4).
    """

    id: int
    owner_id: int | None
    name: str
    uidvalidity: int
    uidnext: int
    highest_modseq: int
    noselect: bool
    special_use: str | None
    private_flags: int = 1

    @property
    def private_flag_names(self) -> tuple[str, ...]:
        """The system flags each user keeps for themselves here, by name."""
        return names_of(self.private_flags)


@dataclass(frozen=True)
class MailboxStatus:
    """Counters for STATUS (RFC 3501 §6.3.10) and SELECT; ``unseen`` is the number of
    messages without ``\\Seen`` (as the viewer sees it, when \\Seen is private), not the
    first unseen sequence number."""

    messages: int
    recent: int
    uidnext: int
    uidvalidity: int
    unseen: int
    highest_modseq: int
    deleted: int = 0  # messages with \\Deleted (RFC 9208 §4.1.4)
    deleted_storage: int = 0  # their size in KiB, rounded up; computed only when asked
    size: int = 0  # every message's size in octets (RFC 8438); computed only when asked


@dataclass(frozen=True)
class MessageState:
    """What a session's view tracks per message: UID, flags (system flags first, as
    ``"\\Seen"``…, then keywords; never ``\\Recent``) and the CONDSTORE modseq."""

    uid: int
    flags: tuple[str, ...]
    modseq: int


@dataclass(frozen=True)
class Changes:
    """``changes_since``: messages changed or added after a modseq, and UIDs expunged
    after it (tombstones, RFC 7162 §3.2.10), both in UID order."""

    highest_modseq: int
    uidnext: int
    updated: list[MessageState]
    expunged: list[int]
    first_recent_uid: int = 0
    """RFC 3501 §2.3.2: UIDs from here on are not claimed as \\Recent by any session yet,
    in the same snapshot; 0: not read (claim as if every new UID were unclaimed)."""


@dataclass(frozen=True)
class StoreResult:
    """``store_flags``: the state of every matched message after the change, the UIDs
    whose flags actually changed, and those refused by UNCHANGEDSINCE (RFC 7162 §3.1.3,
    reported in ``[MODIFIED]``)."""

    messages: list[MessageState]
    changed: list[int]
    modified: list[int]
    highest_modseq: int


@dataclass(frozen=True)
class CopyResult:
    """``copy_messages`` / ``move_messages``: source to destination UID pairs for
    COPYUID (RFC 4315 §3), the destination's UIDVALIDITY; for a move, also the source
    UIDs expunged."""

    uidvalidity: int
    uid_map: list[tuple[int, int]]
    expunged: list[int]


@dataclass(frozen=True)
class MessageRecord:
    """Everything FETCH needs except the body bytes, prepared at APPEND."""

    uid: int
    message_id: int
    flags: tuple[str, ...]
    modseq: int
    internaldate: datetime
    size: int
    header_size: int
    lines: int
    envelope: bytes
    bodystructure: bytes
    body_simple: bytes
    part_tree: bytes | None


@dataclass(frozen=True)
class SelectSummary:
    """What SELECT needs, read in one snapshot (so the UID list and the counters agree):
    the mailbox, its UIDs in order, the first unseen UID and the keywords in use."""

    mailbox: MailboxInfo
    uids: array[int]
    first_unseen_uid: int | None
    keywords: list[str]
    first_recent_uid: int = 0
    """As ``Changes.first_recent_uid``: no UID below it is left for a SELECT to claim as
    \\Recent (RFC 3501 §2.3.2); 0: not read."""


@dataclass(frozen=True)
class AclEntry:
    """One RFC 4314 ACL entry: ``identifier`` is a user name or "anyone", prefixed "-"
    for negative rights; ``rights`` letters in ``acl.ALL_RIGHTS`` order."""

    identifier: str
    rights: str


@dataclass(frozen=True)
class QuotaResource:
    """One RFC 9208 resource of a quota root: ``name`` "STORAGE" (``usage`` and ``limit``
    in units of 1024 octets, usage rounded up) or "MESSAGE" (message counts)."""

    name: str
    usage: int
    limit: int


@dataclass(frozen=True)
class Quota:
    """A quota root and its limited resources (STORAGE first, then MESSAGE; a resource
    without a limit is absent).  ``root_kind`` "user" (``root_id`` a user id) or "mailbox"
    (``root_id`` a top-level shared mailbox)."""

    root_kind: str
    root_id: int
    resources: list[QuotaResource]
