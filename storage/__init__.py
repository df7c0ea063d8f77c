"""Crispin storage layer: users, mailboxes, messages and their change log in SQLite.

Knows nothing of IMAP syntax; imports neither ``server`` nor ``protocol``.
"""

from .blobs import BlobFile, PreparedBody, SpoolWriter
from .commits import ChangeKind, CommitReport, MailboxChange
from .errors import (
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
from .models import (
    Changes,
    CopyResult,
    MailboxInfo,
    MailboxStatus,
    MessageRecord,
    MessageState,
    StoreResult,
    User,
)
from .names import DELIMITER, INBOX
from .store import Store

__all__ = [
    "DELIMITER",
    "INBOX",
    "AlreadyExists",
    "BlobFile",
    "Busy",
    "ChangeKind",
    "Changes",
    "CommitReport",
    "CopyResult",
    "HasChildren",
    "InvalidFlag",
    "InvalidName",
    "InvalidPassword",
    "MailboxChange",
    "MailboxInfo",
    "MailboxStatus",
    "MessageRecord",
    "MessageState",
    "NoSelect",
    "NotFound",
    "OverQuota",
    "PreparedBody",
    "SchemaTooNew",
    "SpoolWriter",
    "StorageError",
    "Store",
    "StoreResult",
    "TimeLimitExceeded",
    "User",
]
