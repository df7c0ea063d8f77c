"""Crispin storage layer: users, mailboxes, messages and their change log in SQLite.

Knows nothing of IMAP syntax; imports neither ``server`` nor ``protocol``.  What is listed
in ``__all__`` here (and the ``search`` criteria module) is the surface the server may use;
the modules behind it are storage's own.
"""

from . import search
from .acl import SessionAccess
from .alongside import Alongside, AlongsideFound
from .blobs import BlobFile, PreparedBody, SpoolWriter
from .browse import Filters, Found
from .check import Problem
from .commits import (
    ORIGIN,
    ChangeKind,
    CommitReport,
    MailboxChange,
    MetadataChange,
    NameChange,
    SubscriptionChange,
)
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
from .flag_index import MailboxIndex, answerable, match_mask
from .flags import PRIVATE_FLAG_CHOICES, RECENT, SEEN_FLAG, SYSTEM_FLAG_NAMES
from .flags import decode as flag_names
from .flags import encode as validate_flags
from .health import read_check
from .messages import StoreMode
from .metadata import MetadataLimits, MetadataTooBig, MetadataTooMany
from .models import (
    Changes,
    CopyResult,
    MailboxInfo,
    MailboxStatus,
    MessageRecord,
    MessageState,
    Quota,
    QuotaResource,
    SelectSummary,
    StoreResult,
    User,
)
from .names import DELIMITER, INBOX
from .passwords import is_hash as is_password_hash
from .reclaim import Pace as ReclaimPace
from .rederive import DONE as REDERIVE_DONE
from .saslprep import SASLprepError, saslprep
from .scram import ITERATIONS as SCRAM_ITERATIONS
from .scram import ScramKeys
from .sorting import (
    ROW_DATE,
    ROW_MESSAGE_ID,
    ROW_REFERENCES,
    ROW_REPLY,
    ROW_SUBJECT,
    ROW_UID,
    SortKey,
    ThreadRow,
)
from .store import DB_FILE, Store
from .store_checked import Checked as CheckedWrite
from .store_maintenance import ReclaimTotals

__all__ = [
    "DB_FILE",
    "DELIMITER",
    "INBOX",
    "ORIGIN",
    "PRIVATE_FLAG_CHOICES",
    "RECENT",
    "REDERIVE_DONE",
    "ROW_DATE",
    "ROW_MESSAGE_ID",
    "ROW_REFERENCES",
    "ROW_REPLY",
    "ROW_SUBJECT",
    "ROW_UID",
    "SCRAM_ITERATIONS",
    "SEEN_FLAG",
    "SYSTEM_FLAG_NAMES",
    "Alongside",
    "AlongsideFound",
    "AlreadyExists",
    "BlobFile",
    "Busy",
    "ChangeKind",
    "Changes",
    "CheckedWrite",
    "CommitReport",
    "CopyResult",
    "Filters",
    "Found",
    "HasChildren",
    "InvalidFlag",
    "InvalidName",
    "InvalidPassword",
    "MailboxChange",
    "MailboxIndex",
    "MailboxInfo",
    "MailboxStatus",
    "MessageRecord",
    "MessageState",
    "MetadataChange",
    "MetadataLimits",
    "MetadataTooBig",
    "MetadataTooMany",
    "NameChange",
    "NoSelect",
    "NotFound",
    "OverQuota",
    "PreparedBody",
    "Problem",
    "Quota",
    "QuotaResource",
    "ReclaimPace",
    "ReclaimTotals",
    "SASLprepError",
    "SchemaTooNew",
    "ScramKeys",
    "SelectSummary",
    "SessionAccess",
    "SortKey",
    "SpoolWriter",
    "StorageError",
    "Store",
    "StoreMode",
    "StoreResult",
    "SubscriptionChange",
    "ThreadRow",
    "TimeLimitExceeded",
    "User",
    "answerable",
    "flag_names",
    "is_password_hash",
    "match_mask",
    "read_check",
    "saslprep",
    "search",
    "validate_flags",
]
