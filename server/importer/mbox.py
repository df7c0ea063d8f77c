"""mbox reader (mboxrd unquoting, mutt/pine/Dovecot/Thunderbird flag headers)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
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
)

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_ASCTIME = re.compile(
    r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"[a-z]*\s+(\d{1,2})\s+(\d{1,2}):(\d\d)(?::(\d\d))?"
    r"(?:\s+([a-z]{1,5}|[+-]\d{4}))?\s+(\d{4})(?:\s+([+-]\d{4}))?", re.I)


def _zone(text: str | None) -> timezone | None:
    if not text or text[0] not in "+-":
        return None
    minutes = int(text[1:3]) * 60 + int(text[3:5])
    return timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))


def from_line_date(line: bytes) -> datetime | None:
    """The date of an mbox ``From sender date`` line (asctime, UTC unless a zone is given)."""
    text = line[5:].decode("latin-1").strip()
    m = _ASCTIME.search(text)
    if m:
        mon, day, hh, mm, ss, zone1, year, zone2 = m.groups()
        tz = _zone(zone2) or _zone(zone1) or UTC
        try:
            return datetime(int(year), _MONTHS[mon.lower()], int(day), int(hh), int(mm),
                            int(ss or 0), tzinfo=tz)
        except ValueError:
            return None
    _, _, rest = text.partition(" ")
    try:
        parsed = parsedate_to_datetime(rest)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_METADATA_HEADERS = frozenset({"status", "x-status", "x-keywords", "x-uid", "x-imap", "x-imapbase"})
_KEPT_FLAG_HEADERS = frozenset({"x-mozilla-status", "x-mozilla-keys"})
_BLANK = (b"\n", b"\r\n")


@dataclass
class _MboxMessage:
    source: str
    date: datetime | None
    parts: list[bytes] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    in_headers: bool = True
    current: str | None = None  # header whose continuation lines go to ``meta``
    drop: bool = False          # is ``current`` removed from the message?

    def add(self, line: bytes) -> None:
        if line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
            line = line[1:]
        if self.in_headers:
            if line in _BLANK:
                self.in_headers = False
                self.current = None
            elif line[:1] in (b" ", b"\t"):
                if self.current is not None:
                    self.meta[self.current] += " " + line.strip().decode("latin-1")
                    if self.drop:
                        return
            else:
                name, colon, value = line.partition(b":")
                key = name.strip().decode("latin-1").lower()
                self.current = None
                self.drop = False
                if colon and (key in _METADATA_HEADERS or key in _KEPT_FLAG_HEADERS):
                    prior = self.meta.get(key)
                    text = value.strip().decode("latin-1")
                    self.meta[key] = f"{prior} {text}" if prior else text
                    self.current = key
                    self.drop = key in _METADATA_HEADERS
                    if self.drop:
                        return
        if line.endswith(b"\n") and not line.endswith(b"\r\n"):
            line = line[:-1] + b"\r\n"
        self.parts.append(line)

    def finish(self) -> ImportedMessage:
        status, xstatus = self.meta.get("status", ""), self.meta.get("x-status", "")
        system: set[str] = set()
        if "R" in status:
            system.add(SEEN)
        for letter, flag in (("A", ANSWERED), ("F", FLAGGED), ("T", DRAFT), ("D", DELETED)):
            if letter in xstatus:
                system.add(flag)
        keywords = self.meta.get("x-keywords", "").split()
        try:
            moz = int(self.meta.get("x-mozilla-status", "0").split()[0], 16)
        except (ValueError, IndexError):
            moz = 0
        for bit, flag in ((1, SEEN), (2, ANSWERED), (4, FLAGGED), (8, DELETED)):
            if moz & bit:
                system.add(flag)
        if moz & 0x1000:
            keywords.append(FORWARDED)
        keywords += self.meta.get("x-mozilla-keys", "").split()
        return ImportedMessage(b"".join(self.parts), make_flags(system, keywords),
                               self.date, self.source)


def _split_mbox(lines: Iterable[bytes], name: str) -> Iterator[_MboxMessage]:
    msg: _MboxMessage | None = None
    held_blank: bytes | None = None  # an empty line: the message's, or the mbox separator?
    for lineno, line in enumerate(lines, 1):
        if line.startswith(b"From "):
            date = from_line_date(line)
            if msg is None or held_blank is not None or date is not None:
                if msg is not None:
                    yield msg
                held_blank = None
                msg = _MboxMessage(f"{name}:{lineno}", date)
                continue
        if msg is None:
            if not line.strip():
                continue
            raise ImportError_(f"{name}: line {lineno}: not an mbox file "
                               "(expected a 'From ' line)")
        if held_blank is not None:
            msg.add(held_blank)
            held_blank = None
        if line in _BLANK:
            held_blank = line
        else:
            msg.add(line)
    if msg is not None:
        yield msg


def parse_mbox(lines: Iterable[bytes], name: str = "mbox",
               on_skip: SkipCallback | None = None) -> Iterator[ImportedMessage]:
    """The messages in ``lines`` (an mbox as an iterable of byte lines, e.g. a binary file)."""
    for index, msg in enumerate(_split_mbox(lines, name)):
        if index == 0 and "x-imap" in msg.meta:
            if on_skip:
                on_skip(msg.source, "UW-IMAP folder internal data pseudo-message")
            continue
        yield msg.finish()


def read_mbox(path: Path, *, on_skip: SkipCallback | None = None) -> Iterator[ImportedMessage]:
    """Stream the messages of an mbox file, one line at a time."""
    try:
        with Path(path).open("rb") as f:
            yield from parse_mbox(f, str(path), on_skip)
    except OSError as exc:
        raise ImportError_(f"{path}: cannot read: {exc.strerror}") from exc


def count_mbox(path: Path) -> int:
    """Separator lines preceded by an empty line (or starting the file), in 1 MiB chunks.

    Exact for well-formed mboxo/mboxrd files; a separator without the empty line
    before it (recognised by the reader through its date) is not counted.
    """
    pattern = re.compile(rb"\n\r?\nFrom ")
    count = 0
    carry = b"\n\n"  # so that a "From " at the very start counts
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            data = carry + chunk
            count += sum(1 for m in pattern.finditer(data) if m.end() > len(carry))
            carry = data[-7:]
    return count


