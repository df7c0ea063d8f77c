"""Read mail to import: mbox files, Maildirs, and ``.eml`` files; a terminal progress bar.

Pure reading code: nothing here touches storage.  ``read_messages`` yields one
``ImportedMessage`` at a time and never holds more than one message in memory,
so multi-gigabyte mbox files are fine.

Decisions (see also the per-format notes below):

* Line endings: every bare LF becomes CRLF, existing CRLF is kept (no doubled CR),
  a lone CR is left alone.  Nothing else is changed: 8-bit bytes and NULs pass
  through byte for byte.  A message that does not end with a newline is kept as is.
* mbox: a line starting with ``From `` starts a message when it is the first line of
  the file, follows an empty line, or carries a parseable date (``asctime`` style,
  UTC unless a numeric zone is given).  The empty line before a separator (and the
  one at the end of the file) belongs to the mbox format and is dropped.
  Quoting is undone the **mboxrd** way: one ``>`` is removed from every line
  matching ``^>+From ``.  For mboxo files (which quote only ``^From ``) this is
  right for every quoted line; the only loss is a body line that originally read
  ``>From `` (it becomes ``From ``) -- the two variants cannot be told apart.
  Flags: ``Status:`` R -> \\Seen (O, "old", means not recent: nothing to do);
  ``X-Status:`` A -> \\Answered, F -> \\Flagged, T -> \\Draft, D -> \\Deleted;
  ``X-Keywords:`` (Dovecot) -> keywords; Thunderbird's ``X-Mozilla-Status`` bits
  and ``X-Mozilla-Keys`` too.  Like Dovecot, the mbox bookkeeping headers
  (Status, X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase) are removed from the
  stored message: after import the flags live in the store, and a stale
  ``Status: RO`` would lie once a client changes them.  The X-Mozilla headers are
  kept (Dovecot keeps them too).  UW-IMAP's "FOLDER INTERNAL DATA" pseudo-message
  (a first message with an ``X-IMAP`` header) is skipped.
* Maildir: ``cur/`` and ``new/`` are read, ``tmp/`` and dot-files are ignored.
  Flags come from the ``:2,`` (or ``;2,``) info suffix: D \\Draft, F \\Flagged,
  P $Forwarded (RFC 5788 keyword, as Thunderbird/Apple Mail use), R \\Answered,
  S \\Seen, T \\Deleted, a-z keywords from ``dovecot-keywords`` (ignored without it).
  Messages in ``new/`` never get \\Seen.  Order: by UID from ``dovecot-uidlist``
  when present, then by the filename's leading timestamp (+ Dovecot's ``M<usec>``),
  falling back to the mtime, then by name.  The internal date is the file's mtime
  (Dovecot's received date).  Maildir++ subfolders (``.Sub.Folder``) are not read
  recursively; ``maildir_subfolders`` lists them for the caller.
* .eml: one file, or every ``*.eml`` file directly inside a directory (natural
  name order, not recursive).  No flags; the internal date is the file's mtime.
  A leading mbox ``From `` envelope line, as some tools write, is dropped.
* Empty files in a Maildir or .eml folder are skipped (reported through
  ``on_skip``) rather than imported as empty messages or aborting the import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from crispin.server.importer.common import ImportedMessage, ImportError_, SkipCallback, to_crlf
from crispin.server.importer.eml import eml_files, read_eml
from crispin.server.importer.maildir import (
    is_maildir,
    maildir_entries,
    maildir_subfolders,
    read_maildir,
)
from crispin.server.importer.mbox import count_mbox, from_line_date, parse_mbox, read_mbox
from crispin.server.importer.progress import Progress

__all__ = [
    "ImportError_",
    "ImportedMessage",
    "Progress",
    "SkipCallback",
    "count_messages",
    "detect_format",
    "from_line_date",
    "maildir_subfolders",
    "parse_mbox",
    "read_eml",
    "read_maildir",
    "read_mbox",
    "read_messages",
    "to_crlf",
]

_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")


def _first_line(path: Path) -> bytes:
    """The first non-blank line of a file (b"" if there is none), at most 4 KiB of it."""
    try:
        with path.open("rb") as f:
            for _ in range(10_000):
                line = f.readline(4096)
                if not line or line.strip():
                    return line
    except OSError as exc:
        raise ImportError_(f"{path}: cannot read: {exc.strerror}") from exc
    return b""


def detect_format(path: Path) -> str:
    """Return "mbox", "maildir" or "eml" for ``path``, or raise ImportError_."""
    path = Path(path)
    if not path.exists():
        raise ImportError_(f"{path}: no such file or directory")
    if path.is_dir():
        if is_maildir(path):
            return "maildir"
        if eml_files(path):
            return "eml"
        raise ImportError_(f"{path}: directory is neither a Maildir (no cur/ or new/ "
                           "subdirectory) nor a folder of .eml files")
    if not path.is_file():
        raise ImportError_(f"{path}: not a regular file or directory")
    if path.suffix.lower() == ".eml":
        return "eml"
    head = _first_line(path)
    if not head or head.startswith(b"From "):
        return "mbox"  # an empty file is an empty mbox
    if _HEADER_LINE.match(head) and path.suffix.lower() not in (".mbox", ".mbx"):
        return "eml"
    if head.startswith(b"\x1f\x8b") or head.startswith(b"BZh") or head.startswith(b"\xfd7zXZ"):
        raise ImportError_(f"{path}: compressed file: decompress it first")
    raise ImportError_(f"{path}: not an mbox file (does not start with a 'From ' line), "
                       "a Maildir, or an RFC 5322 message")


def read_messages(path: Path, *, fmt: str | None = None,
                  on_skip: SkipCallback | None = None) -> Iterator[ImportedMessage]:
    """Stream the messages at ``path``.  Format errors are raised here, not on first next()."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    readers = {"mbox": read_mbox, "maildir": read_maildir, "eml": read_eml}
    if fmt not in readers:
        raise ImportError_(f"unknown import format {fmt!r}")
    return readers[fmt](path, on_skip=on_skip)


def count_messages(path: Path, *, max_mbox_bytes: int | None = None) -> int | None:
    """How many messages ``read_messages`` will roughly yield, for the progress bar.

    Maildir/eml: the number of files (one directory listing).  mbox: one fast
    chunked pass over the file (disk speed, far cheaper than storing the mail);
    None if the file is bigger than ``max_mbox_bytes``.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "maildir":
        return len(maildir_entries(path))
    if fmt == "eml":
        return len(eml_files(path)) if path.is_dir() else 1
    if max_mbox_bytes is not None and path.stat().st_size > max_mbox_bytes:
        return None
    return count_mbox(path)


