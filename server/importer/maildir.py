"""Maildir reader (info-suffix flags, dovecot-keywords, dovecot-uidlist order)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from crispin.server.importer.common import (
    ANSWERED,
    DELETED,
    DRAFT,
    FLAGGED,
    FORWARDED,
    SEEN,
    ImportedMessage,
    ImportError_,
    SkipCallback,
    make_flags,
    mtime,
    to_crlf,
)


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() or (path / "new").is_dir()

_INFO = re.compile(r"[:;]2,([^:;]*)$")
_STAMP = re.compile(r"(\d+)\.(?:M(\d{1,6})(?!\d))?")


def _split_info(name: str) -> tuple[str, str]:
    """(base name, info flags) of a Maildir file name."""
    m = _INFO.search(name)
    return (name[:m.start()], m.group(1)) if m else (name, "")


def _dovecot_keywords(path: Path) -> dict[str, str]:
    try:
        text = (path / "dovecot-keywords").read_text("utf-8", "replace")
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) < 26:
            out[chr(ord("a") + int(parts[0]))] = parts[1].strip()
    return out


def _dovecot_uids(path: Path) -> dict[str, int]:
    """Base file name -> UID from ``dovecot-uidlist`` (format v1 or v3), if present."""
    try:
        lines = (path / "dovecot-uidlist").read_text("utf-8", "replace").splitlines()
    except OSError:
        return {}
    out: dict[str, int] = {}
    for line in lines[1:]:
        if " :" in line:
            head, _, fname = line.partition(" :")
        else:
            head, _, fname = line.strip().partition(" ")
        uid = head.split()[0] if head.split() else ""
        if uid.isdigit() and fname.strip():
            out[_split_info(fname.strip())[0]] = int(uid)
    return out


_MAILDIR_LETTERS = {"D": DRAFT, "F": FLAGGED, "R": ANSWERED, "S": SEEN, "T": DELETED}


def _maildir_flags(info: str, in_new: bool, keywords: dict[str, str]) -> tuple[str, ...]:
    system = {_MAILDIR_LETTERS[c] for c in info if c in _MAILDIR_LETTERS}
    if in_new:
        system.discard(SEEN)
    kws = [FORWARDED] if "P" in info else []
    kws += [keywords[c] for c in info if c in keywords]
    return make_flags(system, kws)


def maildir_entries(path: Path) -> list[tuple[tuple[int, int, int, str], str, os.stat_result]]:
    """(sort key, file path, stat) for each message file in cur/ and new/, sorted."""
    uids = _dovecot_uids(path)
    entries = []
    for sub in ("cur", "new"):
        try:
            scan = list(os.scandir(path / sub))
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ImportError_(f"{path / sub}: cannot read directory: {exc.strerror}") from exc
        for e in scan:
            try:
                if e.name.startswith(".") or not e.is_file():
                    continue
                st = e.stat()
            except OSError:
                continue
            base, _ = _split_info(e.name)
            m = _STAMP.match(e.name)
            usec = (int(m.group(1)) * 1_000_000 + int(m.group(2) or 0) if m
                    else st.st_mtime_ns // 1000)
            uid = uids.get(base)
            key = (0, uid, 0, e.name) if uid is not None else (1, 0, usec, e.name)
            entries.append((key, e.path, st))
    entries.sort(key=lambda t: t[0])
    return entries


def read_maildir(path: Path, *, on_skip: SkipCallback | None = None) -> Iterator[ImportedMessage]:
    """Stream the messages of one Maildir folder (not its Maildir++ subfolders)."""
    path = Path(path)
    keywords = _dovecot_keywords(path)
    for _, file, st in maildir_entries(path):
        try:
            data = Path(file).read_bytes()
        except OSError as exc:  # e.g. moved or deleted by a mail client meanwhile
            if on_skip:
                on_skip(file, f"cannot read: {exc.strerror}")
            continue
        if not data:
            if on_skip:
                on_skip(file, "empty file")
            continue
        in_new = os.path.basename(os.path.dirname(file)) == "new"
        info = _split_info(os.path.basename(file))[1]
        yield ImportedMessage(to_crlf(data), _maildir_flags(info, in_new, keywords),
                              mtime(st), file)


def maildir_subfolders(path: Path) -> list[tuple[str, Path]]:
    """Maildir++ subfolders of ``path`` as (IMAP name with "/" delimiter, folder path).

    ``.Sub.Folder`` -> ``Sub/Folder``; names stay in modified UTF-7 as Maildir++
    stores them.  Sorted by name, so parents come before their children.
    """
    out: list[tuple[str, Path]] = []
    for entry in Path(path).iterdir():
        parts = entry.name[1:].split(".")
        if (entry.name.startswith(".") and all(parts) and entry.is_dir()
                and is_maildir(entry)):
            out.append(("/".join(parts), entry))
    return sorted(out)


